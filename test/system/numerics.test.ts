/**
 * The numerics axis with a real PyTorch on the CPU: `--numerics bf16` gives cells of their own
 * (autocast to bfloat16, read back and verified), `--numerics tf32` on a CPU is unsupported and says
 * why, and fp32 and bf16 det bits are compared like any axis's values.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Summary } from '../../harness/analysis/summary.ts';
import { numericsUnsupported } from '../../harness/backends/types.ts';
import type { RunRecord } from '../../harness/protocol.ts';
import { systemTest, TORCH_PYTHON } from './components.ts';

systemTest('detbench run --numerics fp32,tf32,bf16 with torch on the CPU: bf16 cells of their own, tf32 unsupported with the reason', 'torch', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-numerics-'));
  const bin = fileURLToPath(new URL('../../bin/detbench.mjs', import.meta.url));
  const args = ['run', '--workloads', 'matmul,mlp-train', '--backends', 'torch', '--numerics', 'fp32,tf32,bf16', '--threads', '1', '--repeats', '2', '--python', TORCH_PYTHON, '--out', out, '--json', '--no-report'];
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr.split('\n').slice(-5).join('\n'));
  const { summary, resultsDir } = JSON.parse(r.stdout) as { summary: Summary; resultsDir: string };
  const verdicts = (numerics: string) => summary.cells.filter((c) => (c.numerics ?? 'fp32') === numerics).map((c) => [c.cell, c.verdict]);
  assert.deepEqual(verdicts('bf16'), [
    ['matmul|torch|cpu|det|t1|bf16', 'bitwise-stable'], ['matmul|torch|cpu|nondet|t1|bf16', 'bitwise-stable'],
    ['mlp-train|torch|cpu|det|t1|bf16', 'bitwise-stable'], ['mlp-train|torch|cpu|nondet|t1|bf16', 'bitwise-stable'],
  ]);
  const tf32 = summary.cells.filter((c) => c.numerics === 'tf32');
  assert.equal(tf32.length, 4);
  assert.ok(tf32.every((c) => c.verdict === 'unsupported' && c.message === numericsUnsupported('torch', 'tf32', 'cpu')));
  // bfloat16 keeps 8 significant bits: its results lie about 2^-9 from float32's, never bitwise equal
  const rows = summary.invariance.filter((t) => t.axis === 'numerics');
  assert.deepEqual(rows.map((t) => [t.workload, t.base, t.value, t.bitwiseEqual]), [['matmul', 'fp32', 'bf16', false], ['mlp-train', 'fp32', 'bf16', false]]);
  assert.ok(rows.every((t) => t.diff!.relL2! > 1e-5 && t.diff!.relL2! < 3e-2), JSON.stringify(rows.map((t) => t.diff?.relL2)));
  assert.deepEqual(summary.oracle.cells.map((c) => c.cell).sort(), ['matmul|torch|cpu|det|t1', 'mlp-train|torch|cpu|det|t1'], 'the oracle judges float32 cells only');
  // the record: the value, and autocast read back from PyTorch
  const records = fs.readFileSync(path.join(resultsDir, 'runs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RunRecord);
  const bf16 = records.filter((x) => x.numerics === 'bf16');
  assert.ok(bf16.length > 0 && bf16.every((x) => x.determinism?.switches.some((s) => s.name === 'autocast' && s.value === 'bfloat16' && s.verified)));
  const fp32 = records.filter((x) => x.numerics === undefined);
  assert.ok(fp32.every((x) => x.determinism?.switches.some((s) => s.name === 'cudnn.allow_tf32' && s.value === 'false' && s.verified)));
}, { timeout: 300_000 });
