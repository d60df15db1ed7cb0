import type { WorkloadDef } from './types.js';

export const mlpTrain: WorkloadDef<{ features: number; hidden: number; classes: number; batch: number; steps: number }> = {
  id: 'mlp-train',
  probes: 'dense matmul accumulation order in forward and backward passes (thread partitioning, blocked kernels)',
  tolerance: { relL2: 1e-5 },
  presets: {
    quick: { features: 32, hidden: 64, classes: 10, batch: 32, steps: 10 },
    standard: { features: 64, hidden: 128, classes: 10, batch: 64, steps: 30 },
    // 1024×4096 and 4096×4096 products at batch 1024: cuBLAS picks split-K and tensor-core tiles
    gpu: { features: 1024, hidden: 4096, classes: 1000, batch: 1024, steps: 20 },
  },
  build: (p) => ({
    kind: 'train',
    input: { shape: [p.features], dtype: 'float32' },
    classes: p.classes,
    layers: [
      { kind: 'dense', units: p.hidden, activation: 'relu' },
      { kind: 'dense', units: p.hidden, activation: 'relu' },
    ],
    batch: p.batch,
    steps: p.steps,
    learningRate: 0.05,
    teacher: { width: p.features, hidden: 32 },
    evalExamples: 256,
  }),
};
