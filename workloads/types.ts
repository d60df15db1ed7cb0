/**
 * A workload is data: shapes, layers, steps, optimizer, tolerance and what nondeterminism it probes,
 * built from the primitives below. Every backend compiles these primitives; adding a workload never
 * means editing a backend, adding a primitive means one rule per backend family (forward, and for
 * ONNX the gradient).
 *
 * The doc comment of each primitive is its exact definition: every backend, and the float64 oracle
 * (torch in float64 on the CPU), computes what it says. Backends may order float32 operations their
 * own way (that is what detbench measures); they may not change the formula.
 *
 * Conventions shared by every primitive:
 * - Layouts: one example is `input.shape` (features [F], an image [H, W, C] (NHWC), or token ids [S]);
 *   a batch adds a leading axis. Shapes below are per example.
 * - Parameters and state are named by the layer's path: top-level layer i is `l<i>`, layer j inside
 *   the residual layer `l<i>` is `l<i>.<j>`, and so on; the head is `head` (workloads/params.ts lists
 *   every name, shape and initialiser in order).
 * - Training is full-batch per step on harness inputs: `x` [steps, batch, …input], `y` [steps, batch]
 *   (one class per example) or [steps, batch, S] (one class per token, for models whose output keeps
 *   the sequence axis), `lr` [steps] (the learning rate of each step, see Schedule), dropout masks
 *   (see the dropout layer), and a held-out evaluation set `xEval` [evalExamples, …input], `yEval`.
 */

export const LAYER_KINDS = [
  'dense', 'conv2d', 'pool', 'flatten', 'embedding', 'meanPool',
  'positionEmbedding', 'layerNorm', 'batchNorm', 'activation', 'dropout', 'selfAttention', 'residual', 'globalAvgPool',
] as const;
export type LayerKind = (typeof LAYER_KINDS)[number];

/**
 * - `relu`: max(x, 0).
 * - `gelu`: the tanh form of GELU (Hendrycks & Gimpel 2016, the form GPT-2 uses; torch
 *   `gelu(x, approximate='tanh')`): gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with
 *   √(2/π) = 0.7978845608028654. The erf form is not used: it needs an erf kernel, which tfjs computes
 *   with a 1.5e-7 approximation and ONNX opset 17 has only as Erf.
 * - `none`: the identity.
 */
export type Activation = 'relu' | 'gelu' | 'none';

