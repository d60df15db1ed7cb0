// Worker threads do not inherit the tsx loader of the main thread (Node 20), so each worker
// registers tsx itself — ESM hooks for our .ts files, CJS hooks because tfjs gradients load
// through require — before loading its TypeScript entry point.
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

registerCjs();
registerEsm();
const worker = await import('./worker.ts');
export default worker.default;
export const probe = worker.probe;
export const prewarm = worker.prewarm;
