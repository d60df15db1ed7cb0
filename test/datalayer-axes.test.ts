/**
 * The data-loader and resume-replay axes (`--loader-workers 0,2,4`, `--resume-at K`, harness/axes.ts):
 * their values in suites, keys and plans; a whole `detbench run` of data-pipeline on tfjs-cpu whose
 * det bits agree across loader workers while nondet's differ (the finding); and a resumed pair whose
 * final training states differ in one part, named by the analysis and the finding's words.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AXES } from '../harness/axes.ts';
import type { Availability } from '../harness/backends/types.ts';
import { compareResumedStates } from '../harness/analysis/agreement.ts';
import { deriveFindings } from '../harness/analysis/findings.ts';
import type { AxisInvariance, Summary } from '../harness/analysis/summary.ts';
import { packState, stateCounters } from '../harness/checkpoint.ts';
import { resolveSuite } from '../harness/config.ts';
import { message, UsageError } from '../harness/errors.ts';
import { makePlan } from '../harness/plan.ts';
import { cellId, type OkRecord, type RunRecord } from '../harness/protocol.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { findingText } from '../reports/findings.ts';
import { agreementRows, nondetRows } from '../reports/text.ts';
import { inProcess } from './fixtures/main.ts';

const cpu: Availability = { available: true, version: 'x', devices: ['cpu'], notes: [] };

test('suites: loader workers sorted and deduplicated; --resume-at K always runs the uninterrupted run (0) too; keys w<n> and r<k>, the base values left out', () => {
  assert.deepEqual(resolveSuite({}, { loaderWorkers: [4, 0, 2, 2] }, 'x').loaderWorkers, [0, 2, 4]);
  assert.equal('loaderWorkers' in resolveSuite({}, { loaderWorkers: [0] }, 'x'), false);
  assert.deepEqual(resolveSuite({}, { resumeAt: [3] }, 'x').resumeAt, [0, 3]);
  for (const bad of [[-1], [1.5], []]) {
    assert.throws(() => resolveSuite({}, { loaderWorkers: bad }, 'x'), (e: unknown) => e instanceof UsageError && e.message === message.axisValues('loaderWorkers', AXES.loaderWorkers.expected, bad));
  }
  assert.throws(() => resolveSuite({}, { resumeAt: [0] }, 'x'), UsageError, 'a resume point is a step ≥ 1');
  const key = { workload: 'data-pipeline', backend: 'torch', device: 'cpu', mode: 'det' as const, threads: 1 };
  assert.equal(cellId({ ...key, loaderWorkers: 2, resumeAt: 3 }), 'data-pipeline|torch|cpu|det|t1|w2|r3');
  assert.equal(cellId({ ...key, loaderWorkers: 0, resumeAt: 0 }), 'data-pipeline|torch|cpu|det|t1');
});

test('plan: loader workers apply to data-pipeline only (a note for the rest); resume replay to training workloads on backends that resume, at a step before the last', () => {
  const suite = resolveSuite({}, { backends: ['tfjs-cpu', 'tfjs-wasm'], workloads: ['data-pipeline', 'mlp-train', 'matmul'], loaderWorkers: [0, 2], resumeAt: [3, 50], repeats: 2 }, 'x');
  const plan = makePlan(suite, { 'tfjs-cpu': cpu, 'tfjs-wasm': cpu });
  const det = (w: string, b = 'tfjs-cpu') => plan.cells.filter((c) => c.workload === w && c.backend === b && c.mode === 'det');
  assert.deepEqual(det('data-pipeline').map((c) => [c.loaderWorkers ?? 0, c.resumeAt ?? 0, c.status]), [
    [0, 0, 'planned'], [0, 3, 'planned'], [0, 50, 'unsupported'], [2, 0, 'planned'], [2, 3, 'planned'], [2, 50, 'unsupported'],
  ]);
  assert.match(det('data-pipeline')[2].reason!, /step 50 is not before the last of this workload's 6 steps/);
  assert.deepEqual(det('mlp-train').map((c) => c.loaderWorkers), [undefined, undefined, undefined]);
  assert.ok(plan.notes.some((n) => /^mlp-train has no data loader \(loader workers apply to data-pipeline\)/.test(n)));
  assert.deepEqual(det('matmul').map((c) => c.id), ['matmul|tfjs-cpu|cpu|det|t1']);
  assert.ok(plan.notes.some((n) => /^matmul is not a training workload: resume replay applies to training workloads only/.test(n)));
  assert.match(det('mlp-train', 'tfjs-wasm').find((c) => c.resumeAt === 3)!.reason!, /tfjs-wasm cannot write or restore a training state/);
  // every training run records its final state, so resumed and uninterrupted runs compare part by part
  assert.ok(plan.runs.filter((r) => r.workload !== 'matmul' && r.backend === 'tfjs-cpu').every((r) => r.keepState === true));
  assert.ok(plan.runs.filter((r) => r.backend === 'tfjs-wasm').every((r) => r.keepState === undefined), 'a backend that cannot hand back a state is not asked to');
  assert.ok(plan.runs.filter((r) => r.workload === 'matmul').every((r) => r.keepState === undefined));
});

// Nondet differs from 0 to 2 workers in every run, certainly: without workers every augmentation is
// drawn from the stream `loader.main`, with two from `loader.worker0` and `loader.worker1`
// (workloads/loader.ts), so each sample's Gaussian noise comes from other Philox counters — equal
// bits would take a collision of 2^-23-spaced float draws in every element, whichever order the
// batches arrive in. Det keys every draw by (epoch, sample) and must agree.
test('detbench run --loader-workers 0,2 on data-pipeline: det agrees across worker counts; nondet differs in every run, the finding in the issue\'s words', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-loader-axis-'));
  try {
    const r = await inProcess(['run', '--backends', 'tfjs-cpu', '--workloads', 'data-pipeline', '--loader-workers', '0,2', '--repeats', '2', '--no-report', '--out', out], { DETBENCH_ORACLE: 'off' });
    assert.equal(r.code, 0, r.stderr);
    const [dir] = fs.readdirSync(out);
    const summary = JSON.parse(fs.readFileSync(path.join(out, dir, 'summary.json'), 'utf8')) as Summary;
    const agreement = summary.agreement.filter((a) => a.axis === 'loaderWorkers');
    assert.deepEqual(agreement.map((a) => a.classes), [[[0, 2]]]);
    assert.deepEqual(summary.nondetDependence!.map((n) => [n.base, n.value, n.depends]), [[0, 2, true]]);
    const found = summary.findings.filter((f) => f.kind === 'nondet-depends-on-axis');
    assert.equal(found.length, 1);
    assert.equal(found[0].cell?.id, 'data-pipeline|tfjs-cpu|cpu|nondet|t1|w2');
    assert.match(findingText(found[0]), /batches depend on the number of loader workers: a machine with more cores trains a different model/);
    assert.equal(summary.findings.filter((f) => f.kind === 'invariance-broken').length, 0);
    // the reports' rows (terminal, report.md, report.html)
    assert.deepEqual(agreementRows(summary, 'loaderWorkers'), ['data-pipeline on tfjs-cpu: no loader workers = 2 loader workers']);
    assert.match(nondetRows(summary, 'loaderWorkers')[0], /^data-pipeline on tfjs-cpu: no loader workers ≠ 2 loader workers in every run/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('resume replay: a resumed run whose weights agree but whose optimizer state does not breaks the invariance, and the finding names the optimizer state', () => {
  const spec = resolveWorkload(findWorkload('data-pipeline')!, 'quick').spec;
  assert.ok(spec.kind === 'train');
  const state = (velocity: number) => packState({
    tensors: [{ name: 'weights/l0.w', shape: [2], data: Float32Array.of(1, 2) }, { name: 'optimizer/l0.w.velocity', shape: [2], data: Float32Array.of(velocity, 0) }, ...stateCounters(spec, spec.steps)],
  });
  const states = new Map([['s-whole', state(0.5)], ['s-resumed', state(0.25)]]);
  const record = (cell: string, finalState: string): RunRecord => ({
    cell, status: 'ok', finalState: { sha256: finalState, bytes: 0, tensors: states.get(finalState)!.tensors }, artifact: { sha256: 'same', bytes: 8, tensors: [] },
  }) as unknown as OkRecord;
  const base = 'data-pipeline|tfjs-cpu|cpu|det|t1', resumed = `${base}|r3`;
  const pair: AxisInvariance = { axis: 'resumeAt', base: 0, value: 3, workload: 'data-pipeline', backend: 'tfjs-cpu', device: 'cpu', baseCell: base, cell: resumed, bitwiseEqual: true, diff: null };
  const [judged] = compareResumedStates([pair], [record(base, 's-whole'), record(resumed, 's-resumed')], (r) => states.get(r.finalState!.sha256)!.data);
  assert.deepEqual([judged.bitwiseEqual, judged.stateDiffers], [false, ['optimizer']]);
  const [again] = compareResumedStates([pair], [record(base, 's-whole'), record(resumed, 's-whole')], (r) => states.get(r.finalState!.sha256)!.data);
  assert.deepEqual([again.bitwiseEqual, again.stateDiffers], [true, []]);
  // a cell that is not stable: its modal run's state is compared, not its first run's
  const odd = (cell: string, finalState: string, artifact: string) => ({ ...record(cell, finalState), artifact: { sha256: artifact, bytes: 8, tensors: [] } }) as unknown as RunRecord;
  const [modal] = compareResumedStates([pair], [odd(resumed, 's-resumed', 'stray'), record(resumed, 's-whole'), record(resumed, 's-whole'), record(base, 's-whole')], (r) => states.get(r.finalState!.sha256)!.data);
  assert.deepEqual([modal.bitwiseEqual, modal.stateDiffers], [true, []]);
  const none = { cells: [], crossBackend: [], oracle: { made: false, reason: '', python: null, torch: null, workloads: [], cells: [] }, negativeControls: [], fleet: [], devices: [], soak: [], locate: [], complete: true, recordedRuns: 2, plannedRuns: 2 };
  const [f] = deriveFindings({ ...none, invariance: [judged], nondetDependence: [] } as never, []);
  assert.equal(f.kind, 'invariance-broken');
  assert.match(findingText(f), /the uninterrupted run and resumed after step 3 give different det bits in the optimizer state/);
});
