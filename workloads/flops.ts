/**
 * Floating-point operations of one run of a workload, counted from its spec: what a preset asks of a
 * device (`detbench workloads --json`), and why the gpu preset is not run on CPUs by default.
 *
 * Counted: products as 2 FLOPs per multiply-add (dense, conv2d, attention's QKᵀ and AV over the whole
 * S×S square, the reference computation most kernels run, masked or not); element-wise work
 * (activations, normalisation, softmax, pooling, optimizer updates) as a few FLOPs per element. A
 * training step is forward + backward ≈ 3 × forward (the backward pass computes two products per
 * forward product: the input and the weight gradients); the evaluation forward pass is added once.
 */
import { modelLayout } from './params.js';
import type { Layer, TrainSpec, WorkloadSpec } from './types.js';
import { sizeOf } from './types.js';


/** Forward FLOPs of one example through `layers` from `shape`; returns [flops, output shape]. */
function forwardFlops(layers: Layer[], input: number[]): [number, number[]] {
  let flops = 0;
  let shape = input;
  for (const layer of layers) {
    const elements = sizeOf(shape);
    const last = shape[shape.length - 1];
    switch (layer.kind) {
      case 'dense':
        flops += 2 * (elements / last) * last * layer.units;
        shape = [...shape.slice(0, -1), layer.units];
        break;
      case 'conv2d':
        flops += 2 * shape[0] * shape[1] * layer.kernel * layer.kernel * shape[2] * layer.filters;
        shape = [shape[0], shape[1], layer.filters];
        break;
      case 'pool':
        flops += elements;
        shape = [Math.floor(shape[0] / layer.size), Math.floor(shape[1] / layer.size), shape[2]];
        break;
      case 'flatten':
        shape = [elements];
        break;
      case 'embedding':
        shape = [...shape, layer.dim];
        break;
      case 'meanPool':
        flops += elements;
        shape = shape.slice(1);
        break;
      case 'globalAvgPool':
        flops += elements;
        shape = [shape[2]];
        break;
      case 'selfAttention': {
        const [seq, dim] = shape;
        // four D×D projections per token, QKᵀ and AV over S×S, softmax ≈ 5 per score
        flops += 4 * 2 * seq * dim * dim + 2 * 2 * seq * seq * dim + 5 * layer.heads * seq * seq;
        break;
      }
      case 'residual': {
        const [inner] = forwardFlops(layer.layers, shape);
        flops += inner + elements;
        break;
      }
      case 'layerNorm':
      case 'batchNorm':
        flops += 8 * elements;
        break;
      case 'activation':
        flops += (layer.fn === 'gelu' ? 10 : 1) * elements;
        break;
      case 'positionEmbedding':
      case 'dropout':
        flops += elements;
        break;
    }
  }
  return [flops, shape];
}

/** Forward FLOPs of one example through a model and its head. */
function exampleFlops(spec: TrainSpec): number {
  const [body, out] = forwardFlops(spec.layers, spec.input.shape);
  return body + 2 * sizeOf(out) * spec.classes + 5 * (sizeOf(out) / out[out.length - 1]) * spec.classes;
}

function trainFlops(spec: TrainSpec): number {
  const perExample = exampleFlops(spec);
  const params = modelLayout(spec).params.reduce((n, [, s]) => n + sizeOf(s), 0);
  const optimizer = (spec.optimizer?.kind === 'adamw' ? 12 : spec.optimizer?.kind === 'momentum' ? 5 : 2) * params;
  return spec.steps * (3 * perExample * spec.batch + optimizer) + perExample * spec.evalExamples;
}

/** FLOPs of one run (see the header for what is counted). */
export function flopsPerRun(spec: WorkloadSpec): number {
  if (spec.kind === 'train') return trainFlops(spec);
  switch (spec.op) {
    case 'attention':
      return spec.heads * (4 * (spec.queries ?? spec.seq) * spec.seq * spec.dim + 5 * (spec.queries ?? spec.seq) * spec.seq);
    case 'matmul':
      return 2 * spec.m * spec.k * spec.n;
    case 'reduceSum':
    case 'atomicSum':
    case 'indexAdd':
      return spec.length;
    case 'forward':
      return exampleFlops(spec.model) * spec.model.evalExamples;
  }
}

/** 1.2e12 → "1.2 TFLOP". */
export function formatFlops(flops: number): string {
  const units: Array<[number, string]> = [[1e15, 'PFLOP'], [1e12, 'TFLOP'], [1e9, 'GFLOP'], [1e6, 'MFLOP'], [1e3, 'kFLOP']];
  const [scale, unit] = units.find(([s]) => flops >= s) ?? [1, 'FLOP'];
  const value = flops / scale;
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${unit}`;
}
