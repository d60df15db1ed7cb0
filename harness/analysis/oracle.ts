/**
 * Every det cell against the float64 oracle (harness/run/oracle.ts): the relative L2 distance of the
 * cell's modal artifact from the oracle's, within the workload's tolerance or not, and for training
 * workloads how far its evaluation loss is from the oracle's and what share of the oracle's
 * predictions it changes. oracle.json is untrusted input like the rest of the folder: validated
 * here, one message naming the field when it is not what detbench writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { diffFloat32, type DiffSummary } from './diff.js';
import { churn } from './churn.js';
import { UsageError, message } from '../errors.js';
import { isOk, type ArtifactRef, type EvaluationRef, type OkRecord, type RunRecord } from '../protocol.js';
import { findWorkload } from '../../workloads/index.js';

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
  workload: string;
  backend: string;
  device: string;
  threads: number;
  tolerance: { relL2: number };
  status: 'within-tolerance' | 'outside-tolerance' | 'incomparable';
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
  modalDigest: string | null;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** oracle.json of a results folder, validated; null when the folder has none. */
export function readOracle(dir: string): OracleFile | null {
  const file = path.join(dir, ORACLE_FILE);
  if (!fs.existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(message.resultsCorrupt(file, (err as Error).message));
  }
  const bad = (field: string, want: string) => new UsageError(message.oracleField(file, field, want));
  const o = raw as Partial<OracleFile>;
  if (o === null || typeof o !== 'object') throw bad('(top level)', 'an object');
  if (o.oracleVersion !== ORACLE_VERSION) throw bad('oracleVersion', String(ORACLE_VERSION));
  if (typeof o.made !== 'boolean') throw bad('made', 'true or false');
  if (!Array.isArray(o.workloads)) throw bad('workloads', 'a list');
  o.workloads.forEach((e, i) => {
    const at = `workloads[${i}]`;
    if (e === null || typeof e !== 'object' || typeof e.workload !== 'string') throw bad(`${at}.workload`, 'a workload id');
    if (!['ok', 'error', 'timeout'].includes(e.status)) throw bad(`${at}.status`, 'ok, error or timeout');
    if (e.status === 'ok' && !(e.artifact && typeof e.artifact.sha256 === 'string' && HEX64.test(e.artifact.sha256))) throw bad(`${at}.artifact.sha256`, 'a sha256 (64 hex digits)');
    if (e.evaluation !== undefined && !(typeof e.evaluation.predictions === 'string' && HEX64.test(e.evaluation.predictions) && typeof e.evaluation.loss === 'number')) throw bad(`${at}.evaluation`, 'loss, accuracy, units and a predictions sha256');
  });
  return o as OracleFile;
}

export function compareWithOracle(
  dir: string, cells: DetCell[], runs: RunRecord[], load: (digest: string) => Float32Array,
): { oracle: OracleSummary; findings: string[]; warnings: string[] } {
  const file = readOracle(dir);
  if (!file || !file.made) {
    const reason = file?.reason ?? `this results folder has no ${ORACLE_FILE} (written by \`detbench run\` after the suite; merged folders and runs from before the oracle have none)`;
    return {
      oracle: { made: false, reason, python: file?.python ?? null, torch: null, workloads: [], cells: [] },
      findings: [],
      warnings: [`float64 oracle: no comparison was made — ${reason}`],
    };
  }
  const warnings: string[] = [];
  const findings: string[] = [];
  const out: OracleCell[] = [];
  for (const entry of file.workloads) {
    if (entry.status !== 'ok') {
      warnings.push(`float64 oracle: ${entry.workload} was not computed (${entry.status}: ${entry.message ?? ''}); its cells are not compared with it`);
      continue;
    }
    const tolerance = findWorkload(entry.workload)?.tolerance ?? { relL2: 0 };
    const reference = load(entry.artifact!.sha256);
    const oraclePredictions = entry.evaluation ? load(entry.evaluation.predictions) : null;
    for (const c of cells.filter((x) => x.workload === entry.workload && x.mode === 'det' && !x.arm && x.modalDigest)) {
      const key = { workload: c.workload, backend: c.backend, device: c.device, threads: c.threads, tolerance };
      const artifact = load(c.modalDigest!);
      if (artifact.length !== reference.length) {
        out.push({ ...key, status: 'incomparable', diff: null, evalLossDelta: null, churnVsOracle: null, note: `artifact sizes differ (oracle ${reference.length}, cell ${artifact.length} elements)` });
        continue;
      }
      const diff = diffFloat32(reference, artifact);
      const status = diff.relL2 !== null && diff.nanPairs === 0 && diff.relL2 <= tolerance.relL2 ? 'within-tolerance' : 'outside-tolerance';
      const modal = runs.find((r): r is OkRecord => isOk(r) && !r.warmup && r.cell === c.cell && r.artifact.sha256 === c.modalDigest);
      const evaluation = modal?.evaluation;
      out.push({
        ...key, status, diff,
        evalLossDelta: evaluation && entry.evaluation ? evaluation.loss - entry.evaluation.loss : null,
        churnVsOracle: evaluation && oraclePredictions ? churn(load(evaluation.predictions), oraclePredictions) : null,
      });
      if (status === 'outside-tolerance') findings.push(`${c.workload} on ${c.backend} (${c.device}, ${c.threads} thread(s)) is beyond tolerance of the float64 oracle (relL2 ${diff.relL2?.toExponential(2) ?? '∞'} > ${tolerance.relL2})`);
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
    findings,
    warnings,
  };
}
