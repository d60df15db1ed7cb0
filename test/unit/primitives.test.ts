/**
 * Each training primitive of workloads/types.ts as the tfjs family compiles it (tfjs-cpu), on tiny
 * shapes, against float64 values computed here from the declared formula.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as tfcore from '@tensorflow/tfjs-core';
import { loadTfCore } from '../../harness/backends/tfjs/tfjs-common.ts';
import { TfjsOptimizer, applyLayers, clipByGlobalNorm, gelu, meanXent, type ForwardContext } from '../../harness/backends/tfjs/tfjs-model.ts';
import { GELU_CUBIC, GELU_SQRT_2_OVER_PI, type Layer, type TrainSpec } from '../../workloads/types.ts';

const tf = await loadTfCore();
await import('@tensorflow/tfjs-backend-cpu');
await tf.setBackend('cpu');

/** |a − b| ≤ tol·(1 + |b|) element-wise: float32 results against float64 references. */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])), `element ${i}: ${actual[i]} vs ${expected[i]}`);
}

const values = (t: tfcore.Tensor) => Array.from(t.dataSync());

function run(layers: Layer[], x: tfcore.Tensor, tensors: Record<string, number[] | tfcore.Tensor>, ctx: Partial<ForwardContext> = {}): { y: number[]; updates: Map<string, tfcore.Tensor> } {
  const map = new Map(Object.entries(tensors).map(([k, v]) => [k, Array.isArray(v) ? tf.tensor(v) : v]));
  const updates = new Map<string, tfcore.Tensor>();
  const y = applyLayers(tf, layers, x, 'l', { training: true, tensors: map, updates, ...ctx });
  return { y: values(y), updates };
}

test('gelu is the tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))', () => {
  const xs = [-3, -1, -0.5, 0, 0.25, 1, 2.5];
  const expected = xs.map((x) => 0.5 * x * (1 + Math.tanh(GELU_SQRT_2_OVER_PI * (x + GELU_CUBIC * x ** 3))));
  close(values(gelu(tf, tf.tensor(xs))), expected);
  // a published value of the tanh form: gelu(1) = 0.8411919906…
  close(values(gelu(tf, tf.tensor([1]))), [0.8411919906082768]);
});

test('layerNorm normalises the last axis with the biased variance and ε = 1e-5', () => {
  const x = [1, 2, 6, -1, 0, 4];
  const gamma = [1, 2, 0.5], beta = [0, 1, -1];
  const expected: number[] = [];
  for (const row of [x.slice(0, 3), x.slice(3)]) {
    const mean = row.reduce((a, b) => a + b) / 3;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / 3;
    row.forEach((v, i) => expected.push(((v - mean) / Math.sqrt(variance + 1e-5)) * gamma[i] + beta[i]));
  }
  close(run([{ kind: 'layerNorm' }], tf.tensor(x, [2, 3]), { 'l0.gamma': gamma, 'l0.beta': beta }).y, expected);
});

test('batchNorm: batch statistics in training, running statistics updated with the unbiased variance and momentum 0.1; evaluation uses them', () => {
  // [batch 2, H 1, W 2, C 2]: n = 4 values per channel
  const x = [1, 10, 3, 20, 5, 30, 7, 60];
  const channel = (c: number) => [0, 1, 2, 3].map((i) => x[i * 2 + c]);
  const tensors = { 'l0.gamma': [2, 1], 'l0.beta': [0, 1], 'l0.runningMean': [0.5, 0], 'l0.runningVar': [1, 2] };
  const { y, updates } = run([{ kind: 'batchNorm' }], tf.tensor(x, [2, 1, 2, 2]), tensors);
  const expected = new Array<number>(8);
  const runningMean: number[] = [], runningVar: number[] = [];
  for (const c of [0, 1]) {
    const v = channel(c);
    const mean = v.reduce((a, b) => a + b) / 4;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
    v.forEach((value, i) => (expected[i * 2 + c] = ((value - mean) / Math.sqrt(variance + 1e-5)) * tensors['l0.gamma'][c] + tensors['l0.beta'][c]));
    runningMean.push(0.9 * tensors['l0.runningMean'][c] + 0.1 * mean);
    runningVar.push(0.9 * tensors['l0.runningVar'][c] + 0.1 * variance * (4 / 3));
  }
  close(y, expected);
  close(values(updates.get('l0.runningMean')!), runningMean);
  close(values(updates.get('l0.runningVar')!), runningVar);
  const evaluation = run([{ kind: 'batchNorm' }], tf.tensor(x, [2, 1, 2, 2]), tensors, { training: false }).y;
  close(evaluation, x.map((v, i) => ((v - tensors['l0.runningMean'][i % 2]) / Math.sqrt(tensors['l0.runningVar'][i % 2] + 1e-5)) * tensors['l0.gamma'][i % 2] + tensors['l0.beta'][i % 2]));
});

