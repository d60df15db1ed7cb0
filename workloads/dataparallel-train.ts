import type { WorkloadDef } from './types.js';

export const dataparallelTrain: WorkloadDef<{ features: number; hidden: number; classes: number; batch: number; steps: number; shards: number; workers: number }> = {
  id: 'dataparallel-train',
  probes:
    'the CPU negative control: shard gradients computed in worker threads and summed in arrival order without determinism (an unordered all-reduce), in shard order with it',
  tolerance: { relL2: 1e-4 },
  negativeControl: 'always',
  presets: {
    quick: { features: 32, hidden: 64, classes: 10, batch: 64, steps: 12, shards: 8, workers: 4 },
    standard: { features: 64, hidden: 128, classes: 10, batch: 128, steps: 20, shards: 8, workers: 4 },
    // a CPU control (GPU backends do not run it): the gpu preset keeps the standard sizes
    gpu: { features: 64, hidden: 128, classes: 10, batch: 128, steps: 20, shards: 8, workers: 4 },
  },
  build: (p) => ({
    kind: 'train',
    input: { shape: [p.features], dtype: 'float32' },
    classes: p.classes,
    layers: [{ kind: 'dense', units: p.hidden, activation: 'relu' }],
    batch: p.batch,
    steps: p.steps,
    learningRate: 0.05,
    teacher: { width: p.features, hidden: 32 },
    evalExamples: 256,
    dataParallel: { shards: p.shards, workers: p.workers },
  }),
};
