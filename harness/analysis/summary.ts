/**
 * The summary schema (summary.json): what analysis writes and reports, compare and baselines read.
 * Types only; the analysis that fills them lives in cells.ts, agreement.ts and analyze.ts.
 */
import type { DiffSummary } from './diff.js';
import type { CellKey, Mode, RunRecord, RunStatus } from '../protocol.js';
import { AXIS_IDS, type AxisFields, type AxisId, type AxisValues } from '../axes.js';
import type { NoiseDecomposition } from './noise.js';
import type { Describe, RatioCI, VarianceTest } from './stats.js';
import type { Tolerance } from '../../workloads/types.js';
import type { StateComponent } from '../checkpoint.js';
import type { CellEvaluation } from './churn.js';
import type { OracleSummary } from './oracle.js';
import type { LocateAgainst, LocateBudget, LocateResult, LocateStatus } from './locate.js';

/**
 * Bumped whenever the shape of summary.json changes; a reader given another version analyses the
 * folder's runs again, or refuses a summary it cannot rebuild (a saved baseline keeps no runs).
 * 2: typed findings; `invariance[]` instead of `threads[]`; suspects by device id and machine index.
 */

/** A det/nondet (or current/baseline) time ratio above this counts as slower, unless --slowdown-threshold says otherwise. */
export const DEFAULT_SLOWDOWN_THRESHOLD = 1.25;

/** 3: the held-out evaluation and the float64 oracle (evaluation, oracle). 4: where runs part (locate). */
export const SUMMARY_VERSION = 4;

export const CELL_VERDICTS = ['bitwise-stable', 'unstable', 'unsupported', 'unavailable', 'failed', 'no-data'] as const;
export type CellVerdict = (typeof CELL_VERDICTS)[number];

export interface RunDiff {
  runIndex: number;
  repeat: number;
  sha256: string;
  computeMs: number;
  loss: number | null;
  outputL2: number;
  /** Null for runs identical to the modal run. */
  diff: DiffSummary | null;
}

export interface CellSummary extends CellKey {
  cell: string;
  verdict: CellVerdict;
  /** Counted runs (warm-ups excluded) by status. */
  statuses: Partial<Record<RunStatus, number>>;
  distinctDigests: number;
  modalDigest: string | null;
  modalShare: number | null;
  runs: RunDiff[];
  /** Worst difference of any run against the modal run. */
  maxUlp: number;
  maxRelL2: number;
  /** The workload's cross-backend tolerance (relative L2), also used to call run-to-run spread "numerically close". */
  toleranceRelL2: number;
  /** Runs differ bitwise but all lie within the tolerance of the modal run (null when bitwise stable or no data). */
  withinTolerance: boolean | null;
  computeMs: Describe | null;
  loss: Describe | null;
  outputL2: Describe | null;
  /** With --trace: when runs start to differ from the modal run, and how fast they drift apart. */
  divergence: Divergence | null;
  /** First message of a failed or unsupported run. */
  message: string | null;
  determinism: RunRecord['determinism'];
}

export interface Divergence {
  steps: number;
  /** First training step (0-based) after which some run's weights differ from the modal run's; null if none ever do. */
  firstDivergentStep: number | null;
  /** Per step, the largest relative L2 distance of any run's weights from the modal run's. */
  relL2ByStep: number[];
}

/** One det/nondet pair: a cell group (every key field but the mode). */
export interface ModeComparison extends AxisFields {
  workload: string;
  backend: string;
  device: string;
  /** Bitwise stable with determinism on (null: no det data). */
  detStable: boolean | null;
  /** More than one distinct result with determinism off (null: no nondet data). */
  nondetVaries: boolean | null;
  /** det / nondet compute time, paired by repeat, median ratio with a bootstrap 95% CI. */
  slowdown: RatioCI | null;
  /** Brown–Forsythe test of equal compute-time spread in det and nondet. */
  timingSpread: VarianceTest | null;
}

export interface CrossBackend {
  workload: string;
  reference: string;
  backend: string;
  threads: number;
  /** The det cells compared (each backend's first device). */
  referenceCell: string;
  cell: string;
  tolerance: Tolerance;
  status: 'bitwise-equal' | 'within-tolerance' | 'outside-tolerance' | 'incomparable';
  /** What was compared with tolerance.relL2: ‖a − b‖₂ relative to what the tolerance is relative to (null: incomparable, NaN or infinite). */
  distance: number | null;
  diff: DiffSummary | null;
  note?: string;
}

