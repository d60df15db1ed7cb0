import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { analyze } from '../../harness/analysis/analyze.ts';
import { UsageError } from '../../harness/errors.ts';
import { mergeResults } from '../../harness/merge.ts';
import { loadResults } from '../../harness/store.ts';
import { makeResults, type FixtureOptions } from '../fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-merge-'));
const suite: FixtureOptions = { workloads: ['matmul'], backends: ['tfjs-cpu'], repeats: 3 };

test('identical machines agree; one that gives other det bits is flagged as suspect hardware', () => {
  const good = [1, 2, 3].map((seed) => makeResults(root, { ...suite, seed }));
  const agree = analyze(loadResults(mergeResults(good, root)));
  assert.equal(agree.fleet.length, 1);
  assert.equal(agree.fleet[0].agree, true);
  assert.deepEqual(agree.fleet[0].suspects, []);

  const odd = makeResults(root, { ...suite, valueOffset: 1e-6 });
  const merged = loadResults(mergeResults([...good, odd], root));
  assert.equal(merged.manifest.machines!.length, 4);
  assert.ok(merged.runs.every((r) => typeof r.machine === 'number'));
  const summary = analyze(merged);
  assert.equal(summary.fleet[0].agree, false);
  assert.deepEqual(summary.fleet[0].suspects, [3]);
  assert.ok(summary.findings.some((f) => f.kind === 'suspect-machine' && f.evidence.machine === 3 && f.evidence.hostname === 'plain' && f.cell?.workload === 'matmul'));
});

test('folders of different suites are not merged; an incomplete source makes the merge incomplete', () => {
  assert.throws(() => mergeResults([makeResults(root, suite), makeResults(root, { ...suite, repeats: 4 })], root), UsageError);
  const merged = loadResults(mergeResults([makeResults(root, suite), makeResults(root, { ...suite, killAfter: 2 })], root));
  assert.equal(merged.complete, false);
});
