import type { WorkloadDef } from './types.js';

export const embeddingTrain: WorkloadDef<{ vocab: number; dim: number; seq: number; classes: number; batch: number; steps: number }> = {
  id: 'embedding-train',
  probes: 'scatter-add of embedding gradients with many repeated indices (atomic accumulation order on GPUs)',
  tolerance: { relL2: 1e-5 },
  presets: {
    // tfjs-cpu's scatter-add (UnsortedSegmentSum) runs a masked sum per vocabulary row: at 64 rows
    // its runs took a fifth of `npm start`; 32 rows still give many repeats per step (skew 3)
    quick: { vocab: 32, dim: 16, seq: 16, classes: 8, batch: 16, steps: 8 },
    standard: { vocab: 96, dim: 32, seq: 16, classes: 16, batch: 32, steps: 8 },
    // 256 × 256 tokens × 256 dims: a 16.8M-element scatter-add of gradient rows per step
    gpu: { vocab: 32768, dim: 256, seq: 256, classes: 16, batch: 256, steps: 10 },
  },
  build: (p) => ({
    kind: 'train',
    // skew 3 puts about half of all tokens on the first 12% of the vocabulary: many repeats per step.
    input: { shape: [p.seq], dtype: 'int32', vocab: p.vocab, skew: 3 },
    classes: p.classes,
    layers: [{ kind: 'embedding', vocab: p.vocab, dim: p.dim }, { kind: 'meanPool' }],
    batch: p.batch,
    steps: p.steps,
    learningRate: 0.5,
    teacher: { width: 16, hidden: 32 },
    evalExamples: 128,
  }),
};
