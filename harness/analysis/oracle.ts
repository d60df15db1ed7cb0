/**
 * Every det cell against the float64 oracle (harness/run/oracle.ts): the relative L2 distance of the
 * cell's modal artifact from the oracle's, within the workload's tolerance or not, and for training
 * workloads how far its evaluation loss is from the oracle's and what share of the oracle's
 * predictions it changes. oracle.json is untrusted input like the rest of the folder: validated
 * here, one message naming the field when it is not what detbench writes.
 */
import { diffFloat32, type DiffSummary } from './diff.js';
import { churn } from './churn.js';
import { isOk, type ArtifactRef, type EvaluationRef, type OkRecord, type RunRecord } from '../protocol.js';
import { findWorkload } from '../../workloads/index.js';
import { axisValue, type Numerics } from '../axes.js';
import type { Tolerance } from '../../workloads/types.js';
import type { ToleranceJudge } from './tolerance.js';

export const ORACLE_FILE = 'oracle.json';
export const ORACLE_VERSION = 1;

/** One workload in oracle.json (written by harness/run/oracle.ts). */
export interface OracleEntry {
  workload: string;
  status: 'ok' | 'error' | 'timeout';
  message?: string;
  computeMs?: number;
  loss?: number | null;
  artifact?: ArtifactRef;
  evaluation?: EvaluationRef;
  /** With `evaluation`: its forward pass's milliseconds, as the worker timed them (like a run's evalMs). */
  evalMs?: number;
}

/** oracle.json */
export interface OracleFile {
  oracleVersion: number;
  /** False: no workload was computed, and `reason` says why. */
  made: boolean;
  reason?: string;
  python: string;
  torch?: string;
  threads?: number;
  workloads: OracleEntry[];
}

export interface OracleCell {
  /** The det cell compared. */
  cell: string;
  workload: string;
  backend: string;
  device: string;
  threads: number;
  tolerance: Tolerance;
  status: 'within-tolerance' | 'outside-tolerance' | 'incomparable';
  /** What was compared with tolerance.relL2 (tolerance.ts); null: incomparable, NaN or infinite. */
  distance: number | null;
  /** The oracle is the reference (`relL2` = ‖cell − oracle‖ / ‖oracle‖). */
  diff: DiffSummary | null;
  /** Training: the cell's evaluation loss minus the oracle's (modal run). */
  evalLossDelta: number | null;
  /** Training: share of evaluation predictions of the modal run that differ from the oracle's. */
  churnVsOracle: number | null;
  note?: string;
}

export interface OracleSummary {
  /** False: no comparison with the oracle was made; `reason` says why. */
  made: boolean;
  reason: string | null;
  python: string | null;
  torch: string | null;
  /** Per workload: whether the oracle computed it, its loss and evaluation. */
  workloads: Array<{ workload: string; status: OracleEntry['status']; message: string | null; loss: number | null; evalLoss: number | null; evalAccuracy: number | null }>;
  cells: OracleCell[];
}

/** The cell fields the comparison needs (analyze.ts's CellSummary has them). */
interface DetCell {
  cell: string;
  arm?: string;
  workload: string;
  backend: string;
  device: string;
  mode: string;
  threads: number;
  numerics?: Numerics;
  modalDigest: string | null;
}


/**
 * Each det cell's modal result against the oracle of its workload, judged by the workload's tolerance
 * (`judge`: relative to the output, or to the summed magnitudes for sums). What is outside becomes a
 * typed finding in findings.ts; a workload the oracle could not compute is a warning.
 */
export function compareWithOracle(
  file: OracleFile | null, cells: DetCell[], runs: RunRecord[], load: (digest: string) => Float32Array, judge: ToleranceJudge,
): { oracle: OracleSummary; warnings: string[] } {
  if (!file || !file.made) {
    const reason = file?.reason ?? `this results folder has no ${ORACLE_FILE} (written by \`detbench run\` after the suite; merged folders and runs from before the oracle have none)`;
    return {
      oracle: { made: false, reason, python: file?.python ?? null, torch: null, workloads: [], cells: [] },
      warnings: [`float64 oracle: no comparison was made — ${reason}`],
    };
  }
  const warnings: string[] = [];
  const out: OracleCell[] = [];
  for (const entry of file.workloads) {
    if (entry.status !== 'ok') {
      warnings.push(`float64 oracle: ${entry.workload} was not computed (${entry.status}: ${entry.message ?? ''}); its cells are not compared with it`);
      continue;
    }
    const tolerance = findWorkload(entry.workload)?.tolerance ?? { relL2: 0 };
    const reference = load(entry.artifact!.sha256);
    const oraclePredictions = entry.evaluation ? load(entry.evaluation.predictions) : null;
    // float32 results only: tf32 and bf16 cells have fewer mantissa bits than the tolerance is set for
    for (const c of cells.filter((x) => x.workload === entry.workload && x.mode === 'det' && !x.arm && x.modalDigest && axisValue(x, 'numerics') === 'fp32')) {
      const key = { cell: c.cell, workload: c.workload, backend: c.backend, device: c.device, threads: c.threads, tolerance };
      const artifact = load(c.modalDigest!);
      if (artifact.length !== reference.length) {
        out.push({ ...key, status: 'incomparable', distance: null, diff: null, evalLossDelta: null, churnVsOracle: null, note: `artifact sizes differ (oracle ${reference.length}, cell ${artifact.length} elements)` });
        continue;
      }
      const diff = diffFloat32(reference, artifact);
      const { within, distance } = judge(c.workload, reference, artifact, diff);
      const status = within ? 'within-tolerance' : 'outside-tolerance';
      const modal = runs.find((r): r is OkRecord => isOk(r) && !r.warmup && r.cell === c.cell && r.artifact.sha256 === c.modalDigest);
      const evaluation = modal?.evaluation;
      out.push({
        ...key, status, distance, diff,
        evalLossDelta: evaluation && entry.evaluation ? evaluation.loss - entry.evaluation.loss : null,
        churnVsOracle: evaluation && oraclePredictions ? churn(load(evaluation.predictions), oraclePredictions) : null,
      });
    }
  }
  return {
    oracle: {
      made: true, reason: null, python: file.python ?? null, torch: file.torch ?? null,
      workloads: file.workloads.map((e) => ({
        workload: e.workload, status: e.status, message: e.message ?? null, loss: e.loss ?? null,
        evalLoss: e.evaluation?.loss ?? null, evalAccuracy: e.evaluation?.accuracy ?? null,
      })),
      cells: out,
    },
    warnings,
  };
}
