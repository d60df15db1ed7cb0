import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Availability } from '../../harness/backends/types.ts';
import { resolveSuite } from '../../harness/config.ts';
import { makePlan, parseShard, restrictToGpus, shardPlan } from '../../harness/plan.ts';
import { message, UsageError } from '../../harness/errors.ts';

const available: Availability = { available: true, version: 'x', devices: ['cpu'], notes: [] };

test('modes are interleaved after one warm-up per mode', () => {
  const suite = resolveSuite({}, { backends: ['tfjs-cpu'], workloads: ['matmul'], repeats: 3 }, 'x');
  const plan = makePlan(suite, { 'tfjs-cpu': available });
  assert.deepEqual(
    plan.runs.map((r) => `${r.mode}${r.warmup ? '-warmup' : r.repeat}`),
    ['det-warmup', 'nondet-warmup', 'det0', 'nondet0', 'det1', 'nondet1', 'det2', 'nondet2'],
  );
  assert.deepEqual(plan.runs.map((r) => r.runIndex), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('a workload a backend cannot express is a plan-time unsupported cell, with runs for the rest', () => {
  const suite = resolveSuite({}, { backends: ['ort-cpu'], workloads: ['atomic-sum', 'matmul'], repeats: 2, threads: [1, 2] }, 'x');
  const plan = makePlan(suite, { 'ort-cpu': available });
  const wgsl = plan.cells.filter((c) => c.workload === 'atomic-sum');
  assert.equal(wgsl.length, 4); // 2 modes × 2 thread counts, all shown
  assert.ok(wgsl.every((c) => c.status === 'unsupported' && /WGSL/.test(c.reason ?? '')));
  assert.ok(plan.runs.every((r) => r.workload === 'matmul'));
  assert.equal(plan.runs.length, 2 * (2 + 2 * 2));
});

test('backends without thread control run at one thread count, with a note', () => {
  const suite = resolveSuite({}, { backends: ['tfjs-cpu'], workloads: ['matmul'], threads: [1, 4] }, 'x');
  const plan = makePlan(suite, { 'tfjs-cpu': available });
  assert.ok(plan.runs.every((r) => r.threads === 1));
  assert.equal(plan.notes.length, 1);
});

test('thread counts apply to CPU devices only: torch on two GPUs and the CPU, threads 1,2; GPU-only suites keep the GPUs', () => {
  const suite = resolveSuite({}, { backends: ['torch'], workloads: ['matmul'], repeats: 2, threads: [1, 2] }, 'x');
  const torch: Availability = { available: true, version: 'x', devices: ['cuda:0', 'cuda:1', 'cpu'], notes: [] };
  const plan = makePlan(suite, { torch });
  const cells = (device: string) => plan.cells.filter((c) => c.device === device).map((c) => `${c.mode}/t${c.threads}`);
  assert.deepEqual(cells('cuda:0'), ['det/t1', 'nondet/t1']);
  assert.deepEqual(cells('cuda:1'), ['det/t1', 'nondet/t1']);
  assert.deepEqual(cells('cpu'), ['det/t1', 'nondet/t1', 'det/t2', 'nondet/t2']);
  assert.equal(plan.notes.filter((n) => /CPU thread counts do not apply/.test(n)).length, 2);
  const gpus = restrictToGpus({ torch, 'tfjs-cpu': available });
  assert.deepEqual(gpus.torch.available && gpus.torch.devices, ['cuda:0', 'cuda:1']);
  assert.ok(!gpus['tfjs-cpu'].available && /has no GPU device here, only cpu/.test(gpus['tfjs-cpu'].reason));
});

test('a backend the user named but which is unavailable is shown with its reason', () => {
  const suite = resolveSuite({}, { backends: ['tfjs-node-gpu'], workloads: ['matmul'] }, 'x');
  const plan = makePlan(suite, { 'tfjs-node-gpu': { available: false, reason: 'not installed' } });
  assert.equal(plan.runs.length, 0);
  assert.ok(plan.cells.length > 0 && plan.cells.every((c) => c.status === 'unavailable' && c.reason === 'not installed'));
});

test('shards are disjoint, keep det/nondet pairs together, and together are the plan', () => {
  const suite = resolveSuite({}, { backends: ['ort-cpu'], workloads: ['matmul', 'mlp-train', 'reduce-sum', 'conv-train'], repeats: 2, threads: [1, 2] }, 'x');
  const plan = makePlan(suite, { 'ort-cpu': available });
  const shards = [1, 2, 3].map((index) => shardPlan(plan, { index, count: 3 }));
  const runIds = shards.flatMap((s) => s.runs.map((r) => r.runIndex)).sort((a, b) => a - b);
  assert.deepEqual(runIds, plan.runs.map((r) => r.runIndex));
  assert.deepEqual(shards.flatMap((s) => s.cells.map((c) => c.id)).sort(), plan.cells.map((c) => c.id).sort());
  for (const s of shards) {
    for (const r of s.runs) assert.ok(s.runs.some((x) => x.mode !== r.mode && x.workload === r.workload && x.threads === r.threads), 'a det run without its nondet pair');
  }
  assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
  for (const bad of ['0/2', '3/2', '1', 'a/b', '1/0']) assert.throws(() => parseShard(bad), (e: unknown) => e instanceof UsageError && e.message === message.shard(bad));
});