export type Layer =
  /**
   * y = act(x·W + b) on the last axis: W [in, units] (`.w`), b [units] (`.b`, absent when `bias` is
   * false). On [S, in] it applies to every token.
   */
  | { kind: 'dense'; units: number; activation: Activation; bias?: boolean }
  /**
   * y = act(conv(x, W) + b): stride 1, "same" zero padding, NHWC; W [k, k, cin, filters] (`.w`),
   * b [filters] (`.b`, absent when `bias` is false, e.g. before a batchNorm).
   */
  | { kind: 'conv2d'; filters: number; kernel: number; activation: Activation; bias?: boolean }
  /** Non-overlapping `size`×`size` max or average pooling of [H, W, C] ("valid": a remainder is dropped). */
  | { kind: 'pool'; op: 'max' | 'avg'; size: number }
  /** [H, W, C] → [H·W·C] in NHWC order. */
  | { kind: 'flatten' }
  /** Token ids [S] → rows of the table T [vocab, dim] (`.table`): [S, dim]. */
  | { kind: 'embedding'; vocab: number; dim: number }
  /** [S, D] → [D]: the mean over the sequence axis. */
  | { kind: 'meanPool' }
  /** [S, D] → [S, D]: adds a learned position table P [S, D] (`.table`): y[s] = x[s] + P[s]. `length` = S. */
  | { kind: 'positionEmbedding'; length: number }
  /**
   * Layer normalisation (Ba et al. 2016) over the last axis of each example (and each token):
   * y = (x − μ)/√(σ² + ε)·γ + β, μ the mean and σ² the biased variance (mean of squared deviations)
   * over the last axis, ε = 1e-5 (LAYER_NORM_EPSILON); γ (`.gamma`, ones) and β (`.beta`, zeros) [D].
   * The same in training and evaluation.
   */
  | { kind: 'layerNorm' }
  /**
   * Batch normalisation (Ioffe & Szegedy 2015) of [H, W, C] (or [D]) per channel, PyTorch's
   * definition. Training: μ and σ² are the mean and biased variance over batch, height and width
   * (n = batch·H·W values per channel); y = (x − μ)/√(σ² + ε)·γ + β, ε = 1e-5 (BATCH_NORM_EPSILON);
   * γ (`.gamma`, ones) and β (`.beta`, zeros) [C] are trained. The running statistics are state, not
   * trained, and part of the artifact: `.runningMean` (starts at 0) and `.runningVar` (starts at 1)
   * [C], updated after each training forward pass as
   *   runningMean ← (1 − m)·runningMean + m·μ,  runningVar ← (1 − m)·runningVar + m·σ²·n/(n − 1),
   * m = 0.1 (BATCH_NORM_MOMENTUM; the variance in the update is the unbiased one). Evaluation
   * normalises with the running statistics instead of μ and σ².
   */
  | { kind: 'batchNorm' }
  /** An activation on its own, e.g. after a batchNorm. */
  | { kind: 'activation'; fn: Exclude<Activation, 'none'> }
  /**
   * Inverted dropout with a mask from the harness, never from a backend RNG. Training step s:
   * y = x · M[s], M the input `dropout.<path>` [steps, batch, …shape here] whose elements are 0
   * (dropped) or fl32(1/(1 − rate)) (kept), so the layer is one float32 multiply on every backend.
   * Element e of step s is dropped iff u < rate, u the e-th uniform of the Philox stream keyed by
   * (workload, seed, `dropout.<path>.step<s>`): the mask of each (seed, step, layer) is its own
   * stream and identical on every backend (workloads/inputs.ts). Evaluation: the identity.
   */
  | { kind: 'dropout'; rate: number }
  /**
   * Causal multi-head self-attention on [S, D] (Vaswani et al. 2017; GPT-2's layer). With
   * Wq, Wk, Wv, Wo [D, D] (`.wq` …) and bq, bv, bo [D] (`.bq`, `.bv`, `.bo`): Q = x·Wq + bq,
   * K = x·Wk (no key bias: it adds a per-row constant q·bk to the scores, which softmax ignores, so its
   * gradient is rounding noise alone, and an optimizer such as Adam turns that noise into updates of
   * full size — a parameter that differs between backends by 100% and changes nothing), V = x·Wv + bv;
   * head h (0 ≤ h < heads) takes columns [h·dh, (h + 1)·dh) of each, dh = D/heads;
   * A_h = softmax(Q_h·K_hᵀ/√dh + C) row-wise, C[i][j] = 0 for j ≤ i and −∞ for j > i (a token sees
   * itself and earlier tokens: masked weights are exactly 0; any additive constant ≤ −1e9 gives the
   * same result in float32 and float64); O = concat_h(A_h·V_h) (head h in columns [h·dh, (h+1)·dh));
   * y = O·Wo + bo. No dropout inside.
   */
  | { kind: 'selfAttention'; heads: number }
  /** y = x + f(x), f the inner layers in order (they must keep the shape). Names: `l<i>.<j>`. */
  | { kind: 'residual'; layers: Layer[] }
  /** [H, W, C] → [C]: the mean over height and width (a plain mean, whose gradient has deterministic kernels). */
  | { kind: 'globalAvgPool' };

export const LAYER_NORM_EPSILON = 1e-5;
export const BATCH_NORM_EPSILON = 1e-5;
export const BATCH_NORM_MOMENTUM = 0.1;
/** √(2/π), the constant of the tanh form of GELU. */
export const GELU_SQRT_2_OVER_PI = 0.7978845608028654;
export const GELU_CUBIC = 0.044715;

