import type { Layer, WorkloadDef } from './types.js';

type P = { vocab: number; seq: number; dim: number; heads: number; blocks: number; classes: number; batch: number; steps: number; evalExamples: number };

/** One pre-LN GPT block: x + attention(LN(x)), then x + MLP(LN(x)) with a 4× GELU hidden layer. */
const block = (p: P): Layer[] => [
  { kind: 'residual', layers: [{ kind: 'layerNorm' }, { kind: 'selfAttention', heads: p.heads }] },
  { kind: 'residual', layers: [{ kind: 'layerNorm' }, { kind: 'dense', units: 4 * p.dim, activation: 'gelu' }, { kind: 'dense', units: p.dim, activation: 'none' }] },
];

export const transformerTrain: WorkloadDef<P> = {
  id: 'transformer-train',
  probes:
    'a GPT-style decoder trained with AdamW: attention backward (softmax and the QKᵀ/AV products), layer-norm reductions, GELU, embedding-gradient scatter-adds and the global-norm reduction of clipping, compounded over steps',
  tolerance: { relL2: 1e-4 },
  presets: {
    quick: { vocab: 16, seq: 8, dim: 16, heads: 2, blocks: 1, classes: 8, batch: 8, steps: 4, evalExamples: 16 },
    standard: { vocab: 32, seq: 16, dim: 32, heads: 2, blocks: 2, classes: 16, batch: 8, steps: 16, evalExamples: 32 },
    // 6 blocks, d = 512, batch 32 × 256 tokens: ≈ 1 TFLOP per step (see `detbench workloads --json`)
    gpu: { vocab: 1024, seq: 256, dim: 512, heads: 8, blocks: 6, classes: 64, batch: 32, steps: 4, evalExamples: 32 },
  },
  build: (p) => ({
    kind: 'train',
    input: { shape: [p.seq], dtype: 'int32', vocab: p.vocab, skew: 1 },
    classes: p.classes,
    layers: [
      { kind: 'embedding', vocab: p.vocab, dim: p.dim },
      { kind: 'positionEmbedding', length: p.seq },
      { kind: 'dropout', rate: 0.1 },
      ...Array.from({ length: p.blocks }, () => block(p)).flat(),
      { kind: 'layerNorm' },
    ],
    batch: p.batch,
    steps: p.steps,
    learningRate: 3e-3,
    optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
    schedule: { kind: 'warmupCosine', warmupSteps: Math.max(1, Math.floor(p.steps / 10)), minFactor: 0.1 },
    clipNorm: 1,
    // each token's label depends on it and the 3 tokens before it: attention has to learn to look back
    teacher: { width: 16, hidden: 32, window: 4 },
    evalExamples: p.evalExamples,
  }),
};
