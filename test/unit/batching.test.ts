/**
 * The batch-size axis (`--batch-sizes 1,7,32,128`): inference workloads' examples evaluated in
 * batches, each a call of its own, put back in example order; the value in keys and plans; the
 * workloads it does not apply to run as one call.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AXES } from '../../harness/axes.ts';
import { findBackend } from '../../harness/backends/index.ts';
import type { Availability } from '../../harness/backends/types.ts';
import { resolveSuite } from '../../harness/config.ts';
import { message, UsageError } from '../../harness/errors.ts';
import { makePlan } from '../../harness/plan.ts';
import { cellId } from '../../harness/protocol.ts';
import { executeInBatches } from '../../harness/run/batches.ts';
import { diffFloat32 } from '../../harness/analysis/diff.ts';
import { concatAxis, examplesOf, sliceAxis } from '../../workloads/batching.ts';
import { findWorkload, resolveWorkload } from '../../workloads/index.ts';
import { workloadInputs } from '../../workloads/inputs.ts';
import type { NamedTensor } from '../../workloads/types.ts';

const cpu: Availability = { available: true, version: 'x', devices: ['cpu'], notes: [] };

test('slicing a tensor along any axis and joining the slices gives it back', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 1, max: 5 }), (shape, axisSeed, step) => {
      const axis = axisSeed % shape.length;
      const t: NamedTensor = { name: 't', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i) };
      const parts: NamedTensor[] = [];
      for (let s = 0; s < shape[axis]; s += step) parts.push(sliceAxis(t, axis, s, Math.min(s + step, shape[axis])));
      const back = concatAxis(parts, axis);
      assert.deepEqual(back.shape, shape);
      assert.deepEqual(Array.from(back.data), Array.from(t.data));
    }),
  );
});

test('--batch-sizes: whole numbers ≥ 1 or all, in ascending order with all last; all alone is the default', () => {
  assert.deepEqual(resolveSuite({}, { batchSizes: [32, 'all', 1, 7, 1] }, 'x').batchSizes, [1, 7, 32, 'all']);
  assert.equal('batchSizes' in resolveSuite({}, { batchSizes: ['all'] }, 'x'), false);
  for (const bad of [[0], [1.5], ['some'], []]) {
    assert.throws(() => resolveSuite({}, { batchSizes: bad as never }, 'x'), (e: unknown) => e instanceof UsageError && e.message === message.axisValues('batchSizes', AXES.batchSize.expected, bad));
  }
  const key = { workload: 'matmul', backend: 'ort-cpu', device: 'cpu', mode: 'det' as const, threads: 2 };
  assert.equal(cellId({ ...key, batchSize: 7 }), 'matmul|ort-cpu|cpu|det|t2|b7');
  assert.equal(cellId({ ...key, batchSize: 'all' }), 'matmul|ort-cpu|cpu|det|t2');
  assert.equal(cellId({ ...key, numerics: 'bf16', batchSize: 1 }), 'matmul|ort-cpu|cpu|det|t2|bf16|b1');
});

test('plan: each batch size of matmul is a cell; one larger than the examples is unsupported, saying which parameter to raise; reduce-sum runs as one call with a note', () => {
  const suite = resolveSuite({}, { backends: ['tfjs-cpu'], workloads: ['matmul', 'reduce-sum'], batchSizes: [1, 7, 128], repeats: 2 }, 'x');
  const plan = makePlan(suite, { 'tfjs-cpu': cpu });
  const matmul = plan.cells.filter((c) => c.workload === 'matmul' && c.mode === 'det');
  assert.deepEqual(matmul.map((c) => [c.batchSize, c.status]), [[1, 'planned'], [7, 'planned'], [128, 'unsupported']]);
  assert.match(matmul[2].reason!, /a batch of 128 is more than the 64 rows of a .*`m` to at least 128/);
  assert.deepEqual(plan.cells.filter((c) => c.workload === 'reduce-sum').map((c) => [c.id, c.status]), [['reduce-sum|tfjs-cpu|cpu|det|t1', 'planned'], ['reduce-sum|tfjs-cpu|cpu|nondet|t1', 'planned']]);
  assert.ok(plan.notes.some((n) => /^reduce-sum has no examples to batch/.test(n)));
  assert.ok(plan.runs.every((r) => r.workload !== 'matmul' || r.batchSize === 1 || r.batchSize === 7));
});

test('the examples of each batched workload: matmul rows, attention query rows, transformer-infer held-out sequences', () => {
  const examples = (id: string) => examplesOf(resolveWorkload(findWorkload(id)!, 'quick').spec);
  assert.deepEqual([examples('matmul')?.count, examples('attention-infer')?.count, examples('transformer-infer')?.count], [64, 32, 128]);
  for (const id of ['reduce-sum', 'index-add', 'mlp-train']) assert.equal(examples(id), null, id);
});

// The same examples in batches of 7 (the last one smaller) and in one call: the outputs are put
// back in order, so they are the same tensor up to the backend's own batch dependence (tolerance).
for (const [backendId, workloadId] of [['tfjs-cpu', 'attention-infer'], ['ort-cpu', 'attention-infer'], ['tfjs-cpu', 'transformer-infer'], ['ort-cpu', 'matmul']] as const) {
  test(`${workloadId} on ${backendId}: batches of 7 give the one-call result back in example order`, async () => {
    const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
    const inputs = workloadInputs(workload, 0);
    const session = await findBackend(backendId)!.open({ mode: 'det', threads: 1, device: 'cpu' });
    try {
      const whole = await (await session.prepare(workload, inputs)).execute();
      const { execution } = await executeInBatches(session, workload, inputs, 7);
      assert.deepEqual(execution.outputs.map((o) => o.shape), whole.outputs.map((o) => o.shape));
      const d = diffFloat32(whole.outputs[0].data as Float32Array, execution.outputs[0].data as Float32Array);
      assert.ok(d.relL2 !== null && d.relL2 <= workload.tolerance.relL2, `relL2 ${d.relL2}`);
      assert.ok(execution.computeMs > 0);
    } finally {
      await session.close();
    }
  });
}
