/**
 * The runner turns every failure into a record and goes on: a thrown error, a hang past the
 * timeout and a worker that dies each become one record, and the runs after them still happen.
 * The failures come from a fake backend (test/fixtures/fake-backends.ts), loaded as a plugin.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPlugins } from '../harness/backends/index.ts';
import type { RunRequest } from '../harness/protocol.ts';
import { runAll } from '../harness/run/runner.ts';
import { loadResults, readArtifact, ResultsWriter } from '../harness/store.ts';
import { fixtureManifest } from './fixtures/results.ts';

const plugin = fileURLToPath(new URL('./fixtures/fake-backends.ts', import.meta.url));

test('error, timeout and crash become records and the suite goes on', async () => {
  process.env.DETBENCH_PLUGINS = plugin;
  await loadPlugins();
  const order = ['matmul', 'attention-infer', 'reduce-sum', 'mlp-train', 'matmul'];
  const runs: RunRequest[] = order.map((workload, runIndex) => ({
    workload, backend: 'fake-mixed', device: 'cpu', mode: 'det', threads: 1, runIndex, repeat: runIndex, warmup: false, seed: 0, preset: 'quick', params: {},
  }));
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-runner-')), 'r');
  const writer = ResultsWriter.create(dir, fixtureManifest(runs, runs.length));
  // A run's clock starts when a worker thread takes it (not while a replacement thread loads), so only
  // the hang reaches the timeout, however busy the machine.
  await runAll(runs, writer, { concurrency: 1, timeoutMs: 2000 });
  writer.finish({ finishedAt: '', runs: writer.written, interrupted: false });

  const records = loadResults(dir).runs.sort((a, b) => a.runIndex - b.runIndex);
  assert.deepEqual(records.map((r) => r.status), ['ok', 'error', 'timeout', 'crashed', 'ok']);
  const [, error, timeout, crashed] = records;
  assert.ok('message' in error && /fake failure/.test(error.message));
  assert.ok(timeout.status === 'timeout' && timeout.timeoutMs === 2000);
  assert.ok('message' in crashed && crashed.message.length > 0);
  assert.deepEqual(records[0].warnings, ['fake backend']);
});

test('own-process backends: one child per mode with its environment; a crash or hang there becomes a record and the child is replaced', async () => {
  process.env.DETBENCH_PLUGINS = plugin;
  await loadPlugins();
  const plan: Array<[string, 'det' | 'nondet']> = [
    ['matmul', 'det'], ['matmul', 'nondet'], ['matmul', 'det'], ['mlp-train', 'det'], ['matmul', 'det'], ['reduce-sum', 'nondet'], ['matmul', 'nondet'],
  ];
  const runs: RunRequest[] = plan.map(([workload, mode], runIndex) => ({
    workload, backend: 'fake-process', device: 'cpu', mode, threads: 1, runIndex, repeat: runIndex, warmup: false, seed: 0, preset: 'quick', params: {},
  }));
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-runner-')), 'r');
  const writer = ResultsWriter.create(dir, fixtureManifest(runs, runs.length));
  await runAll(runs, writer, { concurrency: 1, timeoutMs: 3000 });
  writer.finish({ finishedAt: '', runs: writer.written, interrupted: false });

  const records = loadResults(dir).runs.sort((a, b) => a.runIndex - b.runIndex);
  assert.deepEqual(records.map((r) => r.status), ['ok', 'ok', 'ok', 'crashed', 'ok', 'timeout', 'ok']);
  const pid = (i: number) => {
    const r = records[i];
    assert.ok(r.status === 'ok');
    return readArtifact(dir, r.artifact.sha256, { bytes: r.artifact.bytes, by: 'test' })[0];
  };
  assert.equal(pid(0), pid(2), 'det runs share one child');
  assert.notEqual(pid(0), pid(1), 'det and nondet run in different processes');
  assert.notEqual(pid(4), pid(0), 'a crashed child is replaced');
  assert.notEqual(pid(6), pid(1), 'a hung child is killed and replaced');
  for (const r of records.filter((x) => x.status === 'ok')) {
    assert.deepEqual(r.determinism?.switches, [{ name: 'DETBENCH_FAKE_MODE', value: r.mode, verified: true }]);
  }
});
