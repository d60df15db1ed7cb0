import type { WorkloadDef } from './types.js';

export const reduceSum: WorkloadDef<{ length: number }> = {
  id: 'reduce-sum',
  probes: 'the order of one large float32 sum (tree vs sequential, thread partials, atomics)',
  // Relative to Σ|x|, not |Σx|: the inputs are zero-mean, so |Σx| is near 0 for some seeds. Every CPU
  // backend's order (test/fixtures/summation-orders.ts) stays within 1.5e-7 of Σ|x| of every other
  // over 1,000 quick seeds; a dropped term fails once |x| > 5e-7·Σ|x| (quick: 0.03, standard: 1.7).
  tolerance: { relL2: 5e-7, relativeTo: 'magnitudes' },
  presets: { quick: { length: 1 << 16 }, standard: { length: 1 << 22 }, gpu: { length: 1 << 26 } },
  build: (p) => ({ kind: 'infer', op: 'reduceSum', length: p.length }),
};
