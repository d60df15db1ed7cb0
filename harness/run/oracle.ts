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
import { answerWithin, NoAnswer, noAnswerReason, PROBE_TIMEOUT_MS, runRequest, torchPython, TorchProcess, writeTensor } from '../backends/torch/torch.js';
import type { Availability } from '../backends/types.js';
import type { ResolvedSuite } from '../config.js';
import type { ResultsWriter } from '../store.js';
import { byName, workloadInputs } from '../../workloads/inputs.js';
import type { NamedTensor, ResolvedWorkload } from '../../workloads/types.js';
import { findWorkload, resolveWorkload } from '../../workloads/index.js';
import { evaluate } from './evaluation.js';
import { ORACLE_FILE, ORACLE_VERSION, type OracleEntry, type OracleFile } from '../analysis/oracle.js';

const notMade = (reason: string): OracleFile => ({ oracleVersion: ORACLE_VERSION, made: false, reason, python: torchPython(), workloads: [] });

/**
 * Why a suite gets no oracle at all, or null when it does. `torchProbe`: the torch backend's
 * availability where it was probed: a Python that did not answer it is not waited for again.
 */
export function oracleSkipReason(suite: ResolvedSuite, interrupted: boolean, enabled = true, torchProbe?: Availability): string | null {
  if (!enabled) return 'the float64 oracle was turned off (--no-oracle, or DETBENCH_ORACLE=off)';
  if (torchProbe && !torchProbe.available && torchProbe.reason === noAnswerReason(torchPython())) return `the torch probe's ${torchProbe.reason}; the oracle, which runs on the same Python, did not wait for it again`;
  if (interrupted) return 'the run was interrupted before the float64 oracle ran';
  if (suite.kind === 'noise') return 'the noise suite compares runs with each other, not with an oracle';
  // the oracle computes on the CPU: the gpu preset there is what slowOnCpu (plan.ts) keeps from CPU cells
  if (suite.preset === 'gpu' && !suite.allowSlow) return 'the gpu preset is sized for GPUs and its float64 oracle runs on the CPU, where it would take too long: pass --allow-slow to compute it anyway';
  return null;
}

type OracleProcess = { worker: TorchProcess; torch: string };

const oracleThreads = () => os.availableParallelism();

/** A started Python process, and the promise of it once it has said hello. */
function launch(): { worker: TorchProcess; ready: Promise<OracleProcess> } {
  const worker = TorchProcess.start('det');
  // as the probe does: a Python stuck importing torch held the run before its first run, for ever
  const ready = answerWithin(worker.call({ op: 'hello', threads: oracleThreads() }), PROBE_TIMEOUT_MS).then(
    (hello) => ({ worker, torch: String(hello.torch) }),
    (err: Error) => {
      worker.stop();
      throw err instanceof NoAnswer ? new Error(`it did not answer within ${PROBE_TIMEOUT_MS / 1000} s (importing torch hangs there)`) : err;
    },
  );
  return { worker, ready };
}

/**
 * The oracle's start-up, begun before the runs (while their sessions open) instead of after them: its
 * Python process (starting it and importing torch take about a second of CPU, on a core the
 * oracle's own start would leave idle) and its inputs (detbench's own draws, the same the runs get).
 * It computes nothing; `runOracle` does, after the runs, or `stop` ends the process unused.
 */
export class OracleWarmup {
  private readonly worker: TorchProcess;
  private process: Promise<OracleProcess> | null;
  private readonly inputs = new Map<string, NamedTensor[]>();
  /** Set once the runs are about to start: no more work in the background (runOracle draws what is missing). */
  private held = false;

  constructor(private readonly suite: ResolvedSuite, private readonly workloadIds: string[]) {
    const { worker, ready } = launch();
    this.worker = worker;
    this.process = ready;
    // a Python without torch is reported by runOracle, when the oracle would start
    this.process.catch(() => {});
    this.generate().catch(() => {});
  }

  /**
   * The suite's inputs of a workload as this warm-up drew them (the same draws: workload, sizes and
   * seed match), else drawn now: for the analysis after the runs (tolerance.ts InputSource).
   */
  readonly inputsOf = (workload: ResolvedWorkload, seed: number): NamedTensor[] => {
    const w = this.suite.workloads.find((x) => x.id === workload.id);
    const same = seed === this.suite.seed && w !== undefined && JSON.stringify(resolveWorkload(findWorkload(w.id)!, this.suite.preset, w.params)) === JSON.stringify(workload);
    return (same ? this.inputs.get(workload.id) : undefined) ?? workloadInputs(workload, seed);
  };

