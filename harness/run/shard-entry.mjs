// See worker-entry.mjs: a data-parallel shard worker registers tsx before loading shard-worker.ts.
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

registerCjs();
registerEsm();
await import('./shard-worker.ts');
