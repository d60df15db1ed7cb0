/**
 * The rule table: for every workload primitive, a forward rule (the ONNX nodes that compute it) and a
 * gradient rule (the ONNX nodes that compute the gradients of its inputs from those of its outputs);
 * and for every optimizer, its update as ONNX nodes. onnx-grad.ts differentiates with these rules;
 * onnx-model.ts lowers workloads to these primitives.
 *
 * Op choices hold for onnxruntime's CPU, WebGPU and CUDA providers alike. The WebGPU provider (as
 * bundled with onnxruntime-node 1.30, checked on lavapipe) has no LogSoftmax, and no kernel takes the
 * int64 indices ArgMax returns (Cast, Equal), so log-softmax is written out and max-pool's gradient
 * finds the first maximum of each window with Equal and a MatMul by a triangular matrix. There is no
 * standard ONNX op for a convolution's weight gradient: it is a Conv over the batch axis (input and
 * output gradient transposed), and the input gradient is a ConvTranspose.
 */
import { GELU_CUBIC, GELU_SQRT_2_OVER_PI, type Optimizer as OptimizerSpec } from '../../../workloads/types.js';
import { GraphBuilder, sizeOf, type Value } from './onnx-graph.js';

/** What a gradient rule sees of its primitive's forward application. */
export interface RuleContext<A> {
  inputs: Value[];
  outputs: Value[];
  /** Intermediate values the forward rule kept for the gradient rule. */
  saved: Record<string, Value>;
  attrs: A;
  /** Which inputs need a gradient (the others may be left null). */
  needs: boolean[];
}

export interface Rule<A> {
  forward(g: GraphBuilder, inputs: Value[], attrs: A): { outputs: Value[]; saved?: Record<string, Value> };
  backward(g: GraphBuilder, ctx: RuleContext<A>, dOutputs: Array<Value | null>): Array<Value | null>;
}

/** Every primitive and its attributes. */
export interface PrimitiveAttrs {
  matmul: Record<string, never>;
  add: Record<string, never>;
  sub: Record<string, never>;
  mul: Record<string, never>;
  /** x · factor. */
  scale: { factor: number };
  relu: Record<string, never>;
  /** The tanh form of GELU: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (workloads/types.ts). */
  gelu: Record<string, never>;
  /**
   * (x − μ)/√(σ² + ε) over `axes` (μ the mean, σ² the biased variance): layer norm over the last axis,
   * batch norm over batch and space. Outputs [normalised, μ, σ²] (μ and σ² keep their axes, for
   * batch norm's running statistics; they take no gradient).
   */
  normalize: { axes: number[]; epsilon: number };
  transpose: { perm: number[] };
  reshape: { shape: number[] };
  /** NCHW input, OIHW weights; pads [top, left, bottom, right]. */
  conv2d: { strides: [number, number]; pads: [number, number, number, number] };
  /** Non-overlapping size × size windows, stride = size, no padding (NCHW); a tie goes to the first maximum in row-major window order. */
  maxPool: { size: number };
  avgPool: { size: number };
  /** Rows of a table ([vocab, dim]) gathered by integer ids. */
  embedding: Record<string, never>;
  /** Mean over axes (which go away). */
  mean: { axes: number[] };
  /** Sum over axes. */
  reduceSum: { axes: number[]; keepdims: boolean };
  /** Mean softmax cross-entropy of logits [batch, classes] against one-hot labels: a scalar. */
  softmaxCrossEntropy: Record<string, never>;
  /** softmax(q·kᵀ·scale [+ causal mask])·v over [..., seq, dim]. */
  attention: { scale: number; causal: boolean };
  /** out[b] = Σ src[i] over i with index[i] = b. */
  indexAdd: { buckets: number };
}
export type PrimitiveName = keyof PrimitiveAttrs;

// ---- helpers shared by the rules ----

/** The gradient of a broadcast: `d` summed down to `shape`. */
export function unbroadcast(g: GraphBuilder, d: Value, shape: readonly number[]): Value {
  const lead = d.shape.length - shape.length;
  const axes = d.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && d.shape[i] !== 1));
  return g.reshape(axes.length ? g.reduceSum(d, axes, true) : d, shape);
}

const swapLast = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
const inverse = (perm: number[]) => perm.map((_, i) => perm.indexOf(i));

/** 1 where i < j: m·U counts, for each position, the maxima before it in the window. */
function strictlyUpper(n: number): number[] {
  return Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) < k % n ? 1 : 0));
}