  private async generate(): Promise<void> {
    for (const id of this.workloadIds) {
      // one workload per turn of the event loop: the worker's replies are not held up
      await new Promise((resolve) => setImmediate(resolve));
      const w = this.suite.workloads.find((x) => x.id === id);
      const def = findWorkload(id);
      if (this.held) return;
      if (w && def) this.inputs.set(id, workloadInputs(resolveWorkload(def, this.suite.preset, w.params), this.suite.seed));
    }
  }

  /**
   * Before the first timed run: stops drawing inputs and waits until the process has started (or
   * failed to), so that none of this start-up takes CPU from a timed run.
   */
  async settle(): Promise<void> {
    this.held = true;
    await this.process?.catch(() => {});
  }

  /** The started process (once: the caller owns it from here) and the inputs generated so far. */
  take(): { process: Promise<OracleProcess> | null; inputs: Map<string, NamedTensor[]> } {
    const process = this.process;
    this.process = null;
    this.held = true;
    return { process, inputs: this.inputs };
  }

  /** Ends the process unless runOracle took it (whether it has said hello yet or not). */
  stop(): void {
    if (this.take().process) this.worker.stop();
  }
}

/** The oracle's warm-up for the workloads of a suite, or null where the suite gets no oracle (oracleSkipReason). */
export function warmUpOracle(suite: ResolvedSuite, workloadIds: string[], enabled = true, torchProbe?: Availability): OracleWarmup | null {
  return oracleSkipReason(suite, false, enabled, torchProbe) === null ? new OracleWarmup(suite, workloadIds) : null;
}

/**
 * Computes the oracle of each workload and writes oracle.json (always: a reason when nothing was
 * computed). Each workload gets the suite's per-run timeout; a workload past it is `timeout`, and
 * the next one starts a fresh Python process. `warmup`: its process and inputs are used (and it is
 * stopped when the oracle is skipped).
 */
export async function runOracle(
  suite: ResolvedSuite, workloadIds: string[], writer: ResultsWriter,
  options: { interrupted: boolean; log: (line: string) => void; enabled?: boolean; scratch?: string; warmup?: OracleWarmup | null; torchProbe?: Availability },
): Promise<OracleFile> {
  const skip = oracleSkipReason(suite, options.interrupted, options.enabled, options.torchProbe);
  if (skip) options.warmup?.stop();
  const file = skip ? notMade(skip) : await compute(suite, workloadIds, writer, options.log, options.scratch ?? os.tmpdir(), options.warmup?.take());
  writer.writeJson(ORACLE_FILE, file);
  return file;
}

async function compute(
  suite: ResolvedSuite, workloadIds: string[], writer: ResultsWriter, log: (line: string) => void, scratch: string,
  warm?: { process: Promise<OracleProcess> | null; inputs: Map<string, NamedTensor[]> },
): Promise<OracleFile> {
  const threads = oracleThreads();
  const start = (): Promise<OracleProcess> => launch().ready;
  let current: OracleProcess;
  try {
    current = await (warm?.process ?? start());
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
      const inputs = warm?.inputs.get(id) ?? workloadInputs(workload, suite.seed);
      const sub = fs.mkdtempSync(path.join(dir, 'inputs-'));
      const files = inputs.map((t) => writeTensor(sub, t));
      try {
        const execution = await answerWithin(runRequest(current.worker, path.join(sub, 'out.f32'), workload, files, { device: 'cpu', threads, dtype: 'float64' }), suite.timeoutMs);
        const artifact = Float32Array.from(execution.outputs.flatMap((t) => Array.from(t.data)));
        let offset = 0;
        const tensors = execution.outputs.map((t) => ({ name: t.name, shape: t.shape, offset: (offset += t.data.length) - t.data.length }));
        const bytes = new Uint8Array(artifact.buffer);
        const entry: OracleEntry = { workload: id, status: 'ok', computeMs: execution.computeMs, loss: execution.loss, artifact: { sha256: writer.writeArtifact(bytes), bytes: bytes.byteLength, tensors } };
        if (execution.evalLogits && workload.spec.kind === 'train') {
          const e = evaluate(execution.evalLogits, byName(inputs, 'yEval').data as Int32Array, workload.spec.classes);
          entry.evaluation = { loss: e.loss, accuracy: e.accuracy, units: e.units, predictions: writer.writeArtifact(new Uint8Array(e.predictions.buffer)) };
          if (execution.evalMs !== undefined) entry.evalMs = execution.evalMs;
        }
        entries.push(entry);
        log(`float64 oracle: ${id} done (${(execution.computeMs / 1000).toFixed(1)} s)`);
      } catch (err) {
        const timedOut = err instanceof NoAnswer;
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
        fs.rmSync(sub, { recursive: true, force: true });
      }
    }
  } finally {
    current.worker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { oracleVersion: ORACLE_VERSION, made: true, python: torchPython(), torch: current.torch, threads, workloads: entries };
}