/**
 * The update rule applied to every trainable parameter w with gradient g (after clipping) at step
 * t = 1, 2, … with learning rate η_t = lr[t − 1]. Optimizer state (velocity, moments) starts at 0
 * and is not part of the artifact.
 * - `sgd`: w ← w − η_t·g.
 * - `momentum` (PyTorch's SGD with momentum, dampening 0, not Nesterov): g' = g + λ·w (coupled L2
 *   weight decay, λ = weightDecay, every parameter); v ← μ·v + g'; w ← w − η_t·v (μ = momentum).
 * - `adamw` (Loshchilov & Hutter 2019; PyTorch's AdamW): w ← w − η_t·λ·w (decoupled weight decay,
 *   every parameter, applied first); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 *   m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t) (bias correction); w ← w − η_t·m̂/(√v̂ + ε).
 */
export type Optimizer =
  | { kind: 'sgd' }
  | { kind: 'momentum'; momentum: number; weightDecay: number }
  | { kind: 'adamw'; beta1: number; beta2: number; epsilon: number; weightDecay: number };

/**
 * The learning rate of each step, computed once by the harness in float64 with exactly rounded
 * operations only (workloads/schedule.ts), rounded to float32 and handed to every backend as the
 * input `lr` [steps]: η = learningRate, T = steps, step index t = 0 … T − 1.
 * - `constant`: η_t = η.
 * - `warmupCosine`: η_t = η·(t + 1)/W for t < W (linear warm-up over W = warmupSteps steps), then
 *   η_t = η_min + (η − η_min)·(1 + cos(π·(t − W)/(T − W)))/2, η_min = η·minFactor (cosine decay).
 */
export type Schedule = { kind: 'constant' } | { kind: 'warmupCosine'; warmupSteps: number; minFactor: number };

/**
 * The teacher network that labels every training and evaluation example (teacher–student): a fixed
 * network with Philox weights keyed by (workload, 0, `teacher.*`) — the task, like the held-out set, is
 * the same for every seed; the seed draws initial weights, training examples and dropout masks —,
 * evaluated by the harness in float64 with exactly rounded operations only, so labels are the same
 * bits on every machine (workloads/teacher.ts).
 * Per prediction unit it forms a feature vector f, then logits = W2ᵀ·softsign(W1ᵀ·f) with W1
 * [width, hidden] (normal/√width), W2 [hidden, classes] (normal), softsign(z) = z/(1 + |z|) (odd, so
 * the classes come out balanced), and the label is the first index of the largest logit. f is:
 * - features [F]: the example itself (width = F);
 * - an image [H, W, C]: Σ over positions of softsign(conv3×3(x, K)) / √(H·W), "same" zero padding,
 *   K [3, 3, C, width] (normal/√(9C));
 * - tokens, one label per example: Σ_s E0[x_s] / √S, E0 [vocab, width] (normal);
 * - tokens, one label per token s: Σ_{j < window, j ≤ s} E_j[x_{s−j}], tables E_j [vocab, width]
 *   (normal/√window): a causal window of the last `window` tokens.
 */
export interface Teacher {
  width: number;
  hidden: number;
  /** Token models with one label per token: how many tokens back the label depends on. */
  window?: number;
}

/**
 * A model trained with mean softmax cross-entropy from harness-generated weights. The model is
 * `layers` then the head: logits = h·W + b on the last axis (W `head.w` [D, classes], b `head.b`),
 * where h is [D] (one prediction per example) or [S, D] (one per token). The loss of a step is the
 * mean over its prediction units of −log softmax(logits)[label].
 *
 * A training step: forward (training mode), gradients of the loss, global-norm clipping when
 * `clipNorm` is set — g ← g·min(1, c/(‖g‖ + 1e-6)), ‖g‖ the L2 norm over every parameter's gradient
 * together, PyTorch's clip_grad_norm_ —, then the optimizer with η_t = lr[t].
 *
 * After the last step the model is evaluated on `xEval` (evaluation mode: dropout off, batchNorm on
 * its running statistics): its logits [evalExamples, (S,) classes] give the evaluation loss, the
 * accuracy against `yEval` and the predicted classes (for prediction churn between runs).
 */