/** The invariance axes (harness/axes.ts), each compared the same way (agreement.ts). */
export const INVARIANCE_AXES = AXIS_IDS;
export type InvarianceAxis = AxisId;

/** An axis and two of its values: the base of a group and a value compared with it. */
export type AxisPair = { [A in AxisId]: { axis: A; base: AxisValues[A]; value: AxisValues[A] } }[AxisId];

/**
 * The det result of a cell at the base value of an axis (the first, in the axis's order, of the
 * values its group ran at) against the same cell at another value.
 */
export type AxisInvariance = AxisPair & {
  workload: string;
  backend: string;
  device: string;
  baseCell: string;
  cell: string;
  bitwiseEqual: boolean;
  diff: DiffSummary | null;
  /**
   * Resume replay (axis `resumeAt`): the parts of the final training state (harness/checkpoint.ts:
   * weights, optimizer, schedule, data, rng) whose bits differ between the two cells' modal runs;
   * empty when the whole state agrees. Absent for other axes, or where a run has no recorded state.
   */
  stateDiffers?: StateComponent[];
};

/**
 * A nondet cell at another value of an axis whose nondet mode is compared (harness/axes.ts
 * `nondetCompared`: loader workers) against the same cell at the group's base value.
 * `depends`: no run at the value gave the bits of any run at the base (each value trains a model of
 * its own); `diff` is between the two cells' modal results.
 */
export type NondetAxisDependence = AxisPair & {
  workload: string;
  backend: string;
  device: string;
  baseCell: string;
  cell: string;
  depends: boolean;
  diff: DiffSummary | null;
};

/**
 * The values of an axis at which one group of det cells (every other key field equal) ran, split
 * into classes of bitwise-equal results: "which thread counts (batch sizes, …) agree".
 */
export type AxisAgreement = { [A in AxisId]: { axis: A; classes: AxisValues[A][][] } }[AxisId] & {
  workload: string;
  backend: string;
  device: string;
  /** The group: every key field but the axis and the mode, in cellKey's format. */
  group: string;
  /** The group's cell at its base value. */
  baseCell: string;
};

export interface NegativeControl extends AxisFields {
  workload: string;
  backend: string;
  device: string;
  /** The control differed run to run without determinism, as it must for a "stable" verdict to mean anything. */
  seen: boolean;
  distinctDigests: number;
  runs: number;
}

/** The same det cell on several machines of a merged folder. */
export interface FleetCell {
  cell: string;
  machines: Array<{ machine: number; hostname: string; hardware: string; modalDigest: string }>;
  /** Every machine gave the same bits. */
  agree: boolean;
  /** Machines (their `machine` index) whose det result differs from the majority of their identical-hardware siblings. */
  suspects: number[];
}

/** The same det cell on several devices (GPUs) of one host: identical devices must give identical bits. */
export interface DeviceCell extends AxisFields {
  workload: string;
  backend: string;
  devices: Array<{ device: string; name: string; modalDigest: string }>;
  agree: boolean;
  /** Devices (ids, e.g. cuda:1) whose det result differs from the majority of their identical siblings. */
  suspects: string[];
}

/** Det runs repeated after the suite (`--duration`): did the bits ever change? */
export interface SoakCell {
  cell: string;
  workload: string;
  backend: string;
  device: string;
  threads: number;
  runs: number;
  /** From the first soak run's start to the last one's end. */
  seconds: number;
  /** Distinct results among the soak runs and the suite's det runs of the cell. */
  distinctDigests: number;
  /** The first soak run whose bits differ from the suite's modal det result, if any. */
  firstChange: { repeat: number; afterSec: number } | null;
}

