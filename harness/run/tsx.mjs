// The tsx loader, in one place. TypeScript runs without a build step: the launcher registers tsx in
// its own thread; a worker thread does not inherit hooks registered at run time by its parent, so each
// worker entry (worker-entry.mjs, shard-entry.mjs, loader-entry.mjs) registers them itself; a child
// process gets them with `--import TSX_IMPORT`.
//
// Only tsx's ESM hooks: our .ts files are ES modules, and the libraries are required as the CommonJS
// they ship. tsx's CJS hooks would make every require slower (tfjs-core and its CPU backend load in
// ≈ 280 ms of CPU through them instead of ≈ 65 ms, in each of up to five threads per run); the one
// require that needs them registers them when it happens (registerTsxCjs).
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

/** The `--import` value that makes a child process run TypeScript (ESM hooks, as registerTsx). */
export const TSX_IMPORT = import.meta.resolve('tsx/esm');

/**
 * tsx's ESM hooks for our .ts files, in this thread. tsx turns Node's source maps on, which then
 * decodes the inline map of every module it loads (≈ 50 ms of CPU per thread for the CLI's modules);
 * they serve only stack traces, which detbench prints with DETBENCH_DEBUG=1: on then, off otherwise.
 */
export function registerTsx() {
  registerEsm();
  if (process.env.DETBENCH_DEBUG !== '1') process.setSourceMapsEnabled(false);
}

let cjsRegistered = false;

/** tsx's CJS hooks too, in this thread (once): for a require of ES-module syntax that Node cannot load itself. */
export function registerTsxCjs() {
  if (cjsRegistered) return;
  registerCjs();
  cjsRegistered = true;
}