export interface TrainSpec {
  kind: 'train';
  /** Per-example input shape; `int32` inputs are token ids in [0, vocab). */
  input: { shape: number[]; dtype: 'float32' } | { shape: number[]; dtype: 'int32'; vocab: number; skew: number };
  classes: number;
  layers: Layer[];
  batch: number;
  steps: number;
  /** η: the base learning rate (of every step with the constant schedule). */
  learningRate: number;
  /** Default `{ kind: 'sgd' }`. */
  optimizer?: Optimizer;
  /** Default `{ kind: 'constant' }`. */
  schedule?: Schedule;
  /** Global-norm gradient clipping threshold c; none when absent. */
  clipNorm?: number;
  /** Who labels the data. */
  teacher: Teacher;
  /** Size of the held-out evaluation set (examples). */
  evalExamples: number;
  /** Gradients computed per shard in worker threads and all-reduced by the harness. */
  dataParallel?: { shards: number; workers: number };
  /** Training batches `x`, `y` delivered by a data loader with random augmentation (see Loader). */
  loader?: Loader;
}

/**
 * A data loader: training batches built from a dataset by random augmentation (workloads/loader.ts
 * computes it). The input is an image [H, W, C] (`input.shape`).
 * - Dataset: `examples` source images [H + 2·pad, W + 2·pad, C], Philox normals keyed by (workload,
 *   seed, `dataset`); image i's label is the teacher's label of its centre crop (offset pad, pad).
 * - Order: epoch e visits the images in a Fisher–Yates permutation drawn from the uniforms keyed by
 *   (workload, seed, `loader.order.e<e>`) (for j = N − 1 … 1, swap j with ⌊u_j·(j + 1)⌋); training
 *   step s takes positions [s·batch, (s + 1)·batch) of the epochs laid end to end — the same order
 *   in both modes, as a seeded sampler gives.
 * - Augmentation of one sample from one draw: three uniforms u (keyed by the draw's name + `.u`) give
 *   the crop offsets dy = ⌊u0·(2·pad + 1)⌋, dx = ⌊u1·(2·pad + 1)⌋ and a horizontal flip iff u2 < ½;
 *   H·W·C normals z (keyed by the draw's name + `.noise`) the noise fl32(z·noiseStd); the sample is
 *   x[h][w][c] = fl32(src[dy + h][dx + w'][c] + noise[h][w][c]), w' = W − 1 − w when flipped, else w.
 * - Whose draws: `det` keys each sample's draw by (seed, epoch, image index): `loader.e<e>.i<i>`, and
 *   assembles batches in step order, so any worker count gives the same batches. `nondet` is what most
 *   loaders do: each worker (the calling thread when there are none) draws from its own generator,
 *   seeded from the seed and its worker id — its k-th sample is draw `loader.worker<w>.draw<k>`
 *   (`loader.main.draw<k>` without workers) —, batch b goes to worker b mod workers, and batches are
 *   used in the order they arrive.
 */
export interface Loader {
  examples: number;
  pad: number;
  noiseStd: number;
}

export const INFER_OPS = ['attention', 'reduceSum', 'matmul', 'indexAdd', 'atomicSum', 'forward'] as const;
export type InferOp = (typeof INFER_OPS)[number];

