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
import { CLIP_NORM_OP, HEAD_PATH, LOSS_GRAD_OP, LOSS_OP, inferOps, layerOp, opNames, type OpNames } from '../../../workloads/ops.js';

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
  /** Locating: the graph output that holds each op's value (workloads/ops.ts names), NHWC. */
  ops: OpOutput[];
}

/** An op of workloads/ops.ts and the graph output that holds its value (only in graphs built for locating). */
export interface OpOutput {
  op: string;
  output: string;
}

/**
 * Locating: the ops a lowering reports, as values of the graph, and the values whose gradients are
 * ops (layer inputs); each with its layout, as the graph outputs must be NHWC (the declared layout).
 */
interface OpProbe {
  names: OpNames;
  forward: Array<{ op: string; value: Value; nchw: boolean }>;
  inputs: Array<{ op: string; value: Value; nchw: boolean }>;
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
  /** Locating: each op's graph output (empty unless built with `ops`). */
  ops: OpOutput[];
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
  /** Locating: where the lowering reports its ops. */
  probe?: OpProbe;
}

/** Adds each probed value as a graph output named `op.<name>`, NCHW values transposed to NHWC. */
function outputOps(g: GraphBuilder, values: Array<{ op: string; value: Value; nchw: boolean }>): OpOutput[] {
  return values.map(({ op, value, nchw }) => {
    const nhwc = nchw && value.shape.length === 4 ? g.transpose(value, [0, 2, 3, 1]) : value;
    return { op, output: g.output(`op.${op}`, nhwc).name };
  });
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
  const probe = L.probe;
  const record = (op: string, v: Value, isNchw = nchw) => probe?.forward.push({ op, value: v, nchw: isNchw });
  const add = (a: Value, b: Value) => tape.apply1('add', [a, b], {});
  const mul = (a: Value, b: Value) => tape.apply1('mul', [a, b], {});
  const reshape = (v: Value, shape: number[]) => tape.apply1('reshape', [v], { shape });
  const dense = (v: Value, path: string, bias: boolean) => {
    const z = tape.apply1('matmul', [v, L.value(`${path}.w`)], {});
    record(layerOp(path, 'dense', 'matmul'), z, false);
    return bias ? add(z, L.value(`${path}.b`)) : z;
  };
  /** A per-channel vector shaped to broadcast over the current layout. */
  const perChannel = (v: Value) => (nchw ? reshape(v, [v.shape[0], 1, 1]) : v);

  const gradInput = probe && new Map(probe.names.layers.map((s) => [s.path, s.gradInput]));
  const walk = (layers: Layer[], prefix: string) => {
    layers.forEach((layer, i) => {
      const path = prefix === 'l' ? `l${i}` : `${prefix}.${i}`;
      const inputOp = gradInput?.get(path);
      if (inputOp) probe!.inputs.push({ op: inputOp, value: h, nchw });
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
          record(layerOp(path, 'conv2d', 'conv'), h);
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
          if (L.mode === 'train') for (const s of ['runningMean', 'runningVar']) record(layerOp(path, 'batchNorm', s), L.statistics.get(`${path}.${s}`)!);
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
      if (layer.kind !== 'flatten') record(layerOp(path, layer.kind, 'forward'), h);
    });
  };
  walk(spec.layers, 'l');
  toNhwc();
  if (probe?.names.headGradInput) probe.inputs.push({ op: probe.names.headGradInput, value: h, nchw: false });
  const out = dense(h, HEAD_PATH, true);
  record(layerOp(HEAD_PATH, 'dense', 'forward'), out, false);
  return out;
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
  const record = (sub: string, v: Value) => L.probe?.forward.push({ op: layerOp(path, 'selfAttention', sub), value: v, nchw: false });
  const [q, k, v] = ['q', 'k', 'v'].map((m) => {
    const projected = project(m);
    record(m, projected);
    return split(projected);
  });
  const { outputs: [o], saved } = tape.applySaved('attention', [q, k, v], { scale: 1 / Math.sqrt(dh), causal: true });
  record('softmax', saved.p);
  const merged = tape.apply1('reshape', [tape.apply1('transpose', [o], { perm: [0, 2, 1, 3] })], { shape: [b, s, d] });
  record('context', merged);
  return tape.apply1('add', [tape.apply1('matmul', [merged, L.value(`${path}.wo`)], {}), L.value(`${path}.bo`)], {});
}

