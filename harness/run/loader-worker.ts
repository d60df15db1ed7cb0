/**
 * A data-loader worker thread (harness/run/loader.ts): builds its share of a load's batches in order,
 * drawing in nondet from its own generator from draw 0 on, and posts each batch when it is done.
 */
import { parentPort } from 'node:worker_threads';
import { buildBatch } from '../../workloads/loader.js';
import type { LoaderReply, LoaderRequest } from './loader.js';

parentPort!.on('message', (req: LoaderRequest) => {
  try {
    const next = { k: 0 };
    const orders = new Map<number, Int32Array>();
    for (const step of req.steps) {
      const { x, y } = buildBatch(req.task, step, req.worker, next, orders);
      parentPort!.postMessage({ id: req.id, step, x, y } satisfies LoaderReply, [x.buffer as ArrayBuffer, y.buffer as ArrayBuffer]);
    }
  } catch (err) {
    parentPort!.postMessage({ id: req.id, error: (err as Error).message } satisfies LoaderReply);
  }
});
