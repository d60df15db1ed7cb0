/**
 * issue 11's done-when, as a system test: every training workload on ort-cpu through `detbench run`,
 * at 1 and 2 threads — every cell ok, det bitwise stable, and within the workload's tolerance of the
 * float64 oracle (torch in float64 on the CPU), with the held-out evaluation recorded and no churn.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Summary } from '../../harness/analysis/summary.ts';
import { WORKLOADS } from '../../workloads/index.ts';
import { TORCH_PYTHON, systemTest } from './components.ts';

// dataparallel-train is left out: its nondet runs must differ (the negative control), which two runs
// cannot promise; its shard gradients are held to tfjs-cpu's in test/ort-train.test.ts
const TRAIN = WORKLOADS.filter((w) => w.build(w.presets.quick).kind === 'train' && w.id !== 'dataparallel-train').map((w) => w.id);

systemTest('ort-cpu trains every training workload within tolerance of the float64 oracle, det bitwise stable at 1 and 2 threads', 'torch', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-ort-oracle-'));
  const bin = fileURLToPath(new URL('../../bin/detbench.mjs', import.meta.url));
  const args = ['run', '--suite', 'quick', '--workloads', TRAIN.join(','), '--backends', 'ort-cpu', '--threads', '1,2', '--repeats', '2', '--python', TORCH_PYTHON, '--out', out, '--json', '--no-report'];
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr.split('\n').slice(-8).join('\n'));
  const { summary } = JSON.parse(r.stdout) as { summary: Summary };
  const det = summary.cells.filter((c) => c.mode === 'det');
  assert.equal(det.length, TRAIN.length * 2);
  assert.ok(det.every((c) => c.verdict === 'bitwise-stable'), JSON.stringify(det.map((c) => [c.workload, c.threads, c.verdict])));
  assert.equal(summary.oracle.made, true);
  assert.equal(summary.oracle.cells.length, TRAIN.length * 2);
  assert.ok(summary.oracle.cells.every((c) => c.status === 'within-tolerance' && c.churnVsOracle === 0), JSON.stringify(summary.oracle.cells.map((c) => [c.workload, c.threads, c.status, c.diff?.relL2])));
  assert.ok(summary.evaluation.filter((e) => e.backend === 'ort-cpu').length >= TRAIN.length * 2);
}, { timeout: 600_000 });
