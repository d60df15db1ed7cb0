/**
 * Resume replay (`--resume-at K`, Megatron-LM's "restart replay"): a run trains K steps where any run
 * of its cell runs (a worker thread, or its backend's child process), hands back its full training
 * state (harness/checkpoint.ts), and a fresh process — a new Node.js child started for this run
 * alone, which for torch starts a new Python worker too — restores that state and finishes. Nothing
 * but the checkpoint crosses from the first half to the second: no module state, no cached session,
 * no loader, no Python process. With determinism on, the result must be the uninterrupted run's bits.
 */
import type { ChildProcess } from 'node:child_process';
import { findBackend } from '../backends/index.js';
import type { PackedState, RunTask, WorkerResult } from '../protocol.js';
import { forkModule } from './tsx.mjs';

type Ok = Extract<WorkerResult, { status: 'ok' }>;

/** The longest a fresh process may take to get ready, unless the run's timeout is longer. */
const START_UP_MS = 60_000;

/** A run past its timeout in the fresh process (the runner records it as `timeout`). */
export class FreshTimeout extends Error {}
/** The fresh process was killed by an interruption (the runner drops the run). */
export class FreshAbandoned extends Error {}

/** Fresh processes in flight, so an interruption can end them. */
export class FreshProcesses {
  private inFlight = new Set<ChildProcess>();
  private abandoned = new WeakSet<ChildProcess>();

  /**
   * One task in a new child process with the backend's environment for the mode; the process is
   * ended when the task is done. `scratch` is where its backends keep temporary files.
   */
  async run(task: RunTask, timeoutMs: number, scratch: string): Promise<WorkerResult> {
    const backend = findBackend(task.backend);
    const child = forkModule(new URL('./child.ts', import.meta.url), {
      env: { ...process.env, ...backend?.processEnv?.(task.mode), DETBENCH_SCRATCH: scratch },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // a process group of its own: a signal to detbench's group must not end the run (signals.ts)
      detached: true,
    });
    this.inFlight.add(child);
    try {
      return await new Promise<WorkerResult>((resolve, reject) => {
        const expire = () => {
          child.kill('SIGKILL');
          reject(new FreshTimeout());
        };
        // a process that never gets ready (hung loading its modules) is timed out too, given at least
        // a minute to start whatever the run's own timeout
        let timer: NodeJS.Timeout | undefined = setTimeout(expire, Math.max(timeoutMs, START_UP_MS));
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(this.abandoned.has(child) ? new FreshAbandoned() : new Error(`the fresh process exited (code ${code}, signal ${signal}) before restoring the checkpoint`));
        });
        // a process that cannot be started or sent the task: the run's error, never an uncaught one
        const failed = (err: Error) => {
          clearTimeout(timer);
          reject(new Error(`the fresh process could not take the checkpoint: ${err.message}`));
        };
        child.once('error', failed);
        child.on('message', (message: { ready: true } | WorkerResult) => {
          if ('ready' in message) {
            // the run's clock starts when the process can take the task, as a worker thread's does
            clearTimeout(timer);
            timer = setTimeout(expire, timeoutMs);
            child.send(task, (err) => err && failed(err));
            return;
          }
          clearTimeout(timer);
          resolve(message);
        });
      });
    } finally {
      this.inFlight.delete(child);
      child.removeAllListeners();
      child.kill();
    }
  }

  abandon(): void {
    for (const c of this.inFlight) {
      this.abandoned.add(c);
      c.kill('SIGKILL');
    }
  }
}

/**
 * What the run's timeout leaves for the second half: the timeout is the whole run's, as for a run in
 * one go, so the second half gets what the first half's measured time (setup, compute, evaluation)
 * left of it. 0 when nothing is left: the run is past its timeout.
 */
export function secondHalfTimeoutMs(timeoutMs: number, first: Ok): number {
  return Math.max(0, timeoutMs - (first.setupMs + first.computeMs + (first.evalMs ?? 0)));
}

/**
 * The two halves of a resumed run as one result: the second half's outputs, evaluation and final
 * state; times added; the trace of both halves; the checkpoint, and which processes saved and
 * restored it. A half that failed is the run's result, saying which half.
 */
export function joinHalves(task: RunTask, first: WorkerResult, second: WorkerResult | null): WorkerResult {
  if (first.status !== 'ok') return { ...first, message: `before the checkpoint at step ${task.resumeAt}: ${first.message}` };
  if (!first.state) return { status: 'error', message: `the first ${task.resumeAt} steps handed back no training state`, determinism: first.determinism, warnings: first.warnings };
  if (second === null) throw new Error('the second half of a resumed run is missing');
  if (second.status !== 'ok') return { ...second, message: `after restoring the checkpoint of step ${task.resumeAt}: ${second.message}` };
  const checkpoint: PackedState = first.state;
  const trace = first.trace && second.trace ? concatFloat32(first.trace, second.trace) : undefined;
  const determinism = {
    ...second.determinism,
    switches: [...second.determinism.switches, { name: 'resume', value: `checkpoint after step ${task.resumeAt}, restored in a fresh process`, verified: first.pid !== undefined && second.pid !== undefined && first.pid !== second.pid }],
    summary: `${second.determinism.summary}; trained ${task.resumeAt} steps, wrote the training state, restored it in a fresh process and finished`,
  };
  const ok: Ok = {
    ...second,
    setupMs: first.setupMs + second.setupMs,
    computeMs: first.computeMs + second.computeMs,
    trace,
    resumed: { checkpoint, savedByPid: first.pid ?? 0, restoredByPid: second.pid ?? 0 },
    determinism,
    warnings: [...new Set([...first.warnings, ...second.warnings])],
  };
  return ok;
}

function concatFloat32(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
