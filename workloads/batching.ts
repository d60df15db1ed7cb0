/**
 * Examples of an inference workload, for the batch-size axis (harness/axes.ts `batchSize`): the same
 * examples evaluated in batches of 1, 7, 32 … must give the same bits per example on a
 * batch-invariant stack. The cause of "1,000 identical requests, 80 distinct outputs" in LLM serving
 * is kernels whose reduction strategy depends on the batch size (Horace He and Thinking Machines
 * Lab, "Defeating Nondeterminism in LLM Inference", 2025:
 * https://thinkingmachines.ai/blog/defeating-nondeterminism-in-llm-inference/).
 *
 * An example is a row of matmul's `a` (its row of the output), a query row of attention-infer (its
 * row of every head's output: the keys and values are shared, as a decoding server shares a KV
 * cache), and a held-out example of transformer-infer (its logits). Inputs are generated once for the whole workload and sliced, so every batch size sees
 * the same examples.
 */
import type { InferSpec, NamedTensor, WorkloadSpec } from './types.js';

export interface Examples {
  /** How many examples the workload evaluates. */
  count: number;
  /** What one example is, in words. */
  what: string;
  /** The size parameter that sets the count (a suite's `params.<workload>.<param>`). */
  param: string;
  /** Inputs split by example, each with its axis that indexes examples; the others are shared by every batch. */
  inputs: Readonly<Record<string, number>>;
  /** The axis of the output that indexes examples. */
  output: number;
  /** The spec of one batch of `n` examples. */
  batch(n: number): InferSpec;
}

/** A workload's examples, or null when it has none to batch (training, sums, scatters). */
export function examplesOf(spec: WorkloadSpec): Examples | null {
  if (spec.kind !== 'infer') return null;
  switch (spec.op) {
    case 'matmul':
      return { count: spec.m, what: 'rows of a', param: 'm', inputs: { a: 0 }, output: 0, batch: (n) => ({ ...spec, m: n }) };
    case 'attention':
      return { count: spec.queries ?? spec.seq, what: 'query rows', param: 'seq', inputs: { q: 1 }, output: 1, batch: (n) => ({ ...spec, queries: n }) };
    case 'forward':
      return { count: spec.model.evalExamples, what: 'held-out examples', param: 'evalExamples', inputs: { xEval: 0 }, output: 0, batch: (n) => ({ ...spec, model: { ...spec.model, evalExamples: n } }) };
    default:
      return null;
  }
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Elements [start, end) of `axis` of a row-major tensor (a copy). */
export function sliceAxis(t: NamedTensor, axis: number, start: number, end: number): NamedTensor {
  const outer = size(t.shape.slice(0, axis)), inner = size(t.shape.slice(axis + 1)), dim = t.shape[axis];
  const n = end - start;
  const data = new (t.data.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(outer * n * inner);
  for (let o = 0; o < outer; o++) data.set(t.data.subarray((o * dim + start) * inner, (o * dim + end) * inner), o * n * inner);
  return { name: t.name, shape: t.shape.map((d, i) => (i === axis ? n : d)), data };
}

/** Row-major tensors of one shape but `axis`, joined along it in order. */
export function concatAxis(parts: readonly NamedTensor[], axis: number): NamedTensor {
  const [first] = parts;
  const outer = size(first.shape.slice(0, axis)), inner = size(first.shape.slice(axis + 1));
  const total = parts.reduce((n, p) => n + p.shape[axis], 0);
  const data = new Float32Array(outer * total * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const block = p.shape[axis] * inner;
      data.set(p.data.subarray(o * block, (o + 1) * block), at);
      at += block;
    }
  }
  return { name: first.name, shape: first.shape.map((d, i) => (i === axis ? total : d)), data };
}
