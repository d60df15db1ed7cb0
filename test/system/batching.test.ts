/**
 * The batch-size axis with a real PyTorch on the CPU: every batched workload's examples in batches of
 * 7 come back in example order (within tolerance of one call), and through the CLI each batch size is
 * a cell whose det bits are compared with batches of 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffFloat32 } from '../../harness/analysis/diff.ts';
import type { Summary } from '../../harness/analysis/summary.ts';
import { torchBackend } from '../../harness/backends/torch/torch.ts';
import { executeInBatches } from '../../harness/run/batches.ts';
import { findWorkload, resolveWorkload } from '../../workloads/index.ts';
import { workloadInputs } from '../../workloads/inputs.ts';
import { systemTest, TORCH_PYTHON } from './components.ts';

for (const workloadId of ['matmul', 'attention-infer', 'transformer-infer']) {
  systemTest(`${workloadId} on torch: batches of 7 give the one-call result back in example order`, 'torch', async () => {
    process.env.DETBENCH_PYTHON ??= TORCH_PYTHON;
    const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
    const inputs = workloadInputs(workload, 0);
    const session = await torchBackend.open({ mode: 'det', threads: 1, device: 'cpu' });
    try {
      const whole = await (await session.prepare(workload, inputs)).execute();
      const { execution } = await executeInBatches(session, workload, inputs, 7);
      const d = diffFloat32(whole.outputs[0].data as Float32Array, execution.outputs[0].data as Float32Array);
      assert.ok(d.relL2 !== null && d.relL2 <= workload.tolerance.relL2, `relL2 ${d.relL2}`);
    } finally {
      await session.close();
    }
  });
}

systemTest('detbench run --batch-sizes 1,7,32 with torch: a cell per batch size, each compared with batches of 1', 'torch', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-batching-'));
  const bin = fileURLToPath(new URL('../../bin/detbench.mjs', import.meta.url));
  const args = ['run', '--workloads', 'attention-infer,reduce-sum', '--backends', 'torch', '--batch-sizes', '1,7,32', '--threads', '1', '--modes', 'det', '--repeats', '2', '--python', TORCH_PYTHON, '--out', out, '--json', '--no-report'];
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 26 });
  assert.ok(r.status === 0 || r.status === 1, r.stderr.split('\n').slice(-5).join('\n'));
  const { summary } = JSON.parse(r.stdout) as { summary: Summary };
  assert.deepEqual(summary.cells.map((c) => [c.cell, c.verdict]), [
    ['attention-infer|torch|cpu|det|t1|b1', 'bitwise-stable'], ['attention-infer|torch|cpu|det|t1|b7', 'bitwise-stable'], ['attention-infer|torch|cpu|det|t1|b32', 'bitwise-stable'],
    ['reduce-sum|torch|cpu|det|t1', 'bitwise-stable'],
  ]);
  assert.deepEqual(summary.invariance.filter((t) => t.axis === 'batchSize').map((t) => [t.base, t.value]), [[1, 7], [1, 32]]);
  const agreement = summary.agreement.filter((a) => a.axis === 'batchSize');
  assert.equal(agreement.length, 1);
  assert.deepEqual(agreement[0].classes.flat().sort((a, b) => Number(a) - Number(b)), [1, 7, 32]);
}, { timeout: 300_000 });
