/**
 * The summary schema (summary.json): what analysis writes and reports, compare and baselines read.
 * Types only; the analysis that fills them lives in cells.ts, agreement.ts and analyze.ts.
 */
import type { DiffSummary } from './diff.js';
import type { CellKey, RunRecord, RunStatus } from '../protocol.js';
import type { NoiseDecomposition } from './noise.js';
import type { Describe, RatioCI, VarianceTest } from './stats.js';

export const SUMMARY_VERSION = 1;

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

export interface ModeComparison {
  workload: string;
  backend: string;
  device: string;
  threads: number;
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
  tolerance: { relL2: number };
  status: 'bitwise-equal' | 'within-tolerance' | 'outside-tolerance' | 'incomparable';
  diff: DiffSummary | null;
  note?: string;
}

export interface ThreadInvariance {
  workload: string;
  backend: string;
  device: string;
  baseThreads: number;
  threads: number;
  bitwiseEqual: boolean;
  diff: DiffSummary | null;
}

export interface NegativeControl {
  workload: string;
  backend: string;
  device: string;
  threads: number;
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
  /** Machines whose det result differs from the majority of their identical-hardware siblings. */
  suspects: string[];
}

/** The same det cell on several devices (GPUs) of one host: identical devices must give identical bits. */
export interface DeviceCell {
  workload: string;
  backend: string;
  threads: number;
  devices: Array<{ device: string; name: string; modalDigest: string }>;
  agree: boolean;
  /** Devices whose det result differs from the majority of their identical siblings. */
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
  threads: ThreadInvariance[];
  negativeControls: NegativeControl[];
  /** Per det cell across the machines of a merged folder (empty otherwise). */
  fleet: FleetCell[];
  /** Per det cell across the devices (GPUs) of this host, where a backend ran on several. */
  devices: DeviceCell[];
  /** Per det cell soaked with `--duration` (empty otherwise). */
  soak: SoakCell[];
  /** The noise decomposition (noise suite only; empty otherwise). */
  noise: NoiseDecomposition[];
  /** One line each: what a user must look at (also decides `detbench run`'s exit code). */
  findings: string[];
  verdict: { detStableCells: number; detCells: number; reproducible: boolean };
}
