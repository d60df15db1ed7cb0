import type { WorkloadDef } from './types.js';

export const atomicSum: WorkloadDef<{ length: number }> = {
  id: 'atomic-sum',
  probes:
    'the WebGPU negative control: one float sum accumulated by a WGSL kernel with atomic compare-exchange, so the order of additions is whatever order the GPU threads arrive in',
  tolerance: { relL2: 1e-4 },
  negativeControl: 'gpu',
  gpuOnly: true,
  presets: { quick: { length: 1 << 16 }, standard: { length: 1 << 22 }, gpu: { length: 1 << 24 } },
  build: (p) => ({ kind: 'infer', op: 'atomicSum', length: p.length }),
};
