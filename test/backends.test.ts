/**
 * The real CPU backends, run in this process: they compile the workloads, agree with each other
 * within each workload's tolerance, and give the same bits twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BACKENDS, backendIds, findBackend } from '../harness/backends/index.ts';
import { supportOf } from '../harness/backends/types.ts';
import { diffFloat32 } from '../harness/analysis/diff.ts';
import { describeTolerance, judgeRun } from '../harness/analysis/tolerance.ts';
import { initialWeights } from '../workloads/inputs.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import type { TrainSpec } from '../workloads/types.ts';
import { executeQuick as execute, flatOutputs as flat } from './fixtures/execute.ts';



for (const workloadId of ['mlp-train', 'attention-infer', 'reduce-sum', 'matmul']) {
  test(`${workloadId}: tfjs-cpu, tfjs-wasm and ort-cpu agree within tolerance, each stable twice`, async () => {
    const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
    const reference = flat(await execute('tfjs-cpu', workloadId));
    for (const backend of ['tfjs-cpu', 'tfjs-wasm', 'ort-cpu']) {
      const a = flat(await execute(backend, workloadId));
      const b = flat(await execute(backend, workloadId));
      assert.equal(diffFloat32(a, b).bitwiseEqual, true, `${backend} ${workloadId} differs run to run in det`);
      const v = judgeRun(workload, 0, reference, a);
      assert.ok(v.within, `${backend} vs tfjs-cpu: ${v.distance} beyond ${describeTolerance(workload.tolerance)}`);
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

test('every backend answers its probe: available with a version and its devices, or unavailable with the reason and the fix', async () => {
  // the fix each known backend names when it is unavailable; any other must at least say what to do
  const fixes: Record<string, RegExp> = {
    'tfjs-node': /npm install @tensorflow\/tfjs-node/,
    'tfjs-node-gpu': /@tensorflow\/tfjs-node-gpu.*CUDA 11\.2 \+ cuDNN 8\.1/,
    // no adapter at all, or (CI's lavapipe) only a software one, which is not offered as a GPU
    'ort-webgpu': /(WebGPU provider found no usable GPU|WebGPU provider has no GPU to run on): .+ Vulkan loader \(Debian: libvulkan1/,
    'tfjs-webgpu': /(Dawn found no WebGPU adapter|Dawn's only adapter is a software one).* Vulkan loader \(Debian: libvulkan1/,
    'ort-cuda': /CUDA execution provider is not installed: .*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node|CUDA provider does not run here: ./,
    torch: /torch is not importable by .+: pip install torch, or pass --python PATH|cannot be started .+ --python PATH/,
  };
  const anyFix = /\b(install|set|pass|run|use)\b/;
  const probed = await Promise.all(BACKENDS.map(async (b) => ({ backend: b, a: await b.probe() })));
  assert.equal(probed.length, backendIds().length);
  for (const { backend, a } of probed) {
    const id = backend.info.id;
    if (a.available) {
      assert.match(a.version, /\d/, `${id}: version ${a.version}`);
      assert.ok(a.devices.length > 0 && a.devices.every((d) => /^(cpu|gpu|[a-z]+:\d+)$/.test(d)), `${id}: devices ${a.devices}`);
      if (backend.info.deviceKinds.every((k) => k === 'cpu')) assert.deepEqual(a.devices, ['cpu'], id);
      assert.ok(a.notes.every((n) => typeof n === 'string' && n.length > 0), `${id}: notes ${a.notes}`);
    } else {
      assert.equal(a.reason.split('\n').length, 1, `${id}: one line`);
      assert.match(a.reason, fixes[id] ?? anyFix, `${id}: ${a.reason}`);
    }
  }
  // these need nothing but their npm packages: available on every host
  for (const id of ['tfjs-cpu', 'tfjs-wasm', 'ort-cpu']) assert.ok(probed.find((p) => p.backend.info.id === id)?.a.available, `${id} is not available`);
});

test('the data-parallel control and WGSL kernels are plan-time unsupported on torch, with reasons', () => {
  for (const id of ['dataparallel-train', 'atomic-sum']) {
    const s = supportOf(findBackend('torch')!, resolveWorkload(findWorkload(id)!, 'quick').spec);
    assert.equal(s.ok, false);
    assert.ok(!s.ok && s.reason.length > 10);
  }
});
