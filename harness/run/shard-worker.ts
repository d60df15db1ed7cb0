/** A data-parallel shard worker: computes gradients of shards on request, one session per backend. */
import { parentPort, workerData } from 'node:worker_threads';
import { findBackend, loadPlugins } from '../backends/index.js';
import { isUnsupportedOp, type GradientFn } from '../backends/types.js';
import type { NamedTensor, TrainSpec } from '../../workloads/types.js';

const { spec } = workerData as { spec: TrainSpec };
const gradients = new Map<string, Promise<GradientFn>>();
const plugins = loadPlugins();

function load(backendId: string): Promise<GradientFn> {
  let fn = gradients.get(backendId);
  if (!fn) {
    fn = (async () => {
      await plugins;
      const backend = findBackend(backendId);
      if (!backend) throw new Error(`unknown backend ${backendId}`);
      // Shards always run det, single-threaded: the nondeterminism under test is the all-reduce order.
      const session = await backend.open({ mode: 'det', threads: 1, device: 'cpu' });
      return session.gradients(spec);
    })();
    gradients.set(backendId, fn);
  }
  return fn;
}

interface ShardRequest {
  id: number;
  backend: string;
  init?: boolean;
  weights: Float32Array[];
  x: NamedTensor;
  y: Int32Array;
}

parentPort!.on('message', async (msg: ShardRequest) => {
  try {
    const fn = await load(msg.backend);
    if (msg.init) return parentPort!.postMessage({ id: msg.id });
    const { grads, loss } = await fn(msg.weights, msg.x, msg.y);
    parentPort!.postMessage({ id: msg.id, grads, loss }, grads.map((g) => g.buffer as ArrayBuffer));
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: { message: (err as Error).message, unsupported: isUnsupportedOp(err) } });
  }
});
