/**
 * The float64 oracle: after a suite's runs, torch computes every workload of the suite once in
 * float64 on the CPU from the same harness inputs (worker.py with `dtype: "float64"`: the same
 * primitives, optimizer rules and evaluation), rounds the result to float32 once and stores it as an
 * artifact; `oracle.json` lists what was computed and, when nothing could be, why. The analysis
 * (harness/analysis/oracle.ts) measures every det cell against it with the workload's tolerance.
 *
 * The oracle is not a cell: its timing and bits are not what detbench measures, only its values. It
 * runs on the CPU even on a GPU host, with every core (float64 has no fast GPU path worth trusting
 * here, and the CPU is where torch's float64 kernels are plain loops). The data-parallel workload is
 * the same training with the whole batch at once (the mean of equal shards' gradients is the batch
 * gradient); atomic-sum's value is a plain sum.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runRequest, torchPython, TorchProcess, writeTensor } from '../backends/torch/torch.js';
import type { ResolvedSuite } from '../config.js';
import type { ResultsWriter } from '../store.js';
import { byName, workloadInputs } from '../../workloads/inputs.js';
import { findWorkload, resolveWorkload } from '../../workloads/index.js';
import { evaluate } from './evaluation.js';
import { ORACLE_FILE, ORACLE_VERSION, type OracleEntry, type OracleFile } from '../analysis/oracle.js';

const notMade = (reason: string): OracleFile => ({ oracleVersion: ORACLE_VERSION, made: false, reason, python: torchPython(), workloads: [] });

/** Why a suite gets no oracle at all, or null when it does. */
export function oracleSkipReason(suite: ResolvedSuite, interrupted: boolean, enabled = true): string | null {
  if (!enabled) return 'the float64 oracle was turned off (--no-oracle, or DETBENCH_ORACLE=off)';
  if (interrupted) return 'the run was interrupted before the float64 oracle ran';
  if (suite.kind === 'noise') return 'the noise suite compares runs with each other, not with an oracle';
  return null;
}

/**
 * Computes the oracle of each workload and writes oracle.json (always: a reason when nothing was
 * computed). Each workload gets the suite's per-run timeout; a workload past it is `timeout`, and
 * the next one starts a fresh Python process.
 */
export async function runOracle(
  suite: ResolvedSuite, workloadIds: string[], writer: ResultsWriter,
  options: { interrupted: boolean; log: (line: string) => void; enabled?: boolean; scratch?: string },
): Promise<OracleFile> {
  const skip = oracleSkipReason(suite, options.interrupted, options.enabled);
  const file = skip ? notMade(skip) : await compute(suite, workloadIds, writer, options.log, options.scratch ?? os.tmpdir());
  writer.writeJson(ORACLE_FILE, file);
  return file;
}

async function compute(suite: ResolvedSuite, workloadIds: string[], writer: ResultsWriter, log: (line: string) => void, scratch: string): Promise<OracleFile> {
  const threads = os.availableParallelism();
  const start = async (): Promise<{ worker: TorchProcess; torch: string }> => {
    const worker = TorchProcess.start('det');
    const hello = await worker.call({ op: 'hello', threads });
    return { worker, torch: String(hello.torch) };
  };
  let current: { worker: TorchProcess; torch: string };
  try {
    current = await start();
  } catch (err) {
    return notMade(`${torchPython()} cannot run torch (${(err as Error).message}): pass --python PATH (or set DETBENCH_PYTHON) to a Python that has torch, e.g. Debian's python3-torch`);
  }
  log(`float64 oracle: torch ${current.torch} on the CPU (${threads} threads), ${workloadIds.length} workload(s)…`);
  const dir = fs.mkdtempSync(path.join(scratch, 'detbench-oracle-'));
  const entries: OracleEntry[] = [];
  try {
    for (const id of workloadIds) {
      const w = suite.workloads.find((x) => x.id === id);
      if (!w) continue;
      const workload = resolveWorkload(findWorkload(id)!, suite.preset, w.params);
      const inputs = workloadInputs(workload, suite.seed);
      const sub = fs.mkdtempSync(path.join(dir, 'inputs-'));
      const files = inputs.map((t) => writeTensor(sub, t));
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new OracleTimeout()), suite.timeoutMs)));
        const execution = await Promise.race([runRequest(current.worker, path.join(sub, 'out.f32'), workload, files, { device: 'cpu', threads, dtype: 'float64' }), timeout]);
        const artifact = Float32Array.from(execution.outputs.flatMap((t) => Array.from(t.data)));
        let offset = 0;
        const tensors = execution.outputs.map((t) => ({ name: t.name, shape: t.shape, offset: (offset += t.data.length) - t.data.length }));
        const bytes = new Uint8Array(artifact.buffer);
        const entry: OracleEntry = { workload: id, status: 'ok', computeMs: execution.computeMs, loss: execution.loss, artifact: { sha256: writer.writeArtifact(bytes), bytes: bytes.byteLength, tensors } };
        if (execution.evalLogits && workload.spec.kind === 'train') {
          const e = evaluate(execution.evalLogits, byName(inputs, 'yEval').data as Int32Array, workload.spec.classes);
          entry.evaluation = { loss: e.loss, accuracy: e.accuracy, units: e.units, predictions: writer.writeArtifact(new Uint8Array(e.predictions.buffer)) };
        }
        entries.push(entry);
        log(`float64 oracle: ${id} done (${(execution.computeMs / 1000).toFixed(1)} s)`);
      } catch (err) {
        const timedOut = err instanceof OracleTimeout;
        entries.push({ workload: id, status: timedOut ? 'timeout' : 'error', message: timedOut ? `no result within ${suite.timeoutMs} ms (the suite's per-run timeout)` : (err as Error).message });
        log(`float64 oracle: ${id} ${timedOut ? 'timed out' : `failed: ${(err as Error).message}`}`);
        if (timedOut) {
          current.worker.stop();
          try {
            current = await start();
          } catch (restart) {
            entries.push(...workloadIds.slice(workloadIds.indexOf(id) + 1).map((rest): OracleEntry => ({ workload: rest, status: 'error', message: `torch could not be restarted after a timeout: ${(restart as Error).message}` })));
            break;
          }
        }
      } finally {
        clearTimeout(timer);
        fs.rmSync(sub, { recursive: true, force: true });
      }
    }
  } finally {
    current.worker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { oracleVersion: ORACLE_VERSION, made: true, python: torchPython(), torch: current.torch, threads, workloads: entries };
}

class OracleTimeout extends Error {}