test('dropout multiplies by the harness mask in training and is the identity in evaluation', () => {
  const x = tf.tensor([1, 2, 3, 4], [2, 2]);
  const mask = tf.tensor([0, 1.25, 1.25, 0], [2, 2]);
  assert.deepEqual(run([{ kind: 'dropout', rate: 0.2 }], x, {}, { masks: new Map([['dropout.l0', mask]]) }).y, [0, 2.5, 3.75, 0]);
  assert.deepEqual(run([{ kind: 'dropout', rate: 0.2 }], x, {}, { training: false }).y, [1, 2, 3, 4]);
});

/** Causal multi-head self-attention in float64, straight from the declaration (no key bias). */
function attention64(x: number[][], heads: number, w: Record<string, number[]>): number[][] {
  const S = x.length, D = x[0].length, dh = D / heads;
  const mat = (a: number[][], m: number[], b?: number[]) => a.map((row) => Array.from({ length: D }, (_, j) => row.reduce((s, v, i) => s + v * m[i * D + j], 0) + (b ? b[j] : 0)));
  const q = mat(x, w.wq, w.bq), k = mat(x, w.wk), v = mat(x, w.wv, w.bv);
  const o = x.map(() => new Array<number>(D).fill(0));
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < S; i++) {
      const scores = Array.from({ length: i + 1 }, (_, j) => { let s = 0; for (let d = h * dh; d < (h + 1) * dh; d++) s += q[i][d] * k[j][d]; return s / Math.sqrt(dh); });
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const total = e.reduce((a, b) => a + b);
      for (let j = 0; j <= i; j++) for (let d = h * dh; d < (h + 1) * dh; d++) o[i][d] += (e[j] / total) * v[j][d];
    }
  }
  return mat(o, w.wo, w.bo);
}

test('selfAttention: causal, multi-head, no key bias — equal to a float64 evaluation of the declaration', () => {
  const S = 3, D = 4;
  const r = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * 0.8);
  const w = { wq: r(16, 1), wk: r(16, 2), wv: r(16, 3), wo: r(16, 4), bq: r(4, 5), bv: r(4, 6), bo: r(4, 7) };
  const x = [r(4, 8), r(4, 9), r(4, 10)];
  const tensors = Object.fromEntries(Object.entries(w).map(([k, v]) => [`l0.${k}`, tf.tensor(v, v.length === 16 ? [4, 4] : [4])]));
  const { y } = run([{ kind: 'selfAttention', heads: 2 }], tf.tensor(x.flat(), [1, S, D]), tensors);
  close(y, attention64(x, 2, w).flat(), 1e-5);
  // causal: changing the last token leaves the first two outputs as they were
  const changed = run([{ kind: 'selfAttention', heads: 2 }], tf.tensor([...x[0], ...x[1], 9, 9, 9, 9], [1, S, D]), tensors).y;
  assert.deepEqual(changed.slice(0, 8), y.slice(0, 8));
});

