/** A data-parallel shard worker: one backend session computing gradients of shards on request. */
import { parentPort, workerData } from 'node:worker_threads';
import { findBackend, loadPlugins } from './backends/index.js';
import { UnsupportedOpError, type GradientFn } from './backends/types.js';
import type { TrainSpec } from '../workloads/types.js';

const { backend: backendId, spec } = workerData as { backend: string; spec: TrainSpec };
let gradients: Promise<GradientFn> | null = null;

function load(): Promise<GradientFn> {
  gradients ??= (async () => {
    await loadPlugins();
    const backend = findBackend(backendId);
    if (!backend) throw new Error(`unknown backend ${backendId}`);
    const session = await backend.open({ mode: 'det', threads: 1, device: 'cpu' });
    return session.gradients(spec);
  })();
  return gradients;
}

parentPort!.on('message', async (msg: { id: number; init?: boolean; weights: Float32Array[]; x: never; y: Int32Array }) => {
  try {
    const fn = await load();
    if (msg.init) return parentPort!.postMessage({ id: msg.id });
    const { grads, loss } = await fn(msg.weights, msg.x, msg.y);
    parentPort!.postMessage({ id: msg.id, grads, loss }, grads.map((g) => g.buffer as ArrayBuffer));
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: { message: (err as Error).message, unsupported: err instanceof UnsupportedOpError } });
  }
});
