/**
 * Where two runs part: the first op whose output differs, from locate.json (written by
 * harness/run/locate.ts, which re-ran the two disagreeing runs with every op's output captured).
 *
 * locate.json holds, per located pair, each side's op digests for every step and the float32
 * outputs of every op of one step (an artifact); this module derives the answer from them alone, so
 * it is a pure function of the results folder:
 * - two runs of one cell, or two values of an invariance axis (budget 0): the first op, in
 *   execution order over the whole run (workloads/ops.ts declares it), whose output bits differ;
 * - two backends: the first op whose output differs beyond the budget (maxUlp or relL2), since
 *   backends differ a little everywhere;
 * with its ULP statistics, the op before it (equal, or within the budget), and the per-op profile of
 * max ULP along that step. Where no exposed op differs but the results do, the answer is the
 * narrowest span that does: the first step whose weights differ.
 */
import { diffFloat32, type DiffSummary } from './diff.js';
import { INVARIANCE_AXES, type CellSummary } from './summary.js';
import { declaredOps, type DeclaredOp, type OpPhase } from '../../workloads/ops.js';
import { findWorkload, resolveWorkload } from '../../workloads/index.js';
import type { Mode } from '../protocol.js';
import type { ResolvedSuite } from '../config.js';

export const LOCATE_FILE = 'locate.json';
export const LOCATE_VERSION = 1;

/** What the located cell was compared with: another run of itself, another value of an invariance axis, or the reference backend. */
export const LOCATE_AGAINST = ['repeat', 'backend', ...INVARIANCE_AXES] as const;
export type LocateAgainst = (typeof LOCATE_AGAINST)[number];

/** How far an op's output may differ and still count as agreeing (pairs of backends; 0 everywhere else). */
export const BUDGET_KINDS = ['maxUlp', 'relL2'] as const;
export interface LocateBudget {
  kind: (typeof BUDGET_KINDS)[number];
  value: number;
}
export const ZERO_BUDGET: LocateBudget = { kind: 'maxUlp', value: 0 };

/** One re-run of a located pair. */
export interface LocateSide {
  cell: string;
  status: 'ok' | 'error' | 'unsupported';
  message?: string;
  /** Wall time of the re-run, op capture included. */
  wallMs: number;
  /** sha256 of the re-run's final result (not stored: its bits are compared, not kept). */
  artifactSha256?: string;
  /** The re-run's result is one the cell's recorded runs gave: the instrumented run computed what the suite computed. */
  matchesRecorded?: boolean;
  /** Training: sha256 (first 16 hex digits) of the weights after each step. */
  stepDigests?: string[];
  /** The ops the backend exposed, in declared order, their float32 elements, and per step each output's digest. */
  ops?: { names: string[]; elements: number[]; digests: string[][] };
  /** Every exposed op's output at the pair's `step`, float32, concatenated in `ops.names` order (an artifact). */
  values?: { sha256: string; bytes: number };
}

export interface LocatePair {
  /** The cell located, and the one it was compared with (the same cell for `repeat`). */
  cell: string;
  against: LocateAgainst;
  referenceCell: string;
  budget: LocateBudget;
  /** Re-runs made: a pair of runs of one cell may need more than two before two of them differ. */
  runs: number;
  /** `parted`: the two sides' results or ops differ; `same`: no two re-runs differed; `failed`: a re-run failed. */
  outcome: 'parted' | 'same' | 'failed';
  /** The step whose op outputs were stored: where the first op beyond the budget lies (null: none). */
  step: number | null;
  /** The reference side first. */
  sides: [LocateSide, LocateSide];
}

/** locate.json */
export interface LocateFile {
  locateVersion: number;
  pairs: LocatePair[];
}

/** ULP statistics of one op's outputs on the two sides (the reference side is `a` of diffFloat32). */
export interface OpUlp {
  elements: number;
  differing: number;
  nanPairs: number;
  maxUlp: number;
  medianUlp: number;
  /** ‖b − a‖₂ / ‖a‖₂; null where it is infinite (a = 0). */
  relL2: number | null;
}

export interface OpProfileEntry {
  op: string;
  phase: OpPhase;
  /** null: this op's values were not stored (or its sizes differ between the sides). */
  ulp: OpUlp | null;
  beyondBudget: boolean;
}

