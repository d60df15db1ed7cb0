// The tsx loader, in one place. TypeScript runs without a build step: the launcher registers tsx in
// its own thread; a worker thread does not inherit hooks registered at run time by its parent, so each
// worker entry (worker-entry.mjs, shard-entry.mjs) registers them itself; a child process gets them
// with `--import TSX_IMPORT`.
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

/** The `--import` value that makes a child process run TypeScript. */
export const TSX_IMPORT = import.meta.resolve('tsx');

/** ESM hooks for our .ts files; CJS hooks too, because tfjs loads its gradients through require. */
export function registerTsx() {
  registerCjs();
  registerEsm();
}
