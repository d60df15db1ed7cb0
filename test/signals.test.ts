/**
 * Ctrl-C in a terminal and SIGTERM from Slurm, Kubernetes or `timeout` go to the whole process group.
 * Sent here the same way — to the group of a detbench started in a session of its own — at the first
 * moment detbench can catch a signal, during probing and in the middle of the runs; once, and twice.
 * Whatever the moment: exit 3, complete.json marked interrupted, a folder `analyze` reads (exit 3);
 * after one signal also summary.json and a report with the INCOMPLETE banner.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { analyze } from '../harness/analysis/analyze.ts';
import { EXIT } from '../harness/errors.ts';
import { loadResults } from '../harness/store.ts';
import { Interrupts, SAME_SIGNAL_MS } from '../harness/run/signals.ts';

/** A short grace period keeps the test quick; the default is 10 s. */
const GRACE_MS = 2000;

const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
const plugin = fileURLToPath(new URL('./fixtures/fake-backends.ts', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-signals-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Started {
  child: ChildProcess;
  out: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** detbench in a process group of its own (detached), as a shell starts a job, running a slow fake backend. */
function start(extra: string[] = [], env: NodeJS.ProcessEnv = {}): Started {
  const out = fs.mkdtempSync(path.join(root, 'run-'));
  const child = spawn(process.execPath, [bin, 'run', '--backends', 'fake-slow', '--workloads', 'matmul', '--repeats', '40', '--out', out, ...extra], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, DETBENCH_PLUGINS: plugin, DETBENCH_FAKE_SLOW_MS: '150', DETBENCH_GRACE_SEC: String(GRACE_MS / 1000), DETBENCH_DEBUG: '1', ...env },
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out, stderr: () => err, exited };
}

/** A signal to the whole process group, as the terminal or the scheduler sends it. */
const signalGroup = (s: Started, signal: NodeJS.Signals) => process.kill(-s.child.pid!, signal);


async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const folderOf = (s: Started) => {
  const [dir] = fs.readdirSync(s.out);
  return dir ? path.join(s.out, dir) : null;
};
const recordedRuns = (s: Started) => {
  const dir = folderOf(s);
  const file = dir && path.join(dir, 'runs.jsonl');
  return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
};

/** What every interrupted folder must be: complete.json interrupted, readable by `analyze` with exit 3. */
function assertInterrupted(s: Started, exit: { code: number | null; signal: string | null }): string {
  assert.deepEqual(exit, { code: EXIT.incomplete, signal: null }, `detbench exited ${JSON.stringify(exit)}: ${s.stderr()}`);
  assert.doesNotMatch(s.stderr(), /\n\s+at /, 'no stack trace');
  const dir = folderOf(s);
  assert.ok(dir, `a results folder exists: ${s.stderr()}`);
  const completion = JSON.parse(fs.readFileSync(path.join(dir, 'complete.json'), 'utf8'));
  assert.equal(completion.interrupted, true);
  const summary = analyze(loadResults(dir));
  assert.equal(summary.complete, false, '`detbench analyze` exits 3 on it');
  return dir;
}

// Each case is its own detbench process: they run side by side.
describe('process-group signals', { concurrency: true }, () => {
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // the report (vega) costs CPU: once is enough to see its INCOMPLETE banner
  const report = signal === 'SIGINT';
  test(`${signal} to the group the moment detbench can catch it (still loading): the run stops at once, folder finished${report ? ' and reported' : ''}`, async () => {
    const s = start(report ? [] : ['--no-report']);
    // the launcher's first act (DETBENCH_DEBUG says when): the CLI has not even loaded yet
    await until('the signal handler', () => /SIGINT and SIGTERM are handled from here on/.test(s.stderr()));
    signalGroup(s, signal);
    const dir = assertInterrupted(s, await s.exited);
    assert.equal(recordedRuns(s), 0, 'no run starts after the signal');
    assert.ok(fs.existsSync(path.join(dir, 'summary.json')));
    if (report) {
      assert.match(fs.readFileSync(path.join(dir, 'report.html'), 'utf8'), /INCOMPLETE/);
      const analyzed = spawnSync(process.execPath, [bin, 'analyze', dir], { encoding: 'utf8', env: { ...process.env, DETBENCH_PLUGINS: plugin } });
      assert.equal(analyzed.status, EXIT.incomplete, analyzed.stderr);
    }
  });
}

// (SIGINT mid-run: the same signal delivered twice, below)
test('SIGTERM to the group mid-run: the run in flight finishes, the rest do not start, exit 3', async () => {
  const s = start(['--no-report']);
  await until('three recorded runs', () => recordedRuns(s) >= 3);
  signalGroup(s, 'SIGTERM');
  const dir = assertInterrupted(s, await s.exited);
  const runs = recordedRuns(s);
  assert.ok(runs >= 3 && runs < 82, `${runs} of 82 runs recorded`);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  assert.equal(summary.recordedRuns, runs, 'every recorded run is in the summary');
});

test('a second signal (later than the same signal delivered twice) quits at once, leaving a readable folder', async () => {
  // the first run (a warm-up) is quick, the next one outlasts the test; a grace period of a minute
  // keeps the orderly finish out of the way, however slow this machine is between the two signals
  const s = start(['--no-report'], { DETBENCH_FAKE_SLOW_MS: `100,${GRACE_MS * 60}`, DETBENCH_GRACE_SEC: '60' });
  await until('a slow run in flight', () => recordedRuns(s) >= 1);
  signalGroup(s, 'SIGINT');
  await sleep(SAME_SIGNAL_MS * 2);
  signalGroup(s, 'SIGINT');
  const dir = assertInterrupted(s, await s.exited);
  // it neither waited for the run in flight (it would be recorded) nor for the grace period to end it
  // (the orderly finish writes summary.json)
  assert.equal(recordedRuns(s), 1);
  assert.ok(!fs.existsSync(path.join(dir, 'summary.json')));
});

test('the same signal delivered twice at once (the group and npm forwarding it) counts as one', async () => {
  const s = start(['--no-report']);
  await until('three recorded runs', () => recordedRuns(s) >= 3);
  signalGroup(s, 'SIGINT');
  process.kill(s.child.pid!, 'SIGINT');
  const dir = assertInterrupted(s, await s.exited);
  assert.ok(fs.existsSync(path.join(dir, 'summary.json')), 'the first signal’s orderly finish went through: summary written');
});

test('a run in flight past the grace period is abandoned, not recorded, and the folder is finished', async () => {
  const s = start(['--no-report'], { DETBENCH_FAKE_SLOW_MS: `100,${GRACE_MS * 30}` });
  await until('a slow run in flight', () => recordedRuns(s) >= 1);
  signalGroup(s, 'SIGTERM');
  const dir = assertInterrupted(s, await s.exited);
  assert.equal(recordedRuns(s), 1, 'the abandoned run has no record');
  assert.ok(fs.existsSync(path.join(dir, 'summary.json')));
});
});

test('a signal once every run is recorded and the folder finished says so, not that the folder will be marked interrupted', () => {
  const said: string[] = [];
  const interrupts = new Interrupts((line) => said.push(line), GRACE_MS);
  interrupts.runsFinished('/results/r1');
  try {
    interrupts.install([{ signal: 'SIGINT', at: performance.now() }]);
  } finally {
    interrupts.uninstall();
  }
  assert.equal(interrupts.requested, true);
  assert.deepEqual(said, ['SIGINT: every run is already recorded and the results folder finished; writing its summary and report (again to quit at once)']);
});