export const LOCATE_STATUSES = ['located', 'not-exposed', 'within-budget', 'same', 'failed'] as const;
export type LocateStatus = (typeof LOCATE_STATUSES)[number];

/** summary.json `locate[]`: where one located pair parts. */
export interface LocateResult {
  cell: string;
  workload: string;
  backend: string;
  device: string;
  mode: Mode;
  threads: number;
  against: LocateAgainst;
  referenceCell: string;
  budget: LocateBudget;
  /**
   * `located`: firstOp is the first op beyond the budget; `not-exposed`: the results differ but no op
   * the backends expose does (the narrowest span is `firstDivergentStep`); `within-budget`: every
   * exposed op is within the budget; `same`: the re-runs did not differ; `failed`: a re-run failed.
   */
  status: LocateStatus;
  runs: number;
  /** First training step after which the two re-runs' weights differ (their step traces); null when they never do, or for an inference. */
  firstDivergentStep: number | null;
  /** The step of firstOp (0 for an inference). */
  step: number | null;
  firstOp: string | null;
  phase: OpPhase | null;
  ulp: OpUlp | null;
  /** The op before firstOp in execution order, which agrees (bitwise, or within the budget); null when firstOp is the run's first op. */
  previousOp: { op: string; step: number } | null;
  /** Every op of `step` in execution order, with its max ULP. */
  profile: OpProfileEntry[];
  /** Declared ops that one side or both did not expose (they could not be compared). */
  notExposed: string[];
  /** Per side (reference first): whether its re-run gave bits its cell's recorded runs gave (null: it failed). */
  matchesRecorded: [boolean | null, boolean | null];
  wallMs: number;
  /** The first failed re-run's message. */
  message: string | null;
}

/** Whether an op's difference exceeds the budget (NaN pairs and an infinite relL2 always do). */
export function beyond(diff: DiffSummary, budget: LocateBudget): boolean {
  if (diff.bitwiseEqual) return false;
  if (diff.nanPairs > 0) return true;
  if (budget.kind === 'maxUlp') return diff.maxUlp > budget.value;
  return diff.relL2 === null || diff.relL2 > budget.value;
}

const isZero = (b: LocateBudget) => b.value === 0;

const ulpOf = (d: DiffSummary): OpUlp => ({ elements: d.elements, differing: d.differing, nanPairs: d.nanPairs, maxUlp: d.maxUlp, medianUlp: d.medianUlp, relL2: d.relL2 });

/** Each op's output within one step's stored values, by name. */
function split(side: LocateSide, values: Float32Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let offset = 0;
  side.ops!.names.forEach((op, i) => {
    const n = side.ops!.elements[i];
    out.set(op, values.subarray(offset, offset + n));
    offset += n;
  });
  return out;
}

/** Ops both sides exposed with the same size, in declared order. */
export function commonOps(a: LocateSide, b: LocateSide): string[] {
  if (!a.ops || !b.ops) return [];
  const size = (s: LocateSide, op: string) => s.ops!.elements[s.ops!.names.indexOf(op)];
  return a.ops.names.filter((op) => b.ops!.names.includes(op) && size(a, op) === size(b, op));
}

/** The first (step, op) whose digests differ, over every step both sides recorded. */
export function firstDigestDifference(a: LocateSide, b: LocateSide, ops: string[]): { step: number; index: number } | null {
  if (!a.ops || !b.ops) return null;
  const steps = Math.min(a.ops.digests.length, b.ops.digests.length);
  const at = (s: LocateSide, step: number, op: string) => s.ops!.digests[step][s.ops!.names.indexOf(op)];
  for (let step = 0; step < steps; step++) {
    const index = ops.findIndex((op) => at(a, step, op) !== at(b, step, op));
    if (index >= 0) return { step, index };
  }
  return null;
}

const firstDifferingStep = (a?: string[], b?: string[]): number | null => {
  if (!a || !b) return null;
  const i = a.findIndex((d, s) => s < b.length && d !== b[s]);
  return i < 0 ? null : i;
};

