/**
 * run: executes planned runs in piscina worker threads (or, for backends that need process-wide
 * settings, in a child process per mode), one record per run whatever happens: a thrown error is
 * `error`, a run past its timeout is `timeout` (its worker is terminated), a worker or child that
 * dies is `crashed`. The suite always goes on. `concurrency` is the number of runs in flight: 1
 * (the default) when timings matter, more for determinism checks only.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Piscina } from 'piscina';
import { TSX_LOADER } from './child-probe.js';
import { findBackend } from '../backends/index.js';
import type { Availability } from '../backends/types.js';
import type { ResolvedSuite } from '../config.js';
import type { RunRecord, RunRequest, TraceRef, WorkerResult } from '../protocol.js';
import { cellId } from '../protocol.js';
import { sha256, type ResultsWriter } from '../store.js';
import { mark, span } from './timeline.js';
import type { WarmTarget } from './worker.js';

export interface RunnerOptions {
  timeoutMs: number;
  onRecord?: (record: RunRecord, done: number, total: number) => void;
  /** Checked before each run is started; true stops the suite (what already ran is kept). */
  shouldStop?: () => boolean;
}


class Timeout extends Error {}

/** A child process per (backend, mode), restarted after a timeout or a crash. */
class ChildLanes {
  private children = new Map<string, ChildProcess>();

  async run(req: RunRequest, timeoutMs: number): Promise<WorkerResult> {
    const backend = findBackend(req.backend)!;
    const key = `${req.backend}|${req.mode}`;
    let child = this.children.get(key);
    if (!child || child.exitCode !== null || child.killed) {
      child = fork(new URL('./child.ts', import.meta.url), [], {
        execArgv: ['--import', TSX_LOADER],
        env: { ...process.env, ...backend.processEnv?.(req.mode) },
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.children.set(key, child);
      await new Promise<void>((resolve, reject) => {
        child!.once('message', () => resolve());
        child!.once('exit', (code, signal) => reject(new Error(`child process for ${key} exited during start-up (code ${code}, signal ${signal})`)));
      });
    }
    const c = child;
    return new Promise<WorkerResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Timeout());
      }, timeoutMs);
      const onExit = (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        reject(new Error(`child process exited (code ${code}, signal ${signal}) during the run`));
      };
      c.once('exit', onExit);
      c.once('message', (result: WorkerResult) => {
        clearTimeout(timer);
        c.off('exit', onExit);
        resolve(result);
      });
      c.send(req);
    });
  }

  close(): void {
    for (const c of this.children.values()) c.kill();
  }
}

/**
 * One pool of worker threads for a whole command: backends are probed inside a worker (so their
 * libraries load once, in the thread that will run them) and then the runs go through it.
 */
export class Runner {
  private pool: Piscina;
  private children = new ChildLanes();

  constructor(readonly concurrency: number) {
    mark('runner');
    this.pool = new Piscina({
      filename: new URL('./worker-entry.mjs', import.meta.url).href,
      minThreads: concurrency,
      maxThreads: concurrency,
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
    });
    // A worker that fails to start is reported per task (as `crashed`); without a listener the
    // pool's 'error' event would take the whole suite down.
    this.pool.on('error', () => {});
  }

  /**
   * Availability of each backend, probed in a worker thread. With the suite about to run, the
   * worker also starts warming up for it while the probes wait (see worker.ts `probe`); warm-up
   * that a run needs is finished by `prewarm`, before any run is timed.
   */
  async probe(ids: string[], upcoming?: Pick<ResolvedSuite, 'workloads' | 'preset'>): Promise<Record<string, Availability>> {
    const warm: WarmTarget[] = upcoming && this.concurrency === 1 ? upcoming.workloads.map((w) => ({ workload: w.id, preset: upcoming.preset, params: w.params })) : [];
    return span('probe', async () => (await this.pool.run({ ids, warm }, { name: 'probe' })) as Record<string, Availability>);
  }

  /** Starts what the runs will need (data-parallel shard pools) before the first run is timed. */
  async prewarm(runs: RunRequest[]): Promise<void> {
    if (this.concurrency === 1) await span('prewarm', () => this.pool.run(runs.filter((r) => !findBackend(r.backend)?.info.ownProcess), { name: 'prewarm' }));
  }

