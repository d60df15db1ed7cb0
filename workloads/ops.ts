/**
 * The ops of a workload, named by its declared structure — the same names on every backend, so two
 * runs on two backends can be compared op by op (`detbench run --locate`, harness/run/locate.ts).
 *
 * An op is a value one step of a training run (or an inference) computes, in the layout the
 * workload declares (NHWC images, [batch, S, D] tokens), named by the layer path of
 * workloads/types.ts and what it is:
 * - forward: `<path>.<kind>.forward` (the layer's output), and inside layers `l0.dense.matmul`
 *   (x·W before bias and activation), `l0.conv2d.conv` (before bias), `l2.0.attn.q|k|v|softmax|context`,
 *   `l1.batchNorm.runningMean|runningVar` (the updated statistics); the head `head.dense.matmul`,
 *   `head.dense.forward` (the logits), and `loss.forward`;
 * - backward: `loss.grad.input` (the gradient of the logits), `<path>.<kind>.grad.<param>` (a
 *   parameter's gradient, before clipping: `l1.dense.grad.w`), `<path>.<kind>.grad.input` (the
 *   gradient of the layer's input, which that layer's backward computes); `clip.norm`;
 * - update: `<optimizer>.update.<param>` (the parameter after the step: `sgd.update.l0.w`);
 * - the data-parallel driver: `shard<k>.grad.<param>` (shard k's gradient), `allreduce` (the sum
 *   of the shards' gradients, every parameter's in order), then the SGD updates.
 * Inference: `attention.softmax`, `attention.forward`, `reduceSum.forward`, `matmul.forward`,
 * `indexAdd.scatter`, `atomicSum.forward`, and a model's forward pass (transformer-infer) by its
 * logits, `head.dense.forward`.
 *
 * `declaredOps` lists them in execution order: forward in layer order, backward in reverse layer
 * order (a layer's parameter gradients, then its input's), then clipping and the updates. Layers
 * that only move data (flatten) have no op of their own. A layer's `grad.input` exists only where
 * some backend computes it: its input depends on a parameter, and it is not the first layer inside
 * a residual block (whose input gradient is the block's).
 */
import { modelLayout } from './params.js';
import type { InferSpec, Layer, LayerKind, Optimizer, TrainSpec, WorkloadSpec } from './types.js';

export const OP_PHASES = ['forward', 'backward', 'update', 'allreduce'] as const;
export type OpPhase = (typeof OP_PHASES)[number];

export interface DeclaredOp {
  name: string;
  phase: OpPhase;
}

/** How each layer kind appears in op names (selfAttention is `attn`, as in most code bases). */
export const LAYER_OP: { readonly [K in LayerKind]: string } = {
  dense: 'dense', conv2d: 'conv2d', pool: 'pool', flatten: 'flatten', embedding: 'embedding', meanPool: 'meanPool',
  positionEmbedding: 'positionEmbedding', layerNorm: 'layerNorm', batchNorm: 'batchNorm', activation: 'activation',
  dropout: 'dropout', selfAttention: 'attn', residual: 'residual', globalAvgPool: 'globalAvgPool',
};

/** `l0.dense.matmul`: an op of the layer at `path`. */
export const layerOp = (path: string, kind: LayerKind, sub: string) => `${path}.${LAYER_OP[kind]}.${sub}`;

/** Ops inside a layer's forward pass, before its output (`forward`), in the order they are computed. */
const INNER_FORWARD: { readonly [K in LayerKind]?: readonly string[] } = {
  dense: ['matmul'],
  conv2d: ['conv'],
  selfAttention: ['q', 'k', 'v', 'softmax', 'context'],
};
/** Training-mode ops after a layer's output: batch norm's updated running statistics. */
const AFTER_FORWARD: { readonly [K in LayerKind]?: readonly string[] } = { batchNorm: ['runningMean', 'runningVar'] };

export const HEAD_PATH = 'head';
export const LOSS_OP = 'loss.forward';
export const LOSS_GRAD_OP = 'loss.grad.input';
export const CLIP_NORM_OP = 'clip.norm';
export const ALLREDUCE_OP = 'allreduce';

export const updateOp = (optimizer: Optimizer['kind'], param: string) => `${optimizer}.update.${param}`;
export const shardGradOp = (shard: number, param: string) => `shard${shard}.grad.${param}`;

/** One layer as the op names see it: its path, kind, parameter names and whether its input gradient is an op. */
export interface LayerSite {
  path: string;
  layer: Layer;
  /** `<path>.<kind>.grad.input`, or null where no backend computes it. */
  gradInput: string | null;
  /** The layer's own parameters (full names, e.g. `l0.w`), in layout order. */
  params: string[];
}

/**
 * The names a backend needs while it computes: every layer site (in forward order, residual blocks
 * after their inner layers, as their sum is computed last), each parameter's gradient op and update
 * op, and the head's input gradient op.
 */
export interface OpNames {
  layers: LayerSite[];
  /** Gradient op of each parameter, by parameter name. */
  paramGrad: Map<string, string>;
  /** Update op of each parameter, by parameter name. */
  update: Map<string, string>;
  /** `head.dense.grad.input`, or null when no layer before the head has parameters. */
  headGradInput: string | null;
}