export interface Summary {
  summaryVersion: number;
  runId: string;
  complete: boolean;
  plannedRuns: number;
  recordedRuns: number;
  warnings: string[];
  cells: CellSummary[];
  modes: ModeComparison[];
  crossBackend: CrossBackend[];
  /** Det results across the values of each invariance axis: each value against its group's base value. */
  invariance: AxisInvariance[];
  /** Per invariance axis and group of det cells, which values give the same bits. */
  agreement: AxisAgreement[];
  /** Nondet results across the values of the axes whose nondet mode is compared (loader workers); absent in summaries from before it. */
  nondetDependence?: NondetAxisDependence[];
  negativeControls: NegativeControl[];
  /** Per det cell across the machines of a merged folder (empty otherwise). */
  fleet: FleetCell[];
  /** Per det cell across the devices (GPUs) of this host, where a backend ran on several. */
  devices: DeviceCell[];
  /** Per det cell soaked with `--duration` (empty otherwise). */
  soak: SoakCell[];
  /** Training cells: held-out loss and accuracy, and prediction churn between runs (churn.ts). */
  evaluation: CellEvaluation[];
  /** Every det cell against the float64 oracle, or why no comparison was made (oracle.ts). */
  oracle: OracleSummary;
  /** The noise decomposition (noise suite only; empty otherwise). */
  noise: NoiseDecomposition[];
  /** Where located pairs of runs part, op by op (`--locate`, `detbench locate`; empty otherwise). */
  locate: LocateResult[];
  /** What a user must look at; their severities decide `detbench run`'s exit code (findings.ts). */
  findings: Finding[];
  verdict: { detStableCells: number; detCells: number; reproducible: boolean };
}

/**
 * What a finding is about: one cell (every key field), or a group of cells (the fields they share:
 * a det/nondet pair, one workload on one backend across devices); `id` is its key in cellKey's format.
 */
export interface FindingSubject extends Partial<CellKey> {
  id: string;
}

