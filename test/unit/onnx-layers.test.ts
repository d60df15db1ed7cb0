/**
 * Workload layers as onnx-model.ts lowers them, against workloads/types.ts's definitions computed in
 * float64 (test/f64-reference.ts, model64): small models of every layer kind, their loss and the
 * gradient of every parameter (against central finite differences of the float64 model), the
 * running statistics after a training step, and the evaluation-mode logits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadOrt } from '../../harness/backends/ort/ort-common.ts';
import { evalGraph, gradientGraph, oneHot, trainStepGraph } from '../../harness/backends/ort/onnx-model.ts';
import { labelShape, modelLayout } from '../../workloads/params.ts';
import type { TrainSpec } from '../../workloads/types.ts';
import * as ref from '../f64-reference.ts';

function values(n: number, seed: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const s = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    return scale * (2 * (s - Math.floor(s)) - 1);
  });
}

const base = { kind: 'train' as const, steps: 1, learningRate: 0.1, teacher: { width: 4, hidden: 4 }, evalExamples: 2 };

const MODELS: Array<{ label: string; spec: TrainSpec }> = [
  {
    label: 'causal self-attention (2 heads) with a per-token head',
    spec: { ...base, input: { shape: [4, 6], dtype: 'float32' }, classes: 3, layers: [{ kind: 'selfAttention', heads: 2 }], batch: 2 },
  },
  {
    label: 'a pre-LN GPT block: embeddings, dropout, attention and GELU MLP residuals, final layer norm',
    spec: {
      ...base,
      input: { shape: [5], dtype: 'int32', vocab: 7, skew: 1 },
      classes: 3,
      layers: [
        { kind: 'embedding', vocab: 7, dim: 4 },
        { kind: 'positionEmbedding', length: 5 },
        { kind: 'dropout', rate: 0.25 },
        { kind: 'residual', layers: [{ kind: 'layerNorm' }, { kind: 'selfAttention', heads: 2 }] },
        { kind: 'residual', layers: [{ kind: 'layerNorm' }, { kind: 'dense', units: 8, activation: 'gelu' }, { kind: 'dense', units: 4, activation: 'none' }] },
        { kind: 'layerNorm' },
      ],
      batch: 2,
    },
  },
  {
    label: 'a residual conv–BN–ReLU stage, average pooling and a global average pool',
    spec: {
      ...base,
      input: { shape: [4, 4, 2], dtype: 'float32' },
      classes: 3,
      layers: [
        { kind: 'conv2d', filters: 3, kernel: 3, activation: 'none', bias: false },
        { kind: 'batchNorm' },
        { kind: 'activation', fn: 'relu' },
        { kind: 'residual', layers: [{ kind: 'conv2d', filters: 3, kernel: 3, activation: 'none', bias: false }, { kind: 'batchNorm' }] },
        { kind: 'activation', fn: 'relu' },
        { kind: 'pool', op: 'avg', size: 2 },
        { kind: 'globalAvgPool' },
      ],
      batch: 3,
    },
  },
  {
    label: 'conv with bias, max pooling, flatten and dense layers (conv-train and mlp-train in small)',
    spec: {
      ...base,
      input: { shape: [4, 4, 2], dtype: 'float32' },
      classes: 3,
      layers: [
        { kind: 'conv2d', filters: 2, kernel: 3, activation: 'relu' },
        { kind: 'pool', op: 'max', size: 2 },
        { kind: 'flatten' },
        { kind: 'dense', units: 5, activation: 'relu' },
      ],
      batch: 2,
    },
  },
];

/** Parameters, statistics and masks (names as workloads/params.ts gives them), x and labels, all from a fixed hash. */
function fixture(spec: TrainSpec, batch: number) {
  const layout = modelLayout(spec);
  const tensors = new Map<string, Float32Array>();
  layout.params.forEach(([name, shape], i) => tensors.set(name, values(ref.size(shape), 10 + i, 0.7)));
  layout.state.forEach(([name, shape], i) => tensors.set(name, Float32Array.from(values(ref.size(shape), 50 + i), (v) => (name.endsWith('Var') ? 1 + 0.5 * v : 0.3 * v))));
  layout.dropout.forEach(({ name, shape }, i) => tensors.set(name, Float32Array.from(values(batch * ref.size(shape), 70 + i), (v) => (v < -0.5 ? 0 : Math.fround(1 / 0.75)))));
  const n = batch * ref.size(spec.input.shape);
  const x = spec.input.dtype === 'int32' ? Int32Array.from(values(n, 90), (v) => Math.floor((v + 1) * 3.5)) : values(n, 90);
  const units = batch * ref.size(labelShape(spec));
  const labels = Int32Array.from(values(units, 91), (v) => Math.floor((v + 1) * 1.5));
  return { layout, tensors, x, labels, units };
}

const t64 = (data: ArrayLike<number>, shape: number[]): ref.T64 => ({ data: Float64Array.from(data), shape });

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, relL2: number): void {
  let num = 0, den = 0;
  for (let i = 0; i < expected.length; i++) (num += (actual[i] - expected[i]) ** 2), (den += expected[i] ** 2);
  assert.ok(den > 0, `${what}: the reference is all zeros`);
  assert.ok(Math.sqrt(num / den) <= relL2, `${what}: relL2 ${Math.sqrt(num / den)} > ${relL2}`);
}

