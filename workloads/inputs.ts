import { indexStream, normalStream, tensorKey } from '../harness/rng.js';
import { fanIn, paramShapes } from './params.js';
import type { NamedTensor, ResolvedWorkload, TrainSpec } from './types.js';

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Every tensor a run needs, derived from (workload id, seed, tensor name) alone. Training data is laid
 * out per step: `x` is [steps, batch, ...input], `y` is [steps, batch] class ids.
 */
export function workloadInputs(workload: ResolvedWorkload, seed: number): NamedTensor[] {
  const normal = (name: string, shape: number[], scale = 1): NamedTensor => {
    const data = normalStream(tensorKey(workload.id, seed, name), size(shape));
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
    }
  }
  const tensors: NamedTensor[] = initialWeights(workload.id, seed, spec);
  const dataShape = [spec.steps, spec.batch, ...spec.input.shape];
  if (spec.input.dtype === 'int32') {
    const { vocab, skew } = spec.input;
    tensors.push({ name: 'x', shape: dataShape, data: indexStream(tensorKey(workload.id, seed, 'x'), size(dataShape), vocab, skew) });
  } else {
    tensors.push(normal('x', dataShape));
  }
  tensors.push({
    name: 'y',
    shape: [spec.steps, spec.batch],
    data: indexStream(tensorKey(workload.id, seed, 'y'), spec.steps * spec.batch, spec.classes),
  });
  return tensors;
}

/** He-scaled normal weights (embedding tables scaled by 1/√dim), zero biases. */
export function initialWeights(workloadId: string, seed: number, spec: TrainSpec): NamedTensor[] {
  return paramShapes(spec).map(([name, shape]) => {
    if (name.endsWith('.b')) return { name, shape, data: new Float32Array(size(shape)) };
    const scale = name.endsWith('.table') ? 1 / Math.sqrt(shape[1]) : Math.sqrt(2 / fanIn(shape));
    const data = normalStream(tensorKey(workloadId, seed, name), size(shape));
    for (let i = 0; i < data.length; i++) data[i] *= scale;
    return { name, shape, data };
  });
}

export function byName(tensors: NamedTensor[], name: string): NamedTensor {
  const t = tensors.find((x) => x.name === name);
  if (!t) throw new Error(`workload input "${name}" missing`);
  return t;
}
