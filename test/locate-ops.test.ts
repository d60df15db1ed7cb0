/**
 * The ops a located run reports: their names and order come from the workload's declared structure
 * (workloads/ops.ts); the recorder keeps digests and, within a memory budget, values; reporting them
 * does not change a bit of what a backend computes (tfjs-cpu and ort-cpu, every layer kind); and an
 * op means the same values, in the same layout, on both families.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTfCore, compileTfjs } from '../harness/backends/tfjs/tfjs-common.ts';
import { ortCpu } from '../harness/backends/ort/ort-cpu.ts';
import { diffFloat32 } from '../harness/analysis/diff.ts';
import type { OpCapture } from '../harness/protocol.ts';
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
  assert.deepEqual(names(resolved('transformer-infer').spec), ['head.dense.forward']);
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

/** Op `op`'s output in step `step` of a capture. */
function valueOf(c: OpCapture, step: number, op: string): Float32Array {
  const i = c.ops.indexOf(op);
  const offset = c.elements.slice(0, i).reduce((n, e) => n + e, 0);
  return c.values[step].subarray(offset, offset + c.elements[i]);
}

for (const [id, params] of [['mlp-train', { steps: 2 }], ['transformer-train', { steps: 2 }], ['resnet-train', { steps: 2 }], ['conv-train', { steps: 2 }], ['attention-infer', {}], ['index-add', {}], ['transformer-infer', {}]] as const) {
  test(`tfjs-cpu and ort-cpu report every declared op of ${id}, with the same meaning, and reporting them changes no bit of the result`, async () => {
    const workload = resolved(id, params);
    const inputs = workloadInputs(workload, 0);
    const ort = await ortCpu.open({ mode: 'det', threads: 1, device: 'cpu' });
    const programs = { tfjs: compileTfjs(tf, workload, inputs), ort: await ort.prepare(workload, inputs) };
    const captures: OpCapture[] = [];
    try {
      for (const [family, program] of Object.entries(programs)) {
        const plain = await program.execute({ trace: true });
        const recorder = new OpRecorder(workload.spec, 2 ** 30);
        const located = await program.execute({ trace: true, ops: recorder });
        plain.outputs.forEach((t, i) => assert.deepEqual(located.outputs[i].data, t.data, `${family} ${t.name}`));
        assert.deepEqual(located.trace, plain.trace, family);
        const captured = recorder.result()!;
        assert.deepEqual(captured.ops, names(workload.spec), family);
        assert.equal(captured.digests.length, workload.spec.kind === 'train' ? workload.spec.steps : 1, family);
        captures.push(captured);
      }
    } finally {
      await ort.close();
    }
    // the first step starts from the same bits on both: every op agrees up to rounding (a wrong
    // layout or a different quantity would be off by far more)
    for (const op of captures[0].ops) {
      const d = diffFloat32(valueOf(captures[0], 0, op), valueOf(captures[1], 0, op));
      assert.ok(d.relL2 !== null && d.relL2 < 1e-5, `${op}: tfjs and ort differ by relL2 ${d.relL2}`);
    }
  });
}
