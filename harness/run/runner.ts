/**
 * run: executes planned runs in piscina worker threads (or, for backends that need process-wide
 * settings, in a child process per mode), one record per run whatever happens: a thrown error is
 * `error`, a run past its timeout is `timeout` (its worker is terminated), a worker or child that
 * dies is `crashed`. The suite always goes on. `concurrency` is the number of runs in flight: 1
 * (the default) when timings matter, more for determinism checks only.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { forkModule } from './tsx.mjs';
import { findBackend } from '../backends/index.js';
import type { Availability } from '../backends/types.js';
import type { ResolvedSuite } from '../config.js';
import type { ArtifactRef, LocateRequest, PackedState, RunRecord, RunRequest, RunTask, TraceRef, WorkerResult } from '../protocol.js';
import { FreshAbandoned, FreshProcesses, FreshTimeout, joinHalves, secondHalfTimeoutMs } from './resume.js';
import { cellId } from '../protocol.js';
import { nonFiniteField, sha256, type ResultsWriter } from '../store.js';
import { message } from '../errors.js';
import { mark, span } from './timeline.js';
import type { Upcoming } from './worker.js';

export interface RunnerOptions {
  timeoutMs: number;
  onRecord?: (record: RunRecord, done: number, total: number) => void;
  /** Checked before each run is started; true stops the suite (what already ran is kept). */
  shouldStop?: () => boolean;
}


class Timeout extends Error {}
/** How long a worker thread may take to start before its run is given up (a start-up that hangs). */
const WORKER_START_MS = 120_000;
/** The run was stopped by an interruption (`abandon`): it has no result and gets no record. */
class Abandoned extends Error {}

/** A child process per (backend, mode), restarted after a timeout or a crash. */
class ChildLanes {
  private children = new Map<string, ChildProcess>();

  private inFlight = new Set<ChildProcess>();
  private abandoned = new WeakSet<ChildProcess>();

