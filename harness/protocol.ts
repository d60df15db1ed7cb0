/**
 * What crosses between the runner and its workers, and what is written to runs.jsonl.
 * Everything here is JSON- and structured-clone-safe.
 */
import type { Preset, SizeParams } from '../workloads/types.js';
import { AXIS_IDS, axisKeyPart, isAxis, type AxisFields } from './axes.js';

export const MODES = ['det', 'nondet'] as const;
export type Mode = (typeof MODES)[number];
export const isMode = (x: unknown): x is Mode => MODES.includes(x as Mode);

export const RUN_STATUSES = ['ok', 'unsupported', 'error', 'timeout', 'crashed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One determinism switch of a backend and whether the harness could see that it took effect. */
export interface Switch {
  name: string;
  value: string;
  /** true: read back and confirmed; false: set but cannot be read back; null: nothing to verify. */
  verified: boolean | null;
  note?: string;
}

/** What `det` or `nondet` meant for this backend in this run. */
export interface DeterminismRecord {
  mode: Mode;
  /** `controlled`: the backend has switches and they were set; `uncontrolled`: it has none. */
  control: 'controlled' | 'uncontrolled';
  switches: Switch[];
  summary: string;
}

/**
 * The arms of the noise decomposition (`--suite noise`): different seeds with determinism on; one
 * seed with it off; one seed with it on and a single initial weight moved by 1 ULP.
 */
export const NOISE_ARMS = ['seeds', 'implementation', 'ulp'] as const;
export type NoiseArm = (typeof NOISE_ARMS)[number];

/**
 * A cell: workload, backend, device, mode, a value of every invariance axis (harness/axes.ts: the
 * thread count always, the others where not their omitted value), and a noise arm for
 * noise-decomposition cells.
 */
export interface CellKey extends AxisFields {
  /** Set for noise-decomposition cells only. */
  arm?: NoiseArm;
  workload: string;
  backend: string;
  device: string;
  mode: Mode;
}

/** The fields of a cell key, in the order every key string lists them. */
export const CELL_KEY_FIELDS = ['workload', 'backend', 'device', 'mode', ...AXIS_IDS, 'arm'] as const;
export type CellKeyField = (typeof CELL_KEY_FIELDS)[number];

/** Every field but the mode and the noise arm: what the cells of a group share. */
export const GROUP_FIELDS = CELL_KEY_FIELDS.filter((f): f is Exclude<CellKeyField, 'mode' | 'arm'> => f !== 'mode' && f !== 'arm');

/**
 * The one format of every key built from cell fields: the chosen fields in CELL_KEY_FIELDS order,
 * joined by `|`; each axis value as its axis writes it (`t2`), left out where the axis omits it (so
 * ids from before an axis existed stay as they were); the noise arm only where a cell has one.
 */
export function cellKey(c: Partial<CellKey>, fields: readonly CellKeyField[]): string {
  const parts: string[] = [];
  for (const f of CELL_KEY_FIELDS) {
    if (!fields.includes(f)) continue;
    if (f === 'arm') {
      if (c.arm) parts.push(c.arm);
    } else if (isAxis(f)) {
      const part = axisKeyPart(f, c[f]);
      if (part !== null) parts.push(part);
    } else parts.push(String(c[f]));
  }
  return parts.join('|');
}

/** A cell's id: every field of its key (`mlp-train|tfjs-cpu|cpu|det|t1`). */
export const cellId = (c: CellKey) => cellKey(c, CELL_KEY_FIELDS);

/**
 * The group a cell belongs to: every field but the mode and the noise arm (`mlp-train|tfjs-cpu|cpu|t1`),
 * i.e. the det/nondet pair, or the arms of one noise decomposition. Runs of a group are interleaved
 * and never split between shards.
 */
export const groupId = (c: Omit<CellKey, 'mode' | 'arm'>) => cellKey(c, GROUP_FIELDS);

/** One run the runner asks a worker to do. */
export interface RunRequest extends CellKey {
  runIndex: number;
  repeat: number;
  warmup: boolean;
  seed: number;
  preset: Preset;
  params: SizeParams;
  /** Record the weights after every training step. */
  trace?: boolean;
  /** Move one element of one initial tensor by 1 ULP (the noise suite's `ulp` arm). */
  perturb?: { tensor: string; index: number };
  /** A det run repeated after the suite by `--duration` (the soak), not part of the plan. */
  soak?: boolean;
  /**
   * Record the full training state after the last step (`finalState`): set on every training run of
   * a suite with resume replay (`resumeAt`), so a resumed run and the uninterrupted one are compared
   * part by part (harness/checkpoint.ts).
   */
  keepState?: boolean;
}

/** A packed training state (harness/checkpoint.ts) as it crosses a thread or process boundary. */
export interface PackedState {
  data: Float32Array;
  tensors: ArtifactRef['tensors'];
}

/**
 * What a worker is given: a run request, and for the two halves of a resumed run which half —
 * `save` trains `resumeAt` steps and returns the state, `restore` starts from the checkpoint.
 * The half is the runner's business, never part of the record.
 */
export type RunTask = (RunRequest | LocateRequest) & { resumePhase?: { save: true } | { restore: PackedState } };

export interface ArtifactRef {
  sha256: string;
  bytes: number;
  /** Where each output tensor lies in the artifact (float32 elements, little-endian). */
  tensors: Array<{ name: string; shape: number[]; offset: number }>;
}

/**
 * The evaluation of a trained model on its held-out set (harness/run/evaluation.ts): mean softmax
 * cross-entropy and accuracy after the last step, and the artifact of predicted classes per unit.
 */
export interface EvaluationRef {
  loss: number;
  accuracy: number;
  /** Prediction units (examples, or examples × tokens). */
  units: number;
  /** sha256 of the predicted classes, float32 per unit, stored like any artifact. */
  predictions: string;
}

/** Per-step weights of a traced training run: one artifact of [steps × parameters] float32. */
export interface TraceRef {
  sha256: string;
  steps: number;
  /** sha256 (first 16 hex digits) of the weights after each step. */
  stepDigests: string[];
}

/**
 * A run repeated to find where two runs part (`--locate`, harness/run/locate.ts): the request of a
 * recorded run, traced, with every op's output captured. Its result is never a record of runs.jsonl.
 */
export interface LocateRequest extends RunRequest {
  captureOps: { maxValueBytes: number };
}

/** The ops a located run exposed (harness/run/ops.ts). */
export interface OpCapture {
  /** The ops the backend reported, in declared order (workloads/ops.ts): the same in every step. */
  ops: string[];
  /** Float32 elements of each op's output. */
  elements: number[];
  /** Per step, per op: sha256 (first 16 hex digits) of the output's float32 bytes. */
  digests: string[][];
  /** Per step from step 0 while memory allowed (`maxValueBytes`): every op's output, concatenated in `ops` order. */
  values: Float32Array[];
}

/** What a worker returns: the record minus what only the runner knows, plus the artifact bytes. */
export type WorkerResult =
  | {
      status: 'ok';
      setupMs: number;
      computeMs: number;
      loss: number | null;
      artifact: Float32Array;
      tensors: ArtifactRef['tensors'];
      /** Weights after every step, [steps × parameters], when tracing. */
      trace?: Float32Array;
      /** Training workloads whose backend evaluates: the held-out evaluation, predictions as float32 class ids. */
      evaluation?: { loss: number; accuracy: number; units: number; predictions: Float32Array };
      /** With `evaluation`, where the backend timed it: the milliseconds of its evaluation-mode forward pass (Execution.evalMs). */
      evalMs?: number;
      /** Runs with `resumeAt`: the training state where the run (or its half) stopped. */
      state?: PackedState;
      /** A resumed run, once its halves are joined (resume.ts): the checkpoint, and the processes that saved and restored it. */
      resumed?: { checkpoint: PackedState; savedByPid: number; restoredByPid: number };
      /** The process that ran it (a resumed run's halves must differ). */
      pid?: number;
      /** A LocateRequest's captured ops (absent when the backend exposes none). */
      ops?: OpCapture;
      determinism: DeterminismRecord;
      warnings: string[];
    }
  | { status: 'unsupported' | 'error'; message: string; determinism: DeterminismRecord | null; warnings: string[] };

interface RecordBase extends RunRequest {
  cell: string;
  /** Which machine of a merged folder ran it (index into manifest.machines); absent before a merge. */
  machine?: number;
  startedAt: string;
  wallMs: number;
  determinism: DeterminismRecord | null;
  warnings: string[];
}

/**
 * One run, as appended to runs.jsonl. An `ok` record holds:
 * - `artifact`: what the run produced — for a training workload the weights after the last of its
 *   `steps` updates, for the others the outputs;
 * - `loss` (training workloads; null otherwise): the mean softmax cross-entropy of the last step's
 *   batch, computed by the backend in float32 with the weights *before* the last update (after
 *   steps − 1 of them) — the value the last gradient was taken of, so it does not describe the
 *   artifact's weights and is not an evaluation loss. dataparallel-train records the mean of its
 *   shards' losses;
 * - `outputL2`: the L2 norm of the artifact.
 */
/**
 * A resumed run (`resumeAt` > 0): the training state written after `resumeAt` steps (an artifact
 * with one tensor per state part, harness/checkpoint.ts), by process `savedByPid`, and restored by a
 * fresh process, `restoredByPid`, which finished the run.
 */
export interface ResumeRef {
  checkpoint: ArtifactRef;
  savedByPid: number;
  restoredByPid: number;
}

export type RunRecord = RecordBase &
  (
    | {
        status: 'ok'; setupMs: number; computeMs: number; loss: number | null; outputL2: number; artifact: ArtifactRef; stepTrace?: TraceRef; evaluation?: EvaluationRef;
        /** The held-out evaluation's time, as the backend measured it: backend work, kept apart from computeMs (absent where not measured). */
        evalMs?: number;
        /** Runs with `resumeAt`: the full training state after the last step (harness/checkpoint.ts). */
        finalState?: ArtifactRef;
        resume?: ResumeRef;
      }
    | { status: 'unsupported' | 'error' | 'crashed'; message: string }
    | { status: 'timeout'; message: string; timeoutMs: number }
  );

export type OkRecord = Extract<RunRecord, { status: 'ok' }>;
export const isOk = (r: RunRecord): r is OkRecord => r.status === 'ok';