/** Most decisive first: a command exits with the code of the first severity its findings have (findings.ts). */
export const SEVERITIES = ['incomplete', 'fail', 'inconclusive', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const isSeverity = (x: unknown): x is Severity => SEVERITIES.includes(x as Severity);

/** Every kind of finding, of the analysis of one folder and of compare; their words are in reports/findings.ts. */
export const FINDING_KINDS = [
  // one results folder
  'incomplete-results', 'det-unstable', 'negative-control-not-seen', 'runs-failed', 'outside-tolerance', 'oracle-outside-tolerance', 'invariance-broken', 'nondet-depends-on-axis',
  'devices-disagree', 'suspect-device', 'suspect-machine', 'soak-changed', 'varies-as-expected', 'divergence-located',
  // compare: a baseline and a current folder
  'no-data', 'determinism-regression', 'still-unstable', 'results-changed', 'slower', 'slower-inconclusive', 'faster',
  'missing-cell', 'newly-unsupported', 'newly-failing', 'new-cell',
  // history: the nights of a machine (the latest step of a series, where the latest night is past it)
  'step-slower', 'step-faster', 'step-unstable', 'step-results-changed',
  // compare --confirm: a finding that did not repeat when its cells ran again
  'not-confirmed',
  // --expect: known findings, and expectations that expired or matched nothing
  'expected', 'expectation-expired', 'expectation-unmatched',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];
export const isFindingKind = (x: unknown): x is FindingKind => FINDING_KINDS.includes(x as FindingKind);

export type ComparedSide = 'baseline' | 'current';
export const SPEED_MEASURES = ['computeMs', 'slowdownRatio'] as const;
export type SpeedMeasure = (typeof SPEED_MEASURES)[number];
/** A time ratio, current / baseline, against the threshold: compute time of a cell, or its det/nondet slowdown. */
export type SpeedEvidence = RatioCI & { measure: SpeedMeasure; threshold: number };

/** One night of a history: its results folder's run id and when it was created. */
export interface NightRef {
  runId: string;
  createdAt: string;
}

/** Where a step of a history lies: the machine, the last night before it, the first after, and how many nights each side holds. */
export interface StepPlace {
  machine: string;
  lastBefore: NightRef;
  firstAfter: NightRef;
  nightsBefore: number;
  nightsAfter: number;
}

/** A timing step: the levels (medians of the nights) on each side and their ratio, after / before. */
export type StepEvidence = StepPlace & { measure: SpeedMeasure; mode: Mode | null; before: number; after: number; ratio: number; threshold: number };

/** What an expectation file says about a known finding (harness/expectations.ts). */
export interface ExpectationRef {
  /** The cell pattern, as written. */
  pattern: string;
  /** The expected verdict or finding kind, as written. */
  expect: string;
  reason: string;
  /** YYYY-MM-DD, or null for no expiry. */
  expires: string | null;
}

/** Each kind's evidence: counts, distances, digests, keys and the backends' own messages; never our prose. */
export interface FindingEvidence {
  'incomplete-results': { side?: ComparedSide; recordedRuns: number; plannedRuns: number };
  'det-unstable': { distinctDigests: number; runs: number; maxUlp: number; maxRelL2: number; withinTolerance: boolean | null };
  'negative-control-not-seen': { distinctDigests: number; runs: number };
  'runs-failed': { statuses: Partial<Record<RunStatus, number>>; message: string | null };
  'outside-tolerance': { reference: string; referenceCell: string; distance: number | null; tolerance: Tolerance; maxUlp: number; nanPairs: number };
  'oracle-outside-tolerance': { distance: number | null; tolerance: Tolerance; maxUlp: number; nanPairs: number };
  'invariance-broken': AxisPair & { baseCell: string; maxUlp: number | null; relL2: number | null; stateDiffers?: StateComponent[] };
  'nondet-depends-on-axis': AxisPair & { baseCell: string; maxUlp: number | null; relL2: number | null };
  'devices-disagree': { devices: Array<{ device: string; name: string; modalDigest: string }> };
  'suspect-device': { device: string; name: string };
  'suspect-machine': { machine: number; hostname: string; hardware: string };
  'soak-changed': { afterSec: number; repeat: number; runs: number; distinctDigests: number };
  'varies-as-expected': { distinctDigests: number; runs: number };
  'divergence-located': {
    /** The cell it was compared with (itself, for two runs of one cell). */
    against: LocateAgainst; reference: FindingSubject; status: LocateStatus; budget: LocateBudget; runs: number;
    firstDivergentStep: number | null; step: number | null; firstOp: string | null; previousOp: { op: string; step: number } | null;
    maxUlp: number | null; medianUlp: number | null; differing: number | null; elements: number | null; relL2: number | null;
    /** Whether both re-runs gave bits the recorded runs gave (false: capturing ops changed what was computed, or the runs vary). */
    reproducedRecorded: boolean | null; message: string | null;
  };
  'no-data': { side: ComparedSide; recordedRuns: number; plannedRuns: number };
  'determinism-regression': { baselineDistinct: number; currentDistinct: number; maxUlp: number };
  'still-unstable': { baselineDistinct: number; currentDistinct: number; maxUlp: number };
  'results-changed': { baselineDigest: string; currentDigest: string; diff: DiffSummary | null; fingerprintChanges: string[] };
  slower: SpeedEvidence;
  'slower-inconclusive': SpeedEvidence;
  faster: SpeedEvidence;
  'missing-cell': Record<string, never>;
  'newly-unsupported': { verdict: 'unsupported' | 'unavailable'; message: string | null };
  'newly-failing': { statuses: Partial<Record<RunStatus, number>>; message: string | null };
  'new-cell': Record<string, never>;
  'step-slower': StepEvidence;
  'step-faster': StepEvidence;
  'step-unstable': StepPlace & { distinctDigests: number; runs: number };
  'step-results-changed': StepPlace & { beforeDigest: string; afterDigest: string; fingerprintChanges: string[] };
  /** The finding as compare first found it, and how many of the re-runs found it again. */
  'not-confirmed': { finding: Finding; repeated: number; reruns: number };
  /** The finding as found, and the expectation that made it a note. */
  expected: { finding: Finding; expectation: ExpectationRef };
  'expectation-expired': { expectation: ExpectationRef };
  'expectation-unmatched': { expectation: ExpectationRef };
}

export interface FindingOf<K extends FindingKind> {
  kind: K;
  severity: Severity;
  cell?: FindingSubject;
  evidence: FindingEvidence[K];
}
export type Finding = { [K in FindingKind]: FindingOf<K> }[FindingKind];

// Evidence for a kind that is not in FINDING_KINDS would never be produced: refuse it at compile time.
const noStrayEvidence: Record<Exclude<keyof FindingEvidence, FindingKind>, never> = {};
void noStrayEvidence;
