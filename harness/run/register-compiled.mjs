// `node --import ./harness/run/register-compiled.mjs`: TypeScript files run from the compiled mirror
// under their own paths (compiled-hooks.mjs) while it is fresh, otherwise through tsx's ESM hooks.
// npm test runs its test files this way: each test process starts ≈ 0.6 s of CPU sooner than with tsx.
// The main thread only: worker threads run it too (it is in their execArgv), but detbench's workers
// load the mirror (or register tsx) themselves, through tsx.mjs — hooks there would cost each one
// a thread of their own.
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { mirrorFresh } from './compiled.mjs';
import { COMPILED_HOOKS } from './tsx.mjs';

if (isMainThread) {
  if (mirrorFresh()) {
    register('./compiled-hooks.mjs', import.meta.url, { data: { fresh: true } });
    globalThis[COMPILED_HOOKS] = true;
    // stacks name the TypeScript lines, through the mirror's inline source maps
    process.setSourceMapsEnabled(true);
  } else {
    (await import('tsx/esm/api')).register();
  }
}
