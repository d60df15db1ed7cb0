// A data-parallel shard worker thread: loads shard-worker.ts, compiled or through tsx (see tsx.mjs).
import { importTs } from './tsx.mjs';

await importTs(new URL('./shard-worker.ts', import.meta.url));
