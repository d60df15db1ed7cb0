import type { Layer, ParamShapes, TrainSpec } from './types.js';
import { sizeOf } from './types.js';

/** What a model is made of, walked once: parameters, state and dropout sites, in order, by path. */
export interface ModelLayout {
  /** Trainable parameters (the head last). */
  params: ParamShapes;
  /** Not trained, part of the artifact after the parameters: batchNorm running statistics. */
  state: ParamShapes;
  /** Dropout sites: the mask input's name and the per-example shape it multiplies. */
  dropout: Array<{ name: string; shape: number[]; rate: number }>;
  /** The per-example shape reaching the head: [D] (one prediction per example) or [S, D] (one per token). */
  headInput: number[];
}

/**
 * The layout of a model. Conv layers use "same" padding and stride 1 in NHWC layout; pooling is
 * non-overlapping. Names follow the layer paths of workloads/types.ts (`l<i>`, `l<i>.<j>`, `head`).
 */
export function modelLayout(spec: TrainSpec): ModelLayout {
  const layout: ModelLayout = { params: [], state: [], dropout: [], headInput: [] };
  const shape = walk(spec.layers, [...spec.input.shape], 'l', layout);
  if (shape.length !== 1 && shape.length !== 2) throw new Error(`model output before the head must be [D] or [S, D], got [${shape}]: add a flatten, meanPool or globalAvgPool layer`);
  layout.params.push(['head.w', [shape[shape.length - 1], spec.classes], 'he'], ['head.b', [spec.classes], 'zeros']);
  layout.headInput = shape;
  return layout;
}

/** The trainable parameters of a model, in order: [name, shape, initialiser]. */
export const paramShapes = (spec: TrainSpec): ParamShapes => modelLayout(spec).params;

/** State that is not trained but is part of the artifact (batchNorm running statistics), in order. */
export const stateShapes = (spec: TrainSpec): ParamShapes => modelLayout(spec).state;

/** Every tensor of a training artifact, in order: the parameters, then the state. */
export const artifactShapes = (spec: TrainSpec): ParamShapes => {
  const { params, state } = modelLayout(spec);
  return [...params, ...state];
};

/** Per-example label shape: [] (one class per example) or [S] (one per token). */
export const labelShape = (spec: TrainSpec): number[] => modelLayout(spec).headInput.slice(0, -1);

function walk(layers: Layer[], input: number[], prefix: string, layout: ModelLayout): number[] {
  let shape = input;
  layers.forEach((layer, i) => {
    const path = prefix === 'l' ? `l${i}` : `${prefix}.${i}`;
    shape = layerOutput(layer, shape, path, layout);
  });
  return shape;
}

function layerOutput(layer: Layer, shape: number[], path: string, layout: ModelLayout): number[] {
  const param = (name: string, s: number[], init: ParamShapes[number][2]) => layout.params.push([`${path}.${name}`, s, init]);
  const last = shape[shape.length - 1];
  switch (layer.kind) {
    case 'dense':
      param('w', [last, layer.units], 'he');
      if (layer.bias !== false) param('b', [layer.units], 'zeros');
      return [...shape.slice(0, -1), layer.units];
    case 'conv2d':
      param('w', [layer.kernel, layer.kernel, shape[2], layer.filters], 'he');
      if (layer.bias !== false) param('b', [layer.filters], 'zeros');
      return [shape[0], shape[1], layer.filters];
    case 'pool':
      return [Math.floor(shape[0] / layer.size), Math.floor(shape[1] / layer.size), shape[2]];
    case 'flatten':
      return [sizeOf(shape)];
    case 'embedding':
      param('table', [layer.vocab, layer.dim], 'embedding');
      return [...shape, layer.dim];
    case 'meanPool':
      return shape.slice(1);
    case 'positionEmbedding':
      if (shape.length !== 2 || shape[0] !== layer.length) throw new Error(`${path}: positionEmbedding of length ${layer.length} needs [${layer.length}, D], got [${shape}]`);
      param('table', [layer.length, last], 'embedding');
      return shape;
    case 'layerNorm':
      param('gamma', [last], 'ones');
      param('beta', [last], 'zeros');
      return shape;
    case 'batchNorm':
      param('gamma', [last], 'ones');
      param('beta', [last], 'zeros');
      layout.state.push([`${path}.runningMean`, [last], 'zeros'], [`${path}.runningVar`, [last], 'ones']);
      return shape;
    case 'activation':
      return shape;
    case 'dropout':
      layout.dropout.push({ name: `dropout.${path}`, shape, rate: layer.rate });
      return shape;
    case 'selfAttention': {
      if (shape.length !== 2 || last % layer.heads !== 0) throw new Error(`${path}: selfAttention needs [S, D] with D divisible by ${layer.heads} heads, got [${shape}]`);
      for (const m of ['q', 'k', 'v', 'o']) param(`w${m}`, [last, last], 'he');
      // no key bias (workloads/types.ts): its gradient is mathematically zero
      for (const m of ['q', 'v', 'o']) param(`b${m}`, [last], 'zeros');
      return shape;
    }
    case 'residual': {
      const out = walk(layer.layers, shape, path, layout);
      if (out.join() !== shape.join()) throw new Error(`${path}: a residual block must keep its shape, [${shape}] became [${out}]`);
      return shape;
    }
    case 'globalAvgPool':
      return [shape[2]];
  }
}

/** Fan-in of a parameter, for He-scaled initial weights. */
export function fanIn(shape: number[]): number {
  return shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape.length === 2 ? shape[0] : 1;
}
