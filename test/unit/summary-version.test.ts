/**
 * summary.json carries its version: a folder with runs is analysed again whatever its summary says;
 * a saved baseline (a summary and no runs) of another version is refused with the reason and the fix.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { saveBaseline } from '../../harness/baselines.ts';
import { compare } from '../../harness/analysis/compare.ts';
import { SUMMARY_VERSION } from '../../harness/analysis/summary.ts';
import { EXIT, UsageError, message } from '../../harness/errors.ts';
import { makeResults } from '../fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-summary-version-'));
const suite = { workloads: ['matmul'], backends: ['tfjs-cpu'], repeats: 3 };
/** What version 1 wrote: findings as English strings. */
const oldSummary = (dir: string) =>
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ summaryVersion: 1, findings: ['matmul on tfjs-cpu is not bitwise stable'] }));

test('a results folder with an old summary.json is analysed again from its runs', () => {
  const dir = makeResults(root, suite);
  oldSummary(dir);
  const c = compare(dir, dir);
  assert.equal(c.exitCode, EXIT.ok);
});

test('a saved baseline of another summary version is refused, saying why and what to do', () => {
  const { entry } = saveBaseline(makeResults(root, suite), path.join(root, 'baselines'));
  const current = makeResults(root, suite);
  assert.equal(compare(entry.dir, current).exitCode, EXIT.ok, 'this version reads its own baselines');
  oldSummary(entry.dir);
  const file = path.join(entry.dir, 'summary.json');
  assert.throws(() => compare(entry.dir, current), (err: Error) => err instanceof UsageError && err.message === message.summaryVersion(file, 1, SUMMARY_VERSION));
  fs.writeFileSync(file, 'null');
  assert.throws(() => compare(entry.dir, current), (err: Error) => err instanceof UsageError && err.message === message.summaryVersion(file, undefined, SUMMARY_VERSION));
  fs.writeFileSync(file, '{"summaryVersion": 2, "cel');
  assert.throws(() => compare(entry.dir, current), UsageError);
});
