/**
 * Workloads lowered to ONNX graphs: each layer becomes primitives of the rule table (onnx-rules.ts),
 * the gradients come from the differentiator (onnx-grad.ts), and the optimizer update is written into
 * the same graph, so one training step is one session run whose updated parameters (and optimizer
 * state) are fed back as the next step's inputs. Every graph is a pure function of the spec.
 */
import { paramShapes } from '../../../workloads/params.js';
import type { InferSpec, Layer, TrainSpec } from '../../../workloads/types.js';
import { Tape } from './onnx-grad.js';
import { GraphBuilder, type Value } from './onnx-graph.js';
import { OPTIMIZERS } from './onnx-rules.js';

/** One value carried from a step's outputs to the next step's inputs. */
export interface Carried {
  input: string;
  output: string;
  shape: number[];
  /** Its value before the first step: a harness tensor (parameters) or a constant fill (optimizer state). */
  initial: { tensor: string } | { fill: number };
}

export interface TrainGraph {
  model: Uint8Array;
  /** Parameters first (in paramShapes order), then optimizer state. */
  carried: Carried[];
  /** Per-step inputs: the batch and its one-hot labels. */
  x: string;
  onehot: string;
  loss: string;
}

export interface GradientGraph {
  model: Uint8Array;
  params: string[];
  x: string;
  onehot: string;
  /** One per parameter, in paramShapes order. */
  grads: string[];
  loss: string;
}

export interface InferGraph {
  model: Uint8Array;
  inputs: string[];
  output: string;
}

/** "same" padding of a stride-1 convolution, as TensorFlow splits it (the extra row at the end). */
function samePads(kernel: number): [number, number, number, number] {
  const before = Math.floor((kernel - 1) / 2), after = kernel - 1 - before;
  return [before, before, after, after];
}

/**
 * The logits of a model. Activations are NHWC as the workloads declare them; convolution and pooling
 * run in ONNX's NCHW, so the model transposes in and out of it where the layout changes.
 */
function logits(tape: Tape, spec: TrainSpec, params: Value[], x: Value): Value {
  let h = x;
  let nchw = false;
  let p = 0;
  const toNchw = () => {
    if (!nchw) (h = tape.apply1('transpose', [h], { perm: [0, 3, 1, 2] })), (nchw = true);
  };
  const toNhwc = () => {
    if (nchw) (h = tape.apply1('transpose', [h], { perm: [0, 2, 3, 1] })), (nchw = false);
  };
  const activation = (a: 'relu' | 'none') => {
    if (a === 'relu') h = tape.apply1('relu', [h], {});
  };
  const dense = (w: Value, b: Value) => tape.apply1('add', [tape.apply1('matmul', [h, w], {}), b], {});
  for (const layer of spec.layers as Layer[]) {
    switch (layer.kind) {
      case 'dense':
        h = dense(params[p], params[p + 1]);
        activation(layer.activation);
        p += 2;
        break;
      case 'conv2d': {
        toNchw();
        const [w, b] = [params[p], params[p + 1]];
        // weights are HWIO (as tfjs holds them); ONNX's Conv takes OIHW
        const oihw = tape.apply1('transpose', [w], { perm: [3, 2, 0, 1] });
        const z = tape.apply1('conv2d', [h, oihw], { strides: [1, 1], pads: samePads(layer.kernel) });
        h = tape.apply1('add', [z, tape.apply1('reshape', [b], { shape: [layer.filters, 1, 1] })], {});
        activation(layer.activation);
        p += 2;
        break;
      }
      case 'pool':
        toNchw();
        h = tape.apply1(layer.op === 'max' ? 'maxPool' : 'avgPool', [h], { size: layer.size });
        break;
      case 'flatten':
        toNhwc();
        h = tape.apply1('reshape', [h], { shape: [h.shape[0], h.shape.slice(1).reduce((a, b) => a * b, 1)] });
        break;
      case 'embedding':
        h = tape.apply1('embedding', [params[p], h], {});
        p += 1;
        break;
      case 'meanPool':
        toNhwc();
        h = tape.apply1('mean', [h], { axis: 1 });
        break;
      default:
        throw new Error(`no ONNX lowering for layer ${JSON.stringify(layer satisfies never)}`);
    }
  }
  return dense(params[p], params[p + 1]);
}

/** Inputs and the mean softmax cross-entropy of a model on one batch, ready to differentiate. */
function lossOf(g: GraphBuilder, spec: TrainSpec, batch: number) {
  const tape = new Tape(g);
  const shapes = paramShapes(spec);
  const params = shapes.map(([name, shape]) => tape.variable(g.input(name, shape)));
  const x = g.input('x', [batch, ...spec.input.shape], spec.input.dtype);
  const onehot = g.input('onehot', [batch, spec.classes]);
  const loss = tape.apply1('softmaxCrossEntropy', [logits(tape, spec, params, x), onehot], {});
  return { tape, shapes, params, x, onehot, loss };
}

/** One training step: forward, backward and the optimizer update, as one graph. */
export function trainStepGraph(spec: TrainSpec): TrainGraph {
  const g = new GraphBuilder('train-step');
  const { tape, shapes, params, x, onehot, loss } = lossOf(g, spec, spec.batch);
  const grads = tape.gradients(loss, params);
  const learningRate = g.scalar(spec.learningRate);
  const carried: Carried[] = shapes.map(([name, shape], i) => {
    const next = OPTIMIZERS.sgd.update(g, { param: params[i], grad: grads[i], state: {} }, { learningRate });
    return { input: name, output: g.output(`${name}.next`, next.param).name, shape, initial: { tensor: name } };
  });
  g.output('loss', loss);
  return { model: g.encode(), carried, x: x.name, onehot: onehot.name, loss: 'loss' };
}

/** The gradients of one shard (for the data-parallel driver, which sums and applies them itself). */
export function gradientGraph(spec: TrainSpec, batch: number): GradientGraph {
  const g = new GraphBuilder('gradients');
  const { tape, shapes, params, x, onehot, loss } = lossOf(g, spec, batch);
  const grads = tape.gradients(loss, params).map((d, i) => g.output(`${shapes[i][0]}.grad`, d).name);
  g.output('loss', loss);
  return { model: g.encode(), params: shapes.map(([n]) => n), x: x.name, onehot: onehot.name, grads, loss: 'loss' };
}

/** The forward pass of an inference workload, through the same rules. */
export function inferGraph(spec: InferSpec): InferGraph {
  const g = new GraphBuilder(spec.op);
  const tape = new Tape(g);
  const done = (inputs: Value[], out: Value): InferGraph => {
    g.output('out', out);
    return { model: g.encode(), inputs: inputs.map((v) => v.name), output: 'out' };
  };
  switch (spec.op) {
    case 'attention': {
      const qkv = ['q', 'k', 'v'].map((n) => g.input(n, [spec.heads, spec.seq, spec.dim]));
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
  }
}

/** One-hot float32 labels, as the graphs take them. */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (out[i * classes + c] = 1));
  return out;
}