  private async execute(req: RunRequest, timeoutMs: number): Promise<WorkerResult> {
    if (findBackend(req.backend)?.info.ownProcess) return this.children.run(req, timeoutMs);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Timeout()), timeoutMs);
    try {
      return (await this.pool.run(req, { signal: controller.signal })) as WorkerResult;
    } catch (err) {
      throw controller.signal.aborted ? new Timeout() : err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Executes the runs, `concurrency` at a time, each record appended whatever happens. A lane
   * writes a run's record before it starts the next run, then waits for the disk (fdatasync, ≈ 4 ms
   * here, 300+ times a suite) while that run computes: I/O wait, no CPU taken from the run.
   */
  async run(runs: RunRequest[], writer: ResultsWriter, options: RunnerOptions): Promise<{ stopped: boolean }> {
    let next = 0;
    let done = 0;
    let stopped = false;
    const lane = async () => {
      let unflushed: RunRecord | null = null;
      const flushPrevious = () => {
        if (!unflushed) return;
        writer.flush();
        done++;
        options.onRecord?.(unflushed, done, runs.length);
        unflushed = null;
      };
      while (next < runs.length) {
        if (options.shouldStop?.()) {
          stopped = true;
          break;
        }
        const req = runs[next++];
        const startedAt = new Date().toISOString();
        const t0 = performance.now();
        const execution = this.execute(req, options.timeoutMs).catch((err: Error) => err);
        flushPrevious();
        const result = await execution;
        unflushed = toRecord(req, startedAt, performance.now() - t0, result, writer, options.timeoutMs);
        writer.write(unflushed);
      }
      flushPrevious();
    };
    mark('runs:start');
    await Promise.all(Array.from({ length: this.concurrency }, lane));
    mark('runs:end');
    return { stopped };
  }

  /** Executes one run and appends its record, whatever happens. */
  async runOne(req: RunRequest, writer: ResultsWriter, timeoutMs: number): Promise<RunRecord> {
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    let result: WorkerResult | Error;
    try {
      result = await this.execute(req, timeoutMs);
    } catch (err) {
      result = err as Error;
    }
    const record = toRecord(req, startedAt, performance.now() - t0, result, writer, timeoutMs);
    writer.append(record);
    return record;
  }

  async close(): Promise<void> {
    mark('close');
    this.children.close();
    await this.pool.destroy();
  }
}

/** Runs a list of runs in a fresh Runner (what tests and scripts need). */
export async function runAll(runs: RunRequest[], writer: ResultsWriter, options: RunnerOptions & { concurrency: number }): Promise<{ stopped: boolean }> {
  const runner = new Runner(options.concurrency);
  try {
    return await runner.run(runs, writer, options);
  } finally {
    await runner.close();
  }
}

function toRecord(req: RunRequest, startedAt: string, wallMs: number, result: WorkerResult | Error, writer: ResultsWriter, timeoutMs: number): RunRecord {
  const base = { ...req, cell: cellId(req), startedAt, wallMs };
  if (result instanceof Timeout) {
    return { ...base, determinism: null, warnings: [], status: 'timeout', message: `no result within ${timeoutMs} ms; the worker was terminated`, timeoutMs };
  }
  if (result instanceof Error) {
    return { ...base, determinism: null, warnings: [], status: 'crashed', message: result.message };
  }
  if (result.status !== 'ok') return { ...base, determinism: result.determinism, warnings: result.warnings, status: result.status, message: result.message };
  const bytes = new Uint8Array(result.artifact.buffer, result.artifact.byteOffset, result.artifact.byteLength);
  const sha256 = writer.writeArtifact(bytes);
  let sq = 0;
  for (const v of result.artifact) sq += v * v;
  const trace = result.trace ? traceRef(result.trace, result.artifact.length, writer) : undefined;
  return {
    ...base,
    determinism: result.determinism,
    warnings: result.warnings,
    status: 'ok',
    setupMs: result.setupMs,
    computeMs: result.computeMs,
    loss: result.loss,
    outputL2: Math.sqrt(sq),
    artifact: { sha256, bytes: bytes.byteLength, tensors: result.tensors },
    ...(trace ? { stepTrace: trace } : {}),
  };
}

/** Stores the per-step weights as one artifact and digests each step's slice. */
function traceRef(trace: Float32Array, perStep: number, writer: ResultsWriter): TraceRef {
  const bytes = new Uint8Array(trace.buffer, trace.byteOffset, trace.byteLength);
  const steps = trace.length / perStep;
  const stepDigests = Array.from({ length: steps }, (_, s) => sha256(bytes.subarray(s * perStep * 4, (s + 1) * perStep * 4)).slice(0, 16));
  return { sha256: writer.writeArtifact(bytes), steps, stepDigests };
}
