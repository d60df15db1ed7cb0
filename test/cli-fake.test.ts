/**
 * The CLI's run strategies and results folders, end to end, on fake backends whose bits and times
 * are exact (test/fixtures/fake-backends.ts, loaded as a plugin): a run killed part-way, compare,
 * --precision's stopping rule and the soak. No assertion here depends on this machine's speed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pairedRatioCI } from '../harness/analysis/stats.ts';
import { bin, detbenchWithFakes, fakePlugin } from './fixtures/cli.ts';
import { exactComputeMs, SLOW_RUN_MS } from './fixtures/fake-backends.ts';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-cli-fake-'));

test('SIGKILL part-way: finished runs stay readable and the folder is reported incomplete (exit 3)', async () => {
  const killDir = fs.mkdtempSync(path.join(out, 'kill-'));
  // 400 runs of SLOW_RUN_MS each: far from done when it is killed
  const child = spawn(process.execPath, [bin, 'run', '--backends', 'fake-slow', '--workloads', 'matmul', '--repeats', '200', '--out', killDir], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DETBENCH_PLUGINS: fakePlugin },
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  // Wait until a few runs are recorded, then kill the whole tree without warning.
  const runsFile = () => {
    const [dir] = fs.readdirSync(killDir);
    return dir ? path.join(killDir, dir, 'runs.jsonl') : null;
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const f = runsFile();
    if (f && fs.existsSync(f) && fs.readFileSync(f, 'utf8').split('\n').length > 6) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  // bin/detbench.mjs runs the CLI as its child: kill both, as `kill -9` on a process group would.
  const grandchildren = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  for (const pid of grandchildren) process.kill(Number(pid), 'SIGKILL');
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));

  const resultsDir = path.join(killDir, fs.readdirSync(killDir)[0]);
  const recorded = fs.readFileSync(path.join(resultsDir, 'runs.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  assert.ok(recorded >= 5 && recorded < 400, `${recorded} runs recorded before the kill: ${err}`);
  assert.ok(!fs.existsSync(path.join(resultsDir, 'complete.json')));
  const r = await detbenchWithFakes(['analyze', resultsDir, '--json']);
  assert.equal(r.status, 3, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.complete, false);
  assert.ok(summary.recordedRuns >= recorded - 1);
  assert.ok(summary.findings.some((f: { kind: string }) => f.kind === 'incomplete-results'));
});

test('compare: another seed and a missing workload exit 1 with the right findings', async () => {
  // (a folder against itself, exit 0, and every other finding are in compare.test.ts, without a process each)
  const run = async (...args: string[]) => {
    const r = await detbenchWithFakes(['run', '--backends', 'fake-exact', '--repeats', '2', '--no-report', '--out', out, '--json', ...args]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).resultsDir as string;
  };
  // fake-exact's bits are its inputs', so another seed changes them
  const [a, b] = await Promise.all([run('--workloads', 'matmul,reduce-sum'), run('--workloads', 'matmul', '--seed', '1')]);
  const r = await detbenchWithFakes(['compare', a, b, '--json']);
  assert.equal(r.status, 1, r.stderr);
  const changed = JSON.parse(r.stdout) as { findings: Array<{ kind: string }>; fingerprintChanges: Array<{ field: string }> };
  const kinds = new Set(changed.findings.map((f) => f.kind));
  assert.ok(kinds.has('missing-cell'), 'reduce-sum is not in the current folder');
  assert.ok(kinds.has('results-changed'), 'matmul has other bits with seed 1');
  assert.ok(changed.fingerprintChanges.some((f) => f.field === 'suite.seed'));
});

test('--precision stops when the det/nondet CI half-width reaches the target, at the pair count its exact times give, or when the budget is spent', async () => {
  // The pair count at which the CI of fake-exact's times first narrows to ±2 %, found the way the
  // stopping rule looks (at least 5 pairs; run 0 of each mode is its warm-up).
  const det: number[] = [], nondet: number[] = [];
  let expected = 0;
  for (let pair = 1; expected === 0; pair++) {
    det.push(exactComputeMs('det', pair));
    nondet.push(exactComputeMs('nondet', pair));
    const ci = det.length >= 5 ? pairedRatioCI(det, nondet) : null;
    if (ci && (ci.high - ci.low) / 2 / ci.ratio <= 0.02) expected = pair;
  }
  assert.ok(expected > 5, `the rule must have to add pairs beyond its minimum (reached at ${expected})`);

  const precision = (backend: string, budgetSec: string) =>
    detbenchWithFakes(['run', '--backends', backend, '--workloads', 'matmul', '--precision', '0.02', '--budget', budgetSec, '--no-report', '--out', out]);
  // fake-slow's runs take SLOW_RUN_MS each on the clock, so a budget shorter than one run is spent after the first pair
  const [reached, spent] = await Promise.all([precision('fake-exact', '300'), precision('fake-slow', String(SLOW_RUN_MS / 1000 / 2))]);

  assert.equal(reached.status, 0, reached.stderr);
  const m = /matmul\|fake-exact\|cpu\|t1: ([\d.]+)× \[([\d.]+), ([\d.]+)\], half-width ±([\d.]+)% after (\d+) pairs — precision reached/.exec(reached.stdout);
  assert.ok(m, reached.stdout);
  assert.equal(Number(m[5]), expected);
  assert.ok(Number(m[4]) <= 2, `half-width ${m[4]}%`);
  const dir = /Results: (.+)/.exec(reached.stdout)![1].trim();
  const outcome = JSON.parse(fs.readFileSync(path.join(dir, 'precision.json'), 'utf8')).outcomes[0];
  assert.equal(outcome.stoppedBecause, 'precision reached');
  assert.equal(outcome.pairs, expected);
  assert.deepEqual(outcome.slowdown, { ...pairedRatioCI(det, nondet), pairs: expected });
  // every pair is in runs.jsonl, so the analysis sees the same pairs
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  assert.equal(summary.modes[0].slowdown.pairs, expected);

  assert.equal(spent.status, 3, `precision not reached is inconclusive: ${spent.stderr}`);
  assert.match(spent.stdout, /matmul\|fake-slow\|cpu\|t1: .* after 1 pairs — time budget spent/);
});

test('--duration soaks det cells after the suite: unchanged bits pass; bits that change are caught with when', async () => {
  // fake-slow's runs sleep, so the soak mostly waits; fake-drift's first soak run is the first with new bits
  const r = await detbenchWithFakes(['run', '--backends', 'fake-drift,fake-slow', '--workloads', 'matmul', '--repeats', '2', '--duration', '2s', '--no-report', '--json', '--out', out]);
  assert.equal(r.status, 1, r.stderr);
  const summary = JSON.parse(r.stdout).summary;
  const soak = (backend: string) => summary.soak.find((s: { backend: string }) => s.backend === backend);
  const steady = soak('fake-slow');
  assert.ok(steady.runs >= 1 && steady.firstChange === null && steady.distinctDigests === 1, JSON.stringify(steady));
  const drift = soak('fake-drift');
  assert.equal(drift.firstChange.repeat, 2, 'the first soak run (after warm-up and two repeats of each mode) is the first with new bits');
  assert.ok(summary.findings.some((f: { kind: string; cell: { workload: string; backend: string } }) => f.kind === 'soak-changed' && f.cell.workload === 'matmul' && f.cell.backend === 'fake-drift'));
  const det = summary.cells.find((c: { backend: string; mode: string }) => c.backend === 'fake-drift' && c.mode === 'det');
  assert.equal(det.verdict, 'unstable');
  assert.equal(summary.cells.find((c: { backend: string; mode: string }) => c.backend === 'fake-slow' && c.mode === 'det').verdict, 'bitwise-stable');
  assert.deepEqual(summary.findings.filter((f: { cell?: { backend?: string } }) => f.cell?.backend === 'fake-slow'), []);
});
