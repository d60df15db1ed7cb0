/**
 * The localiser checked on faults it must find: test/fixtures/fault-backends.ts moves one named op's
 * output by 1 ULP in one step of every other run (forward, backward and update ops); `run --locate`
 * and `detbench locate` must name exactly that op and step, with the op before it equal. Then what
 * a located pair says for each status, budgets, and bad input.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { FAULTS } from './fixtures/fault-backends.ts';
import { detbench, detbenchHere } from './fixtures/cli.ts';
import { locatePair, type LocatePair, type LocateResult, type LocateSide } from '../harness/analysis/locate.ts';
import type { Summary } from '../harness/analysis/summary.ts';
import { parseLocateBudget } from '../harness/config.ts';
import { EXIT, message } from '../harness/errors.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { declaredOps } from '../workloads/ops.ts';
import { findingText } from '../reports/findings.ts';
import { renderMarkdown } from '../reports/markdown.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-locate-'));
const plugin = fileURLToPath(new URL('./fixtures/fault-backends.ts', import.meta.url));
const env = { ...process.env, DETBENCH_PLUGINS: plugin };
const mlpOps = declaredOps(resolveWorkload(findWorkload('mlp-train')!, 'quick').spec).map((o) => o.name);

/** The op before `op` at `step` in execution order (the last op of the step before, for a step's first op). */
const before = (op: string, step: number) => {
  const i = mlpOps.indexOf(op);
  return i > 0 ? { op: mlpOps[i - 1], step } : step > 0 ? { op: mlpOps.at(-1)!, step: step - 1 } : null;
};

function assertFound(l: LocateResult, fault: { op: string; step: number }) {
  assert.equal(l.status, 'located', l.cell);
  assert.equal(l.firstOp, fault.op, l.cell);
  assert.equal(l.step, fault.step, l.cell);
  assert.deepEqual(l.previousOp, before(fault.op, fault.step), l.cell);
  assert.equal(l.firstDivergentStep, fault.step, `${l.cell}: the weights part after the faulty step`);
  // every element moved by exactly 1 ULP
  assert.deepEqual([l.ulp?.maxUlp, l.ulp?.medianUlp, l.ulp?.differing], [1, 1, l.ulp?.elements], l.cell);
  assert.equal(l.profile.find((p) => p.op === fault.op)?.ulp?.maxUlp, 1);
  assert.ok(l.profile.slice(0, l.profile.findIndex((p) => p.op === fault.op)).every((p) => p.ulp?.differing === 0), `${l.cell}: every op before it is equal`);
}

