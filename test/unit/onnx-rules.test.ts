/**
 * Each gradient rule of the ONNX differentiator on its own, against float64: the rule's forward pass
 * against an independent float64 reference (test/f64-reference.ts), and its vector–Jacobian product
 * Jᵀr against central finite differences of that reference in float64 — on small shapes, including
 * the awkward cases: padding and stride in conv (with rows past the last window), repeated ids in the
 * embedding gradient, and max-pool ties (where the convention, not a derivative, decides; checked
 * against the first-maximum rule and against tfjs-cpu's own gradient).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadOrt } from '../../harness/backends/ort/ort-common.ts';
import { Tape } from '../../harness/backends/ort/onnx-grad.ts';
import { GraphBuilder, type Value } from '../../harness/backends/ort/onnx-graph.ts';
import { clipByGlobalNorm, OPTIMIZERS, RULES, type OptimizerHyper, type OptimizerKind, type OptimizerRule, type PrimitiveAttrs, type PrimitiveName } from '../../harness/backends/ort/onnx-rules.ts';
import { loadTfCore } from '../../harness/backends/tfjs/tfjs-common.ts';
import * as ref from '../f64-reference.ts';

type Input = { shape: number[]; data: Float32Array; grad?: boolean } | { shape: number[]; data: Int32Array };

/** A deterministic pseudo-random stream in [-1, 1) (a fixed hash of the index: no harness RNG involved). */
function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const s = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    return 2 * (s - Math.floor(s)) - 1;
  });
}