/** Every located pair of a folder, in locate.json's order. */
export function locateResults(file: LocateFile | null, cells: CellSummary[], suite: ResolvedSuite, load: (digest: string) => Float32Array): LocateResult[] {
  if (!file) return [];
  const byId = new Map(cells.map((c) => [c.cell, c]));
  return file.pairs.flatMap((pair) => {
    const cell = byId.get(pair.cell);
    const def = cell && findWorkload(cell.workload);
    if (!cell || !def) return [];
    const params = suite.workloads.find((w) => w.id === cell.workload)?.params;
    return [locatePair(pair, cell, load, declaredOps(resolveWorkload(def, suite.preset, params).spec))];
  });
}

/**
 * The answer for one pair. `load` gives an artifact's float32 values (stored op outputs); `cell`
 * is the located cell's summary (for its key fields); `declared` the workload's ops (workloads/ops.ts).
 */
export function locatePair(pair: LocatePair, cell: Pick<CellSummary, 'workload' | 'backend' | 'device' | 'mode' | 'threads'>, load: (digest: string) => Float32Array, declared: DeclaredOp[]): LocateResult {
  const [a, b] = pair.sides;
  const phaseOf = new Map(declared.map((d) => [d.name, d.phase]));
  const ops = commonOps(a, b);
  const base: LocateResult = {
    cell: pair.cell, workload: cell.workload, backend: cell.backend, device: cell.device, mode: cell.mode, threads: cell.threads,
    against: pair.against, referenceCell: pair.referenceCell, budget: pair.budget,
    status: 'same', runs: pair.runs, firstDivergentStep: firstDifferingStep(a.stepDigests, b.stepDigests),
    step: null, firstOp: null, phase: null, ulp: null, previousOp: null, profile: [],
    notExposed: declared.map((d) => d.name).filter((op) => !ops.includes(op)),
    matchesRecorded: [a.status === 'ok' ? a.matchesRecorded ?? null : null, b.status === 'ok' ? b.matchesRecorded ?? null : null],
    wallMs: a.wallMs + b.wallMs,
    message: a.message ?? b.message ?? null,
  };
  if (pair.outcome === 'failed') return { ...base, status: 'failed' };
  if (pair.outcome === 'same') return base;

  // the stored step's outputs, op by op, on both sides
  const stored = pair.step !== null && a.values && b.values ? { step: pair.step, a: split(a, load(a.values.sha256)), b: split(b, load(b.values.sha256)) } : null;
  const diffAt = (op: string) => (stored && stored.a.get(op) && stored.b.get(op) ? diffFloat32(stored.a.get(op)!, stored.b.get(op)!) : null);

  let at: { step: number; index: number } | null;
  if (isZero(pair.budget)) {
    at = firstDigestDifference(a, b, ops);
  } else {
    // beyond a budget is a matter of values: the locate phase stored the step where an op first
    // exceeded it; here it is found again within that step
    const index = stored ? ops.findIndex((op) => { const d = diffAt(op); return d !== null && beyond(d, pair.budget); }) : -1;
    at = stored && index >= 0 ? { step: stored.step, index } : null;
  }
  if (!at) {
    const anyDifference = base.firstDivergentStep !== null || a.artifactSha256 !== b.artifactSha256 || firstDigestDifference(a, b, ops) !== null;
    const status: LocateStatus = !anyDifference ? 'same' : isZero(pair.budget) ? 'not-exposed' : 'within-budget';
    return { ...base, status, step: status === 'not-exposed' ? base.firstDivergentStep ?? 0 : null };
  }
  const firstOp = ops[at.index];
  const profile: OpProfileEntry[] = stored && stored.step === at.step
    ? ops.map((op) => {
        const d = diffAt(op);
        return { op, phase: phaseOf.get(op) ?? 'forward', ulp: d && ulpOf(d), beyondBudget: d !== null && beyond(d, pair.budget) };
      })
    : [];
  const firstDiff = stored && stored.step === at.step ? diffAt(firstOp) : null;
  const previousOp = at.index > 0 ? { op: ops[at.index - 1], step: at.step } : at.step > 0 && ops.length ? { op: ops[ops.length - 1], step: at.step - 1 } : null;
  return { ...base, status: 'located', step: at.step, firstOp, phase: phaseOf.get(firstOp) ?? null, ulp: firstDiff && ulpOf(firstDiff), previousOp, profile };
}
