/**
 * The training primitives of workloads/types.ts in TensorFlow.js ops: the model forward pass (training
 * and evaluation mode), the mean softmax cross-entropy, global-norm clipping and the optimizers.
 * Gradients come from tfjs's own autodiff (tf.valueAndGrads); every formula is the one stated in
 * workloads/types.ts, written with plain tfjs ops so each backend of the family runs the same graph.
 */
import type * as tfcore from '@tensorflow/tfjs-core';
import { modelLayout } from '../../../workloads/params.js';
import { HEAD_PATH, layerOp } from '../../../workloads/ops.js';
import {
  BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM, GELU_CUBIC, GELU_SQRT_2_OVER_PI, LAYER_NORM_EPSILON,
  type Activation, type Layer, type Optimizer, type TrainSpec,
} from '../../../workloads/types.js';

type Tf = typeof tfcore;
type T = tfcore.Tensor;

/** What a forward pass reads and (in training mode) writes, by name. */
export interface ForwardContext {
  training: boolean;
  /** Trainable parameters and batchNorm running statistics. */
  tensors: Map<string, T>;
  /** Training mode: this step's dropout mask per site (`dropout.<path>`). */
  masks?: Map<string, T>;
  /** Training mode: the updated running statistics, kept (tf.keep) so they outlive the tape's tidy. */
  updates?: Map<string, T>;
  /** Locating (`--locate`): where this step's ops are reported. */
  ops?: ForwardOps;
}

/** Where a forward pass reports its ops (names of workloads/ops.ts) while a run is located. */
export interface ForwardOps {
  record(op: string, t: T): void;
  /** The input of the layer at `path` as the layer uses it: tapped, so its gradient is reported, where that is an op. */
  tapInput(path: string, t: T): T;
}

/** An additive causal mask of −1e9: exp underflows to exactly 0 in float32, as −∞ would (types.ts). */
const MASKED = -1e9;

export function gelu(tf: Tf, x: T): T {
  const inner = tf.mul(GELU_SQRT_2_OVER_PI, tf.add(x, tf.mul(GELU_CUBIC, tf.mul(tf.mul(x, x), x))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

function activate(tf: Tf, x: T, a: Activation): T {
  return a === 'relu' ? tf.relu(x) : a === 'gelu' ? gelu(tf, x) : x;
}

/** x·W (+ b) on the last axis; rank > 2 inputs are flattened to rows and back. `matmul` sees x·W. */
function dense(tf: Tf, x: T, w: T, b: T | undefined, matmul?: (t: T) => void): T {
  const rows = x.rank === 2 ? x : tf.reshape(x, [-1, x.shape[x.rank - 1]]);
  let y = tf.matMul(rows as tfcore.Tensor2D, w as tfcore.Tensor2D);
  matmul?.(y);
  if (b) y = tf.add(y, b);
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), w.shape[1] as number]);
}

/** (x − μ)·rsqrt(σ² + ε)·γ + β over `axes` (σ² biased); returns the statistics too. */
function normalize(tf: Tf, x: T, axes: number[], epsilon: number, gamma: T, beta: T): { y: T; mean: T; variance: T } {
  const mean = tf.mean(x, axes, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.mul(centered, centered), axes, true);
  return { y: tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon))), gamma), beta), mean, variance };
}

function selfAttention(tf: Tf, x: T, heads: number, get: (name: string) => T, record: (sub: string, t: T) => T): T {
  const [batch, seq, dim] = x.shape;
  const dh = dim / heads;
  const split = (t: T) => tf.transpose(tf.reshape(t, [batch, seq, heads, dh]), [0, 2, 1, 3]);
  const q = split(record('q', dense(tf, x, get('wq'), get('bq'))));
  const k = split(record('k', dense(tf, x, get('wk'), undefined)));
  const v = split(record('v', dense(tf, x, get('wv'), get('bv'))));
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([seq, seq]), -1, 0)), MASKED));
  const scores = tf.add(tf.mul(tf.matMul(q as tfcore.Tensor4D, k as tfcore.Tensor4D, false, true), 1 / Math.sqrt(dh)), mask);
  const o = tf.matMul(record('softmax', tf.softmax(scores)) as tfcore.Tensor4D, v as tfcore.Tensor4D);
  return dense(tf, record('context', tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [batch, seq, dim])), get('wo'), get('bo'));
}

export function applyLayers(tf: Tf, list: Layer[], x: T, prefix: string, ctx: ForwardContext): T {
  let h = x;
  list.forEach((layer, i) => {
    const path = prefix === 'l' ? `l${i}` : `${prefix}.${i}`;
    const get = (name: string) => {
      const t = ctx.tensors.get(`${path}.${name}`);
      if (!t) throw new Error(`tensor ${path}.${name} missing`);
      return t;
    };
    if (ctx.ops) h = ctx.ops.tapInput(path, h);
    h = layerForward(tf, layer, h, path, get, ctx);
    if (ctx.ops && layer.kind !== 'flatten') ctx.ops.record(layerOp(path, layer.kind, 'forward'), h);
  });
  return h;
}

