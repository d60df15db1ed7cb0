/**
 * The localiser on backends that need a system component: PyTorch on the CPU (Debian's
 * python3-torch) and onnxruntime's WebGPU provider on Mesa's lavapipe (DETBENCH_WEBGPU_SOFTWARE=1).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commonOps, firstDigestDifference, type LocateSide } from '../../harness/analysis/locate.ts';
import { diffFloat32 } from '../../harness/analysis/diff.ts';
import { judgeRun } from '../../harness/analysis/tolerance.ts';
import type { Summary } from '../../harness/analysis/summary.ts';
import { findBackend } from '../../harness/backends/index.ts';
import { compileTfjs, loadTfCore } from '../../harness/backends/tfjs/tfjs-common.ts';
import { EXIT } from '../../harness/errors.ts';
import type { OpCapture } from '../../harness/protocol.ts';
import { OpRecorder } from '../../harness/run/ops.ts';
import { setScratchRoot } from '../../harness/run/scratch.ts';
import { findWorkload, resolveWorkload } from '../../workloads/index.ts';
import { workloadInputs } from '../../workloads/inputs.ts';
import { declaredOps } from '../../workloads/ops.ts';
import { detbench } from '../fixtures/cli.ts';
import { systemTest, TORCH_PYTHON } from './components.ts';
import { flatOutputs } from '../fixtures/execute.ts';

process.env.DETBENCH_PYTHON ??= TORCH_PYTHON;

const side = (c: OpCapture): LocateSide => ({ cell: 'c', status: 'ok', wallMs: 0, ops: { names: c.ops, elements: c.elements, digests: c.digests } });
function valueOf(c: OpCapture, step: number, op: string): Float32Array {
  const i = c.ops.indexOf(op);
  const offset = c.elements.slice(0, i).reduce((n, e) => n + e, 0);
  return c.values[step].subarray(offset, offset + c.elements[i]);
}

systemTest('torch on the CPU: conv-train at 1 and 2 threads (different bits) parts first at a convolution op', 'torch', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-locate-torch-'));
  const r = await detbench(['run', '--workloads', 'conv-train', '--backends', 'torch', '--modes', 'det', '--threads', '1,2', '--repeats', '2', '--locate', '--python', TORCH_PYTHON, '--no-report', '--json', '--out', out], process.env, 600_000);
  assert.ok(r.status === EXIT.ok || r.status === EXIT.findings, r.stderr);
  const { summary } = JSON.parse(r.stdout) as { summary: Summary };
  const pair = summary.locate.find((l) => l.against === 'threads');
  assert.ok(pair, `no thread pair was located (torch 1.13 on 2 cores gives conv-train different bits at 1 and 2 threads): ${JSON.stringify(summary.invariance)}`);
  assert.equal(pair.status, 'located');
  assert.match(pair.firstOp!, /^l\d+\.conv2d\./, `first op ${pair.firstOp}`);
  assert.deepEqual(pair.matchesRecorded, [true, true], 'the located runs computed the recorded bits');
  assert.ok(pair.ulp && pair.ulp.maxUlp > 0);
}, { timeout: 600_000 });

systemTest('torch reports every declared op (a convolution with a bias has no op of its own before it), meaning what tfjs’s mean', 'torch', async () => {
  setScratchRoot(fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-locate-scratch-')));
  const tf = await loadTfCore();
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  for (const id of ['conv-train', 'transformer-train', 'resnet-train']) {
    const workload = resolveWorkload(findWorkload(id)!, 'quick', { steps: 1 });
    const inputs = workloadInputs(workload, 0);
    const torch = await findBackend('torch')!.open({ mode: 'det', threads: 1, device: 'cpu' });
    const program = await torch.prepare(workload, inputs);
    const plain = await program.execute();
    const recorder = new OpRecorder(workload.spec, 2 ** 30);
    const located = await program.execute({ ops: recorder });
    await torch.close();
    plain.outputs.forEach((t, i) => assert.deepEqual(located.outputs[i].data, t.data, `${id} ${t.name}: capturing ops changed torch's result`));
    const captured = recorder.result()!;
    const missing = declaredOps(workload.spec).map((o) => o.name).filter((op) => !captured.ops.includes(op));
    assert.ok(missing.every((op) => /\.conv2d\.conv$/.test(op)), `${id}: torch does not report ${missing.join(', ')}`);
    const reference = new OpRecorder(workload.spec, 2 ** 30);
    await compileTfjs(tf, workload, inputs).execute({ ops: reference });
    const tfjs = reference.result()!;
    for (const op of captured.ops) {
      const d = diffFloat32(valueOf(tfjs, 0, op), valueOf(captured, 0, op));
      assert.ok(d.relL2 !== null && d.relL2 < 1e-5, `${id} ${op}: torch and tfjs differ by relL2 ${d.relL2}`);
    }
  }
}, { timeout: 600_000 });

systemTest('ort-webgpu on the software adapter: index-add, which varies with determinism on, parts at its scatter op', 'lavapipe', async () => {
  process.env.DETBENCH_WEBGPU_SOFTWARE = '1';
  // at 2^20 elements the scatter's float atomics gave 20 distinct results in 20 runs on lavapipe
  // (2 cores); smaller sizes vary less often (1 in 20 at the quick preset's 2^14)
  const workload = resolveWorkload(findWorkload('index-add')!, 'quick', { length: 1 << 20 });
  const session = await findBackend('ort-webgpu')!.open({ mode: 'det', threads: 1, device: 'cpu' });
  try {
    const program = await session.prepare(workload, workloadInputs(workload, 0));
    const capture = async () => {
      const recorder = new OpRecorder(workload.spec, 0);
      await program.execute({ ops: recorder });
      return recorder.result()!;
    };
    const first = await capture();
    let found: { step: number; index: number } | null = null;
    let ops: string[] = [];
    for (let attempt = 0; attempt < 20 && !found; attempt++) {
      const next = await capture();
      ops = commonOps(side(first), side(next));
      found = firstDigestDifference(side(first), side(next), ops);
    }
    assert.ok(found, 'twenty runs of index-add on ort-webgpu gave the same bits');
    assert.deepEqual([found.step, ops[found.index]], [0, 'indexAdd.scatter']);
  } finally {
    await session.close();
  }
}, { timeout: 600_000 });

systemTest('tfjs-webgpu on the software adapter reports every declared op (read after each step: WebGPU has no synchronous read in Node.js), changing no bit (index-add: within tolerance, as it varies there)', 'lavapipe', async () => {
  process.env.DETBENCH_WEBGPU_SOFTWARE = '1';
  const backend = findBackend('tfjs-webgpu')!;
  const availability = await backend.probe();
  assert.ok(availability.available, JSON.stringify(availability));
  for (const id of ['mlp-train', 'conv-train', 'index-add']) {
    const workload = resolveWorkload(findWorkload(id)!, 'quick', id === 'index-add' ? {} : { steps: 2 });
    const session = await backend.open({ mode: 'det', threads: 1, device: availability.devices[0] });
    try {
      const program = await session.prepare(workload, workloadInputs(workload, 0));
      const plain = await program.execute();
      const recorder = new OpRecorder(workload.spec, 0);
      const located = await program.execute({ ops: recorder });
      if (id === 'index-add') {
        // its scatter adds with atomics on WebGPU, in whatever order they land: it varies run to run
        // with determinism on, so the located run is held to the workload's tolerance, not to its bits
        const v = judgeRun(workload, 0, flatOutputs(plain), flatOutputs(located));
        assert.ok(v.within, `${id}: distance ${v.distance}`);
      } else plain.outputs.forEach((t, i) => assert.deepEqual(located.outputs[i].data, t.data, `${id} ${t.name}`));
      assert.deepEqual(recorder.result()!.ops, declaredOps(workload.spec).map((o) => o.name), id);
    } finally {
      await session.close();
    }
  }
}, { timeout: 600_000 });
