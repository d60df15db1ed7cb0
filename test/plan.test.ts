import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Availability } from '../harness/backends/types.ts';
import { resolveSuite } from '../harness/config.ts';
import { makePlan } from '../harness/plan.ts';

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
  const suite = resolveSuite({}, { backends: ['ort-cpu'], workloads: ['conv-train', 'matmul'], repeats: 2, threads: [1, 2] }, 'x');
  const plan = makePlan(suite, { 'ort-cpu': available });
  const conv = plan.cells.filter((c) => c.workload === 'conv-train');
  assert.equal(conv.length, 4); // 2 modes × 2 thread counts, all shown
  assert.ok(conv.every((c) => c.status === 'unsupported' && /conv2d/.test(c.reason ?? '')));
  assert.ok(plan.runs.every((r) => r.workload === 'matmul'));
  assert.equal(plan.runs.length, 2 * (2 + 2 * 2));
});

test('backends without thread control run at one thread count, with a note', () => {
  const suite = resolveSuite({}, { backends: ['tfjs-cpu'], workloads: ['matmul'], threads: [1, 4] }, 'x');
  const plan = makePlan(suite, { 'tfjs-cpu': available });
  assert.ok(plan.runs.every((r) => r.threads === 1));
  assert.equal(plan.notes.length, 1);
});

test('a backend the user named but which is unavailable is shown with its reason', () => {
  const suite = resolveSuite({}, { backends: ['tfjs-node-gpu'], workloads: ['matmul'] }, 'x');
  const plan = makePlan(suite, { 'tfjs-node-gpu': { available: false, reason: 'not installed' } });
  assert.equal(plan.runs.length, 0);
  assert.ok(plan.cells.length > 0 && plan.cells.every((c) => c.status === 'unavailable' && c.reason === 'not installed'));
});
