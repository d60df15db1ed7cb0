import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { hardwareKey, latestBaseline, listBaselines, saveBaseline } from '../harness/baselines.ts';
import { compare } from '../harness/analysis/compare.ts';
import type { FindingKind } from '../harness/analysis/summary.ts';
import { findingText } from '../reports/findings.ts';
import { EXIT, UsageError } from '../harness/errors.ts';
import { makeResults, type FixtureOptions } from './fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-compare-'));
const base: FixtureOptions = { workloads: ['mlp-train', 'matmul'], backends: ['tfjs-cpu', 'ort-cpu'], repeats: 8 };
const kinds = (c: ReturnType<typeof compare>) => new Set(c.findings.map((f) => f.kind));
const baseline = makeResults(root, base);

test('a folder against itself: no regression, exit 0', () => {
  const c = compare(baseline, baseline);
  assert.equal(c.exitCode, EXIT.ok);
  assert.deepEqual(c.findings.filter((f) => f.severity !== 'info'), []);
  assert.deepEqual(c.fingerprintChanges, []);
});

test('changed numbers (a perturbed workload, a new library): results-changed with ULPs, exit 1', () => {
  const current = makeResults(root, { ...base, valueOffset: 1e-3 });
  const c = compare(baseline, current);
  assert.equal(c.exitCode, EXIT.findings);
  const changed = c.findings.filter((f) => f.kind === 'results-changed');
  assert.equal(changed.length, 2); // the det cells of both workloads on tfjs-cpu (the fixture's last backend always fails)
  const diff = changed[0].evidence.diff as { maxUlp: number; relL2: number };
  assert.ok(diff.maxUlp > 0 && diff.relL2 > 0);
});

test('det no longer bitwise stable: determinism-regression, exit 1', () => {
  const c = compare(baseline, makeResults(root, { ...base, detUnstable: true }));
  assert.equal(c.exitCode, EXIT.findings);
  assert.ok(kinds(c).has('determinism-regression'));
});

test('timing-only differences inside noise are never a regression (0 or 3)', () => {
  for (let seed = 2; seed < 12; seed++) {
    const c = compare(baseline, makeResults(root, { ...base, seed, timeScale: 1.1, timeJitter: 0.3 }));
    assert.ok(c.exitCode === EXIT.ok || c.exitCode === EXIT.incomplete, `seed ${seed}: exit ${c.exitCode} ${c.findings.map(findingText).join('; ')}`);
    assert.ok(!kinds(c).has('slower'));
  }
});

test('clearly slower: slower, exit 1; straddling the threshold: inconclusive, exit 3', () => {
  const slow = compare(baseline, makeResults(root, { ...base, timeScale: 2 }));
  assert.equal(slow.exitCode, EXIT.findings);
  assert.ok(kinds(slow).has('slower'));
  // mean ratio 1.08 × 1.15 / 1.025 ≈ 1.21 with wide spread: the CI straddles 1.25 (seeded data, same every run)
  const borderline = compare(baseline, makeResults(root, { ...base, timeScale: 1.08, timeJitter: 0.3 }));
  assert.equal(borderline.exitCode, EXIT.incomplete);
  assert.ok(kinds(borderline).has('slower-inconclusive') && !kinds(borderline).has('slower'));
});

test('a cell missing or newly failing: exit 1; a new cell is only a note', () => {
  const missing = compare(baseline, makeResults(root, { ...base, workloads: ['mlp-train'] }));
  assert.equal(missing.exitCode, EXIT.findings);
  assert.ok(kinds(missing).has('missing-cell'));
  // the fixture's last backend fails every run: ort-cpu works in the baseline and fails now
  const failing = compare(makeResults(root, { ...base, backends: ['ort-cpu', 'tfjs-cpu'] }), makeResults(root, { ...base, backends: ['tfjs-cpu', 'ort-cpu'] }));
  assert.equal(failing.exitCode, EXIT.findings);
  assert.ok(kinds(failing).has('newly-failing'));
  const added = compare(makeResults(root, { ...base, workloads: ['matmul'] }), baseline);
  assert.ok(([...kinds(added)] as FindingKind[]).includes('new-cell'));
  assert.ok(added.findings.filter((f) => f.kind === 'new-cell').every((f) => f.severity === 'info'));
});

test('baselines: saved by hash per hardware, found again, compared without their runs', () => {
  const dir = path.join(root, 'baselines');
  const { entry, created } = saveBaseline(baseline, dir);
  assert.equal(created, true);
  assert.equal(saveBaseline(baseline, dir).created, false);
  assert.deepEqual(listBaselines(dir).map((e) => e.hash), [entry.hash]);
  assert.equal(latestBaseline(dir, entry.hardware)?.dir, entry.dir);
  assert.equal(latestBaseline(dir, hardwareKey({ cpu: { model: 'other', cores: 64 }, os: { platform: 'linux', arch: 'arm64', release: '', type: '' } })), null);
  assert.ok(!fs.existsSync(path.join(entry.dir, 'runs.jsonl')));
  assert.equal(compare(entry.dir, baseline).exitCode, EXIT.ok);
  const changed = compare(entry.dir, makeResults(root, { ...base, valueOffset: 1e-3 })).findings.find((f) => f.kind === 'results-changed')!;
  assert.ok((changed.evidence.diff as { maxUlp: number }).maxUlp > 0, 'the saved modal artifacts give a ULP diff');
  assert.throws(() => saveBaseline(makeResults(root, { ...base, killAfter: 3 }), dir), UsageError);
});
