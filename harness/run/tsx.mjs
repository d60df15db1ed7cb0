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

/**
 * ESM hooks only, for the CLI's main thread: no backend library loads there (they load in worker
 * threads, which call registerTsx), nothing there requires TypeScript, and tsx's CJS hooks would
 * cost every CommonJS module the CLI loads (ajv, protobufjs, …) ≈ 0.2 s of CPU in all.
 */
export function registerTsxEsm() {
  registerEsm();
}
