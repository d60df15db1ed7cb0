/**
 * The rule table: for every workload primitive, a forward rule (the ONNX nodes that compute it) and a
 * gradient rule (the ONNX nodes that compute the gradients of its inputs from those of its outputs);
 * and for every optimizer, its update as ONNX nodes. onnx-grad.ts differentiates with these rules;
 * onnx-model.ts lowers workloads to these primitives.
 *
 * Op choices hold for onnxruntime's CPU, WebGPU and CUDA providers alike. The WebGPU provider (as
 * bundled with onnxruntime-node 1.30, checked on lavapipe) has no LogSoftmax and no ArgMax, so
 * log-softmax is written out and max-pool's gradient finds the first maximum of each window with
 * Equal and a MatMul by a triangular matrix. There is no standard ONNX op for a convolution's weight
 * gradient: it is a Conv over the batch axis (input and output gradient transposed), and the input
 * gradient is a ConvTranspose.
 */
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
  transpose: { perm: number[] };
  reshape: { shape: number[] };
  /** NCHW input, OIHW weights; pads [top, left, bottom, right]. */
  conv2d: { strides: [number, number]; pads: [number, number, number, number] };
  /** Non-overlapping size × size windows, stride = size, no padding (NCHW); a tie goes to the first maximum in row-major window order. */
  maxPool: { size: number };
  avgPool: { size: number };
  /** Rows of a table ([vocab, dim]) gathered by integer ids. */
  embedding: Record<string, never>;
  /** Mean over one axis (which goes away). */
  mean: { axis: number };
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
      const before = g.matmul(isMax, g.constant(strictlyUpper(size * size), [size * size, size * size]));
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
    forward: (g, [x], { axis }) => ({ outputs: [g.reduceMean(x, [axis], false)] }),
    backward(g, { inputs: [x], attrs: { axis } }, [d]) {
      const kept = x.shape.map((n, i) => (i === axis ? 1 : n));
      return [g.expand(g.reshape(g.div(d!, g.scalar(x.shape[axis])), kept), x.shape)];
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
        const allowed = g.constant(Array.from({ length: s * s }, (_, i) => (i % s <= Math.floor(i / s) ? 1 : 0)), [s, s], 'bool');
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

// ---- optimizers: the update of one parameter as ONNX nodes ----

export interface OptimizerStep {
  param: Value;
  grad: Value;
  /** This parameter's optimizer state (fed back each step), by name. */
  state: Record<string, Value>;
}

export interface Optimizer<H> {
  /** Names and shapes of the state one parameter of `shape` carries (zeros at the start). */
  state(shape: readonly number[]): Record<string, readonly number[]>;
  update(g: GraphBuilder, step: OptimizerStep, hyper: H): { param: Value; state: Record<string, Value> };
}

export interface OptimizerHypers {
  /** w − lr·g. */
  sgd: { learningRate: Value };
}

export const OPTIMIZERS: { [K in keyof OptimizerHypers]: Optimizer<OptimizerHypers[K]> } = {
  sgd: {
    state: () => ({}),
    update: (g, { param, grad }, { learningRate }) => ({ param: g.sub(param, g.mul(grad, learningRate)), state: {} }),
  },
};
