// How detbench's TypeScript runs, in one place: from the compiled mirror while it is fresh (see
// compiled.mjs), otherwise through tsx. The launcher and each worker entry (worker-entry.mjs,
// shard-entry.mjs, loader-entry.mjs) load their TypeScript module with importTs; a child process is
// started with childModule or forkModule. A worker thread does not inherit hooks registered at run
// time by its parent, so a thread that needs tsx registers it itself.
//
// Only tsx's ESM hooks: our .ts files are ES modules, and the libraries are required as the CommonJS
// they ship. tsx's CJS hooks would make every require slower (tfjs-core and its CPU backend load in
// ≈ 280 ms of CPU through them instead of ≈ 65 ms, in each of up to five threads per run); the one
// require that needs them registers them when it happens (registerTsxCjs).
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { compiledUrl } from './compiled.mjs';

// tsx's APIs load on first use (≈ 0.15 s of CPU): a thread that runs the mirror may never need them
const require = createRequire(import.meta.url);

/** The `--import` value that makes a child process run TypeScript (ESM hooks, as registerTsx). */
const TSX_IMPORT = import.meta.resolve('tsx/esm');

let esmRegistered;

/**
 * tsx's ESM hooks, in this thread (once). tsx turns Node's source maps on, which then decodes the
 * inline map of every module it loads (≈ 50 ms of CPU per thread for the CLI's modules); they serve
 * only stack traces, which detbench prints with DETBENCH_DEBUG=1: on then, off otherwise.
 */
function registerTsx() {
  esmRegistered ??= import('tsx/esm/api').then(({ register }) => {
    register();
    if (process.env.DETBENCH_DEBUG !== '1') process.setSourceMapsEnabled(false);
  });
  return esmRegistered;
}

let cjsRegistered = false;

/**
 * tsx's CJS hooks, in this thread (once): for a require of TypeScript or of ES-module syntax, which
 * Node cannot load itself (a CommonJS-scope .ts plugin, tfjs-core's gradient modules).
 */
export function registerTsxCjs() {
  if (cjsRegistered) return;
  require('tsx/cjs/api').register();
  cjsRegistered = true;
}

const typescript = (url) => /\.[cm]?ts$/.test(new URL(url).pathname);

/** Imports the module at `url`: its compiled copy while the mirror is fresh, else as importModule. */
export const importTs = (url) => importModule(compiledUrl(url) ?? url);

/** Set in a thread where register-compiled.mjs's hooks load the compiled sources at their own URLs. */
export const COMPILED_HOOKS = Symbol.for('detbench.compiledHooks');

/** Imports the module at `url` as it is: a TypeScript source through tsx (or the compiled hooks), anything else (the mirror's .js) by Node. */
export async function importModule(url) {
  if (typescript(url) && !(globalThis[COMPILED_HOOKS] && compiledUrl(url))) await registerTsx();
  return import(new URL(url).href);
}

/**
 * How a child process runs the module at `url`: `node ...execArgv script`, the script being its
 * compiled copy while the mirror is fresh, or the source with tsx's hooks.
 */
export function childModule(url) {
  const compiled = compiledUrl(url);
  if (compiled) return { script: fileURLToPath(compiled), execArgv: [] };
  return { script: fileURLToPath(url), execArgv: typescript(url) ? ['--import', TSX_IMPORT] : [] };
}

/** `fork` of the module at `url` (see childModule), with no arguments and these options. */
export function forkModule(url, options) {
  const { script, execArgv } = childModule(url);
  return fork(script, [], { ...options, execArgv });
}
