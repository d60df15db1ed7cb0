import type { WorkloadDef } from './types.js';

export const attentionInfer: WorkloadDef<{ heads: number; seq: number; dim: number }> = {
  id: 'attention-infer',
  probes: 'fused or split softmax(QKᵀ/√d)·V kernels: reduction order in the row softmax and both matmuls',
  tolerance: { relL2: 1e-5 },
  presets: { quick: { heads: 2, seq: 32, dim: 16 }, standard: { heads: 4, seq: 128, dim: 32 }, gpu: { heads: 16, seq: 2048, dim: 128 } },
  build: (p) => ({ kind: 'infer', op: 'attention', heads: p.heads, seq: p.seq, dim: p.dim }),
};
