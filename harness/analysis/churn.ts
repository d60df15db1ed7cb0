/**
 * Prediction churn (Summers & Dinneen, "Nondeterminism and Instability in Neural Network
 * Optimization", ICML 2021; also Milani Fard et al. 2016): the share of held-out evaluation examples
 * (or tokens) whose predicted class differs between two runs. Weight distances say how far apart two
 * runs are; churn says whether a user of the model would see it. Here, per cell: each run against the
 * cell's modal run and every pair of runs, next to the evaluation loss and accuracy.
 */
import { describe, type Describe } from './stats.js';
import { isOk, type CellKey, type OkRecord, type RunRecord } from '../protocol.js';

/** Share of positions where two prediction vectors differ. */
export function churn(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`prediction vectors differ in length: ${a.length} vs ${b.length}`);
  if (a.length === 0) return 0;
  let differ = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
  return differ / a.length;
}

/** Churn of every pair of prediction vectors, as a symmetric matrix with a zero diagonal. */
export function pairwiseChurn(predictions: Float32Array[]): number[][] {
  return predictions.map((p, i) => predictions.map((q, j) => (i === j ? 0 : churn(p, q))));
}

export interface CellEvaluation extends CellKey {
  cell: string;
  /** Counted runs that carry an evaluation. */
  runs: number;
  /** Units per evaluation (examples, or examples × tokens). */
  units: number;
  loss: Describe | null;
  accuracy: Describe | null;
  /** Against the cell's modal run (the run whose artifact is the modal digest). */
  churnVsModal: { max: number; mean: number };
  /** Over every pair of runs. */
  churnPairwise: { max: number; mean: number };
}

/** Evaluation and churn per cell of training runs that were evaluated (others are left out). */
export function evaluateCells(
  cells: Array<CellKey & { cell: string; modalDigest: string | null }>, counted: RunRecord[], load: (digest: string) => Float32Array,
): CellEvaluation[] {
  const out: CellEvaluation[] = [];
  for (const c of cells) {
    const runs = counted.filter((r): r is OkRecord & { evaluation: NonNullable<OkRecord['evaluation']> } => isOk(r) && r.cell === c.cell && r.evaluation !== undefined);
    if (runs.length === 0) continue;
    const predictions = runs.map((r) => load(r.evaluation.predictions));
    const modalIndex = Math.max(0, runs.findIndex((r) => r.artifact.sha256 === c.modalDigest));
    const vsModal = predictions.map((p) => churn(p, predictions[modalIndex]));
    const pairs = pairwiseChurn(predictions).flatMap((row, i) => row.slice(i + 1));
    out.push({
      cell: c.cell, ...(c.arm ? { arm: c.arm } : {}), workload: c.workload, backend: c.backend, device: c.device, mode: c.mode, threads: c.threads,
      runs: runs.length,
      units: runs[0].evaluation.units,
      loss: describe(runs.map((r) => r.evaluation.loss)),
      accuracy: describe(runs.map((r) => r.evaluation.accuracy)),
      churnVsModal: { max: Math.max(...vsModal), mean: vsModal.reduce((a, b) => a + b, 0) / vsModal.length },
      churnPairwise: pairs.length ? { max: Math.max(...pairs), mean: pairs.reduce((a, b) => a + b, 0) / pairs.length } : { max: 0, mean: 0 },
    });
  }
  return out;
}
