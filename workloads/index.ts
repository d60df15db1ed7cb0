import { attentionInfer } from './attention-infer.js';
import { convTrain } from './conv-train.js';
import { dataparallelTrain } from './dataparallel-train.js';
import { dataPipeline } from './data-pipeline.js';
import { atomicSum } from './atomic-sum.js';
import { embeddingTrain } from './embedding-train.js';
import { indexAdd } from './index-add.js';
import { matmul } from './matmul.js';
import { mlpTrain } from './mlp-train.js';
import { reduceSum } from './reduce-sum.js';
import { resnetTrain } from './resnet-train.js';
import { transformerTrain } from './transformer-train.js';
import { transformerInfer } from './transformer-infer.js';
import type { Preset, ResolvedWorkload, SizeParams, WorkloadDef } from './types.js';

/** The registry, in report order. */
export const WORKLOADS: readonly WorkloadDef<any>[] = [
  mlpTrain,
  convTrain,
  embeddingTrain,
  transformerTrain,
  resnetTrain,
  dataPipeline,
  attentionInfer,
  transformerInfer,
  reduceSum,
  matmul,
  indexAdd,
  dataparallelTrain,
  atomicSum,
];

export const WORKLOAD_IDS = WORKLOADS.map((w) => w.id);

/** What a suite runs when it names no workloads: everything that is not GPU-only. */
export const DEFAULT_WORKLOAD_IDS = WORKLOADS.filter((w) => !w.gpuOnly).map((w) => w.id);

export function findWorkload(id: string): WorkloadDef<any> | undefined {
  return WORKLOADS.find((w) => w.id === id);
}

/** Resolves a workload at a preset with per-parameter overrides (already validated by config). */
export function resolveWorkload(def: WorkloadDef<any>, preset: Preset, overrides: SizeParams = {}): ResolvedWorkload {
  const params = { ...def.presets[preset], ...overrides };
  return { id: def.id, params, spec: def.build(params), tolerance: def.tolerance, negativeControl: def.negativeControl ?? false };
}
