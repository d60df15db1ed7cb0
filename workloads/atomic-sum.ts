import type { WorkloadDef } from './types.js';

export const atomicSum: WorkloadDef<{ length: number }> = {
  id: 'atomic-sum',
  probes:
    'the WebGPU negative control: one float sum accumulated by a WGSL kernel with atomic compare-exchange, so the order of additions is whatever order the GPU threads arrive in',
  // one sum of zero-mean inputs, like reduce-sum: judged relative to Σ|x|, since |Σx| can be near 0
  tolerance: { relL2: 5e-7, relativeTo: 'magnitudes' },
  negativeControl: 'gpu',
  gpuOnly: true,
  presets: { quick: { length: 1 << 16 }, standard: { length: 1 << 22 }, gpu: { length: 1 << 24 } },
  build: (p) => ({ kind: 'infer', op: 'atomicSum', length: p.length }),
};
