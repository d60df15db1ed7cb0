/**
 * Findings are data: a closed set of kinds with evidence, one catalogue of words, and severities
 * that decide exit codes. Every output says a finding in the catalogue's words.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compareInvariance } from '../harness/analysis/agreement.ts';
import { compare } from '../harness/analysis/compare.ts';
import { deriveFindings, exitCodeFor, finding, FINDING_SEVERITY } from '../harness/analysis/findings.ts';
import { FINDING_KINDS, isFindingKind, isSeverity, SEVERITIES, type CellSummary, type Finding, type FindingEvidence, type FindingKind } from '../harness/analysis/summary.ts';
import { cellId } from '../harness/protocol.ts';
import { EXIT } from '../harness/errors.ts';
import { findingText } from '../reports/findings.ts';
import { escapeHtml } from '../reports/html.ts';
import { escapeMarkdown } from '../reports/markdown.ts';
import { comparisonText } from '../reports/text.ts';
import { makeResults, type FixtureOptions } from './fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-findings-'));
const at = { id: 'matmul|tfjs-cpu|cpu|det|t1', workload: 'matmul', backend: 'tfjs-cpu', device: 'cpu', mode: 'det' as const, threads: 1 };
const ci = { estimator: 'ratio-of-medians' as const, ratio: 1.4, low: 1.3, high: 1.5, pairs: 8, resamples: 2000, threshold: 1.25 };
const diff = { elements: 4, bitwiseEqual: false, differing: 1, firstDifferingIndex: 2, nanPairs: 0, maxUlp: 3, medianUlp: 0, ulpHistogram: [3, 0, 1], maxAbs: 1e-7, maxRel: 1e-7, relL2: 5e-8 };

const stepPlace = { machine: 'node7', lastBefore: { runId: 'r19', createdAt: '2026-11-19T02:00:00Z' }, firstAfter: { runId: 'r20', createdAt: '2026-11-20T02:00:00Z' }, nightsBefore: 19, nightsAfter: 11 };
const expectation = { pattern: 'index-add|*', expect: 'unstable', reason: 'WebGPU has no determinism switch', expires: null };

/** One example of each kind's evidence: the compiler insists on every kind, the test on its words. */
const EXAMPLES: { [K in FindingKind]: FindingEvidence[K] } = {
  'incomplete-results': { recordedRuns: 4, plannedRuns: 10 },
  'det-unstable': { distinctDigests: 3, runs: 5, maxUlp: 12, maxRelL2: 1e-7, withinTolerance: true },
  'negative-control-not-seen': { distinctDigests: 1, runs: 5 },
  'runs-failed': { statuses: { ok: 2, error: 3 }, message: 'out of memory' },
  'outside-tolerance': { reference: 'ort-cpu', referenceCell: 'matmul|ort-cpu|cpu|det|t1', distance: 0.1, tolerance: { relL2: 1e-5 }, maxUlp: 900, nanPairs: 0 },
  'oracle-outside-tolerance': { distance: 2e-4, tolerance: { relL2: 1e-5 }, maxUlp: 40, nanPairs: 0 },
  'invariance-broken': { axis: 'threads', base: 1, value: 2, baseCell: 'matmul|tfjs-cpu|cpu|det|t1', maxUlp: 7, relL2: 1e-7 },
  'nondet-depends-on-axis': { axis: 'loaderWorkers', base: 0, value: 2, baseCell: 'data-pipeline|tfjs-cpu|cpu|nondet|t1', maxUlp: 90, relL2: 1e-3 },
  'devices-disagree': { devices: [{ device: 'cuda:0', name: 'H100', modalDigest: 'a'.repeat(64) }, { device: 'cuda:1', name: 'H100', modalDigest: 'b'.repeat(64) }] },
  'suspect-device': { device: 'cuda:1', name: 'H100' },
  'suspect-machine': { machine: 3, hostname: 'node7', hardware: 'epyc-x64' },
  'soak-changed': { afterSec: 42, repeat: 9, runs: 20, distinctDigests: 2 },
  'varies-as-expected': { distinctDigests: 4, runs: 5 },
  'divergence-located': {
    against: 'repeat', reference: at, status: 'located', budget: { kind: 'maxUlp', value: 0 }, runs: 2, firstDivergentStep: 0, step: 0,
    firstOp: 'allreduce', previousOp: { op: 'shard7.grad.head.b', step: 0 }, maxUlp: 3, medianUlp: 1, differing: 12, elements: 2762, relL2: 1e-7, reproducedRecorded: false, message: null,
  },
  'no-data': { side: 'current', recordedRuns: 0, plannedRuns: 0 },
  'determinism-regression': { baselineDistinct: 1, currentDistinct: 2, maxUlp: 1 },
  'still-unstable': { baselineDistinct: 2, currentDistinct: 3, maxUlp: 5 },
  'results-changed': { baselineDigest: 'a'.repeat(64), currentDigest: 'b'.repeat(64), diff, fingerprintChanges: ['environment.node'] },
  slower: { measure: 'computeMs', ...ci },
  'slower-inconclusive': { measure: 'slowdownRatio', ...ci, low: 1.1 },
  faster: { measure: 'computeMs', ...ci, ratio: 0.5, low: 0.45, high: 0.55 },
  'missing-cell': {},
  'newly-unsupported': { verdict: 'unavailable', message: 'no GPU' },
  'newly-failing': { statuses: { crashed: 1 }, message: 'worker exited' },
  'new-cell': {},
  'step-slower': { ...stepPlace, measure: 'computeMs', mode: 'det', before: 10, after: 13, ratio: 1.3, threshold: 1.25 },
  'step-faster': { ...stepPlace, measure: 'slowdownRatio', mode: null, before: 1.3, after: 1, ratio: 0.77, threshold: 1.25 },
  'step-unstable': { ...stepPlace, distinctDigests: 2, runs: 3 },
  'step-results-changed': { ...stepPlace, beforeDigest: 'a'.repeat(64), afterDigest: 'b'.repeat(64), fingerprintChanges: ['environment.node'] },
  'not-confirmed': { finding: finding('slower', at, { measure: 'computeMs', ...ci }), repeated: 0, reruns: 3 },
  expected: { finding: finding('det-unstable', at, { distinctDigests: 3, runs: 5, maxUlp: 12, maxRelL2: 1e-7, withinTolerance: true }), expectation },
  'expectation-expired': { expectation: { ...expectation, expires: '2026-01-31' } },
  'expectation-unmatched': { expectation },
};

