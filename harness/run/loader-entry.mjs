// A data-loader worker thread: loads loader-worker.ts, compiled or through tsx (see tsx.mjs).
import { importTs } from './tsx.mjs';

await importTs(new URL('./loader-worker.ts', import.meta.url));
