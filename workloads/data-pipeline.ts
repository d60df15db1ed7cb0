import type { WorkloadDef } from './types.js';

type P = { size: number; pad: number; channels: number; examples: number; filters: number; hidden: number; classes: number; batch: number; steps: number };

export const dataPipeline: WorkloadDef<P> = {
  id: 'data-pipeline',
  probes:
    'the data loader: batches built by loader workers with random augmentation (crop, flip, noise) — without determinism each worker draws from its own generator and batches are used as they arrive, so the worker count changes the data; with it every draw is keyed by (seed, epoch, sample)',
  tolerance: { relL2: 1e-4 },
  presets: {
    quick: { size: 8, pad: 2, channels: 1, examples: 48, filters: 4, hidden: 16, classes: 4, batch: 16, steps: 6 },
    standard: { size: 12, pad: 2, channels: 3, examples: 256, filters: 8, hidden: 32, classes: 8, batch: 32, steps: 20 },
    // a CPU data path (the loader is what is measured): the gpu preset keeps the standard sizes
    gpu: { size: 12, pad: 2, channels: 3, examples: 256, filters: 8, hidden: 32, classes: 8, batch: 32, steps: 20 },
  },
  build: (p) => ({
    kind: 'train',
    input: { shape: [p.size, p.size, p.channels], dtype: 'float32' },
    classes: p.classes,
    layers: [
      { kind: 'conv2d', filters: p.filters, kernel: 3, activation: 'relu' },
      { kind: 'pool', op: 'max', size: 2 },
      { kind: 'flatten' },
      { kind: 'dense', units: p.hidden, activation: 'relu' },
    ],
    batch: p.batch,
    steps: p.steps,
    learningRate: 0.02,
    optimizer: { kind: 'momentum', momentum: 0.9, weightDecay: 0 },
    teacher: { width: 8, hidden: 16 },
    evalExamples: 64,
    loader: { examples: p.examples, pad: p.pad, noiseStd: 0.1 },
  }),
};