  async run(req: RunTask, timeoutMs: number): Promise<WorkerResult> {
    const backend = findBackend(req.backend)!;
    const key = `${req.backend}|${req.mode}`;
    let child = this.children.get(key);
    if (!child || child.exitCode !== null || child.killed) {
      child = forkModule(new URL('./child.ts', import.meta.url), {
        env: { ...process.env, ...backend.processEnv?.(req.mode) },
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // a process group of its own: a signal to detbench's group must not end the run (signals.ts)
        detached: true,
      });
      this.children.set(key, child);
      await new Promise<void>((resolve, reject) => {
        child!.once('message', () => resolve());
        child!.once('exit', (code, signal) => reject(new Error(`child process for ${key} exited during start-up (code ${code}, signal ${signal})`)));
      });
    }
    const c = child;
    this.inFlight.add(c);
    return new Promise<WorkerResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        reject(new Timeout());
      }, timeoutMs);
      const onExit = (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        reject(this.abandoned.has(c) ? new Abandoned() : new Error(`child process exited (code ${code}, signal ${signal}) during the run`));
      };
      c.once('exit', onExit);
      c.once('message', (result: WorkerResult) => {
        clearTimeout(timer);
        c.off('exit', onExit);
        resolve(result);
      });
      c.send(req);
    }).finally(() => this.inFlight.delete(c));
  }

  /** Kills the children whose run is in flight: those runs end as Abandoned. */
  abandon(): void {
    for (const c of this.inFlight) {
      this.abandoned.add(c);
      c.kill('SIGKILL');
    }
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
  private fresh = new FreshProcesses();
  private inFlight = new Set<AbortController>();

  /** Temporary files of this runner's backends (scratch.ts), removed by close(). */
  private readonly scratch = fs.mkdtempSync(path.join(os.tmpdir(), `detbench-scratch-${process.pid}-`));

  /** The scratch folder, for temporary files of this command's own (the oracle's inputs). */
  get scratchDir(): string {
    return this.scratch;
  }

  constructor(readonly concurrency: number) {
    keepLibrariesInside();
    mark('runner');
    this.pool = new Piscina({
      workerData: { scratch: this.scratch },
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
   * worker also starts warming up for it while the probes wait (see worker.ts `probe`): the shard
   * pools of its workloads and, given the whole suite, each available backend's sessions. Warm-up that a run needs is finished by `prewarm`, before any run is timed.
   */
  async probe(ids: string[], upcoming?: Pick<ResolvedSuite, 'workloads' | 'preset'> | ResolvedSuite): Promise<Record<string, Availability>> {
    const task: { ids: string[] } & Partial<Upcoming> = { ids };
    if (upcoming && this.concurrency === 1) {
      task.warm = upcoming.workloads.map((w) => ({ workload: w.id, preset: upcoming.preset, params: w.params }));
      if ('modes' in upcoming) task.suite = upcoming;
    }
    return span('probe', async () => (await this.pool.run(task, { name: 'probe' })) as Record<string, Availability>);
  }

  /** Starts what the runs will need (their sessions, data-parallel shard pools) before the first run is timed. */
  async prewarm(runs: RunRequest[]): Promise<void> {
    if (this.concurrency === 1) await span('prewarm', () => this.pool.run(runs.filter((r) => !findBackend(r.backend)?.info.processPerMode), { name: 'prewarm' }));
  }

  private async execute(req: RunTask, timeoutMs: number): Promise<WorkerResult> {
    if (findBackend(req.backend)?.info.processPerMode) return this.children.run(req, timeoutMs);
    const controller = new AbortController();
    // the run's clock starts when a worker thread takes it, not while a new thread loads (worker-entry.mjs)
    let timer = setTimeout(() => controller.abort(new Timeout()), Math.max(WORKER_START_MS, timeoutMs));
    const { port1, port2 } = new MessageChannel();
    port1.once('message', () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new Timeout()), timeoutMs);
    });
    this.inFlight.add(controller);
    try {
      return (await this.pool.run({ req, started: port2 }, { signal: controller.signal, transferList: [port2] })) as WorkerResult;
    } catch (err) {
      throw controller.signal.aborted ? (controller.signal.reason instanceof Abandoned ? controller.signal.reason : new Timeout()) : err;
    } finally {
      clearTimeout(timer);
      port1.close();
      this.inFlight.delete(controller);
    }
  }

  /** A planned run: in one go, or in two halves across a checkpoint (`resumeAt`). */
  private executeRun(req: RunRequest, timeoutMs: number): Promise<WorkerResult> {
    return req.resumeAt ? this.executeResumed(req, timeoutMs) : this.execute(req, timeoutMs);
  }

  /**
   * A resumed run (resume.ts): the first `resumeAt` steps where the cell's runs go, the rest in a
   * fresh child process that starts from the checkpoint alone.
   */
  private async executeResumed(req: RunRequest, timeoutMs: number): Promise<WorkerResult> {
    const first = await this.execute({ ...req, resumePhase: { save: true } }, timeoutMs);
    if (first.status !== 'ok' || !first.state) return joinHalves(req, first, null);
    const left = secondHalfTimeoutMs(timeoutMs, first);
    if (left === 0) throw new Timeout();
    try {
      return joinHalves(req, first, await this.fresh.run({ ...req, resumePhase: { restore: first.state } }, left, this.scratch));
    } catch (err) {
      throw err instanceof FreshTimeout ? new Timeout() : err instanceof FreshAbandoned ? new Abandoned() : err;
    }
  }

  /**
   * Ends the runs in flight now (their worker threads are terminated, their child processes killed);
   * they get no record. For an interruption whose grace period has run out (signals.ts).
   */
  abandon(): void {
    for (const c of this.inFlight) c.abort(new Abandoned());
    this.children.abandon();
    this.fresh.abandon();
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
        const execution = this.executeRun(req, options.timeoutMs).catch((err: Error) => err);
        flushPrevious();
        const result = await execution;
        if (result instanceof Abandoned) {
          // an interruption ended it (abandon): no record
          stopped = true;
          break;
        }
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

  /**
   * A run repeated to locate where runs part (run/locate.ts): its result, never a record; a run past
   * its timeout or a crash is an `error` result, an abandoned one null.
   */
  async locate(req: LocateRequest, timeoutMs: number): Promise<WorkerResult | null> {
    try {
      return await this.execute(req, timeoutMs);
    } catch (err) {
      if (err instanceof Abandoned) return null;
      const why = err instanceof Timeout ? `no result within ${timeoutMs} ms; the worker was terminated` : (err as Error).message;
      return { status: 'error', message: why, determinism: null, warnings: [] };
    }
  }

  /** Executes one run and appends its record, whatever happens — null only when it was abandoned. */
  async runOne(req: RunRequest, writer: ResultsWriter, timeoutMs: number): Promise<RunRecord | null> {
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    let result: WorkerResult | Error;
    try {
      result = await this.executeRun(req, timeoutMs);
    } catch (err) {
      result = err as Error;
    }
    if (result instanceof Abandoned) return null;
    const record = toRecord(req, startedAt, performance.now() - t0, result, writer, timeoutMs);
    writer.append(record);
    return record;
  }

  async close(): Promise<void> {
    mark('close');
    this.children.close();
    await this.pool.destroy();
    this.removeScratch();
  }

  /** Synchronous, for an exit that cannot wait for close(). */
  removeScratch(): void {
    fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}

/**
 * Nothing may be written outside the folders the user gave, and the libraries detbench loads keep
 * files in the home folder unless told not to: onnxruntime-node (1.30, Linux) its telemetry in
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and /tmp/mat-debug-PID.log; Mesa (the WebGPU
 * backends on Vulkan) its shader cache in ~/.cache/mesa_shader_cache_db; NVIDIA's driver its shader
 * cache and CUDA its JIT cache (~/.nv). Set here, in the main thread, before any worker thread or child
 * process starts (a worker's process.env is a copy native libraries never read); a value the user set
 * is kept, and the fingerprint records them either way.
 */
export const QUIET_LIBRARY_ENV = {
  ORT_DISABLE_TELEMETRY: '1',
  MESA_SHADER_CACHE_DISABLE: 'true',
  __GL_SHADER_DISK_CACHE: '0',
  CUDA_CACHE_DISABLE: '1',
} as const;

function keepLibrariesInside(): void {
  for (const [name, value] of Object.entries(QUIET_LIBRARY_ENV)) process.env[name] ??= value;
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
  const stored = (state: PackedState): ArtifactRef => {
    const stateBytes = new Uint8Array(state.data.buffer, state.data.byteOffset, state.data.byteLength);
    return { sha256: writer.writeArtifact(stateBytes), bytes: stateBytes.byteLength, tensors: state.tensors };
  };
  const evaluation = result.evaluation && {
    loss: result.evaluation.loss, accuracy: result.evaluation.accuracy, units: result.evaluation.units,
    predictions: writer.writeArtifact(new Uint8Array(result.evaluation.predictions.buffer, result.evaluation.predictions.byteOffset, result.evaluation.predictions.byteLength)),
  };
  const record: RunRecord = {
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
    ...(evaluation ? { evaluation, ...(result.evalMs !== undefined ? { evalMs: result.evalMs } : {}) } : {}),
    ...(result.state ? { finalState: stored(result.state) } : {}),
    ...(result.resumed ? { resume: { checkpoint: stored(result.resumed.checkpoint), savedByPid: result.resumed.savedByPid, restoredByPid: result.resumed.restoredByPid } } : {}),
  };
  // A NaN loss or an infinite norm cannot be written as JSON (it would silently become null)
  const bad = nonFiniteField(record);
  return bad ? { ...base, determinism: result.determinism, warnings: result.warnings, status: 'error', message: message.nonFinite(bad.field, bad.value) } : record;
}

/** Stores the per-step weights as one artifact and digests each step's slice. */
function traceRef(trace: Float32Array, perStep: number, writer: ResultsWriter): TraceRef {
  const bytes = new Uint8Array(trace.buffer, trace.byteOffset, trace.byteLength);
  const steps = trace.length / perStep;
  const stepDigests = Array.from({ length: steps }, (_, s) => sha256(bytes.subarray(s * perStep * 4, (s + 1) * perStep * 4)).slice(0, 16));
  return { sha256: writer.writeArtifact(bytes), steps, stepDigests };
}
