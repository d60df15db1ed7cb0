/**
 * The real models (transformer-train, resnet-train) on tfjs-cpu and torch (CPU), and the float64
 * oracle: det runs give the same bits twice, the backends agree within each workload's tolerance, and
 * every backend is within that tolerance of torch in float64. Needs torch (Debian's python3-torch, or
 * DETBENCH_PYTHON).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBackend } from '../../harness/backends/index.ts';
import type { Execution } from '../../harness/backends/types.ts';
import { TorchProcess, runRequest, writeTensor } from '../../harness/backends/torch/torch.ts';
import { diffFloat32 } from '../../harness/analysis/diff.ts';
import type { Summary } from '../../harness/analysis/summary.ts';
import { evaluate } from '../../harness/run/evaluation.ts';
import { byName, workloadInputs } from '../../workloads/inputs.ts';
import { findWorkload, resolveWorkload } from '../../workloads/index.ts';
import { TORCH_PYTHON, systemTest } from './components.ts';
import { flatOutputs as flat } from '../fixtures/execute.ts';

process.env.DETBENCH_PYTHON ??= TORCH_PYTHON;

async function twice(backendId: string, workloadId: string): Promise<[Execution, Execution]> {
  const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
  const session = await findBackend(backendId)!.open({ mode: 'det', threads: 1, device: 'cpu' });
  try {
    const program = await session.prepare(workload, workloadInputs(workload, 0));
    const a = await program.execute();
    const b = await program.execute();
    program.dispose();
    return [a, b];
  } finally {
    await session.close();
  }
}

async function oracle(workloadId: string): Promise<Execution> {
  const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-oracle-system-'));
  const worker = TorchProcess.start('det');
  try {
    await worker.call({ op: 'hello', threads: 1 });
    const files = workloadInputs(workload, 0).map((t) => writeTensor(dir, t));
    return await runRequest(worker, path.join(dir, 'out.f32'), workload, files, { device: 'cpu', threads: 1, dtype: 'float64' });
  } finally {
    worker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

for (const workloadId of ['transformer-train', 'resnet-train']) {
  systemTest(`${workloadId}: tfjs-cpu and torch each give the same bits twice in det, agree within tolerance, and are within tolerance of the float64 oracle`, 'torch', async () => {
    const tolerance = findWorkload(workloadId)!.tolerance.relL2;
    const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
    const labels = byName(workloadInputs(workload, 0), 'yEval').data as Int32Array;
    const reference = await oracle(workloadId);
    const oracleEval = evaluate(reference.evalLogits!, labels, (workload.spec as { classes: number }).classes);
    const first: Execution[] = [];
    for (const backendId of ['tfjs-cpu', 'torch']) {
      const [a, b] = await twice(backendId, workloadId);
      first.push(a);
      assert.ok(diffFloat32(flat(a), flat(b)).bitwiseEqual, `${backendId} ${workloadId} differs run to run in det`);
      const d = diffFloat32(flat(reference), flat(a));
      assert.ok(d.relL2 !== null && d.relL2 > 0 && d.relL2 <= tolerance, `${backendId} vs the oracle: relL2 ${d.relL2} (tolerance ${tolerance})`);
      const e = evaluate(a.evalLogits!, labels, (workload.spec as { classes: number }).classes);
      assert.ok(Math.abs(e.loss - oracleEval.loss) < 1e-4, `${backendId} held-out loss ${e.loss} vs the oracle's ${oracleEval.loss}`);
      assert.ok(a.loss !== null && Number.isFinite(a.loss));
    }
    const across = diffFloat32(flat(first[0]), flat(first[1]));
    assert.ok(across.relL2 !== null && across.relL2 <= tolerance, `torch vs tfjs-cpu: relL2 ${across.relL2}`);
  }, { timeout: 600_000 });
}

systemTest('the float64 oracle computes in float64: its result differs from torch float32 by more than nothing and less than the tolerance', 'torch', async () => {
  const reference = await oracle('matmul');
  const [f32] = await twice('torch', 'matmul');
  const d = diffFloat32(flat(reference), flat(f32));
  assert.ok(!d.bitwiseEqual && d.relL2! < 1e-6, `relL2 ${d.relL2}`);
});

systemTest('detbench run with torch: the summary compares every det cell with the float64 oracle and reports evaluation and churn', 'torch', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-models-cli-'));
  const bin = fileURLToPath(new URL('../../bin/detbench.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'run', '--suite', 'quick', '--workloads', 'transformer-train,mlp-train', '--backends', 'tfjs-cpu,torch', '--threads', '1', '--repeats', '2', '--python', process.env.DETBENCH_PYTHON!, '--out', out, '--json', '--no-report'], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr.split('\n').slice(-5).join('\n'));
  const { summary } = JSON.parse(r.stdout) as { summary: Summary };
  assert.equal(summary.oracle.made, true);
  assert.deepEqual(summary.oracle.workloads.map((w) => [w.workload, w.status]).sort(), [['mlp-train', 'ok'], ['transformer-train', 'ok']]);
  assert.equal(summary.oracle.cells.length, 4);
  assert.ok(summary.oracle.cells.every((c) => c.status === 'within-tolerance' && c.churnVsOracle === 0), JSON.stringify(summary.oracle.cells));
  assert.equal(summary.evaluation.length, 8);
  assert.ok(summary.evaluation.every((e) => e.churnPairwise.max === 0 && e.accuracy !== null));
}, { timeout: 600_000 });
