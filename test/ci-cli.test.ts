/**
 * The CI outputs from the command line: with GITHUB_ACTIONS=true compare appends its Markdown to
 * $GITHUB_STEP_SUMMARY and annotates (on stderr when stdout is JSON); --expect on run and compare
 * changes the exit code and keeps every finding in the output; bad --confirm and --junit values are
 * refused before anything runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT, message } from '../harness/errors.ts';
import { inProcess } from './fixtures/main.ts';
import { makeResults, type FixtureOptions } from './fixtures/results.ts';

const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
const plugin = fileURLToPath(new URL('./fixtures/findings-backends.ts', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-ci-cli-'));
const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, GITHUB_ACTIONS: '', ...env }, timeout: 180_000 });
const suite: FixtureOptions = { workloads: ['matmul'], backends: ['tfjs-cpu', 'broken'], repeats: 6, timeJitter: 0.02 };

test('compare in GitHub Actions: the step summary, annotations on stderr beside JSON; --expect makes it green', () => {
  const baseline = makeResults(root, suite);
  const current = makeResults(root, { ...suite, timeScale: 2, seed: 2 });
  const summary = path.join(root, 'step-summary.md');
  const r = cli(['compare', baseline, current, '--json'], { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary });
  assert.equal(r.status, EXIT.findings, r.stderr);
  assert.equal(JSON.parse(r.stdout).exitCode, EXIT.findings, 'stdout is the JSON alone');
  const annotations = r.stderr.split('\n').filter((l) => l.startsWith('::'));
  assert.equal(annotations.length, 2, r.stderr);
  for (const a of annotations) assert.match(a, /^::error title=detbench slower%3A matmul on tfjs-cpu \(cpu%2C (det|nondet)%2C 1 thread\)::matmul on tfjs-cpu/);
  assert.match(fs.readFileSync(summary, 'utf8'), /^## detbench compare: 2 finding\(s\)/);
  const expect = path.join(root, 'expect.yml');
  fs.writeFileSync(expect, 'expectations:\n  - { cell: "matmul|tfjs-cpu|*", expect: slower, reason: "a busy runner (issue 7)" }\n');
  const known = cli(['compare', baseline, current, '--expect', expect]);
  assert.equal(known.status, EXIT.ok, known.stderr);
  assert.match(known.stdout, /Notes:\n  - \[expected\] expected \(a busy runner \(issue 7\)\): matmul on tfjs-cpu \(cpu, det, 1 thread\): compute time is 2\.\d\d×/);
});

test('run --expect: a known unstable cell is a note and the run exits 0; the JSON summary says so', () => {
  const expect = path.join(root, 'unstable.yml');
  fs.writeFileSync(expect, 'expectations:\n  - { cell: "matmul|fake-unstable|*", expect: unstable, reason: "a test double" }\n');
  const r = cli(['run', '--backends', 'fake-unstable', '--workloads', 'matmul', '--repeats', '2', '--threads', '1', '--no-report', '--out', root, '--json', '--expect', expect], { DETBENCH_PLUGINS: plugin });
  assert.equal(r.status, EXIT.ok, r.stderr);
  const { summary } = JSON.parse(r.stdout);
  assert.deepEqual(summary.findings.map((f: { kind: string; evidence: { finding?: { kind: string } } }) => [f.kind, f.evidence.finding?.kind]), [['expected', 'det-unstable']]);
});

test('bad --confirm, --junit and --expect are refused before anything is read or run', async () => {
  const a = makeResults(root, suite);
  const confirm = await inProcess(['compare', a, a, '--confirm', '0']);
  assert.equal(confirm.code, EXIT.usage);
  assert.equal(confirm.stderr, `detbench: ${message.confirmCount(0)}\n`);
  const junit = await inProcess(['compare', a, a, '--junit', root]);
  assert.equal(junit.code, EXIT.usage);
  assert.equal(junit.stderr, `detbench: ${message.outputFile('--junit', root, 'it is a folder')}\n`);
  const expect = await inProcess(['run', '--backends', 'fake-unstable', '--out', root, '--expect', path.join(root, 'none.yml')], { DETBENCH_PLUGINS: plugin });
  assert.equal(expect.code, EXIT.usage);
  assert.equal(expect.stderr, `detbench: ${message.expectMissing(path.join(root, 'none.yml'))}\n`);
});
