/**
 * The localiser on real CPU backends, in this process: the data-parallel negative control's nondet
 * runs part at `allreduce` (its shards compute the same gradients in every run; only the order of
 * their sum changes), and tfjs-wasm parts from tfjs-cpu on mlp-train first at a matmul. The CLI path
 * is covered with test doubles in locate.test.ts; these check what real backends report.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commonOps, firstDigestDifference, type LocateSide } from '../harness/analysis/locate.ts';
import { compileTfjs, loadTfCore } from '../harness/backends/tfjs/tfjs-common.ts';
import { ShardPool, trainDataParallel } from '../harness/run/dataparallel.ts';
import { OpRecorder } from '../harness/run/ops.ts';
import type { OpCapture } from '../harness/protocol.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { workloadInputs } from '../workloads/inputs.ts';
import type { TrainSpec } from '../workloads/types.ts';

const side = (c: OpCapture): LocateSide => ({ cell: 'c', status: 'ok', wallMs: 0, ops: { names: c.ops, elements: c.elements, digests: c.digests } });
/** The first op, over the whole run, whose outputs differ between two captures. */
function firstDifference(a: OpCapture, b: OpCapture): { step: number; op: string } | null {
  const ops = commonOps(side(a), side(b));
  const at = firstDigestDifference(side(a), side(b), ops);
  return at && { step: at.step, op: ops[at.index] };
}

test('the data-parallel control: two nondet runs that differ part first at allreduce, never in a shard', async () => {
  // two shard workers (the preset has four) cost half the start-up; their arrival order still varies:
  // 19 of 20 nondet runs were distinct when measured (2 cores, busy), so ten tries all alike would be
  // a one-in-10^13 event
  const workload = resolveWorkload(findWorkload('dataparallel-train')!, 'quick', { steps: 3, workers: 2 });
  const spec = workload.spec as TrainSpec;
  const inputs = workloadInputs(workload, 0);
  const pool = ShardPool.open(spec, spec.dataParallel!.workers);
  try {
    await pool.prepare('tfjs-cpu');
    const run = async () => {
      const recorder = new OpRecorder(spec, 2 ** 26);
      await trainDataParallel(pool, 'tfjs-cpu', spec, inputs, 'nondet', true, recorder);
      return recorder.result()!;
    };
    const first = await run();
    // nondeterminism does not repeat on request: run until two runs differ, at most 10 times
    let found: { step: number; op: string } | null = null;
    for (let attempt = 0; attempt < 10 && !found; attempt++) found = firstDifference(first, await run());
    assert.ok(found, 'ten nondet runs gave the same ops');
    assert.equal(found.op, 'allreduce');
    // det sums in shard order: no op differs
    const det = async () => {
      const recorder = new OpRecorder(spec, 0);
      await trainDataParallel(pool, 'tfjs-cpu', spec, inputs, 'det', true, recorder);
      return recorder.result()!;
    };
    assert.equal(firstDifference(await det(), await det()), null);
  } finally {
    await pool.close();
  }
});

test('tfjs-wasm against tfjs-cpu on mlp-train: the first op beyond 0 ULP is a matmul', async () => {
  const tf = await loadTfCore();
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-wasm');
  const workload = resolveWorkload(findWorkload('mlp-train')!, 'quick', { steps: 2 });
  const inputs = workloadInputs(workload, 0);
  const capture = async (backend: string) => {
    await tf.setBackend(backend);
    await tf.ready();
    const recorder = new OpRecorder(workload.spec, 0);
    await compileTfjs(tf, workload, inputs).execute({ ops: recorder });
    return recorder.result()!;
  };
  const found = firstDifference(await capture('cpu'), await capture('wasm'));
  assert.deepEqual(found, { step: 0, op: 'l0.dense.matmul' });
});
