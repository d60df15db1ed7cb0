// A runner worker thread: registers tsx (see tsx.mjs), then loads its TypeScript entry point.
import { registerTsx } from './tsx.mjs';

registerTsx();
const worker = await import('./worker.ts');

/**
 * A run: `started` hears the moment the task begins, so the run's timeout does not count the thread's
 * start-up (loading tsx and the backends' libraries takes seconds on a busy machine).
 */
export default function run({ req, started }) {
  started.postMessage('started');
  started.close();
  return worker.default(req);
}
export const probe = worker.probe;
export const prewarm = worker.prewarm;
