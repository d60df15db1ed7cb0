/**
 * history over synthetic nights (test/fixtures/history.ts): a timing step, a results change and a
 * lost determinism where they were put, nothing where nothing was, the latest steps as findings,
 * fingerprint changes per machine, and bad folders refused in one line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildHistory } from '../../harness/analysis/history.ts';
import { EXIT, UsageError, message } from '../../harness/errors.ts';
import { findNightDirs, loadNights, readNight, type NightCache } from '../../harness/nights.ts';
import { historyText } from '../../reports/text.ts';
import { makeHistory } from '../fixtures/history.ts';
import { HOSTILE } from '../fixtures/results.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-history-'));
const steps = (h: ReturnType<typeof buildHistory>) =>
  h.series.flatMap((s) => s.steps.map((st) => `${s.group} ${st.kind}${st.kind === 'timing' ? ` ${st.measure} ${st.mode}` : ''} at night ${s.points[st.at].night + 1}`));

test('a 30 % slowdown from night 20, other bits from night 25, a one-night blip: those steps and nothing else', () => {
  const root = tmp();
  makeHistory(root, { nights: 30, workloads: ['matmul', 'mlp-train'], backends: ['a', 'b'], slower: { night: 19, backend: 'a', factor: 1.3 }, changedBits: { night: 24, backend: 'a' }, blip: { night: 10, backend: 'b', factor: 2 } });
  const h = buildHistory(loadNights([root]), 1.25);
  assert.deepEqual(steps(h).sort(), [
    'matmul|a|cpu|t1 results at night 25', 'matmul|a|cpu|t1 timing computeMs det at night 20', 'matmul|a|cpu|t1 timing computeMs nondet at night 20',
    'mlp-train|a|cpu|t1 results at night 25', 'mlp-train|a|cpu|t1 timing computeMs det at night 20', 'mlp-train|a|cpu|t1 timing computeMs nondet at night 20',
  ]);
  const timing = h.series[0].steps.find((s) => s.kind === 'timing')!;
  assert.ok(timing.kind === 'timing' && Math.abs(timing.ratio - 1.3) < 0.05, `ratio ${JSON.stringify(timing)}`);
  assert.equal(timing.pointsBefore, 19);
  assert.equal(timing.pointsAfter, 11);
  const results = h.series[0].steps.find((s) => s.kind === 'results')!;
  assert.ok(results.kind === 'results');
  // the fixture's library version changes with the bits, and its commit every night
  assert.deepEqual(results.fingerprintChanges.map((f) => f.field), ['environment.git.commit', 'environment.packages.lib']);
  assert.deepEqual(results.fingerprintChanges[1], { field: 'environment.packages.lib', before: '"1.0.0"', after: '"2.0.0"' });
  assert.deepEqual(h.findings.map((f) => `${f.kind} ${f.cell?.id}`).sort(), [
    'step-results-changed matmul|a|cpu|det|t1', 'step-results-changed mlp-train|a|cpu|det|t1',
    'step-slower matmul|a|cpu|det|t1', 'step-slower matmul|a|cpu|nondet|t1', 'step-slower mlp-train|a|cpu|det|t1', 'step-slower mlp-train|a|cpu|nondet|t1',
  ]);
  assert.equal(h.exitCode, EXIT.findings);
  assert.equal(h.machines.length, 1);
  assert.equal(h.machines[0].nights.length, 30);
  assert.match(historyText(h), /det compute time stepped 1\.\d\d× at night 20 /);
});

test('a steady history: no step, exit 0; a step within the threshold is shown but does not fail', () => {
  const steady = buildHistory(loadNights([makeHistoryIn({ nights: 25, workloads: ['matmul'], backends: ['a'] })]), 1.25);
  assert.deepEqual(steps(steady), []);
  assert.equal(steady.exitCode, EXIT.ok);
  const small = buildHistory(loadNights([makeHistoryIn({ nights: 25, workloads: ['matmul'], backends: ['a'], jitter: 0.01, slower: { night: 12, backend: 'a', factor: 1.15 } })]), 1.25);
  assert.equal(steps(small).length, 2, 'det and nondet time stepped');
  assert.deepEqual(small.findings, []);
  assert.equal(small.exitCode, EXIT.ok);
  const faster = buildHistory(loadNights([makeHistoryIn({ nights: 25, workloads: ['matmul'], backends: ['a'], slower: { night: 12, backend: 'a', factor: 0.5 } })]), 1.25);
  assert.deepEqual(faster.findings.map((f) => f.kind), ['step-faster', 'step-faster']);
  assert.equal(faster.exitCode, EXIT.ok);
});

test('determinism lost from night 8: a stability step, and a finding while the latest night is past it', () => {
  const h = buildHistory(loadNights([makeHistoryIn({ nights: 12, workloads: ['matmul'], backends: ['a'], unstable: { night: 7, backend: 'a' } })]), 1.25);
  assert.deepEqual(steps(h), ['matmul|a|cpu|t1 stability at night 8']);
  assert.deepEqual(h.findings.map((f) => [f.kind, f.cell?.id]), [['step-unstable', 'matmul|a|cpu|det|t1']]);
  assert.equal(h.exitCode, EXIT.findings);
});

test('machines: one history each, fingerprint changes per night; a baseline copy of a run is the same night', () => {
  const root = tmp();
  makeHistory(path.join(root, 'one'), { nights: 3, workloads: ['matmul'], backends: ['a'], hostname: 'one' });
  makeHistory(path.join(root, 'two'), { nights: 4, workloads: ['matmul'], backends: ['a'], hostname: 'two', changedBits: { night: 2, backend: 'a' } });
  // a saved baseline of the first night of `one`: its manifest and summary and a baseline.json
  const first = findNightDirs([path.join(root, 'one')])[0];
  const store = path.join(root, 'baselines', 'hw', 'hash');
  fs.mkdirSync(store, { recursive: true });
  for (const f of ['manifest.json', 'summary.json']) fs.copyFileSync(path.join(first, f), path.join(store, f));
  fs.writeFileSync(path.join(store, 'baseline.json'), '{}');
  const nights = loadNights([root]);
  assert.equal(nights.length, 7);
  assert.equal(nights.filter((n) => n.baseline).map((n) => n.dir).join(), first, 'the results folder is kept, marked as saved');
  const h = buildHistory(nights, 1.25);
  assert.deepEqual(h.machines.map((m) => [m.machine.hostname, m.nights.length]), [['one', 3], ['two', 4]]);
  const two = h.machines[1];
  assert.deepEqual(two.changes.map((c) => [c.night, c.fields.map((f) => f.field)]), [[1, ['environment.git.commit']], [2, ['environment.git.commit', 'environment.packages.lib']], [3, ['environment.git.commit']]]);
});

test('the night cache: a folder whose files did not change is not read again', () => {
  const root = makeHistoryIn({ nights: 3, workloads: ['matmul'], backends: ['a'] });
  const cache: NightCache = new Map();
  loadNights([root], cache);
  const [dir] = [...cache.keys()];
  const entry = cache.get(dir)!;
  entry.night = { ...entry.night, runId: 'from the cache' };
  assert.ok(loadNights([root], cache).some((n) => n.runId === 'from the cache'));
  fs.appendFileSync(path.join(dir, 'summary.json'), ' ');
  assert.ok(!loadNights([root], cache).some((n) => n.runId === 'from the cache'), 'a changed summary.json is read again');
});

test('bad input: a missing folder, a folder with no night, a damaged field — one line each, naming what', () => {
  const root = tmp();
  assert.throws(() => loadNights([path.join(root, 'nope')]), new UsageError(message.historyMissing(path.join(root, 'nope'))));
  fs.mkdirSync(path.join(root, 'empty'));
  assert.throws(() => loadNights([path.join(root, 'empty')]), new UsageError(message.historyEmpty([path.join(root, 'empty')])));
  const [dir] = makeHistory(path.join(root, 'h'), { nights: 1, workloads: ['matmul'], backends: ['a'] });
  const file = path.join(dir, 'summary.json');
  const summary = JSON.parse(fs.readFileSync(file, 'utf8'));
  summary.cells[1].threads = 'two';
  fs.writeFileSync(file, JSON.stringify(summary));
  assert.throws(() => readNight(dir), new UsageError(message.resultsField(file, '/cells/1/threads', 'must be number')));
  fs.writeFileSync(file, '{');
  assert.throws(() => readNight(dir), (e: Error) => e instanceof UsageError && e.message.startsWith(`${file} cannot be read`));
});

test('symbolic links are not followed: nothing outside the folders given is read', () => {
  const root = tmp();
  const outside = makeHistoryIn({ nights: 2, workloads: ['matmul'], backends: ['a'] });
  makeHistory(path.join(root, 'inside'), { nights: 1, workloads: ['matmul'], backends: ['a'] });
  fs.symlinkSync(outside, path.join(root, 'link'));
  assert.equal(loadNights([root]).length, 1);
});

test('hostile names and versions are data: the history and its text hold them as they are', () => {
  const h = buildHistory(loadNights([makeHistoryIn({ nights: 4, workloads: ['matmul'], backends: [HOSTILE], text: HOSTILE, changedBits: { night: 2, backend: HOSTILE } })]), 1.25);
  assert.ok(h.series[0].backend === HOSTILE);
  assert.ok(historyText(h).includes(HOSTILE));
});

function makeHistoryIn(o: Parameters<typeof makeHistory>[1]): string {
  const root = tmp();
  makeHistory(root, o);
  return root;
}