/** [N, C, Ho·s, Wo·s] windows of x (cropped) as [N, C, Ho, Wo, s·s]. */
function windows(g: GraphBuilder, x: Value, s: number): Value {
  const [n, c, h, w] = x.shape;
  const ho = Math.floor(h / s), wo = Math.floor(w / s);
  const crop = ho * s === h && wo * s === w ? x : g.slice(x, [0, 0], [ho * s, wo * s], [2, 3]);
  return g.reshape(g.transpose(g.reshape(crop, [n, c, ho, s, wo, s]), [0, 1, 2, 4, 3, 5]), [n, c, ho, wo, s * s]);
}

/** The inverse of `windows`: [N, C, Ho, Wo, s·s] back to [N, C, H, W], zeros where the crop dropped rows. */
function unwindows(g: GraphBuilder, d: Value, s: number, like: readonly number[]): Value {
  const [n, c, ho, wo] = d.shape;
  const full = g.reshape(g.transpose(g.reshape(d, [n, c, ho, wo, s, s]), [0, 1, 2, 4, 3, 5]), [n, c, ho * s, wo * s]);
  return g.pad(full, [0, 0, 0, 0, 0, 0, like[2] - ho * s, like[3] - wo * s]);
}

export const RULES: { [K in PrimitiveName]: Rule<PrimitiveAttrs[K]> } = {
  matmul: {
    forward: (g, [a, b]) => ({ outputs: [g.matmul(a, b)] }),
    backward(g, { inputs: [a, b], needs }, [d]) {
      const da = needs[0] ? unbroadcast(g, g.matmul(d!, g.transpose(b, swapLast(b.shape.length))), a.shape) : null;
      let db: Value | null = null;
      if (needs[1]) {
        if (b.shape.length === 2 && a.shape.length > 2) {
          // a shared weight: fold the leading axes into one product instead of a batch of them
          const k = a.shape.at(-1)!, n = d!.shape.at(-1)!, rows = sizeOf(a.shape) / k;
          db = g.matmul(g.transpose(g.reshape(a, [rows, k]), [1, 0]), g.reshape(d!, [rows, n]));
        } else {
          db = unbroadcast(g, g.matmul(g.transpose(a, swapLast(a.shape.length)), d!), b.shape);
        }
      }
      return [da, db];
    },
  },

  add: {
    forward: (g, [a, b]) => ({ outputs: [g.add(a, b)] }),
    backward: (g, { inputs: [a, b], needs }, [d]) => [needs[0] ? unbroadcast(g, d!, a.shape) : null, needs[1] ? unbroadcast(g, d!, b.shape) : null],
  },

  sub: {
    forward: (g, [a, b]) => ({ outputs: [g.sub(a, b)] }),
    backward: (g, { inputs: [a, b], needs }, [d]) => [needs[0] ? unbroadcast(g, d!, a.shape) : null, needs[1] ? unbroadcast(g, g.neg(d!), b.shape) : null],
  },

  mul: {
    forward: (g, [a, b]) => ({ outputs: [g.mul(a, b)] }),
    backward: (g, { inputs: [a, b], needs }, [d]) => [
      needs[0] ? unbroadcast(g, g.mul(d!, b), a.shape) : null,
      needs[1] ? unbroadcast(g, g.mul(d!, a), b.shape) : null,
    ],
  },

  scale: {
    forward: (g, [x], { factor }) => ({ outputs: [g.mul(x, g.scalar(factor))] }),
    backward: (g, { attrs }, [d]) => [g.mul(d!, g.scalar(attrs.factor))],
  },

  relu: {
    forward: (g, [x]) => ({ outputs: [g.relu(x)] }),
    // relu'(0) = 0, as tfjs and torch have it
    backward: (g, { inputs: [x] }, [d]) => [g.where(g.greater(x, g.scalar(0)), d!, g.scalar(0))],
  },

  gelu: {
    forward(g, [x]) {
      const inner = g.mul(g.add(x, g.mul(g.scalar(GELU_CUBIC), g.mul(g.mul(x, x), x))), g.scalar(GELU_SQRT_2_OVER_PI));
      const t = g.tanh(inner);
      return { outputs: [g.mul(g.mul(g.scalar(0.5), x), g.add(g.scalar(1), t))], saved: { t } };
    },
    backward(g, { inputs: [x], saved: { t } }, [d]) {
      // d/dx = ½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(√(2/π)(x + 0.044715·x³))
      const sech2 = g.sub(g.scalar(1), g.mul(t, t));
      const dInner = g.mul(g.scalar(GELU_SQRT_2_OVER_PI), g.add(g.scalar(1), g.mul(g.scalar(3 * GELU_CUBIC), g.mul(x, x))));
      const slope = g.add(g.mul(g.scalar(0.5), g.add(g.scalar(1), t)), g.mul(g.mul(g.scalar(0.5), x), g.mul(sech2, dInner)));
      return [g.mul(d!, slope)];
    },
  },

  normalize: {
    forward(g, [x], { axes, epsilon }) {
      const mean = g.reduceMean(x, axes, true);
      const centred = g.sub(x, mean);
      const variance = g.reduceMean(g.mul(centred, centred), axes, true);
      const std = g.sqrt(g.add(variance, g.scalar(epsilon)));
      return { outputs: [g.div(centred, std), mean, variance], saved: { std } };
    },
    backward(g, { outputs: [xhat], saved: { std }, attrs: { axes } }, [d, dMean, dVar]) {
      if (dMean || dVar) throw new Error('normalize: the statistics outputs take no gradient');
      // dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))/σ, means over the normalised axes (Ioffe & Szegedy 2015, §3)
      const mean = (v: Value) => g.reduceMean(v, axes, true);
      return [g.div(g.sub(g.sub(d!, mean(d!)), g.mul(xhat, mean(g.mul(d!, xhat)))), std)];
    },
  },

  transpose: {
    forward: (g, [x], { perm }) => ({ outputs: [g.transpose(x, perm)] }),
    backward: (g, { attrs }, [d]) => [g.transpose(d!, inverse(attrs.perm))],
  },

  reshape: {
    forward: (g, [x], { shape }) => ({ outputs: [g.reshape(x, shape)] }),
    backward: (g, { inputs: [x] }, [d]) => [g.reshape(d!, x.shape)],
  },

  conv2d: {
    forward: (g, [x, w], { strides, pads }) => ({ outputs: [g.conv(x, w, { strides, pads })] }),
    backward(g, { inputs: [x, w], attrs: { strides, pads }, needs }, [d]) {
      const [, , h, wd] = x.shape;
      const [, , kh, kw] = w.shape;
      const [ho, wo] = d!.shape.slice(2);
      let dx: Value | null = null;
      if (needs[0]) {
        // rows of x past the last window get no gradient: output_padding restores x's size
        const outputPadding = [h - (strides[0] * (ho - 1) + kh - pads[0] - pads[2]), wd - (strides[1] * (wo - 1) + kw - pads[1] - pads[3])];
        dx = g.convTranspose(d!, w, { strides, pads, outputPadding });
      }
      let dw: Value | null = null;
      if (needs[1]) {
        // dW[o,i,a,b] = Σ_n Σ_y,x dY[n,o,y,x]·Xpad[n,i,a+s·y,b+s·x]: a convolution over the batch axis with dY
        // as the kernel, dilated by the stride
        const full = g.conv(g.transpose(x, [1, 0, 2, 3]), g.transpose(d!, [1, 0, 2, 3]), { strides: [1, 1], pads, dilations: strides });
        const cropped = full.shape[2] === kh && full.shape[3] === kw ? full : g.slice(full, [0, 0], [kh, kw], [2, 3]);
        dw = g.transpose(cropped, [1, 0, 2, 3]);
      }
      return [dx, dw];
    },
  },

  maxPool: {
    forward: (g, [x], { size }) => ({ outputs: [g.pool('MaxPool', x, size)] }),
    backward(g, { inputs: [x], outputs: [y], attrs: { size } }, [d]) {
      // the gradient goes to the first maximum of each window in row-major order (tfjs and torch do the same)
      const win = windows(g, x, size);
      const isMax = g.cast(g.equal(win, g.reshape(y, [...y.shape, 1])), 'float32');
      const before = g.matmul(isMax, g.shared(`strictly upper ${size * size}`, () => g.constant(strictlyUpper(size * size), [size * size, size * size])));
      const first = g.greater(g.where(g.equal(before, g.scalar(0)), isMax, g.scalar(0)), g.scalar(0));
      // Where, not a product with the mask: the others get +0, as in tfjs (0 · −x would be −0)
      return [unwindows(g, g.where(first, g.reshape(d!, [...d!.shape, 1]), g.scalar(0)), size, x.shape)];
    },
  },

  avgPool: {
    forward: (g, [x], { size }) => ({ outputs: [g.pool('AveragePool', x, size)] }),
    backward(g, { inputs: [x], attrs: { size } }, [d]) {
      const share = g.mul(d!, g.scalar(1 / (size * size)));
      return [unwindows(g, g.expand(g.reshape(share, [...d!.shape, 1]), [...d!.shape, size * size]), size, x.shape)];
    },
  },

  embedding: {
    forward: (g, [table, ids]) => ({ outputs: [g.gather(table, ids, 0)] }),
    backward(g, { inputs: [table, ids] }, [d]) {
      // a scatter-add of the rows' gradients, repeated ids accumulating in order (atomics on GPUs)
      const [vocab, dim] = table.shape;
      const rows = sizeOf(ids.shape);
      const index = g.expand(g.reshape(ids, [rows, 1]), [rows, dim]);
      return [g.scatterAdd(g.zeros([vocab, dim]), index, g.reshape(d!, [rows, dim]), 0), null];
    },
  },

  mean: {
    forward: (g, [x], { axes }) => ({ outputs: [g.reduceMean(x, axes, false)] }),
    backward(g, { inputs: [x], attrs: { axes } }, [d]) {
      const kept = x.shape.map((n, i) => (axes.includes(i) ? 1 : n));
      const count = sizeOf(axes.map((a) => x.shape[a]));
      return [g.expand(g.reshape(g.div(d!, g.scalar(count)), kept), x.shape)];
    },
  },

  reduceSum: {
    forward: (g, [x], { axes, keepdims }) => ({ outputs: [g.reduceSum(x, axes, keepdims)] }),
    backward(g, { inputs: [x], attrs: { axes } }, [d]) {
      const kept = x.shape.map((n, i) => (axes.includes(i) ? 1 : n));
      return [g.expand(g.reshape(d!, kept), x.shape)];
    },
  },

  softmaxCrossEntropy: {
    forward(g, [logits, onehot]) {
      // log-softmax written out (z − max − log Σ exp(z − max)): the WebGPU provider has no LogSoftmax
      const shifted = g.sub(logits, g.reduceMax(logits, [1], true));
      const logp = g.sub(shifted, g.log(g.reduceSum(g.exp(shifted), [1], true)));
      const loss = g.div(g.neg(g.reduceSum(g.mul(onehot, logp), [0, 1], false)), g.scalar(logits.shape[0]));
      return { outputs: [loss], saved: { logp } };
    },
    backward(g, { inputs: [logits, onehot], saved: { logp } }, [d]) {
      return [g.mul(g.sub(g.exp(logp), onehot), g.div(d!, g.scalar(logits.shape[0]))), null];
    },
  },

  attention: {
    forward(g, [q, k, v], { scale, causal }) {
      const rank = q.shape.length;
      let scores = g.mul(g.matmul(q, g.transpose(k, swapLast(rank))), g.scalar(scale));
      if (causal) {
        const s = q.shape[rank - 2];
        const allowed = g.shared(`causal ${s}`, () => {
          const mask = new Uint8Array(s * s);
          for (let i = 0; i < s; i++) mask.fill(1, i * s, i * s + i + 1);
          return g.constant(mask, [s, s], 'bool');
        });
        scores = g.where(allowed, scores, g.scalar(-Infinity));
      }
      const p = g.softmax(scores, -1);
      return { outputs: [g.matmul(p, v)], saved: { p } };
    },
    backward(g, { inputs: [q, k, v], saved: { p }, attrs: { scale }, needs }, [d]) {
      const rank = q.shape.length;
      const dv = needs[2] ? g.matmul(g.transpose(p, swapLast(rank)), d!) : null;
      const dp = g.matmul(d!, g.transpose(v, swapLast(rank)));
      // softmax backward: p ⊙ (dp − Σ dp ⊙ p); masked entries have p = 0 and get nothing
      const ds = g.mul(g.mul(p, g.sub(dp, g.reduceSum(g.mul(dp, p), [-1], true))), g.scalar(scale));
      const dq = needs[0] ? g.matmul(ds, k) : null;
      const dk = needs[1] ? g.matmul(g.transpose(ds, swapLast(rank)), q) : null;
      return [dq, dk, dv];
    },
  },

  indexAdd: {
    forward: (g, [src, index], { buckets }) => ({ outputs: [g.scatterAdd(g.zeros([buckets]), index, src, 0)] }),
    backward: (g, { inputs: [, index] }, [d]) => [g.gather(d!, index, 0), null],
  },
};

