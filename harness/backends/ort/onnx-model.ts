/**
 * Workloads lowered to ONNX graphs: each layer becomes primitives of the rule table (onnx-rules.ts),
 * the gradients come from the differentiator (onnx-grad.ts), and clipping and the optimizer update are
 * written into the same graph, so one training step is one session run whose updated parameters,
 * batch-norm statistics and optimizer state are fed back as the next step's inputs. Every graph is a
 * pure function of the spec (and, for the shard and evaluation graphs, of the batch size).
 */
import { modelLayout } from '../../../workloads/params.js';
import { BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM, LAYER_NORM_EPSILON, type InferSpec, type Layer, type TrainSpec } from '../../../workloads/types.js';
import { Tape } from './onnx-grad.js';
import { GraphBuilder, sizeOf, type BuiltGraph, type Value } from './onnx-graph.js';
import { clipByGlobalNorm, OPTIMIZERS, type OptimizerHyper, type OptimizerKind, type OptimizerRule } from './onnx-rules.js';

/** A value carried from a step's outputs to the next step's inputs. */
export interface Carried {
  input: string;
  output: string;
  shape: number[];
  /** Its value before the first step: a harness tensor (parameters, statistics) or zeros (optimizer state). */
  initial: { tensor: string } | 'zeros';
}

/** A value fed afresh each step, sliced from a harness tensor of [steps, …shape] (or computed from the step). */
export interface StepInput {
  input: string;
  shape: number[];
  /** Step s's slice of this harness tensor (`x`, `lr`, `dropout.<path>`), or labels made one-hot. */
  from: { tensor: string } | { onehot: 'y'; classes: number } | { perStep: (t: number) => number };
}

export interface TrainGraph extends BuiltGraph {
  /** Parameters, then batch-norm statistics (artifact order), then optimizer state. */
  carried: Carried[];
  /** How many of `carried` are the artifact (parameters and statistics). */
  artifactLength: number;
  stepInputs: StepInput[];
  loss: string;
}

export interface GradientGraph extends BuiltGraph {
  params: string[];
  /** Batch-norm statistics and dropout masks the forward pass reads (none for the data-parallel control). */
  statistics: string[];
  masks: string[];
  x: string;
  onehot: string;
  /** One per parameter, in parameter order. */
  grads: string[];
  loss: string;
}

/** Evaluation mode (dropout off, batch norm on its running statistics): logits [units, classes]. */
export interface EvalGraph extends BuiltGraph {
  /** Parameters then statistics, artifact order. */
  weights: string[];
  x: string;
  logits: string;
}

export interface InferGraph extends BuiltGraph {
  inputs: string[];
  output: string;
}

/** "same" padding of a stride-1 convolution, as TensorFlow splits it (an odd extra row at the end). */
function samePads(kernel: number): [number, number, number, number] {
  const before = Math.floor((kernel - 1) / 2), after = kernel - 1 - before;
  return [before, before, after, after];
}

interface Lowering {
  tape: Tape;
  g: GraphBuilder;
  mode: 'train' | 'eval';
  /** Graph inputs by harness name: parameters, statistics, dropout masks. */
  value(name: string): Value;
  /** Training: each batch-norm statistic's next value, by name. */
  statistics: Map<string, Value>;
}

/**
 * The logits of a model. Activations are NHWC (or [S, D]) as the workloads declare them; convolution
 * and pooling run in ONNX's NCHW, so the model transposes where the layout changes.
 */
