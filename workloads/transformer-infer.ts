import { transformerTrain } from './transformer-train.js';
import type { TrainSpec, WorkloadDef } from './types.js';

type P = { vocab: number; seq: number; dim: number; heads: number; blocks: number; classes: number; evalExamples: number };

export const transformerInfer: WorkloadDef<P> = {
  id: 'transformer-infer',
  probes:
    "transformer-train's GPT-style decoder in evaluation mode on a held-out set (the inference forward pass: embeddings, causal attention, layer norms, GELU MLPs, the head), at its initial weights; with --batch-sizes, whether a sequence's logits depend on how many are evaluated with it",
  tolerance: { relL2: 1e-5 },
  // the models of transformer-train's presets, with 128 held-out sequences (so batch sizes up to 128 apply)
  presets: {
    quick: { vocab: 16, seq: 8, dim: 16, heads: 2, blocks: 1, classes: 8, evalExamples: 128 },
    standard: { vocab: 32, seq: 16, dim: 32, heads: 2, blocks: 2, classes: 16, evalExamples: 128 },
    gpu: { vocab: 1024, seq: 256, dim: 512, heads: 8, blocks: 6, classes: 64, evalExamples: 128 },
  },
  // nothing is trained: one step of one example stands for transformer-train's unused training fields
  build: (p) => ({ kind: 'infer', op: 'forward', model: transformerTrain.build({ ...p, batch: 1, steps: 1 }) as TrainSpec }),
};