function layerForward(tf: Tf, layer: Layer, h: T, path: string, get: (name: string) => T, ctx: ForwardContext): T {
  const record = (sub: string, t: T) => (ctx.ops?.record(layerOp(path, layer.kind, sub), t), t);
  switch (layer.kind) {
    case 'dense':
      return activate(tf, dense(tf, h, get('w'), layer.bias === false ? undefined : get('b'), ctx.ops && ((z) => record('matmul', z))), layer.activation);
    case 'conv2d': {
      const y = record('conv', tf.conv2d(h as tfcore.Tensor4D, get('w') as tfcore.Tensor4D, 1, 'same'));
      return activate(tf, layer.bias === false ? y : tf.add(y, get('b')), layer.activation);
    }
    case 'pool':
      return layer.op === 'max' ? tf.maxPool(h as tfcore.Tensor4D, layer.size, layer.size, 'valid') : tf.avgPool(h as tfcore.Tensor4D, layer.size, layer.size, 'valid');
    case 'flatten':
      return tf.reshape(h, [h.shape[0], -1]);
    case 'embedding':
      return tf.gather(get('table'), h);
    case 'meanPool':
      return tf.mean(h, 1);
    case 'positionEmbedding':
      return tf.add(h, get('table'));
    case 'layerNorm':
      return normalize(tf, h, [h.rank - 1], LAYER_NORM_EPSILON, get('gamma'), get('beta')).y;
    case 'batchNorm': {
      const axes = Array.from({ length: h.rank - 1 }, (_, i) => i);
      if (!ctx.training) {
        const scale = tf.rsqrt(tf.add(get('runningVar'), BATCH_NORM_EPSILON));
        return tf.add(tf.mul(tf.mul(tf.sub(h, get('runningMean')), scale), get('gamma')), get('beta'));
      }
      const { y, mean, variance } = normalize(tf, h, axes, BATCH_NORM_EPSILON, get('gamma'), get('beta'));
      const n = h.size / h.shape[h.rank - 1];
      const m = BATCH_NORM_MOMENTUM;
      const flat = (t: T) => tf.reshape(t, [-1]);
      ctx.updates!.set(`${path}.runningMean`, tf.keep(tf.add(tf.mul(1 - m, get('runningMean')), tf.mul(m, flat(mean)))));
      ctx.updates!.set(`${path}.runningVar`, tf.keep(tf.add(tf.mul(1 - m, get('runningVar')), tf.mul(m * (n / (n - 1)), flat(variance)))));
      record('runningMean', ctx.updates!.get(`${path}.runningMean`)!);
      record('runningVar', ctx.updates!.get(`${path}.runningVar`)!);
      return y;
    }
    case 'activation':
      return activate(tf, h, layer.fn);
    case 'dropout': {
      if (!ctx.training) return h;
      const mask = ctx.masks?.get(`dropout.${path}`);
      if (!mask) throw new Error(`dropout mask dropout.${path} missing`);
      return tf.mul(h, mask);
    }
    case 'selfAttention':
      return selfAttention(tf, h, layer.heads, get, record);
    case 'residual':
      return tf.add(h, applyLayers(tf, layer.layers, h, path, ctx));
    case 'globalAvgPool':
      return tf.mean(h, [1, 2]);
  }
}

/** Logits: [batch, classes], or [batch, S, classes] for per-token models. */
export function forward(tf: Tf, spec: TrainSpec, ctx: ForwardContext, x: T): T {
  let h = applyLayers(tf, spec.layers, x, 'l', ctx);
  if (ctx.ops) h = ctx.ops.tapInput(HEAD_PATH, h);
  const logits = dense(tf, h, ctx.tensors.get('head.w')!, ctx.tensors.get('head.b')!, ctx.ops && ((z) => ctx.ops!.record(layerOp(HEAD_PATH, 'dense', 'matmul'), z)));
  ctx.ops?.record(layerOp(HEAD_PATH, 'dense', 'forward'), logits);
  return logits;
}

/** Mean softmax cross-entropy over the prediction units: −Σ onehot·logSoftmax / units. */
export function meanXent(tf: Tf, spec: TrainSpec, logits: T, y: T): tfcore.Scalar {
  const flatLogits = logits.rank === 2 ? logits : tf.reshape(logits, [-1, spec.classes]);
  const labels = (y.rank === 1 ? y : tf.reshape(y, [-1])) as tfcore.Tensor1D;
  const onehot = tf.oneHot(labels, spec.classes);
  return tf.div(tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(flatLogits)))), labels.shape[0]) as tfcore.Scalar;
}

