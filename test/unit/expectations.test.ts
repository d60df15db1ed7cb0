/**
 * --expect: known findings become notes that carry them whole; expired and unmatched expectations are
 * reported; a bad file is refused in one line naming the entry and field.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { applyExpectations, globMatcher, loadExpectations } from '../../harness/expectations.ts';
import { exitCodeFor, finding } from '../../harness/analysis/findings.ts';
import type { Finding } from '../../harness/analysis/summary.ts';
import { EXIT, UsageError, message } from '../../harness/errors.ts';
import { findingText } from '../../reports/findings.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-expect-'));
const write = (name: string, text: string) => {
  const file = path.join(root, name);
  fs.writeFileSync(file, text);
  return file;
};
const cell = (workload: string, backend: string, mode: 'det' | 'nondet' = 'det') => ({ id: `${workload}|${backend}|cpu|${mode}|t1`, workload, backend, device: 'cpu', mode, threads: 1 });
const unstable = (w: string, b: string) => finding('det-unstable', cell(w, b), { distinctDigests: 2, runs: 3, maxUlp: 4, maxRelL2: 1e-7, withinTolerance: true });
const ci = { estimator: 'ratio-of-medians' as const, ratio: 1.4, low: 1.3, high: 1.5, pairs: 5, resamples: 2000, threshold: 1.25 };

const FILE = `expectations:
  - cell: "index-add|ort-webgpu|*"
    expect: unstable
    reason: WebGPU has no determinism switch (issue 12)
  - cell: "matmul|*|cpu|det|t?"
    expect: slower
    reason: the new BLAS is slower
    expires: 2027-03-31
  - cell: "conv-train|*"
    expect: runs-failed
    reason: out of memory on small runners
    expires: 2026-01-31
  - cell: "never|*"
    expect: results-changed
    reason: a library upgrade that has not happened yet
`;

test('a known finding becomes an expected note (exit 0), the rest stay; expired and unmatched expectations are reported', () => {
  const expectations = loadExpectations(write('ok.yml', FILE));
  assert.deepEqual(expectations.map((x) => [x.pattern, x.expires]), [['index-add|ort-webgpu|*', null], ['matmul|*|cpu|det|t?', '2027-03-31'], ['conv-train|*', '2026-01-31'], ['never|*', null]]);
  const findings: Finding[] = [
    unstable('index-add', 'ort-webgpu'),
    unstable('index-add', 'ort-cpu'),
    finding('step-slower', cell('matmul', 'tfjs-cpu'), { machine: 'm', lastBefore: { runId: 'a', createdAt: 'x' }, firstAfter: { runId: 'b', createdAt: 'y' }, nightsBefore: 3, nightsAfter: 2, measure: 'computeMs', mode: 'det', before: 1, after: 2, ratio: 2, threshold: 1.25 }),
    finding('slower', cell('matmul', 'ort-cpu'), { measure: 'computeMs', ...ci }),
    finding('runs-failed', cell('conv-train', 'ort-cpu'), { statuses: { crashed: 1 }, message: 'killed' }),
  ];
  const out = applyExpectations(findings, expectations, new Date('2026-06-01T12:00:00Z'));
  assert.deepEqual(out.map((f) => f.kind), ['expected', 'det-unstable', 'expected', 'expected', 'runs-failed', 'expectation-expired', 'expectation-unmatched']);
  const expected = out[0];
  assert.ok(expected.kind === 'expected' && expected.severity === 'info');
  assert.deepEqual(expected.evidence.finding, findings[0], 'the note carries the finding whole');
  assert.match(findingText(expected), /^expected \(WebGPU has no determinism switch \(issue 12\)\): index-add on ort-webgpu .* is not bitwise stable/);
  assert.match(findingText(out[5]), /expired on 2026-01-31/);
  assert.equal(exitCodeFor(out), EXIT.findings, 'index-add on ort-cpu and the expired one still fail');
  assert.equal(exitCodeFor(applyExpectations([findings[0], findings[2]], expectations, new Date('2026-06-01'))), EXIT.ok);
  // the day after the expiry date, slower counts again
  assert.deepEqual(applyExpectations([findings[3]], expectations, new Date('2027-04-01')).map((f) => f.kind).slice(0, 1), ['slower']);
  assert.deepEqual(applyExpectations([findings[3]], expectations, new Date('2027-03-31T23:00:00Z')).map((f) => f.kind).slice(0, 1), ['expected']);
});

test('globs: * is any text, | included; ? one character; everything else literal', () => {
  assert.ok(globMatcher('index-add|*')('index-add|ort-cpu|cpu|det|t1'));
  assert.ok(!globMatcher('index-add|*')('xindex-add|ort-cpu'));
  assert.ok(globMatcher('a.b|t?')('a.b|t2') && !globMatcher('a.b|t?')('axb|t2') && !globMatcher('a.b|t?')('a.b|t12'));
  // a star may take nothing, several stars in a row are one, and the last one goes back as far as it must
  assert.ok(globMatcher('*')('') && globMatcher('a**b')('ab') && globMatcher('*|det|*')('m|b|cpu|det|t1') && globMatcher('*a*b')('xaxxbab'));
  assert.ok(!globMatcher('a*b?')('ab') && !globMatcher('')('x') && !globMatcher('*a')('b'));
});

test('a bad expectations file: one line naming the entry and field and what it must be', () => {
  const bad = (text: string) => () => loadExpectations(write(`bad-${Math.random()}.yml`, text));
  assert.throws(() => loadExpectations(path.join(root, 'missing.yml')), new UsageError(message.expectMissing(path.join(root, 'missing.yml'))));
  assert.throws(bad('- cell: x'), /must hold one field, `expectations`/);
  assert.throws(bad('expectations: [ { cell: "x", expect: unstable, reason: r, color: red } ]'), /expectations\[0\]: field `color` is not known: use cell, expect, reason, expires/);
  assert.throws(bad('expectations: [ { cell: "x", expect: flaky, reason: r } ]'), /expectations\[0\]: `expect` must be one of unstable, slower, results-changed, failing, unsupported, det-unstable, .*got "flaky"/);
  assert.throws(bad('expectations: [ { cell: "x", expect: new-cell, reason: r } ]'), /`expect` must be one of .*got "new-cell"/, 'a note changes no exit code: nothing to expect');
  assert.throws(bad('expectations: [ { cell: "x", expect: unstable, reason: r, expires: 2027-02-30 } ]'), /`expires` must be a date, YYYY-MM-DD, got "2027-02-30"/);
  assert.throws(bad('expectations: [ { cell: "x", expect: unstable } ]'), /`reason` must be why this is expected/);
  assert.throws(bad('expectations: [ { cell: "", expect: unstable, reason: r } ]'), /`cell` must be a cell id or glob/);
  assert.throws(bad('expectations: ['), /is not valid YAML or JSON/);
});
