import type { WorkloadDef } from './types.js';

export const reduceSum: WorkloadDef<{ length: number }> = {
  id: 'reduce-sum',
  probes: 'the order of one large float32 sum (tree vs sequential, thread partials, atomics)',
  tolerance: { relL2: 1e-4 },
  presets: { quick: { length: 1 << 16 }, standard: { length: 1 << 22 }, gpu: { length: 1 << 26 } },
  build: (p) => ({ kind: 'infer', op: 'reduceSum', length: p.length }),
};