function logits(L: Lowering, spec: TrainSpec, x: Value): Value {
  const { tape, g } = L;
  let h = x;
  let nchw = false;
  const toNchw = () => {
    if (!nchw) (h = tape.apply1('transpose', [h], { perm: [0, 3, 1, 2] })), (nchw = true);
  };
  const toNhwc = () => {
    if (nchw) (h = tape.apply1('transpose', [h], { perm: [0, 2, 3, 1] })), (nchw = false);
  };
  const act = (fn: 'relu' | 'gelu' | 'none') => {
    if (fn !== 'none') h = tape.apply1(fn, [h], {});
  };
  const add = (a: Value, b: Value) => tape.apply1('add', [a, b], {});
  const mul = (a: Value, b: Value) => tape.apply1('mul', [a, b], {});
  const reshape = (v: Value, shape: number[]) => tape.apply1('reshape', [v], { shape });
  const dense = (v: Value, path: string, bias: boolean) => {
    const z = tape.apply1('matmul', [v, L.value(`${path}.w`)], {});
    return bias ? add(z, L.value(`${path}.b`)) : z;
  };
  /** A per-channel vector shaped to broadcast over the current layout. */
  const perChannel = (v: Value) => (nchw ? reshape(v, [v.shape[0], 1, 1]) : v);

  const walk = (layers: Layer[], prefix: string) => {
    layers.forEach((layer, i) => {
      const path = prefix === 'l' ? `l${i}` : `${prefix}.${i}`;
      switch (layer.kind) {
        case 'dense':
          toNhwc();
          h = dense(h, path, layer.bias !== false);
          act(layer.activation);
          break;
        case 'conv2d': {
          toNchw();
          // weights are HWIO (as tfjs holds them); ONNX's Conv takes OIHW
          const oihw = tape.apply1('transpose', [L.value(`${path}.w`)], { perm: [3, 2, 0, 1] });
          h = tape.apply1('conv2d', [h, oihw], { strides: [1, 1], pads: samePads(layer.kernel) });
          if (layer.bias !== false) h = add(h, perChannel(L.value(`${path}.b`)));
          act(layer.activation);
          break;
        }
        case 'pool':
          toNchw();
          h = tape.apply1(layer.op === 'max' ? 'maxPool' : 'avgPool', [h], { size: layer.size });
          break;
        case 'flatten':
          toNhwc();
          h = reshape(h, [h.shape[0], sizeOf(h.shape.slice(1))]);
          break;
        case 'embedding':
          h = tape.apply1('embedding', [L.value(`${path}.table`), h], {});
          break;
        case 'meanPool':
          toNhwc();
          h = tape.apply1('mean', [h], { axes: [1] });
          break;
        case 'globalAvgPool':
          h = tape.apply1('mean', [h], { axes: nchw ? [2, 3] : [1, 2] });
          nchw = false;
          break;
        case 'positionEmbedding':
          h = add(h, L.value(`${path}.table`));
          break;
        case 'layerNorm': {
          toNhwc();
          const [xhat] = tape.apply('normalize', [h], { axes: [h.shape.length - 1], epsilon: LAYER_NORM_EPSILON });
          h = add(mul(xhat, L.value(`${path}.gamma`)), L.value(`${path}.beta`));
          break;
        }
        case 'batchNorm':
          h = batchNorm(L, h, path, nchw ? [0, 2, 3] : h.shape.slice(0, -1).map((_, j) => j), perChannel);
          break;
        case 'activation':
          act(layer.fn);
          break;
        case 'dropout':
          // inverted dropout: one multiply by the harness's mask of this step (evaluation: the identity)
          toNhwc();
          if (L.mode === 'train') h = mul(h, L.value(`dropout.${path}`));
          break;
        case 'selfAttention':
          toNhwc();
          h = selfAttention(L, h, path, layer.heads);
          break;
        case 'residual': {
          const [input, inputNchw] = [h, nchw];
          walk(layer.layers, path);
          if (nchw !== inputNchw) (inputNchw ? toNchw : toNhwc)();
          h = add(input, h);
          break;
        }
        default:
          throw new Error(`no ONNX lowering for layer ${JSON.stringify(layer satisfies never)}`);
      }
    });
  };
  walk(spec.layers, 'l');
  toNhwc();
  return dense(h, 'head', true);
}

/**
 * Batch normalisation over `axes` (batch and space). Training normalises with the batch statistics
 * and writes the updated running statistics; evaluation normalises with the running statistics.
 */
