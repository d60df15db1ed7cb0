/**
 * The data-parallel driver behind `dataparallel-train`, the CPU negative control. Each step splits
 * the batch into shards, computes each shard's gradients in a pool of worker threads (each with its
 * own session of the cell's backend), all-reduces them and applies SGD.
 *
 * `nondet` sums gradients in arrival order, as an unordered all-reduce or a multi-worker DataLoader
 * does; float addition is not associative, so the weights change with thread timing. `det` waits
 * for every shard and sums in shard order.
 */
import { Worker } from 'node:worker_threads';
import type { Mode } from '../protocol.js';
import { paramShapes } from '../../workloads/params.js';
import { byName } from '../../workloads/inputs.js';
import type { NamedTensor, TrainSpec } from '../../workloads/types.js';
import { StepTrace, type Execution, type OpSink } from '../backends/types.js';
import { ALLREDUCE_OP, shardGradOp, updateOp } from '../../workloads/ops.js';
import { sizeOf } from '../../workloads/types.js';

interface ShardReply {
  id: number;
  grads?: Float32Array[];
  loss?: number;
  error?: { message: string; unsupported: boolean };
}

export class ShardPool {
  private workers: Worker[] = [];
  private pending = new Map<number, { resolve: (r: ShardReply) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | null = null;
  private closing = false;

  /** Sessions of a backend in every shard worker, opened once (a failure is retried by the next caller). */
  private prepared = new Map<string, Promise<void>>();

  static open(spec: TrainSpec, count: number): ShardPool {
    const pool = new ShardPool();
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL('./shard-entry.mjs', import.meta.url), { workerData: { spec } });
      pool.workers.push(worker);
      worker.on('message', (reply: ShardReply) => {
        const waiter = pool.pending.get(reply.id);
        pool.pending.delete(reply.id);
        waiter?.resolve(reply);
      });
      worker.on('error', (err) => pool.failAll(err));
      // a shard worker never ends by itself: any exit but close()'s leaves its calls unanswered
      worker.on('exit', (code) => pool.closing || pool.failAll(new Error(`shard worker exited with code ${code}`)));
    }
    return pool;
  }

  /** Opens a session of this backend in every shard worker (setup, not timed as compute). */
  prepare(backend: string): Promise<void> {
    let prepared = this.prepared.get(backend);
    if (!prepared) {
      prepared = (async () => {
        const replies = await Promise.all(this.workers.map((_, i) => this.call(i, { init: true, backend })));
        const failed = replies.find((r) => r.error);
        if (failed?.error) throw Object.assign(new Error(failed.error.message), { unsupported: failed.error.unsupported });
      })();
      prepared.catch(() => this.prepared.delete(backend));
      this.prepared.set(backend, prepared);
    }
    return prepared;
  }

  private failAll(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }

  /** A worker of the pool died (an error, or an exit): the pool takes no more calls. */
  get failed(): boolean {
    return this.failure !== null;
  }

  call(worker: number, message: object): Promise<ShardReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[worker].postMessage({ id, ...message });
    });
  }

  get size(): number {
    return this.workers.length;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * `ops` (locating): each shard's gradients, the all-reduced sum of every parameter's gradients (one
 * op, `allreduce`) and each parameter's update are reported, by the names of workloads/ops.ts.
 */
export async function trainDataParallel(pool: ShardPool, backend: string, spec: TrainSpec, inputs: NamedTensor[], mode: Mode, traceOn = false, ops?: OpSink): Promise<Execution> {
  const trace = new StepTrace(traceOn);
  if (!spec.dataParallel) throw new Error('not a data-parallel workload');
  const { shards } = spec.dataParallel;
  if (spec.batch % shards !== 0) throw new Error(`batch ${spec.batch} is not divisible by shards ${shards}`);
  const per = spec.batch / shards;
  const shapes = paramShapes(spec);
  const weights = shapes.map(([name]) => Float32Array.from(byName(inputs, name).data as Float32Array));
  const x = byName(inputs, 'x'), y = byName(inputs, 'y');
  const rowSize = sizeOf(x.shape.slice(2));
  let loss = 0;

  const start = performance.now();
  for (let step = 0; step < spec.steps; step++) {
    const sums = weights.map((w) => new Float32Array(w.length));
    const inOrder: ShardReply[] = new Array(shards);
    let lossSum = 0;
    const calls = Array.from({ length: shards }, (_, k) => {
      const row = step * spec.batch + k * per;
      const message = {
        backend,
        weights,
        x: { name: 'x', shape: [per, ...x.shape.slice(2)], data: x.data.slice(row * rowSize, (row + per) * rowSize) },
        y: (y.data as Int32Array).slice(row, row + per),
      };
      return pool.call(k % pool.size, message).then((reply) => {
        if (reply.error) throw new Error(reply.error.message);
        inOrder[k] = reply;
        if (mode === 'nondet') accumulate(sums, reply.grads!);
      });
    });
    await Promise.all(calls);
    if (mode === 'det') inOrder.forEach((reply) => accumulate(sums, reply.grads!));
    if (ops) {
      inOrder.forEach((reply, k) => reply.grads!.forEach((g, i) => ops.record(step, shardGradOp(k, shapes[i][0]), g)));
      ops.record(step, ALLREDUCE_OP, concatenate(sums));
    }
    inOrder.forEach((reply) => (lossSum += reply.loss!));
    loss = lossSum / shards;
    // Each shard's gradient is of its own mean loss; the batch gradient is their mean.
    weights.forEach((w, i) => {
      const g = sums[i];
      for (let j = 0; j < w.length; j++) w[j] = w[j] - (spec.learningRate * g[j]) / shards;
      ops?.record(step, updateOp('sgd', shapes[i][0]), w);
    });
    await trace.record(() => weights);
  }
  const computeMs = performance.now() - start - trace.copyMs;
  return { outputs: shapes.map(([name, shape], i) => ({ name, shape, data: weights[i] })), computeMs, loss, trace: trace.result() };
}

function concatenate(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** acc += g element-wise, rounding to float32 after every addition (the order matters). */
function accumulate(acc: Float32Array[], grads: Float32Array[]): void {
  acc.forEach((a, i) => {
    const g = grads[i];
    for (let j = 0; j < a.length; j++) a[j] += g[j];
  });
}
