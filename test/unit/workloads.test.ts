/**
 * The data side of the workloads: model layouts (parameter, state and dropout names), the learning-rate
 * schedule, dropout masks and teacher labels, on tiny shapes against values worked out by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findBackend } from '../../harness/backends/index.ts';
import { supportOf } from '../../harness/backends/types.ts';
import { normalStream, tensorKey, uniformStream } from '../../harness/rng.ts';
import { byName, dropoutMasks, workloadInputs } from '../../workloads/inputs.ts';
import { labelShape, modelLayout } from '../../workloads/params.ts';
import { cosExact, learningRates } from '../../workloads/schedule.ts';
import { TASK_SEED, teacherLabels } from '../../workloads/teacher.ts';
import type { TrainSpec } from '../../workloads/types.ts';

const base: TrainSpec = {
  kind: 'train', input: { shape: [4], dtype: 'float32' }, classes: 3, layers: [], batch: 2, steps: 4, learningRate: 0.1,
  teacher: { width: 4, hidden: 8 }, evalExamples: 5,
};

test('a layout names parameters by layer path, keeps batch-norm statistics as state after them, and finds dropout sites', () => {
  const spec: TrainSpec = {
    ...base,
    input: { shape: [6], dtype: 'int32', vocab: 10, skew: 1 },
    layers: [
      { kind: 'embedding', vocab: 10, dim: 4 },
      { kind: 'positionEmbedding', length: 6 },
      { kind: 'dropout', rate: 0.25 },
      { kind: 'residual', layers: [{ kind: 'layerNorm' }, { kind: 'selfAttention', heads: 2 }] },
      { kind: 'batchNorm' },
    ],
  };
  const layout = modelLayout(spec);
  assert.deepEqual(layout.params.map(([n, s, i]) => `${n}[${s}]${i}`), [
    'l0.table[10,4]embedding', 'l1.table[6,4]embedding',
    'l3.0.gamma[4]ones', 'l3.0.beta[4]zeros',
    'l3.1.wq[4,4]he', 'l3.1.wk[4,4]he', 'l3.1.wv[4,4]he', 'l3.1.wo[4,4]he', 'l3.1.bq[4]zeros', 'l3.1.bv[4]zeros', 'l3.1.bo[4]zeros',
    'l4.gamma[4]ones', 'l4.beta[4]zeros', 'head.w[4,3]he', 'head.b[3]zeros',
  ]);
  assert.deepEqual(layout.state.map(([n, , i]) => `${n} ${i}`), ['l4.runningMean zeros', 'l4.runningVar ones']);
  assert.deepEqual(layout.dropout, [{ name: 'dropout.l2', shape: [6, 4], rate: 0.25 }]);
  assert.deepEqual(labelShape(spec), [6]);
  assert.deepEqual(labelShape(base), []);
  assert.throws(() => modelLayout({ ...spec, layers: [{ kind: 'embedding', vocab: 10, dim: 4 }, { kind: 'selfAttention', heads: 3 }] }), /divisible by 3 heads/);
  assert.throws(() => modelLayout({ ...spec, layers: [{ kind: 'embedding', vocab: 10, dim: 4 }, { kind: 'residual', layers: [{ kind: 'meanPool' }] }] }), /must keep its shape/);
});

test('cosExact agrees with cos to 1e-15 over [0, π] using exactly rounded operations only', () => {
  for (let i = 0; i <= 10_000; i++) {
    const x = (Math.PI * i) / 10_000;
    assert.ok(Math.abs(cosExact(x) - Math.cos(x)) < 1e-15, `x = ${x}`);
  }
  assert.equal(cosExact(0), 1);
  assert.equal(cosExact(Math.PI), -1);
  assert.throws(() => cosExact(4), RangeError);
});

test('learning rates: constant, and linear warm-up then cosine decay to η·minFactor, as float32', () => {
  assert.deepEqual(Array.from(learningRates(base)), [0.1, 0.1, 0.1, 0.1].map(Math.fround));
  const lr = learningRates({ ...base, steps: 6, learningRate: 1, schedule: { kind: 'warmupCosine', warmupSteps: 2, minFactor: 0.2 } });
  // warm-up (t + 1)/2; then 0.2 + 0.8·(1 + cos(π·k/4))/2 for k = 0 … 3
  const cos = [1, Math.SQRT1_2, 0, -Math.SQRT1_2];
  const expected = [0.5, 1, ...cos.map((c) => 0.2 + (0.8 * (1 + c)) / 2)].map(Math.fround);
  lr.forEach((v, t) => assert.ok(Math.abs(v - expected[t]) <= 1e-7, `step ${t}: ${v} vs ${expected[t]}`));
});

test('dropout masks: 0 or fl32(1/(1 − rate)), each (seed, step, layer) its own Philox stream', () => {
  const spec: TrainSpec = { ...base, steps: 3, batch: 64, layers: [{ kind: 'dropout', rate: 0.25 }] };
  const [mask] = dropoutMasks('w', 7, spec);
  assert.equal(mask.name, 'dropout.l0');
  assert.deepEqual(mask.shape, [3, 64, 4]);
  const keep = Math.fround(1 / 0.75);
  for (let s = 0; s < 3; s++) {
    const u = uniformStream(tensorKey('w', 7, `dropout.l0.step${s}`), 256);
    for (let i = 0; i < 256; i++) assert.equal(mask.data[s * 256 + i], u[i] < 0.25 ? 0 : keep);
  }
  const dropped = Array.from(mask.data).filter((v) => v === 0).length / mask.data.length;
  assert.ok(dropped > 0.18 && dropped < 0.32, `dropped share ${dropped}`);
  assert.notDeepEqual(mask.data.subarray(0, 256), mask.data.subarray(256, 512));
});

test('teacher labels by hand: features → softsign MLP → first index of the largest logit', () => {
  // one hidden unit h = softsign(W1ᵀx): the label is argmax W2 when h > 0 and argmin W2 when h < 0
  const spec: TrainSpec = { ...base, input: { shape: [2], dtype: 'float32' }, teacher: { width: 2, hidden: 1 } };
  const w1 = normalStream(tensorKey('t', TASK_SEED, 'teacher.w1'), 2);
  const w2 = Array.from(normalStream(tensorKey('t', TASK_SEED, 'teacher.w2'), 3));
  const argmax = w2.indexOf(Math.max(...w2)), argmin = w2.indexOf(Math.min(...w2));
  const x = new Float32Array([1, 0, 0, 1, -1, 0]);
  const sign = (h: number) => (h > 0 ? argmax : argmin);
  assert.deepEqual(Array.from(teacherLabels('t', spec, x, 3, false)), [sign(w1[0]), sign(w1[1]), sign(-w1[0])]);
});

test('training inputs: teacher labels that use every class, an evaluation set, per-step rates; identical every time', () => {
  const spec: TrainSpec = { ...base, input: { shape: [16], dtype: 'float32' }, teacher: { width: 16, hidden: 32 }, classes: 4, batch: 64, steps: 4, evalExamples: 200 };
  const workload = { id: 'probe', params: {}, spec, tolerance: { relL2: 1e-5 }, negativeControl: false as const };
  const inputs = workloadInputs(workload, 0);
  const y = byName(inputs, 'y'), yEval = byName(inputs, 'yEval');
  assert.deepEqual(y.shape, [4, 64]);
  assert.deepEqual(byName(inputs, 'xEval').shape, [200, 16]);
  assert.deepEqual(yEval.shape, [200]);
  const counts = [0, 0, 0, 0];
  y.data.forEach((c) => counts[c]++);
  assert.ok(counts.every((n) => n >= 16), `classes unbalanced: ${counts}`);
  assert.deepEqual(workloadInputs(workload, 0).map((t) => Buffer.from(t.data.buffer).toString('base64')), inputs.map((t) => Buffer.from(t.data.buffer).toString('base64')));
  // another seed draws other weights and training data, but learns the same task: the same held-out set
  const other = workloadInputs(workload, 1);
  for (const name of ['xEval', 'yEval']) assert.deepEqual(byName(other, name).data, byName(inputs, name).data);
  for (const name of ['x', 'head.w']) assert.notDeepEqual(byName(other, name).data, byName(inputs, name).data);
});

test('the data-parallel driver refuses what it does not implement (optimizers, schedules, clipping, state, dropout), saying so', () => {
  const tfjsCpu = findBackend('tfjs-cpu')!;
  const plain: TrainSpec = { ...base, layers: [{ kind: 'dense', units: 4, activation: 'relu' }], dataParallel: { shards: 2, workers: 2 } };
  assert.deepEqual(supportOf(tfjsCpu, plain), { ok: true });
  for (const spec of [
    { ...plain, optimizer: { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } },
    { ...plain, schedule: { kind: 'warmupCosine', warmupSteps: 1, minFactor: 0 } },
    { ...plain, clipNorm: 1 },
    { ...plain, layers: [{ kind: 'batchNorm' }] },
    { ...plain, layers: [{ kind: 'dropout', rate: 0.5 }] },
  ] as TrainSpec[]) {
    const s = supportOf(tfjsCpu, spec);
    assert.ok(!s.ok && /data-parallel driver trains with plain SGD/.test(s.reason), JSON.stringify(spec));
  }
});
