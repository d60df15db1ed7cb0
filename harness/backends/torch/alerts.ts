/**
 * For `detbench doctor`: a det run of workloads in PyTorch with use_deterministic_algorithms(True,
 * warn_only=True), so that every op without a deterministic implementation on this device warns
 * instead of raising, and each is named (worker.py's `det-warn` mode, datalayer.py collects them).
 * The workloads run at the quick preset: PyTorch decides per op and device, not per size.
 */
import fs from 'node:fs';
import path from 'node:path';
import { supportOf } from '../types.js';
import { findWorkload, resolveWorkload } from '../../../workloads/index.js';
import { workloadInputs } from '../../../workloads/inputs.js';
import { scratchRoot } from '../../run/scratch.js';
import { runRequest, torchBackend, TorchProcess, writeTensor } from './torch.js';

export interface TorchAlerts {
  device: string;
  /** The workloads that ran (each at the quick preset). */
  workloads: string[];
  /** Each op PyTorch warned about, once: its name, PyTorch's sentence, and the workloads that use it. */
  ops: Array<{ op: string; message: string; workloads: string[] }>;
  /** Why the run could not be made (then `ops` is empty). */
  error?: string;
}

/** Runs `workloadIds` (those torch supports) on `device` in det-warn mode with `python`. */
export async function torchAlerts(python: string, device: string, workloadIds: string[], timeoutMs = 120_000): Promise<TorchAlerts> {
  const out: TorchAlerts = { device, workloads: [], ops: [] };
  const worker = TorchProcess.start('det-warn', python);
  const dir = fs.mkdtempSync(path.join(scratchRoot(), 'detbench-doctor-'));
  const deadline = Date.now() + timeoutMs;
  try {
    await worker.call({ op: 'hello', ...(device === 'cpu' ? { threads: 1 } : {}) });
    for (const id of workloadIds) {
      const def = findWorkload(id);
      if (!def || def.gpuOnly) continue;
      const workload = resolveWorkload(def, 'quick');
      if (!supportOf(torchBackend, workload.spec).ok) continue;
      if (Date.now() > deadline) throw new Error(`not finished within ${timeoutMs / 1000} s (ran ${out.workloads.join(', ')})`);
      const sub = fs.mkdtempSync(path.join(dir, 'inputs-'));
      const files = workloadInputs(workload, 0).map((t) => writeTensor(sub, t));
      const r = await runRequest(worker, path.join(sub, 'out.f32'), workload, files, { device, threads: 1 });
      out.workloads.push(id);
      for (const { op, message } of r.nondeterministic ?? []) {
        const known = out.ops.find((o) => o.op === op);
        if (known) known.workloads.push(id);
        else out.ops.push({ op, message, workloads: [id] });
      }
      fs.rmSync(sub, { recursive: true, force: true });
    }
  } catch (err) {
    out.error = (err as Error).message;
  } finally {
    worker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