function batchNorm(L: Lowering, h: Value, path: string, axes: number[], perChannel: (v: Value) => Value): Value {
  const { tape, g } = L;
  const gamma = perChannel(L.value(`${path}.gamma`)), beta = perChannel(L.value(`${path}.beta`));
  const runningMean = L.value(`${path}.runningMean`), runningVar = L.value(`${path}.runningVar`);
  let xhat: Value;
  if (L.mode === 'train') {
    const [normalised, mean, variance] = tape.apply('normalize', [h], { axes, epsilon: BATCH_NORM_EPSILON });
    xhat = normalised;
    // running ← (1 − m)·running + m·batch statistic, the variance unbiased (n/(n − 1)), as PyTorch does
    const n = sizeOf(axes.map((a) => h.shape[a]));
    const m = BATCH_NORM_MOMENTUM;
    const update = (running: Value, batch: Value) => g.add(g.mul(g.scalar(1 - m), running), g.mul(g.scalar(m), g.reshape(batch, running.shape)));
    L.statistics.set(`${path}.runningMean`, update(runningMean, mean));
    L.statistics.set(`${path}.runningVar`, update(runningVar, g.mul(g.reshape(variance, runningVar.shape), g.scalar(n / (n - 1)))));
  } else {
    const shaped = (v: Value) => g.reshape(v, h.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
    xhat = g.div(g.sub(h, shaped(runningMean)), g.sqrt(g.add(shaped(runningVar), g.scalar(BATCH_NORM_EPSILON))));
  }
  return tape.apply1('add', [tape.apply1('mul', [xhat, gamma], {}), beta], {});
}

/** Causal multi-head self-attention on [B, S, D] (workloads/types.ts: selfAttention). */
function selfAttention(L: Lowering, x: Value, path: string, heads: number): Value {
  const { tape } = L;
  const [b, s, d] = x.shape;
  const dh = d / heads;
  const project = (m: string) => {
    const z = tape.apply1('matmul', [x, L.value(`${path}.w${m}`)], {});
    // K has no bias (workloads/types.ts: its gradient would be rounding noise alone)
    return m === 'k' ? z : tape.apply1('add', [z, L.value(`${path}.b${m}`)], {});
  };
  // [B, S, D] → [B, heads, S, dh]: head h is columns [h·dh, (h + 1)·dh)
  const split = (v: Value) => tape.apply1('transpose', [tape.apply1('reshape', [v], { shape: [b, s, heads, dh] })], { perm: [0, 2, 1, 3] });
  const [q, k, v] = ['q', 'k', 'v'].map((m) => split(project(m)));
  const o = tape.apply1('attention', [q, k, v], { scale: 1 / Math.sqrt(dh), causal: true });
  const merged = tape.apply1('reshape', [tape.apply1('transpose', [o], { perm: [0, 2, 1, 3] })], { shape: [b, s, d] });
  return tape.apply1('add', [tape.apply1('matmul', [merged, L.value(`${path}.wo`)], {}), L.value(`${path}.bo`)], {});
}

/** Graph inputs of a model: parameters (variables), statistics, dropout masks; x and one-hot labels. */
function modelInputs(g: GraphBuilder, spec: TrainSpec, batch: number, mode: 'train' | 'eval') {
  const tape = new Tape(g);
  const layout = modelLayout(spec);
  const values = new Map<string, Value>();
  const params = layout.params.map(([name, shape]) => {
    const v = g.input(name, shape);
    values.set(name, mode === 'train' ? tape.variable(v) : v);
    return v;
  });
  const statistics = layout.state.map(([name, shape]) => {
    const v = g.input(name, shape);
    values.set(name, v);
    return v;
  });
  const masks = mode === 'train' ? layout.dropout.map(({ name, shape }) => {
    const v = g.input(name, [batch, ...shape]);
    values.set(name, v);
    return v;
  }) : [];
  const x = g.input(mode === 'train' ? 'x' : 'xEval', [batch, ...spec.input.shape], spec.input.dtype);
  const units = batch * sizeOf(layout.headInput.slice(0, -1));
  const L: Lowering = {
    tape,
    g,
    mode,
    value: (name) => values.get(name) ?? (() => { throw new Error(`the model has no input ${name}`); })(),
    statistics: new Map(),
  };
  // one prediction per example, or one per token: the head's logits as [units, classes]
  const out = logits(L, spec, x);
  const flat = out.shape.length === 2 ? out : tape.apply1('reshape', [out], { shape: [units, spec.classes] });
  return { L, layout, params, statistics, masks, x, units, logits: flat };
}

/** One training step: forward, backward, clipping and the optimizer update, as one graph. */
export function trainStepGraph(spec: TrainSpec): TrainGraph {
  const g = new GraphBuilder('train-step');
  const { L, layout, params, statistics, masks, x, units, logits: z } = modelInputs(g, spec, spec.batch, 'train');
  const onehot = g.input('onehot', [units, spec.classes]);
  const loss = L.tape.apply1('softmaxCrossEntropy', [z, onehot], {});
  let grads = L.tape.gradients(loss, params);
  if (spec.clipNorm !== undefined) grads = clipByGlobalNorm(g, grads, spec.clipNorm);

  const optimizer = spec.optimizer ?? { kind: 'sgd' as const };
  const rule = OPTIMIZERS[optimizer.kind] as OptimizerRule<OptimizerHyper<OptimizerKind>>;
  const learningRate = g.input('lr', []);
  const stepScalars = Object.fromEntries(rule.stepInputs.map(({ name }) => [name, g.input(name, [])]));

  const carried: Carried[] = [];
  const optimizerState: Carried[] = [];
  params.forEach((param, i) => {
    const name = layout.params[i][0];
    const state = Object.fromEntries(rule.state.map((s) => [s, g.input(`${name}.${s}`, param.shape)]));
    const next = rule.update(g, { param, grad: grads[i], state, learningRate, stepInputs: stepScalars }, optimizer);
    carried.push({ input: name, output: g.output(`${name}.next`, next.param).name, shape: [...param.shape], initial: { tensor: name } });
    for (const s of rule.state) {
      optimizerState.push({ input: `${name}.${s}`, output: g.output(`${name}.${s}.next`, next.state[s]).name, shape: [...param.shape], initial: 'zeros' });
    }
  });
  statistics.forEach((v) => {
    const next = L.statistics.get(v.name) ?? v;
    carried.push({ input: v.name, output: g.output(`${v.name}.next`, next).name, shape: [...v.shape], initial: { tensor: v.name } });
  });
  g.output('loss', loss);

  const stepInputs: StepInput[] = [
    { input: x.name, shape: [...x.shape], from: { tensor: 'x' } },
    { input: onehot.name, shape: [...onehot.shape], from: { onehot: 'y', classes: spec.classes } },
    { input: learningRate.name, shape: [], from: { tensor: 'lr' } },
    ...masks.map((m): StepInput => ({ input: m.name, shape: [...m.shape], from: { tensor: m.name } })),
    ...rule.stepInputs.map(({ name, value }): StepInput => ({ input: name, shape: [], from: { perStep: (t: number) => value(optimizer, t) } })),
  ];
  return { ...g.build(), carried: [...carried, ...optimizerState], artifactLength: carried.length, stepInputs, loss: 'loss' };
}

/** The loss and its gradients on one batch, in training mode (the data-parallel driver's shards). */
export function gradientGraph(spec: TrainSpec, batch: number): GradientGraph {
  const g = new GraphBuilder('gradients');
  const { L, layout, params, statistics, masks, x, units, logits: z } = modelInputs(g, spec, batch, 'train');
  const onehot = g.input('onehot', [units, spec.classes]);
  const loss = L.tape.apply1('softmaxCrossEntropy', [z, onehot], {});
  const grads = L.tape.gradients(loss, params).map((d, i) => g.output(`${layout.params[i][0]}.grad`, d).name);
  g.output('loss', loss);
  const names = (vs: Value[]) => vs.map((v) => v.name);
  return { ...g.build(), params: names(params), statistics: names(statistics), masks: names(masks), x: x.name, onehot: onehot.name, grads, loss: 'loss' };
}

/** The model in evaluation mode on `batch` examples: logits [units, classes]. */
export function evalGraph(spec: TrainSpec, batch: number): EvalGraph {
  const g = new GraphBuilder('evaluation');
  const { layout, x, logits: z } = modelInputs(g, spec, batch, 'eval');
  g.output('logits', z);
  return { ...g.build(), weights: [...layout.params, ...layout.state].map(([n]) => n), x: x.name, logits: 'logits' };
}

/** The forward pass of an inference workload, through the same rules. */
export function inferGraph(spec: InferSpec): InferGraph {
  const g = new GraphBuilder(spec.op);
  const tape = new Tape(g);
  const done = (inputs: Value[], out: Value): InferGraph => {
    g.output('out', out);
    return { ...g.build(), inputs: inputs.map((v) => v.name), output: 'out' };
  };
  switch (spec.op) {
    case 'attention': {
      const qkv = ['q', 'k', 'v'].map((n) => g.input(n, [spec.heads, n === 'q' ? spec.queries ?? spec.seq : spec.seq, spec.dim]));
      return done(qkv, tape.apply1('attention', qkv, { scale: 1 / Math.sqrt(spec.dim), causal: false }));
    }
    case 'reduceSum': {
      const x = g.input('x', [spec.length]);
      return done([x], tape.apply1('reduceSum', [x], { axes: [0], keepdims: true }));
    }
    case 'matmul': {
      const ab = [g.input('a', [spec.m, spec.k]), g.input('b', [spec.k, spec.n])];
      return done(ab, tape.apply1('matmul', ab, {}));
    }
    case 'indexAdd': {
      const inputs = [g.input('src', [spec.length]), g.input('index', [spec.length], 'int32')];
      return done(inputs, tape.apply1('indexAdd', inputs, { buckets: spec.buckets }));
    }
    case 'atomicSum':
      throw new Error('atomic-sum is a WGSL kernel: it has no ONNX graph');
    case 'forward': {
      // the model's evaluation graph, its weights and held-out examples as the inputs
      const e = evalGraph(spec.model, spec.model.evalExamples);
      return { model: e.model, nodeModels: e.nodeModels, inputs: [...e.weights, e.x], output: e.logits };
    }
  }
}

/** One-hot float32 labels, as the graphs take them. */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (out[i * classes + c] = 1));
  return out;
}