test('residual adds its input; positionEmbedding adds the table per position; globalAvgPool means height and width', () => {
  const x = tf.tensor([1, 2, 3, 4], [1, 2, 2]);
  assert.deepEqual(run([{ kind: 'residual', layers: [{ kind: 'activation', fn: 'relu' }] }], tf.tensor([-1, 2], [1, 2]), {}).y, [-1, 4]);
  assert.deepEqual(run([{ kind: 'positionEmbedding', length: 2 }], x, { 'l0.table': tf.tensor([10, 20, 30, 40], [2, 2]) }).y, [11, 22, 33, 44]);
  // [1, H 2, W 2, C 2]
  close(run([{ kind: 'globalAvgPool' }], tf.tensor([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]), {}).y, [2.5, 25]);
});

test('mean cross-entropy averages over prediction units: examples, or examples × tokens', () => {
  const spec = { classes: 2 } as TrainSpec;
  const logits = [[0, 1], [2, 0], [1, 1], [0, 3]];
  const labels = [1, 0, 0, 1];
  const expected = logits.reduce((s, l, i) => s - (l[labels[i]] - Math.log(Math.exp(l[0]) + Math.exp(l[1]))), 0) / 4;
  close(values(meanXent(tf, spec, tf.tensor(logits.flat(), [2, 2, 2]), tf.tensor(labels, [2, 2], 'int32'))), [expected]);
  close(values(meanXent(tf, spec, tf.tensor(logits.flat(), [4, 2]), tf.tensor(labels, [4], 'int32'))), [expected]);
});

test('global-norm clipping scales every gradient by min(1, c/(‖g‖ + 1e-6))', () => {
  const clipped = clipByGlobalNorm(tf, [tf.tensor([3]), tf.tensor([0, 4])], 1);
  const scale = 1 / (5 + 1e-6);
  close(values(clipped[0]), [3 * scale]);
  close(values(clipped[1]), [0, 4 * scale]);
  // under the threshold nothing changes
  assert.deepEqual(values(clipByGlobalNorm(tf, [tf.tensor([0.3, 0.4])], 1)[0]), values(tf.tensor([0.3, 0.4])));
});

test('momentum SGD (coupled weight decay) and AdamW (bias correction, decoupled decay) follow their declared updates for two steps', () => {
  const grads = [[0.5, -2], [1.5, 0.25]];
  const lrs = [0.1, 0.05];
  // momentum μ = 0.9, λ = 0.01: v ← μv + g + λw; w ← w − ηv
  {
    const opt = new TfjsOptimizer(tf, { kind: 'momentum', momentum: 0.9, weightDecay: 0.01 });
    let w = [tf.tensor([1, -1])];
    const ref = [1, -1], v = [0, 0];
    grads.forEach((g, t) => {
      w = opt.step(w, [tf.tensor(g)], tf.scalar(lrs[t]));
      ref.forEach((wi, i) => { v[i] = 0.9 * v[i] + g[i] + 0.01 * wi; ref[i] = wi - lrs[t] * v[i]; });
    });
    close(values(w[0]), ref);
  }
  // AdamW β = (0.9, 0.999), ε = 1e-8, λ = 0.1
  {
    const opt = new TfjsOptimizer(tf, { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 });
    let w = [tf.tensor([1, -1])];
    const ref = [1, -1], m = [0, 0], v = [0, 0];
    grads.forEach((g, t) => {
      w = opt.step(w, [tf.tensor(g)], tf.scalar(lrs[t]));
      ref.forEach((wi, i) => {
        const decayed = wi - lrs[t] * 0.1 * wi;
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] ** 2;
        const mHat = m[i] / (1 - 0.9 ** (t + 1)), vHat = v[i] / (1 - 0.999 ** (t + 1));
        ref[i] = decayed - (lrs[t] * mHat) / (Math.sqrt(vHat) + 1e-8);
      });
    });
    close(values(w[0]), ref);
  }
});