export function opNames(spec: TrainSpec): OpNames {
  const { params } = modelLayout(spec);
  const names = params.map(([n]) => n);
  const layers: LayerSite[] = [];
  let afterParams = false;
  const walk = (list: Layer[], prefix: string, insideResidual: boolean) => {
    list.forEach((layer, i) => {
      const path = prefix === 'l' ? `l${i}` : `${prefix}.${i}`;
      const own = names.filter((n) => n.slice(0, n.lastIndexOf('.')) === path);
      const gradInput = afterParams && !(insideResidual && i === 0) && layer.kind !== 'embedding' ? layerOp(path, layer.kind, 'grad.input') : null;
      if (layer.kind === 'residual') {
        const site: LayerSite = { path, layer, gradInput, params: own };
        walk(layer.layers, path, true);
        layers.push(site);
      } else {
        layers.push({ path, layer, gradInput, params: own });
      }
      if (own.length) afterParams = true;
    });
  };
  walk(spec.layers, 'l', false);
  const kindOf = new Map<string, LayerKind>(layers.map((s) => [s.path, s.layer.kind]));
  const paramGrad = new Map(names.map((n) => {
    const path = n.slice(0, n.lastIndexOf('.'));
    const kind = path === HEAD_PATH ? 'dense' : kindOf.get(path)!;
    return [n, layerOp(path, kind, `grad.${n.slice(n.lastIndexOf('.') + 1)}`)];
  }));
  const optimizer = spec.optimizer?.kind ?? 'sgd';
  const update = new Map(names.map((n) => [n, updateOp(optimizer, n)]));
  return { layers, paramGrad, update, headGradInput: afterParams ? layerOp(HEAD_PATH, 'dense', 'grad.input') : null };
}

/** The ops of one training step (or of the inference), in execution order. */
export function declaredOps(spec: WorkloadSpec): DeclaredOp[] {
  if (spec.kind === 'infer') return inferOps(spec).map((name) => ({ name, phase: 'forward' }));
  const params = modelLayout(spec).params.map(([n]) => n);
  if (spec.dataParallel) {
    const grads = Array.from({ length: spec.dataParallel.shards }, (_, k) => params.map((p): DeclaredOp => ({ name: shardGradOp(k, p), phase: 'backward' }))).flat();
    return [...grads, { name: ALLREDUCE_OP, phase: 'allreduce' }, ...params.map((p): DeclaredOp => ({ name: updateOp('sgd', p), phase: 'update' }))];
  }
  const names = opNames(spec);
  const ops: DeclaredOp[] = [];
  const forward = (name: string) => ops.push({ name, phase: 'forward' });
  const backward = (name: string | null) => name && ops.push({ name, phase: 'backward' });
  for (const { path, layer } of names.layers) {
    if (layer.kind === 'flatten') continue;
    for (const sub of INNER_FORWARD[layer.kind] ?? []) forward(layerOp(path, layer.kind, sub));
    forward(layerOp(path, layer.kind, 'forward'));
    for (const sub of AFTER_FORWARD[layer.kind] ?? []) forward(layerOp(path, layer.kind, sub));
  }
  forward(layerOp(HEAD_PATH, 'dense', 'matmul'));
  forward(layerOp(HEAD_PATH, 'dense', 'forward'));
  forward(LOSS_OP);
  backward(LOSS_GRAD_OP);
  const headParams = params.filter((p) => p.startsWith(`${HEAD_PATH}.`));
  headParams.forEach((p) => backward(names.paramGrad.get(p)!));
  backward(names.headGradInput);
  // backward order: a residual block's sum is undone first, then its inner layers in reverse, then
  // the gradient of the block's input (the skip path and the inner path added)
  const reversed = backwardOrder(names.layers);
  for (const site of reversed) {
    site.params.forEach((p) => backward(names.paramGrad.get(p)!));
    backward(site.gradInput);
  }
  if (spec.clipNorm !== undefined) backward(CLIP_NORM_OP);
  for (const p of params) ops.push({ name: names.update.get(p)!, phase: 'update' });
  return ops;
}

/**
 * Layer sites in the order their gradients are computed: the reverse of the forward order, except
 * that a residual block (listed after its inner layers in forward order) gets its input gradient
 * after them.
 */
function backwardOrder(sites: LayerSite[]): LayerSite[] {
  const out: LayerSite[] = [];
  const byPath = new Map(sites.map((s) => [s.path, s]));
  const children = (path: string) => sites.filter((s) => s.path.startsWith(`${path}.`) && !s.path.slice(path.length + 1).includes('.'));
  const visit = (site: LayerSite) => {
    if (site.layer.kind === 'residual') [...children(site.path)].reverse().forEach(visit);
    out.push(site);
  };
  [...sites.filter((s) => !s.path.includes('.'))].reverse().forEach((s) => visit(byPath.get(s.path)!));
  return out;
}

export function inferOps(spec: InferSpec): string[] {
  switch (spec.op) {
    case 'attention':
      return ['attention.softmax', 'attention.forward'];
    case 'indexAdd':
      return ['indexAdd.scatter'];
    case 'forward':
      return [`${HEAD_PATH}.${LAYER_OP.dense}.forward`];
    default:
      return [`${spec.op}.forward`];
  }
}