/**
 * g ← g·min(1, c/(‖g‖ + 1e-6)), ‖g‖ over every gradient together (PyTorch's clip_grad_norm_). The
 * per-tensor sums of squares are added one by one in parameter order: tf.addN of a model's worth of
 * tensors exceeds WebGPU's 8 storage buffers per shader stage (Dawn refuses the pipeline).
 */
export function clipByGlobalNorm(tf: Tf, grads: T[], clipNorm: number, onNorm?: (norm: T) => void): T[] {
  return tf.tidy(() => {
    const norm = tf.sqrt(grads.map((g) => tf.sum(tf.mul(g, g))).reduce((a, b) => tf.add(a, b)));
    onNorm?.(norm);
    const coef = tf.minimum(1, tf.div(clipNorm, tf.add(norm, 1e-6)));
    return grads.map((g) => tf.mul(g, coef));
  });
}

/** An optimizer's state and update rule (workloads/types.ts, Optimizer); it disposes what it replaces. */
export class TfjsOptimizer {
  private slots: T[][] = [];
  private t = 0;
  private pow1 = 1;
  private pow2 = 1;

  constructor(private tf: Tf, private optimizer: Optimizer) {}

  /** New parameters for step t (1-based internally) with learning rate `lr` (a float32 scalar). */
  step(params: T[], grads: T[], lr: tfcore.Scalar): T[] {
    const tf = this.tf;
    const o = this.optimizer;
    this.t++;
    if (o.kind === 'sgd') return params.map((w, i) => tf.tidy(() => tf.sub(w, tf.mul(grads[i], lr))));
    if (this.slots.length === 0) this.slots = params.map((w) => (o.kind === 'adamw' ? [tf.zerosLike(w), tf.zerosLike(w)] : [tf.zerosLike(w)]));
    if (o.kind === 'momentum') {
      return params.map((w, i) => {
        const [v] = this.slots[i];
        const next = tf.tidy(() => tf.add(tf.mul(o.momentum, v), o.weightDecay === 0 ? grads[i] : tf.add(grads[i], tf.mul(o.weightDecay, w))));
        v.dispose();
        this.slots[i] = [next];
        return tf.tidy(() => tf.sub(w, tf.mul(lr, next)));
      });
    }
    // β^t by repeated multiplication: bias corrections 1 − β1^t and 1 − β2^t, in float64, then float32 scalars
    this.pow1 *= o.beta1;
    this.pow2 *= o.beta2;
    const c1 = 1 - this.pow1, c2 = 1 - this.pow2;
    return params.map((w, i) => {
      const [m, v] = this.slots[i];
      const g = grads[i];
      const m2 = tf.tidy(() => tf.add(tf.mul(o.beta1, m), tf.mul(1 - o.beta1, g)));
      const v2 = tf.tidy(() => tf.add(tf.mul(o.beta2, v), tf.mul(1 - o.beta2, tf.mul(g, g))));
      m.dispose();
      v.dispose();
      this.slots[i] = [m2, v2];
      return tf.tidy(() => {
        const decayed = tf.mul(w, tf.sub(1, tf.mul(lr, o.weightDecay)));
        const update = tf.div(tf.div(m2, c1), tf.add(tf.sqrt(tf.div(v2, c2)), o.epsilon));
        return tf.sub(decayed, tf.mul(lr, update));
      });
    });
  }

  /** Its slots by name (harness/checkpoint.ts: `optimizer/<param>.<slot>`), as the ONNX rules name them too. */
  get slotNames(): string[] {
    return this.optimizer.kind === 'adamw' ? ['m', 'v'] : this.optimizer.kind === 'momentum' ? ['velocity'] : [];
  }

  /** The state after the steps so far: each parameter's slots (zeros before the first step). */
  slotsOf(params: T[]): T[][] {
    return this.slots.length ? this.slots : params.map((w) => this.slotNames.map(() => this.tf.zerosLike(w)));
  }

  /**
   * Continues from a checkpoint: `t` steps done, each parameter's slots in `slotNames` order (kept,
   * disposed with the optimizer). β^t is recomputed by the same t multiplications, so the bias
   * corrections are the uninterrupted run's bits.
   */
  restore(t: number, slots: T[][]): void {
    const o = this.optimizer;
    this.t = t;
    this.slots = slots;
    this.pow1 = 1;
    this.pow2 = 1;
    if (o.kind === 'adamw') {
      for (let i = 0; i < t; i++) {
        this.pow1 *= o.beta1;
        this.pow2 *= o.beta2;
      }
    }
  }

  dispose(): void {
    this.slots.flat().forEach((t) => t.dispose());
    this.slots = [];
  }
}

/** Parameter names, state names and dropout sites of a model, in artifact order. */
export function tfjsLayout(spec: TrainSpec) {
  const layout = modelLayout(spec);
  return { params: layout.params.map(([n]) => n), state: layout.state.map(([n]) => n), dropout: layout.dropout.map((d) => d.name) };
}
