/**
 * Start-up work overlaps instead of queueing, and never reaches into timed runs: the data-parallel
 * shard pools warm up while the probes wait, and `prewarm` waits for every warm-up that started.
 * Records keep their order while their flush to disk overlaps the next run. The backends are fakes
 * (test/fixtures/fake-warm-backends.ts) that log what they see; the tests wait on events, never on
 * this machine's timing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPlugins } from '../harness/backends/index.ts';
import type { RunRequest } from '../harness/protocol.ts';
import { Runner, runAll } from '../harness/run/runner.ts';
import { loadResults, readArtifact, ResultsWriter } from '../harness/store.ts';
import { resolveSuite } from '../harness/config.ts';
import { makePlan } from '../harness/plan.ts';
import { fixtureManifest } from './fixtures/results.ts';

const plugin = fileURLToPath(new URL('./fixtures/fake-warm-backends.ts', import.meta.url));
const suite = { preset: 'quick' as const, workloads: [{ id: 'dataparallel-train', params: {} }] };

function withLog(): (line: string) => number {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-warm-')), 'log');
  process.env.DETBENCH_FAKE_WARM_LOG = log;
  process.env.DETBENCH_PLUGINS = plugin;
  return (line) => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l === line).length : 0);
}

/** A results folder to write (`dir`, not created yet) beside the fakes' log, with the fakes loaded; `lines()` reads the log. */
async function folderWithLog(prefix: string): Promise<{ dir: string; lines: () => string[] }> {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), prefix)), 'r');
  const log = path.join(path.dirname(dir), 'log');
  process.env.DETBENCH_FAKE_WARM_LOG = log;
  process.env.DETBENCH_PLUGINS = plugin;
  await loadPlugins();
  return { dir, lines: () => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

test('shard pools warm up while the probes wait: a CPU backend opens its shard sessions as soon as it probes available', async () => {
  const count = withLog();
  await loadPlugins();
  const runner = new Runner(1);
  try {
    // fake-warm-slow answers only once fake-warm-fast has opened a session in all 4 shard workers
    const availability = await runner.probe(['fake-warm-fast', 'fake-warm-slow'], suite);
    const slow = availability['fake-warm-slow'];
    assert.ok(slow.available, slow.available ? '' : slow.reason);
    assert.equal(count('opened fake-warm-fast'), 4);
  } finally {
    await runner.close();
  }
});

test('prewarm waits for every warm-up the probes started, needed by the plan or not, so none overlaps a timed run', async () => {
  const count = withLog();
  await loadPlugins();
  const runner = new Runner(1);
  try {
    await runner.probe(['fake-warm-lazy'], suite); // its sessions take 0.5 s each to open
    await runner.prewarm([]); // a plan without it
    assert.equal(count('open fake-warm-lazy'), 4);
    assert.equal(count('opened fake-warm-lazy'), 4);
  } finally {
    await runner.close();
  }
});

test('no warm-up without a suite (`detbench backends`), nor with concurrency above 1 (no prewarm follows)', async () => {
  const count = withLog();
  await loadPlugins();
  for (const [runner, upcoming] of [[new Runner(1), undefined], [new Runner(2), suite]] as const) {
    try {
      const availability = await runner.probe(['fake-warm-fast'], upcoming);
      assert.ok(availability['fake-warm-fast'].available);
      await runner.prewarm([]);
    } finally {
      await runner.close();
    }
  }
  assert.equal(count('open fake-warm-fast'), 0);
});

test('each record is written before the next run starts and flushed before the next record is written', async () => {
  withLog();
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-order-')), 'r');
  const runs: RunRequest[] = Array.from({ length: 6 }, (_, runIndex) => ({
    workload: 'matmul', backend: 'fake-records-seen', device: 'cpu', mode: 'det', threads: 1, runIndex, repeat: runIndex, warmup: false, seed: 0, preset: 'quick', params: {},
  }));
  const writer = ResultsWriter.create(dir, fixtureManifest(runs, runs.length));
  process.env.DETBENCH_FAKE_RUNS_FILE = path.join(dir, 'runs.jsonl');
  await loadPlugins();
  const calls: string[] = [];
  const write = writer.write.bind(writer), flush = writer.flush.bind(writer);
  writer.write = (record) => (calls.push('write'), write(record));
  writer.flush = () => (calls.push('flush'), flush());
  await runAll(runs, writer, { concurrency: 1, timeoutMs: 10_000 });
  writer.finish({ finishedAt: '', runs: writer.written, interrupted: false });

  const records = loadResults(dir).runs.sort((a, b) => a.runIndex - b.runIndex);
  // run k started with the records of runs 0 … k−1 already in runs.jsonl
  assert.deepEqual(records.map((r) => (r.status === 'ok' ? readArtifact(dir, r.artifact.sha256, { bytes: r.artifact.bytes, by: 'runs.jsonl' })[0] : r.status)), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(calls, runs.flatMap(() => ['write', 'flush']));
});

test('given the whole suite, each backend opens the sessions its runs will use while the probes wait, once, before any run', async () => {
  const { dir, lines } = await folderWithLog('detbench-sessions-');
  // two modes, two thread counts: four sessions, each used by both inference workloads' runs;
  // mlp-train is planned unsupported and opens nothing
  const full = resolveSuite({ backends: ['fake-session-log'], workloads: ['matmul', 'reduce-sum', 'mlp-train'], repeats: 2, threads: [1, 2] }, {}, 'test');
  const runner = new Runner(1);
  try {
    const availability = await runner.probe(full.backends, full);
    const sessions = ['session det t1', 'session det t2', 'session nondet t1', 'session nondet t2'];
    const opened = () => lines().filter((l) => l.startsWith('session')).sort();
    // asked to start ahead before its probe; opening began as soon as it probed available, before the plan exists here
    assert.equal(lines()[0], 'ahead det,nondet');
    assert.deepEqual(opened(), sessions);
    const plan = makePlan(full, availability);
    await runner.prewarm(plan.runs);
    assert.deepEqual(opened(), sessions);
    // what the sessions did not take is ended once they are open, before any run
    assert.deepEqual(lines().slice(1).sort(), [...sessions, 'end ahead'].sort());
    const writer = ResultsWriter.create(dir, fixtureManifest(plan.runs, plan.runs.length));
    await runner.run(plan.runs, writer, { timeoutMs: 10_000 });
    writer.finish({ finishedAt: '', runs: writer.written, interrupted: false });
    // every run found its session open: none opened after the warm-up
    assert.equal(lines().filter((l) => l.startsWith('session')).length, 4);
    assert.equal(lines().filter((l) => l.startsWith('run')).length, plan.runs.length);
  } finally {
    await runner.close();
  }
});

test('a run its backend found it cannot run is not tried again: the later runs of that cell answer unsupported in the same words', async () => {
  const { dir, lines } = await folderWithLog('detbench-lacks-');
  const full = resolveSuite({ backends: ['fake-lacks-op'], workloads: ['matmul', 'reduce-sum'], repeats: 3 }, {}, 'test');
  const plan = makePlan(full, { 'fake-lacks-op': { available: true, version: '0', devices: ['cpu'], notes: [] } });
  const writer = ResultsWriter.create(dir, fixtureManifest(plan.runs, plan.runs.length));
  await runAll(plan.runs, writer, { concurrency: 1, timeoutMs: 10_000 });
  writer.finish({ finishedAt: '', runs: writer.written, interrupted: false });
  const records = loadResults(dir).runs;
  assert.equal(records.length, 16); // 2 workloads × 2 modes × (3 repeats + 1 warm-up)
  assert.deepEqual(new Set(records.map((r) => (r.status === 'unsupported' ? r.message : r.status))), new Set(['fake-lacks-op has no kernel for this op']));
  // one try per workload and mode: the first run of each cell
  assert.deepEqual(lines().sort(), ['try det', 'try det', 'try nondet', 'try nondet']);
});
