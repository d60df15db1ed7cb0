// A runner worker thread: loads its TypeScript entry point, compiled or through tsx (see tsx.mjs).
import { importTs } from './tsx.mjs';

const worker = await importTs(new URL('./worker.ts', import.meta.url));

/**
 * A run: `started` hears the moment the task begins, so the run's timeout does not count the thread's
 * start-up (loading the backends' libraries takes seconds on a busy machine).
 */
export default function run({ req, started }) {
  started.postMessage('started');
  started.close();
  return worker.default(req);
}
export const probe = worker.probe;
export const prewarm = worker.prewarm;