/** Graph inputs of a model: parameters (variables), statistics, dropout masks; x and one-hot labels. */
function modelInputs(g: GraphBuilder, spec: TrainSpec, batch: number, mode: 'train' | 'eval', probe?: OpProbe) {
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
    probe,
  };
  // one prediction per example, or one per token: the head's logits as [units, classes]
  const out = logits(L, spec, x);
  const flat = out.shape.length === 2 ? out : tape.apply1('reshape', [out], { shape: [units, spec.classes] });
  return { L, layout, params, statistics, masks, x, units, logits: flat };
}

/**
 * One training step: forward, backward, clipping and the optimizer update, as one graph. With `ops`
 * (locating) every op of workloads/ops.ts is a graph output too (TrainGraph.ops).
 */
export function trainStepGraph(spec: TrainSpec, options: { ops?: boolean } = {}): TrainGraph {
  const g = new GraphBuilder('train-step');
  const probe: OpProbe | undefined = options.ops ? { names: opNames(spec), forward: [], inputs: [] } : undefined;
  const { L, layout, params, statistics, masks, x, units, logits: z } = modelInputs(g, spec, spec.batch, 'train', probe);
  const onehot = g.input('onehot', [units, spec.classes]);
  const loss = L.tape.apply1('softmaxCrossEntropy', [z, onehot], {});
  let grads = L.tape.gradients(loss, params);
  const located: Array<{ op: string; value: Value; nchw: boolean }> = [];
  if (probe) {
    located.push(...probe.forward, { op: LOSS_OP, value: loss, nchw: false }, { op: LOSS_GRAD_OP, value: gradient(L.tape, z), nchw: false });
    located.push(...probe.inputs.map((i) => ({ ...i, value: gradient(L.tape, i.value) })));
    params.forEach((p, i) => located.push({ op: probe.names.paramGrad.get(layout.params[i][0])!, value: grads[i], nchw: false }));
  }
  if (spec.clipNorm !== undefined) grads = clipByGlobalNorm(g, grads, spec.clipNorm, probe && ((norm) => located.push({ op: CLIP_NORM_OP, value: norm, nchw: false })));

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
    if (probe) located.push({ op: probe.names.update.get(name)!, value: next.param, nchw: false });
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
  const ops = outputOps(g, located);
  return { ...g.build(), carried: [...carried, ...optimizerState], artifactLength: carried.length, stepInputs, loss: 'loss', ops };
}

/** The gradient the differentiator accumulated for an intermediate value (a located op). */
function gradient(tape: Tape, v: Value): Value {
  const d = tape.gradientOf(v);
  if (!d) throw new Error(`no gradient reached ${v.name}: workloads/ops.ts declares one there`);
  return d;
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

/** The forward pass of an inference workload, through the same rules (with `ops`, each op an output too). */
export function inferGraph(spec: InferSpec, options: { ops?: boolean } = {}): InferGraph {
  const g = new GraphBuilder(spec.op);
  const tape = new Tape(g);
  const located: Array<{ op: string; value: Value; nchw: boolean }> = [];
  const done = (inputs: Value[], out: Value): InferGraph => {
    g.output('out', out);
    if (options.ops) located.push({ op: inferOps(spec).at(-1)!, value: out, nchw: false });
    const ops = options.ops ? outputOps(g, located) : [];
    return { ...g.build(), inputs: inputs.map((v) => v.name), output: 'out', ops };
  };
  switch (spec.op) {
    case 'attention': {
      const qkv = ['q', 'k', 'v'].map((n) => g.input(n, [spec.heads, n === 'q' ? spec.queries ?? spec.seq : spec.seq, spec.dim]));
      const { outputs: [out], saved } = tape.applySaved('attention', qkv, { scale: 1 / Math.sqrt(spec.dim), causal: false });
      located.push({ op: 'attention.softmax', value: saved.p, nchw: false });
      return done(qkv, out);
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
      // located, its one op is the logits, already an output of the graph
      const ops = options.ops ? [{ op: inferOps(spec).at(-1)!, output: e.logits }] : [];
      return { model: e.model, nodeModels: e.nodeModels, inputs: [...e.weights, e.x], output: e.logits, ops };
    }
  }
}

/** One-hot float32 labels, as the graphs take them. */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (out[i * classes + c] = 1));
  return out;
}