/** Values at least `gap` apart from each other and from zero (no ties, no kinks within a finite-difference step). */
function distinct(n: number, seed: number, gap = 0.01): Float32Array {
  const order = Array.from(values(n, seed), (v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Float32Array(n);
  order.forEach(([, i], rank) => (out[i] = (rank - n / 2 + 0.5) * gap * 4));
  return out;
}

const f64 = (i: Input): ref.T64 => ({ data: Float64Array.from(i.data), shape: i.shape });

/** Runs one primitive and its gradient rule (seeded with r) on onnxruntime's CPU provider. */
async function runRule<K extends PrimitiveName>(op: K, inputs: Input[], attrs: PrimitiveAttrs[K], r: Float32Array) {
  const g = new GraphBuilder(op);
  const tape = new Tape(g);
  const values: Value[] = inputs.map((x, i) => {
    const v = g.input(`in${i}`, x.shape, x.data instanceof Int32Array ? 'int32' : 'float32');
    return 'grad' in x && x.grad ? tape.variable(v) : v;
  });
  const [y] = tape.apply(op, values, attrs);
  const seed = g.input('r', y.shape);
  const wrt = values.filter((_, i) => 'grad' in inputs[i] && inputs[i].grad);
  const grads = tape.backward([[y, seed]], wrt);
  g.output('y', y);
  grads.forEach((d, i) => g.output(`g${i}`, d));
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(g.encode(), { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
  const feeds = Object.fromEntries(
    inputs.map((x, i) => [`in${i}`, x.data instanceof Int32Array ? new ort.Tensor('int32', x.data, x.shape) : new ort.Tensor('float32', x.data, x.shape)]),
  );
  const out = await session.run({ ...feeds, r: new ort.Tensor('float32', r, y.shape) });
  await session.release();
  return { y: out.y.data as Float32Array, yShape: y.shape, grads: grads.map((_, i) => out[`g${i}`].data as Float32Array) };
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, relL2 = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let num = 0, den = 0, worst = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assert.ok(den > 0, `${what}: the reference is all zeros (a test that cannot fail)`);
  assert.ok(Math.sqrt(num / den) <= relL2, `${what}: relL2 ${Math.sqrt(num / den)} > ${relL2}`);
  assert.ok(worst <= 10 * relL2 * scale, `${what}: worst element off by ${worst} (scale ${scale})`);
}

/**
 * The whole check for one primitive: forward against `forward64`, and the gradient of every input
 * marked `grad` against finite differences of `forward64`.
 */
async function check<K extends PrimitiveName>(op: K, inputs: Input[], attrs: PrimitiveAttrs[K], forward64: (xs: ref.T64[]) => ref.T64, label = op as string) {
  const expected = forward64(inputs.map(f64));
  const r = values(ref.size(expected.shape), 7);
  const { y, yShape, grads } = await runRule(op, inputs, attrs, r);
  assert.deepEqual(yShape, expected.shape, `${label}: output shape`);
  close(y, expected.data, `${label}: forward`, 1e-6);
  let k = 0;
  inputs.forEach((x, i) => {
    if (!('grad' in x && x.grad)) return;
    const fd = ref.finiteDifference(forward64, inputs.map(f64), i, Float64Array.from(r));
    close(grads[k++], fd, `${label}: gradient of input ${i}`);
  });
  assert.equal(k, grads.length);
}

const float = (shape: number[], seed: number, grad = true): Input => ({ shape, data: values(ref.size(shape), seed), grad });

test('every primitive in the rule table has a gradient test here', () => {
  const tested = ['matmul', 'add', 'sub', 'mul', 'scale', 'relu', 'gelu', 'normalize', 'transpose', 'reshape', 'conv2d', 'maxPool', 'avgPool', 'embedding', 'mean', 'reduceSum', 'softmaxCrossEntropy', 'attention', 'indexAdd'];
  assert.deepEqual(Object.keys(RULES).sort(), tested.sort());
});

test('matmul: plain, a shared weight under batched rows, and batched on both sides', async () => {
  await check('matmul', [float([3, 4], 1), float([4, 5], 2)], {}, ([a, b]) => ref.matmul(a, b), 'matmul 2-D');
  await check('matmul', [float([2, 3, 4], 3), float([4, 5], 4)], {}, ([a, b]) => ref.matmul(a, b), 'matmul shared weight');
  await check('matmul', [float([2, 3, 4], 5), float([2, 4, 5], 6)], {}, ([a, b]) => ref.matmul(a, b), 'matmul batched');
});

test('add, sub and mul: gradients summed back over broadcast axes', async () => {
  await check('add', [float([4, 3], 1), float([3], 2)], {}, ([a, b]) => ref.elementwise(a, b, (x, y) => x + y), 'add bias');
  await check('add', [float([2, 4, 3, 3], 3), float([4, 1, 1], 4)], {}, ([a, b]) => ref.elementwise(a, b, (x, y) => x + y), 'add channel bias');
  await check('sub', [float([3, 1], 5), float([2, 3, 4], 6)], {}, ([a, b]) => ref.elementwise(a, b, (x, y) => x - y), 'sub both broadcast');
  await check('mul', [float([2, 3, 4], 7), float([3, 1], 8)], {}, ([a, b]) => ref.elementwise(a, b, (x, y) => x * y), 'mul');
});

test('scale, relu (no input within a step of its kink), transpose and reshape', async () => {
  await check('scale', [float([3, 4], 1)], { factor: 0.375 }, ([x]) => ref.map(x, (v) => v * 0.375));
  await check('relu', [{ shape: [4, 6], data: distinct(24, 2), grad: true }], {}, ([x]) => ref.map(x, (v) => Math.max(v, 0)));
  await check('transpose', [float([2, 3, 4], 3)], { perm: [2, 0, 1] }, ([x]) => ref.transpose(x, [2, 0, 1]));
  await check('reshape', [float([2, 3, 4], 4)], { shape: [6, 4] }, ([x]) => ({ data: x.data, shape: [6, 4] }));
});

test('gelu (tanh form) and normalize over the last axis (layer norm) and over batch and space (batch norm)', async () => {
  await check('gelu', [{ shape: [3, 7], data: Float32Array.from(values(21, 1), (v) => 4 * v), grad: true }], {}, ([x]) => ref.gelu(x));
  await check('normalize', [float([2, 3, 8], 2)], { axes: [2], epsilon: 1e-5 }, ([x]) => ref.normalize(x, [2], 1e-5)[0], 'normalize (layer norm)');
  await check('normalize', [float([4, 3, 2, 2], 3)], { axes: [0, 2, 3], epsilon: 1e-5 }, ([x]) => ref.normalize(x, [0, 2, 3], 1e-5)[0], 'normalize (batch norm)');
  // its statistics outputs: the mean and the biased variance, kept axes
  const g = new GraphBuilder('stats');
  const x = g.input('x', [4, 3, 2, 2]);
  const [, mean, variance] = new Tape(g).apply('normalize', [x], { axes: [0, 2, 3], epsilon: 1e-5 });
  g.output('mean', mean);
  g.output('var', variance);
  const data = values(48, 3);
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(g.encode(), { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
  const out = await session.run({ x: new ort.Tensor('float32', data, [4, 3, 2, 2]) });
  const [, m64, v64] = ref.normalize({ data: Float64Array.from(data), shape: [4, 3, 2, 2] }, [0, 2, 3], 1e-5);
  close(out.mean.data as Float32Array, m64.data, 'batch mean', 1e-6);
  close(out.var.data as Float32Array, v64.data, 'batch variance', 1e-6);
  assert.deepEqual(out.mean.dims, [1, 3, 1, 1]);
});

test('conv2d: same padding, stride 2 with rows past the last window, asymmetric padding, a non-square kernel', async () => {
  const cases: Array<{ x: number[]; w: number[]; strides: [number, number]; pads: [number, number, number, number]; label: string }> = [
    { x: [2, 3, 6, 6], w: [4, 3, 3, 3], strides: [1, 1], pads: [1, 1, 1, 1], label: 'same, stride 1' },
    { x: [2, 2, 7, 8], w: [3, 2, 3, 3], strides: [2, 2], pads: [0, 0, 0, 0], label: 'valid, stride 2, odd height' },
    { x: [1, 2, 7, 6], w: [3, 2, 3, 2], strides: [2, 3], pads: [0, 1, 1, 0], label: 'asymmetric pads, strides 2×3, 3×2 kernel' },
    { x: [2, 3, 8, 8], w: [2, 3, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1], label: 'pad 1, stride 2 (ResNet downsampling)' },
  ];
  for (const c of cases) {
    await check('conv2d', [float(c.x, 1), float(c.w, 2)], { strides: c.strides, pads: c.pads }, ([x, w]) => ref.conv2d(x, w, c.strides, c.pads), `conv2d ${c.label}`);
  }
});

test('max and average pooling, with a remainder row and column that no window covers', async () => {
  for (const [shape, size] of [[[2, 3, 4, 4], 2], [[1, 2, 7, 5], 2], [[1, 2, 6, 6], 3]] as const) {
    const x: Input = { shape: [...shape], data: distinct(ref.size(shape), 3), grad: true };
    await check('maxPool', [x], { size }, ([t]) => ref.pool(t, size, 'max'), `maxPool ${shape} /${size}`);
    await check('avgPool', [float([...shape], 4)], { size }, ([t]) => ref.pool(t, size, 'avg'), `avgPool ${shape} /${size}`);
  }
});

test('max-pool ties: each window’s gradient goes to its first maximum, as tfjs-cpu routes it', async () => {
  // after a ReLU whole windows are 0; here every window has a tie, some of them all-equal
  const shape = [2, 3, 4, 6];
  const data = Float32Array.from(values(ref.size(shape), 9), (v) => Math.max(0, Math.round(v)));
  const r = values(2 * 3 * 2 * 3, 5);
  const { grads } = await runRule('maxPool', [{ shape, data, grad: true }], { size: 2 }, r);
  const expected = ref.maxPoolGradFirst({ data: Float64Array.from(data), shape }, 2, { data: Float64Array.from(r), shape: [2, 3, 2, 3] });
  assert.deepEqual(Array.from(grads[0]), Array.from(expected.data));
  let windows = 0, tied = 0;
  for (let p = 0; p < 6; p++)
    for (let y = 0; y < 2; y++)
      for (let z = 0; z < 3; z++) {
        const win = [0, 1, 2, 3].map((k) => data[(p * 4 + y * 2 + (k >> 1)) * 6 + z * 2 + (k & 1)]);
        windows++;
        if (win.filter((v) => v === Math.max(...win)).length > 1) tied++;
      }
  assert.ok(tied >= windows / 3, `only ${tied} of ${windows} windows have a tie`);

  const tf = await loadTfCore();
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  const nhwc = tf.transpose(tf.tensor4d(data, [2, 3, 4, 6]), [0, 2, 3, 1]);
  const rNhwc = tf.transpose(tf.tensor4d(r, [2, 3, 2, 3]), [0, 2, 3, 1]);
  const dx = tf.grad((x) => tf.sum(tf.mul(tf.maxPool(x as typeof nhwc, 2, 2, 'valid'), rNhwc)))(nhwc);
  const tfGrad = (await tf.transpose(dx, [0, 3, 1, 2]).data()) as Float32Array;
  assert.deepEqual(Array.from(grads[0]), Array.from(tfGrad));
});

test('embedding: the gradient of repeated ids accumulates (a skewed id stream, ids absent from it get zeros)', async () => {
  const ids = Int32Array.from([3, 3, 0, 3, 5, 1, 3, 3, 0, 5, 3, 2]);
  await check('embedding', [float([7, 4], 1), { shape: [3, 4], data: ids }], {}, ([table]) => ref.gather(table, ids, [3, 4]));
  const { grads } = await runRule('embedding', [float([7, 4], 1), { shape: [3, 4], data: ids }], {}, values(48, 2));
  assert.ok(grads[0].subarray(4 * 4, 5 * 4).every((v) => v === 0) && grads[0].subarray(6 * 4).every((v) => v === 0), 'rows of ids never used are not zero');
});

test('mean over an axis and sums over axes (kept or dropped)', async () => {
  await check('mean', [float([2, 6, 3], 1)], { axes: [1] }, ([x]) => ref.reduce(x, [1], false, 'mean'));
  await check('mean', [float([2, 3, 4, 5], 5)], { axes: [2, 3] }, ([x]) => ref.reduce(x, [2, 3], false, 'mean'), 'mean over space (global average pool)');
  await check('reduceSum', [float([3, 4, 5], 2)], { axes: [0, 2], keepdims: false }, ([x]) => ref.reduce(x, [0, 2], false, 'sum'), 'reduceSum dropped');
  await check('reduceSum', [float([64], 3)], { axes: [0], keepdims: true }, ([x]) => ref.reduce(x, [0], true, 'sum'), 'reduceSum kept');
});

test('softmax cross-entropy: the gradient of the logits (labels are data)', async () => {
  const onehot = new Float32Array(4 * 5);
  [2, 0, 4, 2].forEach((c, i) => (onehot[i * 5 + c] = 1));
  await check('softmaxCrossEntropy', [float([4, 5], 1), { shape: [4, 5], data: onehot }], {}, ([z, y]) => ref.softmaxCrossEntropy(z, y));
});

test('attention: q, k and v gradients, without and with the causal mask', async () => {
  for (const causal of [false, true]) {
    const inputs = [float([2, 5, 3], 1), float([2, 5, 3], 2), float([2, 5, 3], 3)];
    await check('attention', inputs, { scale: 0.5, causal }, ([q, k, v]) => ref.attention(q, k, v, 0.5, causal), `attention causal=${causal}`);
  }
});

test('index-add: the gradient of a scatter-add is a gather of the output gradient', async () => {
  const index = Int32Array.from([0, 3, 3, 1, 3, 4, 0, 3, 2, 3, 3, 1]);
  await check('indexAdd', [float([12], 1), { shape: [12], data: index }], { buckets: 5 }, ([src]) => ref.indexAdd(src, index, 5));
});

/** The optimizers of workloads/types.ts in float64, straight from their formulas. */
function optimizer64(hyper: OptimizerHyper<OptimizerKind>, w: number[], grads: number[][], lrs: number[]): number[] {
  w = [...w];
  const s1 = w.map(() => 0), s2 = w.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1, eta = lrs[k];
    w.forEach((wi, i) => {
      if (hyper.kind === 'sgd') w[i] = wi - eta * g[i];
      else if (hyper.kind === 'momentum') {
        s1[i] = hyper.momentum * s1[i] + (g[i] + hyper.weightDecay * wi);
        w[i] = wi - eta * s1[i];
      } else {
        const decayed = wi - eta * hyper.weightDecay * wi;
        s1[i] = hyper.beta1 * s1[i] + (1 - hyper.beta1) * g[i];
        s2[i] = hyper.beta2 * s2[i] + (1 - hyper.beta2) * g[i] ** 2;
        const mHat = s1[i] / (1 - hyper.beta1 ** t), vHat = s2[i] / (1 - hyper.beta2 ** t);
        w[i] = decayed - (eta * mHat) / (Math.sqrt(vHat) + hyper.epsilon);
      }
    });
  });
  return w;
}

test('optimizers: SGD, momentum (coupled decay) and AdamW (bias correction, decoupled decay) over 4 steps against float64', async () => {
  const hypers: Array<OptimizerHyper<OptimizerKind>> = [
    { kind: 'sgd' },
    { kind: 'momentum', momentum: 0.9, weightDecay: 5e-4 },
    { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
  ];
  assert.deepEqual(hypers.map((h) => h.kind).sort(), Object.keys(OPTIMIZERS).sort(), 'an optimizer without a test');
  const ort = await loadOrt();
  for (const hyper of hypers) {
    const rule = OPTIMIZERS[hyper.kind] as OptimizerRule<OptimizerHyper<OptimizerKind>>;
    const g = new GraphBuilder(hyper.kind);
    const [param, grad, lr] = [g.input('w', [6]), g.input('g', [6]), g.input('lr', [])];
    const state = Object.fromEntries(rule.state.map((n) => [n, g.input(n, [6])]));
    const stepInputs = Object.fromEntries(rule.stepInputs.map(({ name }) => [name, g.input(name, [])]));
    const next = rule.update(g, { param, grad, state, learningRate: lr, stepInputs }, hyper);
    g.output('w.next', next.param);
    rule.state.forEach((n) => g.output(`${n}.next`, next.state[n]));
    const session = await ort.InferenceSession.create(g.encode(), { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
    const w0 = values(6, 1), grads = [2, 3, 4, 5].map((k) => Array.from(values(6, k))), lrs = [0.01, 0.02, 0.015, 0.005].map(Math.fround);
    let w = new ort.Tensor('float32', w0, [6]);
    let st = rule.state.map(() => new ort.Tensor('float32', new Float32Array(6), [6]));
    for (let k = 0; k < 4; k++) {
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = { w, g: new ort.Tensor('float32', Float32Array.from(grads[k]), [6]), lr: new ort.Tensor('float32', Float32Array.of(lrs[k]), []) };
      rule.state.forEach((n, i) => (feeds[n] = st[i]));
      rule.stepInputs.forEach(({ name, value }) => (feeds[name] = new ort.Tensor('float32', Float32Array.of(value(hyper, k + 1)), [])));
      const out = await session.run(feeds);
      w = out['w.next'] as typeof w;
      st = rule.state.map((n) => out[`${n}.next`] as typeof w);
    }
    const expected = optimizer64(hyper, Array.from(w0), grads, lrs);
    const moved = expected.map((e, i) => e - w0[i]);
    // compare the change of the weights, which is what the optimizer computes
    close(Array.from(w.data as Float32Array, (v, i) => v - w0[i]), moved, `${hyper.kind}: the weights' change`, 1e-5);
  }
});

test('global-norm clipping scales every gradient by min(1, c/(‖g‖ + 1e-6)), and leaves them be under the threshold', async () => {
  const ort = await loadOrt();
  const grads64 = [Array.from(values(3, 1)), Array.from(values(4, 2))];
  const norm = Math.sqrt(grads64.flat().reduce((s, v) => s + v * v, 0));
  for (const c of [0.5 * norm, 2 * norm]) {
    const g = new GraphBuilder('clip');
    const inputs = [g.input('a', [3]), g.input('b', [2, 2])];
    clipByGlobalNorm(g, inputs, c).forEach((d, i) => g.output(`out${i}`, d));
    const session = await ort.InferenceSession.create(g.encode(), { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
    const out = await session.run({ a: new ort.Tensor('float32', Float32Array.from(grads64[0]), [3]), b: new ort.Tensor('float32', Float32Array.from(grads64[1]), [2, 2]) });
    const factor = Math.min(1, c / (norm + 1e-6));
    const got = [...(out.out0.data as Float32Array), ...(out.out1.data as Float32Array)];
    close(got, grads64.flat().map((v) => v * factor), `clip at ${c / norm}×‖g‖`, 1e-6);
    if (factor === 1) assert.deepEqual(got, grads64.flat().map(Math.fround));
  }
});
