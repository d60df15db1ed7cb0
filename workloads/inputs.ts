import { indexStream, normalStream, tensorKey, uniformStream } from '../harness/rng.js';
import { artifactShapes, fanIn, labelShape, modelLayout } from './params.js';
import { learningRates } from './schedule.js';
import { TASK_SEED, teacherLabels } from './teacher.js';
import { datasetTensors, detDrawTables, hasLoader, loadInThread } from './loader.js';
import type { NamedTensor, ResolvedWorkload, TrainSpec } from './types.js';
import { sizeOf } from './types.js';


/**
 * Every tensor a run needs, derived from (workload id, seed, tensor name) alone. Training data is laid
 * out per step: `x` is [steps, batch, ...input], `y` [steps, batch, ...label] class ids from the
 * teacher; `lr` [steps] the learning rate of each step; `dropout.<path>` [steps, batch, ...] each
 * dropout layer's masks; `xEval`, `yEval` the held-out evaluation set (workloads/types.ts, TrainSpec).
 * The task — the teacher and the held-out set — does not depend on the seed (workloads/teacher.ts).
 */
export function workloadInputs(workload: ResolvedWorkload, seed: number): NamedTensor[] {
  const normal = (name: string, shape: number[], scale = 1): NamedTensor => {
    const data = normalStream(tensorKey(workload.id, seed, name), sizeOf(shape));
    if (scale !== 1) for (let i = 0; i < data.length; i++) data[i] *= scale;
    return { name, shape, data };
  };
  const spec = workload.spec;
  if (spec.kind === 'infer') {
    switch (spec.op) {
      case 'attention':
        return ['q', 'k', 'v'].map((n) => normal(n, [spec.heads, spec.seq, spec.dim]));
      case 'reduceSum':
        return [normal('x', [spec.length])];
      case 'matmul':
        return [normal('a', [spec.m, spec.k]), normal('b', [spec.k, spec.n])];
      case 'indexAdd':
        return [normal('src', [spec.length]), { name: 'index', shape: [spec.length], data: indexStream(tensorKey(workload.id, seed, 'index'), spec.length, spec.buckets, spec.skew) }];
      case 'atomicSum':
        return [normal('x', [spec.length])];
      case 'forward':
        // a model's initial weights and its held-out set, as a training workload of the model has them
        return [...initialWeights(workload.id, seed, spec.model), examples(workload.id, spec.model, 'xEval', spec.model.evalExamples, TASK_SEED)];
    }
  }
  const tensors: NamedTensor[] = initialWeights(workload.id, seed, spec);
  // the held-out set is part of the task (keyed by TASK_SEED like the teacher): the same for every seed
  const data = (name: string, count: number, keySeed: number) => examples(workload.id, spec, name, count, keySeed);
  const perToken = labelShape(spec).length === 1;
  const xEval = data('xEval', spec.evalExamples, TASK_SEED);
  tensors.push(
    ...trainingBatches(workload.id, seed, spec, data),
    { name: 'lr', shape: [spec.steps], data: learningRates(spec) },
    ...dropoutMasks(workload.id, seed, spec),
    xEval,
    { name: 'yEval', shape: [spec.evalExamples, ...labelShape(spec)], data: teacherLabels(workload.id, spec, xEval.data, spec.evalExamples, perToken) },
  );
  return tensors;
}

/** `count` examples of a model's input [count, …input]: normals, or token ids. */
function examples(workloadId: string, spec: TrainSpec, name: string, count: number, keySeed: number): NamedTensor {
  const shape = [count, ...spec.input.shape];
  const key = tensorKey(workloadId, keySeed, name);
  if (spec.input.dtype === 'float32') return { name, shape, data: normalStream(key, sizeOf(shape)) };
  const { vocab, skew } = spec.input;
  return { name, shape, data: indexStream(key, sizeOf(shape), vocab, skew) };
}

/**
 * `x` [steps, batch, …input] and `y` [steps, batch, …label]: Philox examples labelled by the teacher,
 * or, for a workload with a data loader, the dataset, det's draw tables and the batches det's loader
 * delivers (the reference every loader must match in det; harness/run/loader.ts replaces x and y with
 * what the run's own loader delivers).
 */
function trainingBatches(workloadId: string, seed: number, spec: TrainSpec, data: (name: string, examples: number, keySeed: number) => NamedTensor): NamedTensor[] {
  const xShape = [spec.steps, spec.batch, ...spec.input.shape], yShape = [spec.steps, spec.batch, ...labelShape(spec)];
  if (!hasLoader(spec)) {
    const x = data('x', spec.steps * spec.batch, seed);
    return [{ ...x, shape: xShape }, { name: 'y', shape: yShape, data: teacherLabels(workloadId, spec, x.data, spec.steps * spec.batch, labelShape(spec).length === 1) }];
  }
  const [dataset, labels] = datasetTensors(workloadId, seed, spec);
  const batches = loadInThread({ workloadId, seed, spec, mode: 'det', dataset: dataset.data as Float32Array, labels: labels.data as Int32Array }, 0);
  return [{ name: 'x', shape: xShape, data: batches.x }, { name: 'y', shape: yShape, data: batches.y }, dataset, labels, ...detDrawTables(workloadId, seed, spec)];
}

/**
 * Each dropout layer's masks [steps, batch, ...shape]: 0 where dropped, fl32(1/(1 − rate)) where
 * kept; step s of layer `dropout.<path>` is the Philox stream keyed by (workload, seed,
 * `dropout.<path>.step<s>`), dropping element e iff its uniform is below the rate.
 */
export function dropoutMasks(workloadId: string, seed: number, spec: TrainSpec): NamedTensor[] {
  return modelLayout(spec).dropout.map(({ name, shape, rate }) => {
    const perStep = spec.batch * sizeOf(shape);
    const keep = Math.fround(1 / (1 - rate));
    const data = new Float32Array(spec.steps * perStep);
    for (let s = 0; s < spec.steps; s++) {
      const u = uniformStream(tensorKey(workloadId, seed, `${name}.step${s}`), perStep);
      for (let i = 0; i < perStep; i++) data[s * perStep + i] = u[i] < rate ? 0 : keep;
    }
    return { name, shape: [spec.steps, spec.batch, ...shape], data };
  });
}

/**
 * Initial parameters and state, in artifact order: `he` normal·√(2/fanIn), `embedding` normal·1/√dim,
 * `zeros`, `ones` (workloads/types.ts, Init).
 */
export function initialWeights(workloadId: string, seed: number, spec: TrainSpec): NamedTensor[] {
  return artifactShapes(spec).map(([name, shape, init]) => {
    const n = sizeOf(shape);
    if (init === 'zeros') return { name, shape, data: new Float32Array(n) };
    if (init === 'ones') return { name, shape, data: new Float32Array(n).fill(1) };
    const scale = init === 'embedding' ? 1 / Math.sqrt(shape[1]) : Math.sqrt(2 / fanIn(shape));
    const data = normalStream(tensorKey(workloadId, seed, name), n);
    for (let i = 0; i < data.length; i++) data[i] *= scale;
    return { name, shape, data };
  });
}

export function byName(tensors: NamedTensor[], name: string): NamedTensor {
  const t = tensors.find((x) => x.name === name);
  if (!t) throw new Error(`workload input "${name}" missing`);
  return t;
}
