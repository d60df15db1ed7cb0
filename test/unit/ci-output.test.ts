/**
 * CI-native output: JUnit XML (a testcase per cell, failing findings as failures with their evidence,
 * hostile text escaped; xmllint validates it against Jenkins' schema in test/system/junit.test.ts) and
 * GitHub Actions annotations and step summaries (escaped as actions/toolkit escapes them).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { finding } from '../../harness/analysis/findings.ts';
import type { Finding } from '../../harness/analysis/summary.ts';
import { annotations, writeGitHubOutput } from '../../reports/github.ts';
import { findingText } from '../../reports/findings.ts';
import { escapeXml, junitXml, type JUnitCell } from '../../reports/junit.ts';
import { HOSTILE } from '../fixtures/results.ts';

const cell = (workload: string, backend: string, mode: 'det' | 'nondet', extra: Partial<JUnitCell> = {}): JUnitCell => ({ id: `${workload}|${backend}|cpu|${mode}|t1`, workload, backend, device: 'cpu', mode, threads: 1, ...extra });
const ci = { estimator: 'ratio-of-medians' as const, ratio: 1.4, low: 1.3, high: 1.5, pairs: 5, resamples: 2000, threshold: 1.25 };
const meta = { timestamp: '2026-11-27T02:00:00Z', hostname: 'ci-runner' };

const cells = [cell('matmul', 'tfjs-cpu', 'det', { verdict: 'unstable', seconds: 0.5 }), cell('matmul', 'tfjs-cpu', 'nondet', { verdict: 'unstable' }), cell('matmul', 'ort-webgpu', 'det', { verdict: 'unavailable', message: 'no GPU' })];
const findings: Finding[] = [
  finding('det-unstable', cells[0], { distinctDigests: 2, runs: 3, maxUlp: 4, maxRelL2: 1e-7, withinTolerance: true }),
  // a group (det/nondet pair): it belongs to the det cell
  finding('slower-inconclusive', { id: 'matmul|tfjs-cpu|cpu|t1', workload: 'matmul', backend: 'tfjs-cpu', device: 'cpu', threads: 1 }, { measure: 'slowdownRatio', ...ci, low: 1.1 }),
  finding('new-cell', cells[1], {}),
  finding('incomplete-results', undefined, { recordedRuns: 3, plannedRuns: 9 }),
];

test('JUnit: a testcase per cell, failures and errors with kind, words and evidence, a skipped cell, a suite-level case', () => {
  const xml = junitXml('detbench run r1', cells, findings, meta);
  const cases = [...xml.matchAll(/<testcase name="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(cases, ['matmul|tfjs-cpu|cpu|det|t1', 'matmul|tfjs-cpu|cpu|nondet|t1', 'matmul|ort-webgpu|cpu|det|t1', 'detbench']);
  assert.match(xml, /<testsuite name="detbench run r1" tests="4" failures="1" errors="1" skipped="1" time="0\.500" timestamp="2026-11-27T02:00:00Z" hostname="ci-runner">/);
  assert.ok(xml.includes(`<failure type="det-unstable" message="${escapeXml(findingText(findings[0]))}">`));
  assert.ok(xml.includes('&quot;distinctDigests&quot;') === false && xml.includes('"distinctDigests": 2'), 'evidence as JSON text');
  assert.match(xml, /<error type="slower-inconclusive" message="matmul on tfjs-cpu \(cpu, 1 thread\): det\/nondet slowdown ratio 1\.40×/);
  assert.match(xml, /<testcase name="matmul\|tfjs-cpu\|cpu\|nondet\|t1" classname="detbench\.matmul">\s*<system-out>\[new-cell\] /);
  assert.match(xml, /<skipped message="unavailable: no GPU"\/>/);
  assert.match(xml, /<testcase name="detbench" classname="detbench">\s*<error type="incomplete-results"/);
});

test('JUnit: hostile text is escaped, characters XML forbids are replaced, nothing else changes', () => {
  const text = `${HOSTILE}\u0000\u001b[31m\uD800 ]]> end`;
  const hostile = [cell(text, text, 'det', { verdict: 'failed' })];
  const xml = junitXml(text, hostile, [finding('runs-failed', hostile[0], { statuses: { error: 1 }, message: text })], { timestamp: text, hostname: text });
  assert.ok(!xml.includes('<script>') && !xml.includes('<img'));
  assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(xml), 'no control character');
  assert.ok(!/[\uD800-\uDFFF]/.test(xml.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '')), 'no lone surrogate');
  assert.ok(xml.includes('&lt;script&gt;window.__pwned=1&lt;/script&gt;'));
  assert.equal(escapeXml('a"b\'c\nd'), 'a&quot;b&apos;c&#10;d');
});

test('GitHub: ::error for failing findings, ::warning for inconclusive and incomplete ones, none for notes; escaped', () => {
  const lines = annotations(findings);
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^::error title=detbench det-unstable%3A matmul on tfjs-cpu \(cpu%2C det%2C 1 thread\)::matmul on tfjs-cpu/);
  assert.match(lines[1], /^::warning title=detbench slower-inconclusive/);
  assert.match(lines[2], /^::warning title=detbench incomplete-results%3A this run::/);
  const evil = annotations([finding('runs-failed', cell('w', 'b', 'det'), { statuses: { error: 1 }, message: '50%\r\n::error::injected, really: yes' })]);
  assert.equal(evil.length, 1);
  assert.ok(evil[0].includes('50%25%0D%0A::error::injected, really: yes'), 'the message cannot start a line of its own');
  assert.ok(!evil[0].includes('\n') && !evil[0].includes('\r'));
});

test('GitHub: the Markdown is appended to $GITHUB_STEP_SUMMARY, annotations go to the stream given', () => {
  const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-gh-')), 'summary.md');
  fs.writeFileSync(summary, '# an earlier step\n');
  let written = '';
  const out = new Writable({ write(chunk, _enc, done) { written += chunk; done(); } });
  writeGitHubOutput('## detbench: 1 of 2', findings, out, { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary });
  assert.equal(fs.readFileSync(summary, 'utf8'), '# an earlier step\n## detbench: 1 of 2\n\n');
  assert.equal(written.split('\n').filter(Boolean).length, 3);
});