test('run --locate names exactly the op given a 1-ULP fault, in forward, backward and update, at its step; `detbench locate --cell` again', async () => {
  const ids = Object.keys(FAULTS);
  const out = path.join(root, 'faults');
  const r = await detbench(['run', '--workloads', 'mlp-train', '--backends', ids.join(','), '--modes', 'det', '--repeats', '2', '--threads', '1', '--locate', '--no-report', '--json', '--out', out], env);
  assert.equal(r.status, EXIT.findings, r.stderr);
  const { resultsDir, summary } = JSON.parse(r.stdout) as { resultsDir: string; summary: Summary };
  assert.equal(summary.locate.length, ids.length);
  for (const l of summary.locate) assertFound(l, FAULTS[l.backend]);
  assert.match(r.stderr, /locate: mlp-train\|fake-fault-update\|cpu\|det\|t1: parted, 2 re-runs/);
  const sentence = findingText(summary.findings.find((f) => f.kind === 'divergence-located' && f.cell?.backend === 'fake-fault-forward')!);
  assert.match(sentence, /^two runs of mlp-train on fake-fault-forward \(cpu, det, 1 thread\) part at step 1, first in op l1\.dense\.forward \(2048 of 2048 elements differ: max 1 ULP.*the op before it, l1\.dense\.matmul, is bitwise equal/);
  assert.match(renderMarkdown(JSON.parse(fs.readFileSync(path.join(resultsDir, 'manifest.json'), 'utf8')), summary, 1.25), /\*\*Where runs part\*\*/);

  // a folder located again: the cell's pair is replaced, the others kept
  const cell = 'mlp-train|fake-fault-weight-gradient|cpu|det|t1';
  const again = await detbench(['locate', resultsDir, '--cell', cell, '--no-report', '--json'], env);
  assert.equal(again.status, EXIT.findings, again.stderr);
  const { locate, locateCost: cost } = JSON.parse(again.stdout) as { locate: LocateResult[]; locateCost: { pairs: number; runs: number; bytes: number } };
  // named, the cell is also located against the reference backend, though within tolerance: the two
  // fakes compute alike when neither run is the faulty one, so that pair is not reproduced
  assert.equal(locate.length, ids.length + 1);
  assertFound(locate.find((l) => l.cell === cell && l.against === 'repeat')!, FAULTS['fake-fault-weight-gradient']);
  assert.deepEqual(locate.filter((l) => l.cell === cell && l.against === 'backend').map((l) => [l.referenceCell, l.status]), [['mlp-train|fake-fault-matmul|cpu|det|t1', 'same']]);
  assert.deepEqual([cost.pairs, cost.runs], [2, 4]);
  assert.ok(cost.bytes > 0);
  const saved = JSON.parse(fs.readFileSync(path.join(resultsDir, 'summary.json'), 'utf8')) as Summary;
  assert.deepEqual(saved.locate, locate);

  // a damaged locate.json is bad input, named
  const file = path.join(resultsDir, 'locate.json');
  const damaged = JSON.parse(fs.readFileSync(file, 'utf8'));
  damaged.pairs[0].sides[1].values.bytes += 4;
  fs.writeFileSync(file, JSON.stringify(damaged));
  const bad = await detbenchHere(['analyze', resultsDir]);
  assert.equal(bad.status, EXIT.usage);
  assert.match(bad.stderr, /locate\.json pairs\[0\]: `sides\[1\]\.values` is \d+ bytes, its ops' outputs are \d+/);
  damaged.pairs[0].sides[1].values.bytes -= 4;
  damaged.pairs[0].sides[1].values.sha256 = '0'.repeat(64);
  fs.writeFileSync(file, JSON.stringify(damaged));
  const missing = await detbenchHere(['analyze', resultsDir]);
  assert.equal(missing.status, EXIT.usage);
  assert.equal(missing.stderr.trim(), `detbench: ${message.artifactMissing(path.join(resultsDir, 'artifacts', `${'0'.repeat(64)}.f32`), `${file} pairs[0]`)}`);
});

test('bad locate flags stop before anything runs, saying what to give', async () => {
  const none = await detbenchHere(['run', '--locate-budget', '4ulp', '--out', path.join(root, 'never')]);
  assert.deepEqual([none.status, none.stderr.trim()], [EXIT.usage, `detbench: ${message.locateBudgetWithoutLocate()}`]);
  const budget = await detbenchHere(['run', '--locate', '--locate-budget', 'tiny', '--out', path.join(root, 'never')]);
  assert.deepEqual([budget.status, budget.stderr.trim()], [EXIT.usage, `detbench: ${message.locateBudget('tiny')}`]);
  assert.equal(fs.existsSync(path.join(root, 'never')), false);
  assert.deepEqual(parseLocateBudget('4ulp'), { kind: 'maxUlp', value: 4 });
  assert.deepEqual(parseLocateBudget('0'), { kind: 'maxUlp', value: 0 });
  assert.deepEqual(parseLocateBudget('1e-6'), { kind: 'relL2', value: 1e-6 });
  for (const bad of ['-1', '', '1.5ulp', 'NaN', 'Infinity']) assert.throws(() => parseLocateBudget(bad), { message: message.locateBudget(bad) });
});

// ── the answer, from locate.json's data alone ──────────────────────────────────────────────────

const cell = { workload: 'matmul', backend: 'ort-cpu', device: 'cpu', mode: 'det' as const, threads: 2 };
const declared = [{ name: 'p.forward', phase: 'forward' as const }, { name: 'q.forward', phase: 'forward' as const }, { name: 'r.update', phase: 'update' as const }];
/** A side with ops p, q, r of 2 elements each, digests per step from `steps` (a letter per op), and stored values. */
function side(steps: string[], values?: number[]): LocateSide {
  const digest = (c: string) => c.repeat(16);
  return {
    cell: 'c', status: 'ok', wallMs: 5, artifactSha256: 'f'.repeat(64), matchesRecorded: true,
    ops: { names: ['p.forward', 'q.forward', 'r.update'], elements: [2, 2, 2], digests: steps.map((s) => [...s].map(digest)) },
    ...(values ? { values: { sha256: values.join('_'), bytes: 24 } } : {}),
  };
}
const load = (key: string) => Float32Array.from(key.split('_').map(Number));
const pair = (a: LocateSide, b: LocateSide, o: Partial<LocatePair> = {}): LocatePair => ({
  cell: 'c', against: 'threads', referenceCell: 'r', budget: { kind: 'maxUlp', value: 0 }, runs: 2, outcome: 'parted', step: 1, sides: [a, b], ...o,
});
const ulpUp = (x: number) => new Float32Array(new Int32Array([new Int32Array(new Float32Array([x]).buffer)[0] + 1]).buffer)[0];

test('budget 0: the first op whose bits differ over the whole run, the op before it (across a step boundary), and the profile of its step', () => {
  const a = side(['aaa', 'abc'], [1, 2, 3, 4, 5, 6]);
  const b = side(['aaa', 'xbd'], [ulpUp(1), 2, 3, 4, 5, ulpUp(ulpUp(6))]);
  const l = locatePair(pair(a, b), cell, load, declared);
  assert.deepEqual([l.status, l.step, l.firstOp, l.phase, l.previousOp], ['located', 1, 'p.forward', 'forward', { op: 'r.update', step: 0 }]);
  assert.deepEqual(l.profile.map((p) => [p.op, p.ulp?.maxUlp, p.beyondBudget]), [['p.forward', 1, true], ['q.forward', 0, false], ['r.update', 2, true]]);
  assert.equal(l.ulp?.differing, 1);
});

test('a budget: the first op beyond it in the stored step; ops within it count as agreeing', () => {
  const a = side(['abc'], [1, 2, 3, 4, 5, 6]);
  const b = side(['xyz'], [ulpUp(1), 2, ulpUp(ulpUp(ulpUp(3))), 4, 5, 6]);
  const l = locatePair(pair(a, b, { against: 'backend', budget: { kind: 'maxUlp', value: 2 }, step: 0 }), cell, load, declared);
  assert.deepEqual([l.status, l.firstOp, l.previousOp, l.ulp?.maxUlp], ['located', 'q.forward', { op: 'p.forward', step: 0 }, 3]);
  const within = locatePair(pair(a, b, { against: 'backend', budget: { kind: 'relL2', value: 0.5 }, step: 0 }), cell, load, declared);
  assert.equal(within.status, 'within-budget');
  assert.match(findingText({ kind: 'divergence-located', severity: 'info', cell: { id: 'c' }, evidence: { ...evidenceOf(within) } }), /every op both backends expose is within relL2 5\.00e-1/);
});

test('runs that differ where no op shows it: the narrowest span is the step their weights part; not reproduced and failed say so', () => {
  const a = { ...side(['abc', 'abc']), stepDigests: ['1'.repeat(16), '2'.repeat(16)] };
  const b = { ...side(['abc', 'abc']), stepDigests: ['1'.repeat(16), '3'.repeat(16)], artifactSha256: 'e'.repeat(64) };
  const hidden = locatePair(pair(a, b, { step: null }), cell, load, declared);
  assert.deepEqual([hidden.status, hidden.step, hidden.firstOp, hidden.firstDivergentStep], ['not-exposed', 1, null, 1]);
  assert.match(findingText({ kind: 'divergence-located', severity: 'info', cell: { id: 'c' }, evidence: evidenceOf(hidden) }), /part, but in no op the backend exposes: the narrowest span is step 1/);
  const noOps = locatePair(pair({ ...a, ops: undefined }, { ...b, ops: undefined }, { step: null }), cell, load, declared);
  assert.deepEqual([noOps.status, noOps.notExposed], ['not-exposed', ['p.forward', 'q.forward', 'r.update']]);
  assert.equal(locatePair(pair(a, a, { outcome: 'same', runs: 4 }), cell, load, declared).status, 'same');
  const failed = locatePair(pair(a, { cell: 'c', status: 'error', message: 'boom', wallMs: 1 }, { outcome: 'failed' }), cell, load, declared);
  assert.deepEqual([failed.status, failed.message], ['failed', 'boom']);
});

function evidenceOf(l: LocateResult) {
  return {
    against: l.against, reference: { id: l.referenceCell }, status: l.status, budget: l.budget, runs: l.runs, firstDivergentStep: l.firstDivergentStep, step: l.step,
    firstOp: l.firstOp, previousOp: l.previousOp, maxUlp: l.ulp?.maxUlp ?? null, medianUlp: l.ulp?.medianUlp ?? null, differing: l.ulp?.differing ?? null,
    elements: l.ulp?.elements ?? null, relL2: l.ulp?.relL2 ?? null, reproducedRecorded: true, message: l.message,
  };
}
