/**
 * The real CPU backends, run in this process: they compile the workloads, agree with each other
 * within each workload's tolerance, and give the same bits twice.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BACKENDS, findBackend } from '../harness/backends/index.ts';
import type { Execution } from '../harness/backends/types.ts';
import { diffFloat32 } from '../harness/analysis/diff.ts';
import { initialWeights, workloadInputs } from '../workloads/inputs.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import type { TrainSpec } from '../workloads/types.ts';

async function execute(backendId: string, workloadId: string, mode: 'det' | 'nondet' = 'det'): Promise<Execution> {
  const backend = findBackend(backendId)!;
  const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
  const session = await backend.open({ mode, threads: 1, device: 'cpu' });
  const program = await session.prepare(workload, workloadInputs(workload, 0));
  try {
    return await program.execute();
  } finally {
    program.dispose();
  }
}

const flat = (e: Execution) => Float32Array.from(e.outputs.flatMap((t) => Array.from(t.data)));

for (const workloadId of ['mlp-train', 'attention-infer', 'reduce-sum', 'matmul']) {
  test(`${workloadId}: tfjs-cpu, tfjs-wasm and ort-cpu agree within tolerance, each stable twice`, async () => {
    const tolerance = findWorkload(workloadId)!.tolerance.relL2;
    const reference = flat(await execute('tfjs-cpu', workloadId));
    for (const backend of ['tfjs-cpu', 'tfjs-wasm', 'ort-cpu']) {
      const a = flat(await execute(backend, workloadId));
      const b = flat(await execute(backend, workloadId));
      assert.equal(diffFloat32(a, b).bitwiseEqual, true, `${backend} ${workloadId} differs run to run in det`);
      const d = diffFloat32(reference, a);
      assert.ok(d.relL2 !== null && d.relL2 <= tolerance, `${backend} vs tfjs-cpu relL2 ${d.relL2} > ${tolerance}`);
    }
  });
}

test('training moves the weights and lowers nothing to NaN', async () => {
  const workload = resolveWorkload(findWorkload('mlp-train')!, 'quick');
  assert.equal(workload.spec.kind, 'train');
  const initial = Float32Array.from(initialWeights(workload.id, 0, workload.spec as TrainSpec).flatMap((t) => Array.from(t.data)));
  const trained = await execute('ort-cpu', 'mlp-train');
  const after = flat(trained);
  assert.equal(after.length, initial.length);
  assert.ok(!diffFloat32(initial, after).bitwiseEqual);
  assert.ok(after.every(Number.isFinite));
  assert.ok(trained.loss !== null && Number.isFinite(trained.loss));
});

test('an op a backend lacks is an UnsupportedOpError with the backend’s own message', async () => {
  await assert.rejects(execute('tfjs-wasm', 'conv-train'), (err: Error) => err.name === 'UnsupportedOpError' && /Conv2DBackpropFilter/.test(err.message));
});

test('ort-cpu says what det and nondet mean, and that it cannot verify them', async () => {
  const det = await findBackend('ort-cpu')!.open({ mode: 'det', threads: 2, device: 'cpu' });
  assert.equal(det.determinism.control, 'controlled');
  assert.deepEqual(det.determinism.switches.map((s) => [s.name, s.value, s.verified]), [
    ['intraOpNumThreads', '2', false],
    ['interOpNumThreads', '1', false],
    ['executionMode', 'sequential', false],
    ['session.use_deterministic_compute', '1', false],
  ]);
  const nondet = await findBackend('ort-cpu')!.open({ mode: 'nondet', threads: 2, device: 'cpu' });
  assert.deepEqual(nondet.determinism.switches.map((s) => s.name), ['intraOpNumThreads']);
});

test('every backend has an availability probe; an unavailable one says why and how to get it', async () => {
  const fixes: Record<string, RegExp> = {
    'tfjs-node': /npm install @tensorflow\/tfjs-node/,
    'tfjs-node-gpu': /@tensorflow\/tfjs-node-gpu.*CUDA 11\.2 \+ cuDNN 8\.1/,
    // no adapter at all, or (CI's lavapipe) only a software one, which is not offered as a GPU
    'ort-webgpu': /(WebGPU provider found no usable GPU|WebGPU provider has no GPU to run on): .+ Vulkan loader \(Debian: libvulkan1/,
    'tfjs-webgpu': /(Dawn found no WebGPU adapter|Dawn's only adapter is a software one).* Vulkan loader \(Debian: libvulkan1/,
    'ort-cuda': /CUDA execution provider is not installed: .*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node|CUDA provider does not run here: ./,
    torch: /torch is not importable by .+: pip install torch, or pass --python PATH|cannot be started .+ --python PATH/,
  };
  for (const b of BACKENDS) {
    const a = await b.probe();
    if (a.available) continue;
    assert.ok(fixes[b.info.id], `${b.info.id} is unavailable on this CPU machine: ${a.reason}`);
    assert.match(a.reason, fixes[b.info.id]);
  }
});

test('the torch worker speaks protocol v1 even without torch: every request gets a reply naming the reason', () => {
  const worker = fileURLToPath(new URL('../harness/backends/torch/worker.py', import.meta.url));
  // -S: no site-packages, so torch is not importable whatever this machine has installed
  const r = spawnSync('python3', ['-S', '-u', worker], { input: '{"id": 7, "op": "hello"}\n{"id": 8, "op": "run"}\n', encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(replies.map((x) => [x.id, x.ok]), [[7, false], [8, false]]);
  assert.match(replies[0].error, /^torch is not importable: ModuleNotFoundError/);
});
