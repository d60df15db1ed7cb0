import type { WorkloadDef } from './types.js';

export const convTrain: WorkloadDef<{ size: number; channels: number; filters: number; classes: number; batch: number; steps: number }> = {
  id: 'conv-train',
  probes: 'convolution algorithm choice and its weight-gradient reduction (cuDNN-style algorithm selection, im2col blocking)',
  tolerance: { relL2: 1e-4 },
  presets: {
    quick: { size: 8, channels: 2, filters: 4, classes: 10, batch: 8, steps: 4 },
    standard: { size: 16, channels: 3, filters: 8, classes: 10, batch: 16, steps: 10 },
    // 64×64 images, 16 → 128 → 128 channels: cuDNN chooses among its algorithms (and workspace sizes)
    gpu: { size: 64, channels: 16, filters: 128, classes: 10, batch: 64, steps: 10 },
  },
  build: (p) => ({
    kind: 'train',
    input: { shape: [p.size, p.size, p.channels], dtype: 'float32' },
    classes: p.classes,
    layers: [
      { kind: 'conv2d', filters: p.filters, kernel: 3, activation: 'relu' },
      { kind: 'pool', op: 'max', size: 2 },
      { kind: 'conv2d', filters: p.filters, kernel: 3, activation: 'relu' },
      { kind: 'pool', op: 'avg', size: 2 },
      { kind: 'flatten' },
    ],
    batch: p.batch,
    steps: p.steps,
    learningRate: 0.02,
    teacher: { width: 8, hidden: 32 },
    evalExamples: 64,
  }),
};