export type InferSpec =
  /**
   * softmax(q·kᵀ/√dim)·v per head, not masked: k, v [heads, seq, dim], q [heads, queries, dim]
   * (`queries` defaults to seq; fewer are the query rows of one batch, workloads/batching.ts).
   */
  | { kind: 'infer'; op: 'attention'; heads: number; seq: number; dim: number; queries?: number }
  | { kind: 'infer'; op: 'reduceSum'; length: number }
  | { kind: 'infer'; op: 'matmul'; m: number; k: number; n: number }
  /** out[b] = Σ src[i] over i with index[i] = b: a scatter-add (index_add_, unsortedSegmentSum). */
  | { kind: 'infer'; op: 'indexAdd'; length: number; buckets: number; skew: number }
  /** One float sum accumulated by a WGSL kernel with atomic compare-exchange (WebGPU backends only). */
  | { kind: 'infer'; op: 'atomicSum'; length: number }
  /**
   * A model's forward pass in evaluation mode (TrainSpec: dropout off, batchNorm on its running
   * statistics) at its initial weights — the inputs named like a training artifact's tensors —, on
   * its held-out set `xEval` [model.evalExamples, …input]: logits [units, classes], units the
   * examples (or examples × tokens) in order. Nothing is trained: `steps`, `batch` and the optimizer
   * of `model` are not used.
   */
  | { kind: 'infer'; op: 'forward'; model: TrainSpec };

export type WorkloadSpec = TrainSpec | InferSpec;

/**
 * How close a det artifact must be to the reference backend's, and to the float64 oracle's: ‖a − b‖₂ /
 * ‖r‖₂ ≤ relL2, where r is the reference output, or, with `relativeTo: 'magnitudes'` (outputs that are
 * sums whose terms may cancel, such as a sum of zero-mean inputs), the same sums taken over the terms'
 * magnitudes (Σ|x| for one sum). harness/analysis/tolerance.ts says why and judges. Set per workload
 * from measured headroom (README, Workloads).
 */
export interface Tolerance {
  relL2: number;
  relativeTo?: 'output' | 'magnitudes';
}

export type SizeParams = Record<string, number>;

export const PRESETS = ['quick', 'standard', 'gpu'] as const;
export type Preset = (typeof PRESETS)[number];

export interface WorkloadDef<P extends SizeParams = SizeParams> {
  id: string;
  /** One sentence: what nondeterminism this workload probes. */
  probes: string;
  tolerance: Tolerance;
  /**
   * Small defaults (the quick suite, seconds on a CPU), a larger preset (standard), and `gpu`: sized
   * so a GPU meets the kernels where nondeterminism lives (split-K GEMMs, convolution algorithm
   * choice, large scatters); too slow for CPU cells unless asked for (`--allow-slow`).
   */
  presets: Record<Preset, P>;
  build(params: P): WorkloadSpec;
  /**
   * A negative control: expected to differ run to run without determinism — on every device
   * (`always`), or on GPUs only (`gpu`: float atomics, which CPUs run in a fixed order).
   */
  negativeControl?: NegativeControlScope;
  /** Needs a GPU programming model (e.g. a WGSL kernel): left out of suites unless named. */
  gpuOnly?: boolean;
}

export type NegativeControlScope = 'always' | 'gpu';

/** Whether a plan device is a GPU (backends name CPU devices `cpu`). */
/** Elements of a tensor of this shape (1 for a scalar's []). */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export const isGpuDevice = (device: string): boolean => device !== 'cpu';

/** Whether a workload is a negative control on this device. */
export const isNegativeControlOn = (scope: NegativeControlScope | undefined | false, device: string): boolean =>
  scope === 'always' || (scope === 'gpu' && isGpuDevice(device));

/** A workload resolved for one suite: id, its size parameters and the spec built from them. */
export interface ResolvedWorkload {
  id: string;
  params: SizeParams;
  spec: WorkloadSpec;
  tolerance: Tolerance;
  negativeControl: NegativeControlScope | false;
}

/** A named tensor a run needs: shape, dtype and the harness-generated bytes. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

/**
 * How a parameter or state tensor starts: `he` normal·√(2/fanIn), `embedding` normal·1/√dim (tables),
 * `zeros`, `ones`. Random ones come from Philox keyed by (workload, seed, name).
 */
export type Init = 'he' | 'embedding' | 'zeros' | 'ones';

/** Shapes of a model's trainable parameters (or state), in order: [name, shape, how it starts]. */
export type ParamShapes = Array<[string, number[], Init]>;
