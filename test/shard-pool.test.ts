/**
 * The data-parallel driver's shard pool (harness/run/dataparallel.ts) when one of its workers dies:
 * the calls in flight fail, later calls fail at once instead of waiting on a dead thread, and the
 * pool says it failed, so the run thread opens a new one (harness/run/worker.ts, shardPool).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { ShardPool, trainDataParallel } from '../harness/run/dataparallel.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { workloadInputs } from '../workloads/inputs.ts';
import type { TrainSpec } from '../workloads/types.ts';

test('a shard worker that dies fails the run in flight and every later call; the pool says it failed', { timeout: 60_000 }, async () => {
  const workload = resolveWorkload(findWorkload('dataparallel-train')!, 'quick', { steps: 20, workers: 2 });
  const spec = workload.spec as TrainSpec;
  const inputs = workloadInputs(workload, 0);
  const pool = ShardPool.open(spec, spec.dataParallel!.workers);
  try {
    await pool.prepare('tfjs-cpu');
    assert.equal(pool.failed, false);
    const inFlight = trainDataParallel(pool, 'tfjs-cpu', spec, inputs, 'det');
    // a worker that ends (crashed, out of memory, or terminated as here) answers nothing more
    const worker = (pool as unknown as { workers: Worker[] }).workers[1];
    const exited = once(worker, 'exit');
    await worker.terminate();
    await exited;
    await assert.rejects(inFlight, /^Error: shard worker exited with code \d+$/);
    assert.equal(pool.failed, true);
    await assert.rejects(pool.call(0, { backend: 'tfjs-cpu' }), /^Error: shard worker exited with code \d+$/);
  } finally {
    await pool.close();
  }
});

test('a shard worker ended before it started (exit code 0) fails the pool too: its calls are never left waiting', { timeout: 60_000 }, async () => {
  const workload = resolveWorkload(findWorkload('dataparallel-train')!, 'quick', { workers: 2 });
  const pool = ShardPool.open(workload.spec as TrainSpec, 2);
  try {
    const worker = (pool as unknown as { workers: Worker[] }).workers[0];
    const exited = once(worker, 'exit');
    await worker.terminate();
    await exited;
    await assert.rejects(pool.prepare('tfjs-cpu'), /^Error: shard worker exited with code \d+$/);
    assert.equal(pool.failed, true);
  } finally {
    await pool.close();
  }
});
