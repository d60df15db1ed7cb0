/**
 * scripts/nightly.sh as CI runs it: a crash is exit 4, never a regression; the first night saves a
 * baseline only from a run without failed runs and exits with the run's code; a det cell unstable in
 * the baseline is reported again every night (still-unstable) and keeps the night red.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listBaselines } from '../harness/baselines.ts';
import { EXIT } from '../harness/errors.ts';
import type { Finding } from '../harness/analysis/summary.ts';

const script = fileURLToPath(new URL('../scripts/nightly.sh', import.meta.url));
const plugin = fileURLToPath(new URL('./fixtures/findings-backends.ts', import.meta.url));

function night(backend: string, root: string) {
  const r = spawnSync('bash', [script], {
    encoding: 'utf8', timeout: 180_000,
    env: {
      ...process.env, DETBENCH_PLUGINS: plugin, DETBENCH_OUT: path.join(root, 'results'), DETBENCH_BASELINES: path.join(root, 'baselines'),
      DETBENCH_RUN_ARGS: `--backends ${backend} --workloads matmul --repeats 2 --no-report`,
    },
  });
  return { ...r, baselines: listBaselines(path.join(root, 'baselines')) };
}

test('nightly: a crash of detbench is exit 4, not a regression, and saves nothing', () => {
  const r = night('fake-buggy', fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-nightly-')));
  assert.equal(r.status, EXIT.internal, r.stderr);
  assert.match(r.stderr, /nightly: detbench crashed .*not a regression/);
  assert.deepEqual(r.baselines, []);
});

test('nightly, first night: no baseline from a run with failed runs; the run\'s exit code', () => {
  const r = night('fake-failing', fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-nightly-')));
  assert.equal(r.status, EXIT.findings, r.stderr);
  assert.match(r.stderr, /not saving this run as the baseline/);
  assert.deepEqual(r.baselines, []);
});

test('nightly: a det cell unstable in the baseline stays a finding every night', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-nightly-'));
  const first = night('fake-unstable', root);
  assert.equal(first.status, EXIT.findings, `the first night exits with the run's code: ${first.stderr}`);
  assert.equal(first.baselines.length, 1, 'no run failed, so it is the baseline');
  const second = night('fake-unstable', root);
  assert.equal(second.status, EXIT.findings, second.stderr);
  const current = second.stdout.match(/^nightly: results in (.*) \(run exit 1\)$/m)![1];
  const { findings } = JSON.parse(fs.readFileSync(path.join(current, 'compare.json'), 'utf8')) as { findings: Finding[] };
  assert.deepEqual(findings.filter((f) => f.kind === 'still-unstable').map((f) => f.cell?.id), ['matmul|fake-unstable|cpu|det|t1']);
  assert.match(fs.readFileSync(path.join(current, 'compare.txt'), 'utf8'), /\[still-unstable\]/);
});
