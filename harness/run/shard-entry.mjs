// A data-parallel shard worker thread: registers tsx (see tsx.mjs), then loads shard-worker.ts.
import { registerTsx } from './tsx.mjs';

registerTsx();
await import('./shard-worker.ts');