// ---- optimizers: the update of one parameter as ONNX nodes (workloads/types.ts, Optimizer) ----

export interface OptimizerStep {
  param: Value;
  /** The gradient, after clipping. */
  grad: Value;
  /** This parameter's optimizer state (fed back each step), by name. */
  state: Record<string, Value>;
  /** η_t, this step's learning rate (a per-step input). */
  learningRate: Value;
  /** Per-step scalar inputs the optimizer asked for (see `stepInputs`), by name. */
  stepInputs: Record<string, Value>;
}

export interface OptimizerRule<H> {
  /** The state one parameter carries, by name (zeros before the first step). */
  state: string[];
  /** Scalars that depend on the step t = 1, 2, … only, computed by the harness in float64 and fed each step. */
  stepInputs: Array<{ name: string; value: (hyper: H, t: number) => number }>;
  update(g: GraphBuilder, step: OptimizerStep, hyper: H): { param: Value; state: Record<string, Value> };
}

export type OptimizerKind = OptimizerSpec['kind'];
export type OptimizerHyper<K extends OptimizerKind> = Extract<OptimizerSpec, { kind: K }>;

/** β^t by repeated multiplication: exactly rounded float64 operations only, the same on every Node.js. */
function power(beta: number, t: number): number {
  let p = 1;
  for (let i = 0; i < t; i++) p *= beta;
  return p;
}

