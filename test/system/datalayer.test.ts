/**
 * The data and training-process layers on a real PyTorch (Debian's python3-torch on the CPU): a
 * torch.utils.data.DataLoader with num_workers, resume replay across two Python worker processes,
 * and the warn-only collection of "does not have a deterministic implementation" for `detbench doctor`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findBackend } from '../../harness/backends/index.ts';
import type { Execution, ExecuteOptions } from '../../harness/backends/types.ts';
import { componentOf, type TrainingState } from '../../harness/checkpoint.ts';
import { alertChecks } from '../../harness/doctor.ts';
import { torchAlerts } from '../../harness/backends/torch/alerts.ts';
import { findWorkload, resolveWorkload } from '../../workloads/index.ts';
import { workloadInputs } from '../../workloads/inputs.ts';
import { systemTest, TORCH_PYTHON } from './components.ts';

process.env.DETBENCH_PYTHON ??= TORCH_PYTHON;
const DATALAYER = fileURLToPath(new URL('../../harness/backends/torch/', import.meta.url));

const digest = (e: Execution) => e.outputs.reduce((h, t) => h.update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), createHash('sha256')).digest('hex');
const parts = (s: TrainingState) => Object.fromEntries(['weights', 'optimizer', 'schedule', 'data', 'rng'].map((c) =>
  [c, s.tensors.filter((t) => componentOf(t.name) === c).reduce((h, t) => h.update(t.name).update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), createHash('sha256')).digest('hex')]));

/** One execution of `workloadId` in a torch session of its own (a Python process of its own). */
async function once(workloadId: string, mode: 'det' | 'nondet', loaderWorkers: number, options: ExecuteOptions = {}): Promise<Execution> {
  const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
  const session = await findBackend('torch')!.open({ mode, threads: 1, device: 'cpu' });
  try {
    const program = await session.prepare(workload, workloadInputs(workload, 2), { loaderWorkers, seed: 2 });
    return await program.execute(options);
  } finally {
    await session.close();
  }
}

// Nondet differs from 0 to 2 workers every time: torch seeds each DataLoader worker with base_seed +
// worker_id, and without workers draws from the main generator, so every sample's noise comes from
// another generator state (equal bits would need equal Gaussian draws from unrelated states).
systemTest('torch DataLoader: det gives the same bits with 0 and 2 workers; nondet differs (a machine with more cores trains another model)', 'torch', async () => {
  const [det0, det2, nondet0, nondet2] = await Promise.all([
    once('data-pipeline', 'det', 0), once('data-pipeline', 'det', 2), once('data-pipeline', 'nondet', 0), once('data-pipeline', 'nondet', 2),
  ]);
  assert.equal(digest(det0), digest(det2));
  assert.notEqual(digest(nondet0), digest(nondet2));
  assert.notEqual(digest(nondet0), digest(det0), 'nondet draws its own augmentations');
}, { timeout: 120_000 });

systemTest('torch resume: a state written after 2 steps and restored in another Python process finishes with every part of the uninterrupted state (SGD, AdamW with dropout, momentum with a loader)', 'torch', async () => {
  for (const id of ['mlp-train', 'transformer-train', 'data-pipeline']) {
    const whole = await once(id, 'det', 2, { state: true });
    const half = await once(id, 'det', 2, { stopAfter: 2 });
    assert.equal(half.evalLogits, undefined, 'the first half is not evaluated');
    const rest = await once(id, 'det', 2, { resumeFrom: half.state!, state: true });
    assert.deepEqual(parts(rest.state!), parts(whole.state!), id);
    assert.equal(digest(rest), digest(whole), id);
    // the comparison can fail: a restore that forgets the optimizer state changes the weights
    if (half.state!.tensors.some((t) => componentOf(t.name) === 'optimizer')) {
      const forgetful = { tensors: half.state!.tensors.map((t) => (componentOf(t.name) === 'optimizer' ? { ...t, data: new Float32Array(t.data.length) } : t)) };
      assert.notEqual(parts((await once(id, 'det', 2, { resumeFrom: forgetful, state: true })).state!).weights, parts(whole.state!).weights, id);
    }
  }
}, { timeout: 300_000 });

// put_ (accumulate=False) is an op PyTorch 1.13–2.x alerts on for the CPU too; nothing detbench's
// workloads use on the CPU does, so the collector is checked on it directly
systemTest('warn-only det: the collector names the op PyTorch warns has no deterministic implementation, and doctor makes it an item with its fix', 'torch', () => {
  const script = `import json, sys
sys.path.insert(0, ${JSON.stringify(DATALAYER)})
import torch, datalayer
torch.use_deterministic_algorithms(True, warn_only=True)
_, ops = datalayer.nondeterministic_ops(lambda: torch.zeros(5).put_(torch.tensor([0, 0]), torch.tensor([1., 2.])))
print(json.dumps(ops))`;
  const r = spawnSync(TORCH_PYTHON, ['-c', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ops = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Array<{ op: string; message: string }>;
  assert.deepEqual(ops.map((o) => o.op), ['put_']);
  assert.match(ops[0].message, /^put_ does not have a deterministic implementation/);
  const [check] = alertChecks({ device: 'cpu', workloads: ['index-add'], ops: ops.map((o) => ({ ...o, workloads: ['index-add'] })) });
  assert.deepEqual([check.id, check.status], ['torch-nondeterministic-op:put_', 'warn']);
  assert.match(check.fix!, /raises/);
});

systemTest('doctor\'s warn-only run on the CPU: every torch workload runs in det-warn mode, and none warns here', 'torch', async () => {
  const alerts = await torchAlerts(TORCH_PYTHON, 'cpu', ['mlp-train', 'index-add', 'data-pipeline', 'matmul']);
  assert.equal(alerts.error, undefined);
  assert.deepEqual(alerts.workloads, ['mlp-train', 'index-add', 'data-pipeline', 'matmul']);
  assert.deepEqual(alerts.ops, []);
  assert.equal(alertChecks(alerts)[0].status, 'pass');
}, { timeout: 120_000 });
