import type { WorkloadDef } from './types.js';

export const matmul: WorkloadDef<{ m: number; k: number; n: number }> = {
  id: 'matmul',
  probes: 'blocking and split-K partial sums of one large matrix product',
  tolerance: { relL2: 1e-5 },
  presets: {
    quick: { m: 64, k: 128, n: 64 },
    standard: { m: 256, k: 256, n: 256 },
    // a long inner dimension (k = 32768 ≫ m, n): the shape for which cuBLAS splits K across blocks
    gpu: { m: 1024, k: 32768, n: 1024 },
  },
  build: (p) => ({ kind: 'infer', op: 'matmul', m: p.m, k: p.k, n: p.n }),
};
