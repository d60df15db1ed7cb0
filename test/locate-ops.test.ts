/**
 * The ops a located run reports: their names and order come from the workload's declared structure
 * (workloads/ops.ts); the recorder keeps digests and, within a memory budget, values; and reporting
 * them does not change a bit of what a backend computes (tfjs-cpu here, every layer kind).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTfCore, compileTfjs } from '../harness/backends/tfjs/tfjs-common.ts';
import { OpRecorder, opDigest } from '../harness/run/ops.ts';
import { findWorkload, resolveWorkload, WORKLOADS } from '../workloads/index.ts';
import { workloadInputs } from '../workloads/inputs.ts';
import { declaredOps } from '../workloads/ops.ts';
import type { WorkloadSpec } from '../workloads/types.ts';

const resolved = (id: string, params: Record<string, number> = {}) => resolveWorkload(findWorkload(id)!, 'quick', params);
const names = (spec: WorkloadSpec) => declaredOps(spec).map((o) => o.name);

test('mlp-train: forward in layer order, backward in reverse (parameter gradients, then the input gradient), then the updates', () => {
  assert.deepEqual(names(resolved('mlp-train').spec), [
    'l0.dense.matmul', 'l0.dense.forward', 'l1.dense.matmul', 'l1.dense.forward', 'head.dense.matmul', 'head.dense.forward', 'loss.forward',
    'loss.grad.input', 'head.dense.grad.w', 'head.dense.grad.b', 'head.dense.grad.input',
    'l1.dense.grad.w', 'l1.dense.grad.b', 'l1.dense.grad.input', 'l0.dense.grad.w', 'l0.dense.grad.b',
    'sgd.update.l0.w', 'sgd.update.l0.b', 'sgd.update.l1.w', 'sgd.update.l1.b', 'sgd.update.head.w', 'sgd.update.head.b',
  ]);
});

test('a residual block: inner ops then its sum; backward undoes the inner layers before the block input (the first inner layer has no input gradient of its own)', () => {
  const ops = names(resolved('transformer-train').spec);
  const at = (op: string) => {
    const i = ops.indexOf(op);
    assert.ok(i >= 0, `${op} is declared`);
    return i;
  };
  assert.ok(at('l3.1.attn.q') < at('l3.1.attn.softmax') && at('l3.1.attn.softmax') < at('l3.1.attn.forward') && at('l3.1.attn.forward') < at('l3.residual.forward'));
  assert.ok(at('l3.1.attn.grad.wq') < at('l3.1.attn.grad.input') && at('l3.1.attn.grad.input') < at('l3.0.layerNorm.grad.gamma') && at('l3.0.layerNorm.grad.beta') < at('l3.residual.grad.input'));
  assert.ok(!ops.includes('l3.0.layerNorm.grad.input'), 'the first inner layer shares the block input');
  assert.ok(!ops.includes('l0.embedding.grad.input'), 'token ids have no gradient');
  assert.ok(at('clip.norm') < at('adamw.update.l0.table'));
  assert.equal(new Set(ops).size, ops.length, 'names are unique');
  const resnet = names(resolved('resnet-train').spec);
  assert.ok(resnet.includes('l1.batchNorm.runningMean') && resnet.includes('l0.conv2d.conv') && resnet.includes('momentum.update.l0.w'));
});

test('the data-parallel driver: every shard’s gradients, the all-reduce, the SGD updates; inferences: their ops', () => {
  const ops = names(resolved('dataparallel-train', { shards: 2 }).spec);
  assert.deepEqual(ops, [
    'shard0.grad.l0.w', 'shard0.grad.l0.b', 'shard0.grad.head.w', 'shard0.grad.head.b',
    'shard1.grad.l0.w', 'shard1.grad.l0.b', 'shard1.grad.head.w', 'shard1.grad.head.b',
    'allreduce', 'sgd.update.l0.w', 'sgd.update.l0.b', 'sgd.update.head.w', 'sgd.update.head.b',
  ]);
  assert.deepEqual(names(resolved('index-add').spec), ['indexAdd.scatter']);
  assert.deepEqual(names(resolved('attention-infer').spec), ['attention.softmax', 'attention.forward']);
  for (const w of WORKLOADS) assert.ok(declaredOps(w.build(w.presets.quick)).length > 0, w.id);
});

test('the recorder: declared names only, once per step; values kept from step 0 while they fit, digests always', () => {
  const spec = resolved('index-add').spec;
  const r = new OpRecorder(spec, 16);
  assert.throws(() => r.record(0, 'matmul.forward', new Float32Array(1)), /not an op of this workload/);
  r.record(0, 'indexAdd.scatter', new Float32Array([1, 2]));
  assert.throws(() => r.record(0, 'indexAdd.scatter', new Float32Array([1, 2])), /twice/);
  r.record(1, 'indexAdd.scatter', new Float32Array([3, 4, 5]));
  r.record(2, 'indexAdd.scatter', new Float32Array([6]));
  const out = r.result()!;
  assert.deepEqual(out.ops, ['indexAdd.scatter']);
  assert.deepEqual(out.digests.map((d) => d[0]), [opDigest(new Float32Array([1, 2])), opDigest(new Float32Array([3, 4, 5])), opDigest(new Float32Array([6]))]);
  // 8 + 12 bytes exceed 16: step 1 is not kept, nor anything after it
  assert.deepEqual(out.values.map((v) => [...v]), [[1, 2]]);
  assert.equal(new OpRecorder(spec, 0).result(), null, 'nothing reported: nothing captured');
});

const tf = await loadTfCore();
await import('@tensorflow/tfjs-backend-cpu');
await tf.setBackend('cpu');

for (const [id, params] of [['mlp-train', { steps: 2 }], ['transformer-train', { steps: 2 }], ['resnet-train', { steps: 2 }], ['conv-train', { steps: 2 }], ['attention-infer', {}]] as const) {
  test(`tfjs reports every declared op of ${id}, and reporting them changes no bit of the result`, async () => {
    const workload = resolved(id, params);
    const inputs = workloadInputs(workload, 0);
    const plain = await compileTfjs(tf, workload, inputs).execute({ trace: true });
    const recorder = new OpRecorder(workload.spec, 2 ** 30);
    const located = await compileTfjs(tf, workload, inputs).execute({ trace: true, ops: recorder });
    plain.outputs.forEach((t, i) => assert.deepEqual(located.outputs[i].data, t.data, t.name));
    assert.deepEqual(located.trace, plain.trace);
    const captured = recorder.result()!;
    assert.deepEqual(captured.ops, names(workload.spec));
    assert.equal(captured.digests.length, workload.spec.kind === 'train' ? workload.spec.steps : 1);
  });
}
