/**
 * The data loader (workloads/loader.ts, harness/run/loader.ts): augmentation on a tiny image by hand,
 * epochs as permutations, and the two modes — det gives the reference batches at every worker count
 * and from any resume point; nondet's data depend on the worker count.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { normalStream, tensorKey, uniformStream } from '../harness/rng.ts';
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { loadBatches, loaderPool } from '../harness/run/loader.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { byName, workloadInputs } from '../workloads/inputs.ts';
import { augment, buildBatch, drawOf, epochOrder, stepSamples, type LoaderSpec } from '../workloads/loader.ts';
import type { NamedTensor } from '../workloads/types.ts';

const workload = resolveWorkload(findWorkload('data-pipeline')!, 'quick');
const spec = workload.spec as LoaderSpec;
const inputs = workloadInputs(workload, 3);
const digest = (t: NamedTensor) => createHash('sha256').update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest('hex');
/** One digest per step's batch (x and y together). */
const batchDigests = (tensors: NamedTensor[]) => {
  const x = byName(tensors, 'x'), y = byName(tensors, 'y');
  const perX = x.data.length / spec.steps, perY = y.data.length / spec.steps;
  return Array.from({ length: spec.steps }, (_, s) => createHash('sha256').update(Buffer.from(x.data.buffer, x.data.byteOffset + s * perX * 4, perX * 4)).update(Buffer.from(y.data.buffer, y.data.byteOffset + s * perY * 4, perY * 4)).digest('hex'));
};

test('one sample by hand: crop offsets, horizontal flip and noise from its draw', () => {
  // 2×2 crops of a 4×4 one-channel image (pad 1)
  const tiny = { ...spec, input: { shape: [2, 2, 1], dtype: 'float32' as const }, loader: { examples: 1, pad: 1, noiseStd: 0.5 } };
  const src = Float32Array.from({ length: 16 }, (_, i) => i);
  const out = new Float32Array(4);
  const noise = Float32Array.of(0.25, 0, 0, -1);
  augment(tiny, src, 0, { dy: 2, dx: 1, flip: false, noise }, out, 0);
  assert.deepEqual(Array.from(out), [9 + 0.25, 10, 13, 14 - 1]);
  augment(tiny, src, 0, { dy: 0, dx: 0, flip: true, noise: null }, out, 0);
  assert.deepEqual(Array.from(out), [1, 0, 5, 4]);
  const d = drawOf('w', 7, tiny, 'loader.e0.i0');
  const u = uniformStream(tensorKey('w', 7, 'loader.e0.i0.u'), 3);
  const z = normalStream(tensorKey('w', 7, 'loader.e0.i0.noise'), 4);
  assert.deepEqual([d.dy, d.dx, d.flip], [Math.floor(u[0] * 3), Math.floor(u[1] * 3), u[2] < 0.5]);
  assert.deepEqual(Array.from(d.noise!), Array.from(z, (v) => Math.fround(v * 0.5)));
});

test('each epoch visits every image once, in its own order; steps run through the epochs end to end', () => {
  const [o0, o1] = [0, 1].map((e) => epochOrder(workload.id, 3, spec, e));
  assert.deepEqual([...o0].sort((a, b) => a - b), Array.from({ length: spec.loader.examples }, (_, i) => i));
  assert.notDeepEqual(o0, o1);
  const positions = Array.from({ length: spec.steps }, (_, s) => stepSamples(workload.id, 3, spec, s)).flat();
  assert.deepEqual(positions.map((p) => p.position), positions.map((_, i) => i));
  assert.ok(positions.every((p) => p.index === (p.epoch === 0 ? o0 : p.epoch === 1 ? o1 : epochOrder(workload.id, 3, spec, p.epoch))[p.position % spec.loader.examples]));
});

test('det: 0, 2 and 4 loader workers deliver the reference batches bit for bit, from step 0 and from a resume point', async () => {
  const reference = batchDigests(inputs);
  for (const workers of [0, 2, 4]) assert.deepEqual(batchDigests(await loadBatches(workload.id, 3, spec, inputs, 'det', workers)), reference, `${workers} workers`);
  const resumed = batchDigests(await loadBatches(workload.id, 3, spec, inputs, 'det', 2, 4));
  assert.deepEqual(resumed.slice(4), reference.slice(4));
});

test('nondet: each worker count draws other augmentations; with workers, the batches are the workers\' in some arrival order', async () => {
  const byWorkers = new Map<number, string[]>();
  for (const workers of [0, 2, 4]) byWorkers.set(workers, batchDigests(await loadBatches(workload.id, 3, spec, inputs, 'nondet', workers)));
  const reference = batchDigests(inputs);
  // Compared as sets: nondet uses batches in arrival order. Without workers every draw comes from the
  // stream loader.main, with workers from loader.worker<i>: no batch is shared (each has 16 samples of
  // fresh noise; a shared one would need equal draws from other Philox counters). Two and four
  // workers share worker 0's and worker 1's first batches by design (the same streams, the same first
  // draws), but workers 2 and 3 draw from streams two workers never use.
  const shared = (a: number, b: number) => byWorkers.get(a)!.filter((d) => byWorkers.get(b)!.includes(d)).length;
  assert.equal(shared(0, 2), 0);
  assert.equal(shared(0, 4), 0);
  assert.ok(shared(2, 4) < spec.steps, 'four workers deliver batches that two never build');
  for (const d of byWorkers.values()) assert.ok(d.every((x, s) => x !== reference[s]));
  // two workers: batch b is worker b mod 2's (b div 2)-th batch, whatever order they arrived in
  const task = { workloadId: workload.id, seed: 3, spec, mode: 'nondet' as const, dataset: byName(inputs, 'dataset').data as Float32Array, labels: byName(inputs, 'datasetLabels').data as Int32Array };
  const next = [{ k: 0 }, { k: 0 }];
  const built = Array.from({ length: spec.steps }, (_, b) => buildBatch(task, b, b % 2, next[b % 2]));
  const expected = built.map((b) => createHash('sha256').update(Buffer.from(b.x.buffer)).update(Buffer.from(b.y.buffer)).digest('hex'));
  assert.deepEqual([...byWorkers.get(2)!].sort(), [...expected].sort());
  assert.equal(digest(byName(inputs, 'dataset')), digest(byName(workloadInputs(workload, 3), 'dataset')), 'the dataset is the seed\'s, whatever the loader');
});

test('a loader worker that dies fails the load in flight; the next load gets a new pool and the reference batches', { timeout: 60_000 }, async () => {
  const reference = batchDigests(inputs);
  const pool = loaderPool(3);
  const inFlight = loadBatches(workload.id, 3, spec, inputs, 'det', 3);
  // a worker that ends mid-load (crashed, out of memory, or terminated as here)
  const worker = (pool as unknown as { workers: Worker[] }).workers[1];
  const exited = once(worker, 'exit');
  await worker.terminate();
  await exited;
  await assert.rejects(inFlight, /^Error: data loader: loader worker exited with code \d+$/);
  assert.notEqual(loaderPool(3), pool);
  assert.deepEqual(batchDigests(await loadBatches(workload.id, 3, spec, inputs, 'det', 3)), reference);
});
