/**
 * ort-cpu trains every training workload through the one path (forward and gradient rules, the
 * optimizer in the graph): within the workload's tolerance of tfjs-cpu, bitwise stable in det at 1
 * and 2 threads, and the data-parallel shard gradients agree with tfjs's. Graphs are pure functions
 * of the spec.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findBackend } from '../harness/backends/index.ts';
import { gradientGraph, inferGraph, trainStepGraph } from '../harness/backends/ort/onnx-model.ts';
import { supportOf } from '../harness/backends/types.ts';
import { diffFloat32 } from '../harness/analysis/diff.ts';
import { byName, workloadInputs } from '../workloads/inputs.ts';
import { artifactShapes, paramShapes } from '../workloads/params.ts';
import { findWorkload, resolveWorkload, WORKLOADS } from '../workloads/index.ts';
import type { TrainSpec } from '../workloads/types.ts';
import { executeQuick as execute, flatOutputs as flat } from './fixtures/execute.ts';

/** Every training workload the runner trains in one session (dataparallel-train's driver is tested on its shard gradients). */
const TRAIN = WORKLOADS.filter((w) => {
  const spec = w.build(w.presets.quick);
  return spec.kind === 'train' && !spec.dataParallel;
}).map((w) => w.id);

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);


test('ort-cpu supports every workload but the WGSL one', () => {
  const ort = findBackend('ort-cpu')!;
  for (const w of WORKLOADS) {
    const support = supportOf(ort, w.build(w.presets.quick));
    assert.equal(support.ok, w.id !== 'atomic-sum', `${w.id}: ${JSON.stringify(support)}`);
  }
});

for (const id of TRAIN) {
  test(`${id}: ort-cpu within tolerance of tfjs-cpu (weights and held-out logits), det bitwise stable at 1 and 2 threads`, async () => {
    const tfjs = await execute('tfjs-cpu', id, 1);
    const tolerance = findWorkload(id)!.tolerance.relL2;
    for (const threads of [1, 2]) {
      const [first, second] = [await execute('ort-cpu', id, threads), await execute('ort-cpu', id, threads)];
      const [a, b] = [flat(first), flat(second)];
      assert.ok(bits(a).equals(bits(b)), `${id} at ${threads} threads: two det runs differ`);
      const d = diffFloat32(flat(tfjs), a);
      assert.ok(d.relL2 !== null && d.relL2 <= tolerance, `${id} at ${threads} threads: relL2 ${d.relL2} vs tfjs-cpu`);
      // each backend timed its evaluation, apart from the steps' compute
      for (const e of [tfjs, first]) assert.ok(typeof e.evalMs === 'number' && e.evalMs >= 0, `${id}: evalMs ${e.evalMs}`);
      const logits = diffFloat32(tfjs.evalLogits!, first.evalLogits!);
      assert.ok(logits.relL2 !== null && logits.relL2 <= tolerance, `${id} at ${threads} threads: evaluation logits relL2 ${logits.relL2} vs tfjs-cpu`);
      // and it trained: the weights moved
      assert.ok(diffFloat32(Float32Array.from(paramsBefore(id)), a).relL2! > 1e-4, `${id}: the weights did not move`);
    }
  });
}

/** The artifact (parameters, then batch-norm statistics) before the first step. */
function paramsBefore(id: string): number[] {
  const workload = resolveWorkload(findWorkload(id)!, 'quick');
  const inputs = workloadInputs(workload, 0);
  return artifactShapes(workload.spec as TrainSpec).flatMap(([n]) => Array.from(byName(inputs, n).data));
}

test('a session places each graph once: later runs of the cell reuse it, with the bits of a fresh session', async () => {
  const workload = resolveWorkload(findWorkload('conv-train')!, 'quick');
  const inputs = workloadInputs(workload, 0);
  const session = await findBackend('ort-cpu')!.open({ mode: 'det', threads: 1, device: 'cpu' });
  const runs: Float32Array[] = [];
  for (let i = 0; i < 3; i++) {
    const program = await session.prepare(workload, inputs);
    runs.push(flat(await program.execute()));
    program.dispose();
  }
  await session.close();
  const fresh = flat(await execute('ort-cpu', 'conv-train', 1));
  for (const r of runs) assert.ok(bits(r).equals(bits(fresh)));
});

test('dataparallel-train: ort-cpu shard gradients and loss agree with tfjs-cpu on a shard', async () => {
  const workload = resolveWorkload(findWorkload('dataparallel-train')!, 'quick');
  const spec = workload.spec as TrainSpec;
  const inputs = workloadInputs(workload, 0);
  const shard = 8; // one shard of step 0
  const x = byName(inputs, 'x'), y = byName(inputs, 'y');
  const perExample = x.data.length / (spec.steps * spec.batch);
  const xs = { name: 'x', shape: [shard, ...spec.input.shape], data: x.data.slice(0, shard * perExample) };
  const ys = (y.data as Int32Array).slice(0, shard);
  const weights = paramShapes(spec).map(([n]) => Float32Array.from(byName(inputs, n).data as Float32Array));
  const results = [];
  for (const id of ['tfjs-cpu', 'ort-cpu']) {
    const session = await findBackend(id)!.open({ mode: 'det', threads: 1, device: 'cpu' });
    results.push(await (await session.gradients(spec))(weights, xs, ys));
    await session.close();
  }
  const [tf, ort] = results;
  assert.ok(Math.abs(tf.loss - ort.loss) <= 1e-6 * Math.abs(tf.loss), `loss ${ort.loss} vs ${tf.loss}`);
  tf.grads.forEach((g, i) => {
    const d = diffFloat32(g, ort.grads[i]);
    assert.ok(d.relL2 !== null && d.relL2 <= 1e-5, `gradient ${i}: relL2 ${d.relL2}`);
  });
});

test('graphs are a pure function of the spec: the same bytes from two builds', () => {
  for (const w of WORKLOADS) {
    const spec = w.build(w.presets.quick);
    if (spec.kind === 'train') {
      assert.ok(Buffer.from(trainStepGraph(spec).model).equals(Buffer.from(trainStepGraph(spec).model)), w.id);
      assert.ok(Buffer.from(gradientGraph(spec, 8).model).equals(Buffer.from(gradientGraph(spec, 8).model)), w.id);
    } else if (spec.op !== 'atomicSum') {
      assert.ok(Buffer.from(inferGraph(spec).model).equals(Buffer.from(inferGraph(spec).model)), w.id);
    }
  }
});
