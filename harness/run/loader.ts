/**
 * The JS data loader (workloads/types.ts, Loader): a pool of worker threads that build training
 * batches, as a multi-worker DataLoader does. Batch b of a load goes to worker b mod workers (round
 * robin, as torch deals them); each worker builds its batches in order and posts each one as soon as
 * it is done. `det` keys every draw by (seed, epoch, sample) and puts batches in step order; `nondet`
 * lets each worker draw from its own generator and uses batches in the order they arrive — so its data
 * depend on the number of workers, and, from two workers on, on which thread finished first.
 */
import { Worker } from 'node:worker_threads';
import { byName } from '../../workloads/inputs.js';
import { loadInThread, type LoaderSpec, type LoaderTask } from '../../workloads/loader.js';
import type { NamedTensor } from '../../workloads/types.js';
import type { Mode } from '../protocol.js';
import { sizeOf } from '../../workloads/types.js';

/** What a loader worker is asked: its batches (steps) of one load, built in order from its draw 0. */
export interface LoaderRequest {
  id: number;
  task: LoaderTask;
  worker: number;
  steps: number[];
}

/** One built batch, or the error that stopped the worker's share. */
export type LoaderReply = { id: number; step: number; x: Float32Array; y: Int32Array } | { id: number; error: string };

export class LoaderPool {
  private workers: Worker[] = [];
  private nextId = 0;
  private listeners = new Map<number, (reply: LoaderReply) => void>();
  private failure: Error | null = null;
  private closing = false;

  private constructor() {}

  static open(count: number): LoaderPool {
    const pool = new LoaderPool();
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL('./loader-entry.mjs', import.meta.url));
      // idle, a loader thread must not keep its process alive (pools live as long as the thread that opened them)
      worker.unref();
      worker.on('message', (reply: LoaderReply) => pool.listeners.get(reply.id)?.(reply));
      worker.on('error', (err) => pool.fail(err));
      // a loader worker never ends by itself: any exit but close()'s leaves its batches unbuilt (terminated
      // before it started, it exits with code 0)
      worker.on('exit', (code) => pool.closing || pool.fail(new Error(`loader worker exited with code ${code}`)));
      pool.workers.push(worker);
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** A worker of the pool died (an error, or an exit): it takes no more loads. */
  get failed(): boolean {
    return this.failure !== null;
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const listener of this.listeners.values()) listener({ id: -1, error: err.message });
  }

  /**
   * Steps [first, steps) of a load: x [steps − first, batch, …input], y [steps − first, batch], in
   * step order (det) or in arrival order (nondet).
   */
  load(task: LoaderTask, first: number): Promise<{ x: Float32Array; y: Int32Array; arrival: number[] }> {
    if (this.failure) return Promise.reject(this.failure);
    const { spec } = task;
    const count = spec.steps - first;
    const per = sizeOf(spec.input.shape) * spec.batch;
    const x = new Float32Array(count * per), y = new Int32Array(count * spec.batch);
    const arrival: number[] = [];
    const id = this.nextId++;
    this.workers.forEach((w) => w.ref());
    const done = new Promise<{ x: Float32Array; y: Int32Array; arrival: number[] }>((resolve, reject) => {
      this.listeners.set(id, (reply) => {
        if ('error' in reply) {
          this.listeners.delete(id);
          reject(new Error(`data loader: ${reply.error}`));
          return;
        }
        // det: the slot of its step; nondet: the next free slot, whichever batch it is
        const slot = task.mode === 'det' ? reply.step - first : arrival.length;
        arrival.push(reply.step);
        x.set(reply.x, slot * per);
        y.set(reply.y, slot * spec.batch);
        if (arrival.length === count) {
          this.listeners.delete(id);
          resolve({ x, y, arrival });
        }
      });
      this.workers.forEach((w, worker) => {
        const steps = Array.from({ length: count }, (_, i) => first + i).filter((s) => (s - first) % this.workers.length === worker);
        w.postMessage({ id, task, worker, steps } satisfies LoaderRequest);
      });
    });
    return done.finally(() => this.workers.forEach((w) => w.unref()));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Loader pools by worker count, opened on first use and kept for the thread's lifetime (like the shard pools). */
const pools = new Map<number, LoaderPool>();

/**
 * The thread's pool of `workers` loader workers. A pool whose worker died is closed and replaced, so
 * the run that saw the death fails and the runs after it load from a new pool.
 */
export function loaderPool(workers: number): LoaderPool {
  let pool = pools.get(workers);
  if (pool?.failed) void pool.close();
  if (!pool || pool.failed) pools.set(workers, (pool = LoaderPool.open(workers)));
  return pool;
}

/**
 * The run's training batches: `x` and `y` of `inputs` replaced by what a loader of `workers` workers
 * delivers in `mode` (0 workers: built in the calling thread). A resumed run loads from step `first`
 * on, where its checkpoint's data position says: the rows of earlier steps are zeros and never read.
 * Other inputs are kept as they are.
 */
export async function loadBatches(workloadId: string, seed: number, spec: LoaderSpec, inputs: NamedTensor[], mode: Mode, workers: number, first = 0): Promise<NamedTensor[]> {
  const task: LoaderTask = {
    workloadId, seed, spec, mode,
    dataset: byName(inputs, 'dataset').data as Float32Array,
    labels: byName(inputs, 'datasetLabels').data as Int32Array,
  };
  let loaded: { x: Float32Array; y: Int32Array };
  if (workers === 0) loaded = loadInThread(task, first);
  else loaded = await loaderPool(workers).load(task, first);
  return inputs.map((t) => {
    if (t.name !== 'x' && t.name !== 'y') return t;
    const part = t.name === 'x' ? loaded.x : loaded.y;
    const data = t.name === 'x' ? new Float32Array(t.data.length) : new Int32Array(t.data.length);
    data.set(part, t.data.length - part.length);
    return { name: t.name, shape: t.shape, data };
  });
}
