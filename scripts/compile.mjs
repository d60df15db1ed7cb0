// npm run compile (and the first step of npm test and npm run bench): the compiled mirror of
// detbench's TypeScript, rewritten only when a source changed (harness/run/compiled.mjs).
import { compile } from '../harness/run/compiled.mjs';

try {
  const done = await compile();
  if (done !== 'up to date') console.log(`detbench: ${done}`);
} catch (err) {
  // never fatal: without the mirror everything runs through tsx, only slower
  console.log(`detbench: not compiled (${err.message}); the TypeScript runs through tsx`);
}