export const OPTIMIZERS: { [K in OptimizerKind]: OptimizerRule<OptimizerHyper<K>> } = {
  sgd: {
    state: [],
    stepInputs: [],
    update: (g, { param, grad, learningRate }) => ({ param: g.sub(param, g.mul(learningRate, grad)), state: {} }),
  },
  momentum: {
    state: ['velocity'],
    stepInputs: [],
    update(g, { param, grad, state, learningRate }, { momentum, weightDecay }) {
      // PyTorch's SGD: g' = g + λ·w; v ← μ·v + g'; w ← w − η·v (v starts at 0, so v₁ = g'₁ as torch has it)
      const decayed = weightDecay ? g.add(grad, g.mul(g.scalar(weightDecay), param)) : grad;
      const velocity = g.add(g.mul(g.scalar(momentum), state.velocity), decayed);
      return { param: g.sub(param, g.mul(learningRate, velocity)), state: { velocity } };
    },
  },
  adamw: {
    state: ['m', 'v'],
    stepInputs: [
      { name: 'adamw.bc1', value: ({ beta1 }, t) => 1 - power(beta1, t) },
      { name: 'adamw.bc2', value: ({ beta2 }, t) => 1 - power(beta2, t) },
    ],
    update(g, { param, grad, state, learningRate, stepInputs }, { beta1, beta2, epsilon, weightDecay }) {
      // Loshchilov & Hutter 2019: decoupled decay first, then Adam with bias correction
      const decayed = g.sub(param, g.mul(g.mul(learningRate, g.scalar(weightDecay)), param));
      const m = g.add(g.mul(g.scalar(beta1), state.m), g.mul(g.scalar(1 - beta1), grad));
      const v = g.add(g.mul(g.scalar(beta2), state.v), g.mul(g.scalar(1 - beta2), g.mul(grad, grad)));
      const mHat = g.div(m, stepInputs['adamw.bc1']);
      const vHat = g.div(v, stepInputs['adamw.bc2']);
      const stepSize = g.div(mHat, g.add(g.sqrt(vHat), g.scalar(epsilon)));
      return { param: g.sub(decayed, g.mul(learningRate, stepSize)), state: { m, v } };
    },
  },
};

/**
 * Global-norm clipping (PyTorch's clip_grad_norm_): every gradient times min(1, c/(‖g‖ + 1e-6)),
 * ‖g‖ the L2 norm of all gradients together (their squares summed per parameter, in order).
 */
export function clipByGlobalNorm(g: GraphBuilder, grads: Value[], clipNorm: number, onNorm?: (norm: Value) => void): Value[] {
  const squares = grads.map((d) => g.reduceSum(g.mul(d, d), d.shape.map((_, i) => i), false));
  const norm = g.sqrt(squares.reduce((a, b) => g.add(a, b)));
  onNorm?.(norm);
  const coef = g.div(g.scalar(clipNorm), g.add(norm, g.scalar(1e-6)));
  const factor = g.min(coef, g.scalar(1));
  return grads.map((d) => g.mul(d, factor));
}
