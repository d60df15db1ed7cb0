import type { Layer, WorkloadDef } from './types.js';

type P = { size: number; channels: number; width: number; stages: number; blocks: number; classes: number; batch: number; steps: number; evalExamples: number };

const convBn = (filters: number): Layer[] => [{ kind: 'conv2d', filters, kernel: 3, activation: 'none', bias: false }, { kind: 'batchNorm' }];

/** relu(x + BN(conv(relu(BN(conv(x)))))): the basic block of He et al. 2016. */
const basicBlock = (filters: number): Layer[] => [
  { kind: 'residual', layers: [...convBn(filters), { kind: 'activation', fn: 'relu' }, ...convBn(filters)] },
  { kind: 'activation', fn: 'relu' },
];

/**
 * A stem conv–BN–ReLU, then `stages` stages of `blocks` basic blocks; between stages the feature
 * map is halved by 2×2 average pooling and the width doubled by a conv–BN–ReLU.
 */
function layers(p: P): Layer[] {
  const out: Layer[] = [...convBn(p.width), { kind: 'activation', fn: 'relu' }];
  for (let s = 0; s < p.stages; s++) {
    const filters = p.width * 2 ** s;
    if (s > 0) out.push({ kind: 'pool', op: 'avg', size: 2 }, ...convBn(filters), { kind: 'activation', fn: 'relu' });
    for (let b = 0; b < p.blocks; b++) out.push(...basicBlock(filters));
  }
  out.push({ kind: 'globalAvgPool' });
  return out;
}

export const resnetTrain: WorkloadDef<P> = {
  id: 'resnet-train',
  probes:
    'a residual conv net trained with momentum SGD: convolution algorithm choice and weight-gradient reductions, batch-norm statistics (batch reductions and running averages) and the global-average-pool backward, compounded over steps',
  tolerance: { relL2: 1e-4 },
  presets: {
    quick: { size: 8, channels: 3, width: 4, stages: 2, blocks: 1, classes: 10, batch: 4, steps: 3, evalExamples: 32 },
    standard: { size: 8, channels: 3, width: 8, stages: 2, blocks: 1, classes: 10, batch: 8, steps: 10, evalExamples: 64 },
    // CIFAR-sized: 32×32×3, widths 64/128/256, 2 blocks per stage, batch 128 (see `detbench workloads --json`)
    gpu: { size: 32, channels: 3, width: 64, stages: 3, blocks: 2, classes: 10, batch: 128, steps: 8, evalExamples: 256 },
  },
  build: (p) => ({
    kind: 'train',
    input: { shape: [p.size, p.size, p.channels], dtype: 'float32' },
    classes: p.classes,
    layers: layers(p),
    batch: p.batch,
    steps: p.steps,
    learningRate: 0.05,
    optimizer: { kind: 'momentum', momentum: 0.9, weightDecay: 5e-4 },
    schedule: { kind: 'warmupCosine', warmupSteps: Math.max(1, Math.floor(p.steps / 10)), minFactor: 0 },
    teacher: { width: 8, hidden: 32 },
    evalExamples: p.evalExamples,
  }),
};
