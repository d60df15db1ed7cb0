/**
 * compare's machine identity (a baseline of other hardware is refused unless asked) and --confirm's
 * logic: the flagged cells run again (here by a stand-in that writes known folders, so the test is
 * exact; test/system/nights.test.ts re-runs real processes), a finding stands only if it repeats.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { compare } from '../../harness/analysis/compare.ts';
import { EXIT, UsageError, message } from '../../harness/errors.ts';
import { checkConfirmDir, confirmComparison, flagged, type Rerun } from '../../harness/run/confirm.ts';
import { comparisonText } from '../../reports/text.ts';
import { makeResults, type FixtureOptions } from '../fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-confirm-'));
const suite: FixtureOptions = { workloads: ['matmul'], backends: ['tfjs-cpu', 'broken'], repeats: 8, timeJitter: 0.02 };
const baseline = makeResults(root, suite);

test('compare refuses a baseline of other hardware with the difference (exit 2), unless --allow-hardware-change', () => {
  const current = makeResults(root, suite);
  const file = path.join(current, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  manifest.environment.cpu = { model: 'Other CPU', cores: 64 };
  fs.writeFileSync(file, JSON.stringify(manifest));
  assert.throws(() => compare(baseline, current), new UsageError(message.hardwareChanged(baseline, current, ['cpu.model "plain" → "Other CPU"', 'cpu.cores 2 → 64'])));
  const allowed = compare(baseline, current, 1.25, { allowHardwareChange: true });
  assert.ok(allowed.fingerprintChanges.some((c) => c.field === 'environment.cpu.model'));
});

/** A stand-in for `detbench run`: each call writes the next folder of `plan` (fixture options). */
function rerunning(plan: FixtureOptions[]): Rerun & { calls: string[] } {
  const calls: string[] = [];
  const fn = (async (suiteFile: string, outRoot: string) => {
    calls.push(fs.readFileSync(suiteFile, 'utf8'));
    assert.ok(outRoot.startsWith(root));
    return makeResults(root, plan[(calls.length - 1) % plan.length]);
  }) as Rerun & { calls: string[] };
  fn.calls = calls;
  return fn;
}

test('a one-night blip: slower now, normal in every re-run: not confirmed (a note), exit 0', async () => {
  const current = makeResults(root, { ...suite, timeScale: 2, seed: 2 });
  const c = compare(baseline, current);
  assert.deepEqual(flagged(c).map((f) => [f.kind, f.cell?.id]), [['slower', 'matmul|tfjs-cpu|cpu|det|t1'], ['slower', 'matmul|tfjs-cpu|cpu|nondet|t1']]);
  const rerun = rerunning([{ ...suite, seed: 3 }, { ...suite, seed: 4 }, { ...suite, seed: 5 }]);
  const dir = fs.mkdtempSync(path.join(root, 'confirm-'));
  const confirmed = await confirmComparison(c, baseline, current, { reruns: 3, dir, slowdownThreshold: 1.25, allowHardwareChange: false, rerun });
  assert.equal(rerun.calls.length, 3, 'one backend flagged: one run per re-run');
  const input = JSON.parse(rerun.calls[0]);
  assert.deepEqual([input.workloads, input.backends, input.threads, input.repeats, input.preset], [['matmul'], ['tfjs-cpu'], [1], 8, 'quick']);
  assert.deepEqual(confirmed.confirmation!.outcomes.map((o) => [o.status, o.repeated, o.reruns]), [['not-confirmed', 0, 3], ['not-confirmed', 0, 3]]);
  assert.deepEqual(confirmed.findings.filter((f) => f.severity !== 'info'), []);
  assert.ok(confirmed.findings.some((f) => f.kind === 'not-confirmed' && f.evidence.finding.kind === 'slower'));
  assert.equal(confirmed.exitCode, EXIT.ok);
  const text = comparisonText(confirmed);
  assert.match(text, /Confirmation \(3 re-runs of the flagged cells, in .*\):\n  - \[slower\] matmul\|tfjs-cpu\|cpu\|det\|t1: not confirmed, repeated in 0 of 3 re-run\(s\)/);
  assert.match(text, /\[not-confirmed\] not confirmed, repeated in 0 of 3 re-runs: matmul on tfjs-cpu/);
});

test('a real slowdown repeats in most re-runs: confirmed, it stands (exit 1)', async () => {
  const current = makeResults(root, { ...suite, timeScale: 2, seed: 6 });
  const c = compare(baseline, current);
  const rerun = rerunning([{ ...suite, timeScale: 2, seed: 7 }, { ...suite, seed: 8 }, { ...suite, timeScale: 2, seed: 9 }]);
  const confirmed = await confirmComparison(c, baseline, current, { reruns: 3, dir: fs.mkdtempSync(path.join(root, 'confirm-')), slowdownThreshold: 1.25, allowHardwareChange: false, rerun });
  assert.deepEqual(confirmed.confirmation!.outcomes.map((o) => [o.status, o.repeated]), [['confirmed', 2], ['confirmed', 2]]);
  assert.equal(confirmed.exitCode, EXIT.findings);
  assert.match(comparisonText(confirmed), /: confirmed, repeated in 2 of 3 re-run\(s\)/);
});

test('re-runs that give no results judge nothing: the finding stands, and the failure is said', async () => {
  const current = makeResults(root, { ...suite, timeScale: 2, seed: 10 });
  const failing: Rerun = async () => {
    throw new Error('detbench run exited 4: internal error');
  };
  const confirmed = await confirmComparison(compare(baseline, current), baseline, current, { reruns: 2, dir: fs.mkdtempSync(path.join(root, 'confirm-')), slowdownThreshold: 1.25, allowHardwareChange: false, rerun: failing });
  assert.equal(confirmed.exitCode, EXIT.findings);
  assert.deepEqual(confirmed.confirmation!.outcomes.map((o) => o.status), ['not-rerun', 'not-rerun']);
  assert.match(comparisonText(confirmed), /re-run 1 on tfjs-cpu: detbench run exited 4: internal error/);
});

test('nothing flagged: nothing re-run; the confirm folder may never lie inside the baseline', async () => {
  const rerun = rerunning([suite]);
  const c = await confirmComparison(compare(baseline, baseline), baseline, baseline, { reruns: 3, dir: root, slowdownThreshold: 1.25, allowHardwareChange: false, rerun });
  assert.equal(rerun.calls.length, 0);
  assert.match(comparisonText(c), /Confirmation: nothing to confirm/);
  assert.throws(() => checkConfirmDir(baseline, path.join(baseline, 'confirm')), new UsageError(message.confirmInBaseline(path.join(baseline, 'confirm'), baseline)));
  assert.throws(() => checkConfirmDir(baseline, baseline));
  checkConfirmDir(baseline, path.join(path.dirname(baseline), 'confirm'));
});