test('every kind has words, and they say the evidence (no undefined, no NaN, no object dumps)', () => {
  for (const kind of FINDING_KINDS) {
    const f = finding(kind, at, EXAMPLES[kind] as never) as Finding;
    assert.ok(isFindingKind(f.kind) && isSeverity(f.severity), kind);
    const text = findingText(f);
    assert.ok(text.length > 20, `${kind}: ${text}`);
    assert.doesNotMatch(text, /undefined|NaN|\[object/, `${kind}: ${text}`);
  }
  assert.equal(findingText(finding('det-unstable', at, EXAMPLES['det-unstable'])).includes('matmul on tfjs-cpu (cpu, det, 1 thread)'), true);
  assert.match(findingText(finding('invariance-broken', at, EXAMPLES['invariance-broken'])), /1 thread and 2 threads give different det bits \(up to 7 ULP/);
  assert.ok(!isFindingKind('matmul is unstable') && !isSeverity('regression'));
});

test('exit codes: incomplete before findings, findings before inconclusive, notes never', () => {
  const of = (...kinds: FindingKind[]) => exitCodeFor(kinds.map((k) => finding(k, at, EXAMPLES[k] as never) as Finding));
  assert.equal(of(), EXIT.ok);
  assert.equal(of('new-cell', 'faster', 'invariance-broken', 'varies-as-expected'), EXIT.ok);
  assert.equal(of('slower-inconclusive'), EXIT.incomplete);
  assert.equal(of('slower-inconclusive', 'det-unstable'), EXIT.findings);
  assert.equal(of('det-unstable', 'incomplete-results'), EXIT.incomplete);
  assert.deepEqual(new Set(Object.values(FINDING_SEVERITY)), new Set(SEVERITIES));
});

test('an invariance axis: det results at each thread count against the lowest, per workload, backend and device', () => {
  const artifacts: Record<string, Float32Array> = { a: new Float32Array([1, 2]), b: new Float32Array([1, 2.0000002]) };
  const cell = (device: string, threads: number, modalDigest: string) => {
    const key = { workload: 'matmul', backend: 'ort-cpu', device, mode: 'det' as const, threads };
    return { ...key, cell: cellId(key), modalDigest, distinctDigests: 1, verdict: 'bitwise-stable', runs: [] } as unknown as CellSummary;
  };
  const cells = [cell('cpu', 2, 'b'), cell('cpu', 1, 'a'), cell('cpu', 4, 'a'), cell('other', 2, 'b')];
  const rows = compareInvariance(cells, (d) => artifacts[d]);
  assert.deepEqual(rows.map((r) => [r.axis, r.device, r.base, r.value, r.bitwiseEqual, r.diff?.maxUlp ?? null]), [['threads', 'cpu', 1, 2, false, 1], ['threads', 'cpu', 1, 4, true, null]]);
  const oracle = { made: false, reason: 'none', python: null, torch: null, workloads: [], cells: [] };
  const findings = deriveFindings({ cells, crossBackend: [], oracle, invariance: rows, negativeControls: [], fleet: [], devices: [], soak: [], locate: [], complete: true, recordedRuns: 0, plannedRuns: 0 }, cells);
  assert.deepEqual(findings.map((f) => [f.kind, f.severity, f.cell?.id]), [['invariance-broken', 'info', 'matmul|ort-cpu|cpu|det|t2']]);
  assert.equal(exitCodeFor(findings), EXIT.ok, 'a thread-count difference is a note');
});

const suite: FixtureOptions = { workloads: ['matmul'], backends: ['tfjs-cpu'], repeats: 4 };

test('compare: an incomplete or empty current folder is exit 3 and says so, never 0', () => {
  const baseline = makeResults(root, suite);
  for (const killAfter of [3, 0]) {
    const c = compare(baseline, makeResults(root, { ...suite, killAfter }));
    assert.equal(c.exitCode, EXIT.incomplete, `killed after ${killAfter} runs`);
    assert.deepEqual(c.findings.filter((f) => f.severity === 'incomplete').map((f) => [f.kind, f.evidence]), [['incomplete-results', { side: 'current', recordedRuns: killAfter, plannedRuns: 8 }]]);
    assert.match(comparisonText(c), /^INCOMPLETE: .*\(exit 3\)\.$/m);
    assert.ok(comparisonText(c).includes(findingText(c.findings[0])));
  }
  assert.equal(compare(makeResults(root, { ...suite, killAfter: 3 }), baseline).exitCode, EXIT.incomplete, 'an incomplete baseline folder too');
});

test('compare: a det cell unstable in the baseline and still now keeps failing (still-unstable, exit 1)', () => {
  const unstable = { ...suite, detUnstable: true };
  const c = compare(makeResults(root, unstable), makeResults(root, unstable));
  assert.equal(c.exitCode, EXIT.findings);
  const still = c.findings.filter((f) => f.kind === 'still-unstable');
  assert.deepEqual(still.map((f) => f.cell?.id), ['matmul|tfjs-cpu|cpu|det|t1']);
  assert.ok(comparisonText(c).includes(findingText(still[0])));
  assert.equal(compare(makeResults(root, suite), makeResults(root, unstable)).findings.some((f) => f.kind === 'determinism-regression'), true);
});

test('a run whose negative control is not seen: typed findings in summary.json, the catalogue\'s words in the terminal, Markdown and HTML', () => {
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  const plugin = fileURLToPath(new URL('./fixtures/findings-backends.ts', import.meta.url));
  const out = fs.mkdtempSync(path.join(root, 'run-'));
  const r = spawnSync(process.execPath, [bin, 'run', '--backends', 'fake-exact-gradients', '--workloads', 'dataparallel-train', '--modes', 'det,nondet', '--repeats', '2', '--out', out], {
    encoding: 'utf8', timeout: 180_000, env: { ...process.env, DETBENCH_PLUGINS: plugin },
  });
  assert.equal(r.status, EXIT.findings, r.stderr);
  const dir = path.join(out, fs.readdirSync(out)[0]);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { findings: Finding[] };
  assert.ok(summary.findings.every((f) => isFindingKind(f.kind) && isSeverity(f.severity)));
  const control = summary.findings.filter((f) => f.kind === 'negative-control-not-seen');
  assert.deepEqual(control.map((f) => [f.cell?.workload, f.cell?.backend, f.cell?.mode, f.evidence]), [['dataparallel-train', 'fake-exact-gradients', 'nondet', { distinctDigests: 1, runs: 2 }]]);
  const markdown = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  for (const f of summary.findings) {
    const text = findingText(f);
    assert.ok(r.stdout.includes(text), `terminal: ${text}`);
    assert.ok(markdown.includes(escapeMarkdown(text)), `Markdown: ${text}`);
    assert.ok(html.includes(escapeHtml(text)), `HTML: ${text}`);
  }
});
