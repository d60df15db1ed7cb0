// A data-loader worker thread: registers tsx (see tsx.mjs), then loads loader-worker.ts.
import { registerTsx } from './tsx.mjs';

registerTsx();
await import('./loader-worker.ts');