for (const { label, spec } of MODELS) {
  test(`${label}: loss and every parameter's gradient against float64`, async () => {
    const batch = spec.batch;
    const { layout, tensors, x, labels, units } = fixture(spec, batch);
    const graph = gradientGraph(spec, batch);
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(graph.model, { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      [graph.x]: x instanceof Int32Array ? new ort.Tensor('int32', x, [batch, ...spec.input.shape]) : new ort.Tensor('float32', x, [batch, ...spec.input.shape]),
      [graph.onehot]: new ort.Tensor('float32', oneHot(labels, spec.classes), [units, spec.classes]),
    };
    for (const [name, shape] of [...layout.params, ...layout.state]) feeds[name] = new ort.Tensor('float32', tensors.get(name)!, shape);
    for (const { name, shape } of layout.dropout) feeds[name] = new ort.Tensor('float32', tensors.get(name)!, [batch, ...shape]);
    const out = await session.run(feeds);
    await session.release();

    // the same model in float64, as a function of the parameters
    const shapes = new Map<string, number[]>([...layout.params, ...layout.state].map(([n, s]) => [n, s]));
    layout.dropout.forEach(({ name, shape }) => shapes.set(name, [batch, ...shape]));
    const onehot = t64(oneHot(labels, spec.classes), [units, spec.classes]);
    const x64 = t64(x, [batch, ...spec.input.shape]);
    const loss64 = (params: ref.T64[]) => {
      const all = new Map([...tensors].map(([n, d]) => [n, t64(d, shapes.get(n)!)]));
      layout.params.forEach(([n], i) => all.set(n, params[i]));
      return ref.softmaxCrossEntropy(ref.model64(spec, all, x64, 'train').logits, onehot);
    };
    const params64 = layout.params.map(([n, s]) => t64(tensors.get(n)!, s));
    const loss = (out[graph.loss].data as Float32Array)[0];
    assert.ok(Math.abs(loss - loss64(params64).data[0]) <= 1e-6 * Math.abs(loss), `loss ${loss} vs ${loss64(params64).data[0]}`);
    layout.params.forEach(([name], i) => {
      // up to 12 elements of each parameter, spread over it (finite differences of the whole model are slow)
      const n = params64[i].data.length, m = Math.min(n, 12);
      const picked = Array.from({ length: m }, (_, k) => Math.floor((k * n) / m));
      const fd = ref.finiteDifference(loss64, params64, i, Float64Array.of(1), 1e-6, picked);
      const grad = out[graph.grads[i]].data as Float32Array;
      close(picked.map((j) => grad[j]), picked.map((j) => fd[j]), `${label}: gradient of ${name} (elements ${picked})`, 2e-5);
    });
  });
}

test('batch norm: the running statistics after a training step, and evaluation-mode logits on them, against float64', async () => {
  const spec = MODELS[2].spec;
  const batch = spec.batch;
  const { layout, tensors, x, labels, units } = fixture(spec, batch);
  const ort = await loadOrt();
  const step = trainStepGraph(spec);
  const session = await ort.InferenceSession.create(step.model, { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
    x: new ort.Tensor('float32', x as Float32Array, [batch, ...spec.input.shape]),
    onehot: new ort.Tensor('float32', oneHot(labels, spec.classes), [units, spec.classes]),
    lr: new ort.Tensor('float32', Float32Array.of(0.1), []),
  };
  for (const c of step.carried) feeds[c.input] = new ort.Tensor('float32', tensors.get(c.input) ?? new Float32Array(ref.size(c.shape)), c.shape);
  const out = await session.run(feeds);
  await session.release();
  const all = new Map([...layout.params, ...layout.state].map(([n, s]) => [n, t64(tensors.get(n)!, s)]));
  const { statistics } = ref.model64(spec, all, t64(x, [batch, ...spec.input.shape]), 'train');
  assert.equal(statistics.size, layout.state.length);
  for (const [name] of layout.state) close(out[`${name}.next`].data as Float32Array, statistics.get(name)!.data, `${name} after a step`, 1e-6);

  const evaluation = evalGraph(spec, 2);
  const evalSession = await ort.InferenceSession.create(evaluation.model, { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
  const xEval = values(2 * ref.size(spec.input.shape), 95);
  const evalFeeds: Record<string, InstanceType<typeof ort.Tensor>> = { [evaluation.x]: new ort.Tensor('float32', xEval, [2, ...spec.input.shape]) };
  for (const [name, shape] of [...layout.params, ...layout.state]) evalFeeds[name] = new ort.Tensor('float32', tensors.get(name)!, shape);
  const logits = (await evalSession.run(evalFeeds))[evaluation.logits].data as Float32Array;
  await evalSession.release();
  close(logits, ref.model64(spec, all, t64(xEval, [2, ...spec.input.shape]), 'eval').logits.data, 'evaluation logits', 1e-6);
});
