/**
 * Invariance axes: settings that must not change det bits on a sound stack (ARCHITECTURE.md), each
 * one more field of the cell key and one more agreement table in the analysis. An axis is added the
 * same way every time:
 *
 *  1. here: its value type in `AxisValues`, its id in `AXIS_IDS` (the order of key parts) and its
 *     entry in `AXES` — the suite field and flag that list its values and how they are validated,
 *     the value a cell has when the field is absent (`omitted`: never written in keys or records, so
 *     cell ids and results folders from before the axis stay as they were), how a value is written
 *     in a key, the order whose first value is the base every other value is compared with,
 *     whether a backend opens a session per value, and optionally a value always run with the others
 *     (`alwaysWith`: resume replay's uninterrupted run) and whether nondet is compared across values
 *     too (`nondetCompared`: loader workers, whose nondet dependence is the finding), and whether
 *     `--locate` finds where its det disagreements part (`located`: threads);
 *  2. the suite field in `SuiteInput`, `ResolvedSuite` (optional: absent means the omitted value
 *     alone) and `RunFlags` (config.ts), typed like the values;
 *  3. what then follows without more code: the field in CellKey, RunRequest and RunRecord
 *     (protocol.ts `AxisFields`), cell ids and group ids (so det/nondet pairing, shards and
 *     interleaving), the flag (cli.ts) and the validation of its values (config.ts
 *     `resolveAxes`), the agreement tables `summary.invariance` and `summary.agreement`
 *     (analysis/agreement.ts), the `invariance-broken` finding (and with `nondetCompared`,
 *     `summary.nondetDependence` and the `nondet-depends-on-axis` finding), and the report's columns
 *     and tables;
 *  4. what tsc then asks for, one entry each: the JSON Schema of a value and of the suite field
 *     (schema.ts `AXIS_VALUE_SCHEMAS`, the manifest's suite), how the plan expands the axis for a
 *     backend, device and workload (plan.ts `AXIS_PLAN`), whether a backend that says nothing runs a
 *     value (backends/types.ts `AXIS_SUPPORT`; a backend says more with `supportsAxis`), and its
 *     words (reports/findings.ts `AXIS_WORDS`).
 *
 * A value that applies but a backend cannot run is a cell planned `unsupported` with the reason; a
 * value that does not apply at all (threads on a GPU device) is not planned, with a note.
 */
import type { ResolvedSuite, SuiteInput } from './config.js';

/**
 * The arithmetic of float32 work: `fp32` (float32 throughout; TF32 off wherever a backend has a
 * switch for it), `tf32` (matmuls and convolutions on NVIDIA tensor cores with 10-bit-mantissa
 * inputs, Ampere and later), `bf16` (mixed precision: autocast runs matmuls and convolutions in
 * bfloat16; weights, optimizer and the ops autocast leaves alone stay float32).
 */
export const NUMERICS = ['fp32', 'tf32', 'bf16'] as const;
export type Numerics = (typeof NUMERICS)[number];
export const isNumerics = (x: unknown): x is Numerics => NUMERICS.includes(x as Numerics);
const isWhole = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1;
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
/**
 * Threads and loader workers are started, not counted: a value far past any host's cores made
 * onnxruntime fail with bad_alloc, and 400 loader workers took 3.8 GB (100,000: the host's memory).
 */
export const MAX_THREADS = 1024;
export const MAX_LOADER_WORKERS = 256;
const isThreads = (x: unknown): x is number => isWhole(x) && x <= MAX_THREADS;
const isLoaderWorkers = (x: unknown): x is number => isCount(x) && x <= MAX_LOADER_WORKERS;
export const THREADS_EXPECTED = `whole numbers from 1 to ${MAX_THREADS} (e.g. 1,2)`;

/**
 * How many examples of an inference workload one call evaluates (workloads/batching.ts), or `all`:
 * every example in one call, as a workload runs without the axis.
 */
export type BatchSize = number | 'all';
const isBatchSize = (x: unknown): x is BatchSize => x === 'all' || isWhole(x);

/**
 * Algorithm autotuning on GPUs: `off` (a fixed choice of algorithm: torch's cudnn.benchmark off,
 * onnxruntime CUDA's cudnn_conv_algo_search DEFAULT) or `on` (the library times candidate algorithms
 * on the first call of each shape and keeps the fastest; with determinism on, among deterministic ones
 * only). nondet differs from det in both autotuning and nondeterministic kernels; det at `on` moves
 * only the first, so a report can say which of the two moves the bits.
 */
export const AUTOTUNE = ['off', 'on'] as const;
export type Autotune = (typeof AUTOTUNE)[number];
export const isAutotune = (x: unknown): x is Autotune => AUTOTUNE.includes(x as Autotune);

/** The value type of each axis. */
export interface AxisValues {
  /** CPU threads of the backend's thread pool (backends with thread control, on CPU devices). */
  threads: number;
  /** The numerics a backend computes in (see NUMERICS). */
  numerics: Numerics;
  /** Examples per call of an inference workload. */
  batchSize: BatchSize;
  /** Workers of a training workload's data loader (0: batches built by the run itself). */
  loaderWorkers: number;
  /** Steps after which a training run writes its full state and finishes in a fresh process (0: uninterrupted). */
  resumeAt: number;
  /** Algorithm autotuning on GPU devices (see AUTOTUNE). */
  autotune: Autotune;
}

/** Every axis, in the order their parts appear in a cell key (after the mode, before a noise arm). */
export const AXIS_IDS = ['threads', 'numerics', 'batchSize', 'loaderWorkers', 'resumeAt', 'autotune'] as const satisfies readonly (keyof AxisValues)[];
export type AxisId = (typeof AXIS_IDS)[number];
export type AxisValue = AxisValues[AxisId];
// every axis with a value type is listed in AXIS_IDS
const everyAxisListed: Record<Exclude<keyof AxisValues, AxisId>, never> = {};
void everyAxisListed;

export const isAxis = (x: unknown): x is AxisId => AXIS_IDS.includes(x as AxisId);

/** Axes every cell states (they have no omitted value); the others are absent at their omitted value. */
export type RequiredAxis = 'threads';

/**
 * A cell's axis values: the required ones always, the others only where they are not the axis's
 * omitted value (absent means that value).
 */
export type AxisFields = Pick<AxisValues, RequiredAxis> & Partial<Omit<AxisValues, RequiredAxis>>;

export interface AxisSpec<A extends AxisId> {
  /**
   * The suite (and manifest) field listing the values to run; a suite file uses the same name, and
   * the flag is its kebab-case form (`batchSizes`, `--batch-sizes`).
   */
  suiteField: keyof ResolvedSuite & keyof SuiteInput;
  /** `detbench run`'s flag for that field. */
  flag: string;
  /** One value, as the suite file or the flag may give it (checked by config.ts). */
  isValue(x: unknown): x is AxisValues[A];
  /** What its values look like, for the message when one is not (`whole numbers ≥ 1 (e.g. 1,2)`). */
  expected: string;
  /** The flag's help. */
  help: string;
  /**
   * The value of a cell whose field is absent: it is never written in a key or a record, and a
   * suite that does not name the axis runs at it. Undefined for required axes.
   */
  omitted?: AxisValues[A];
  /** How a value appears in a cell key (`t2`); never called for the omitted value. */
  key(value: AxisValues[A]): string;
  /** Sort order of values: the first value a group of cells has is the base of its comparisons. */
  order(a: AxisValues[A], b: AxisValues[A]): number;
  /**
   * True: the value is a process- or session-wide setting, so a backend opens one session per value
   * (`SessionOptions` carries it). False: the harness applies it run by run on a shared session.
   */
  perSession: boolean;
  /**
   * A value run whenever the axis is named, whatever values are listed: the base the others are
   * compared with (resume replay's 0, the uninterrupted run, so `--resume-at 3` means "0 and 3").
   */
  alwaysWith?: AxisValues[A];
  /**
   * Nondet cells are compared across the values too, and a difference is a finding of its own
   * (`nondet-depends-on-axis`): for an axis whose nondet mode is what most code does, and where
   * that mode's dependence on the value is the story (data-loader workers: a machine with more
   * cores trains a different model). Other axes leave nondet alone: its bits may vary anyway.
   */
  nondetCompared?: boolean;
  /**
   * `--locate` re-runs the two sides of a det disagreement across the values to find the first op
   * where they part (run/locate.ts). Not for an axis whose values differ by design (numerics: from
   * the first matmul on), whose runs are several calls (batch sizes: the agreement table already
   * compares their one output), or two halves in two processes (resume replay).
   */
  located?: boolean;
}

const ascending = (a: number, b: number) => a - b;

export const AXES: { readonly [A in AxisId]: AxisSpec<A> } = {
  threads: {
    suiteField: 'threads', flag: '--threads', isValue: isThreads, expected: THREADS_EXPECTED, help: 'thread counts, e.g. 1,2',
    key: (n) => `t${n}`, order: ascending, perSession: true, located: true,
  },
  // TF32 flags are process-wide in torch: a session (a Python worker) per value
  numerics: {
    suiteField: 'numerics', flag: '--numerics', isValue: isNumerics, expected: `${NUMERICS.join(', ')} (e.g. fp32,bf16)`, help: `numerics to compute in: ${NUMERICS.join(', ')} (default fp32)`,
    omitted: 'fp32', key: (v) => v, order: (a, b) => NUMERICS.indexOf(a) - NUMERICS.indexOf(b), perSession: true,
  },
  // the harness splits the examples into calls of this many (run/batches.ts) on one session; the
  // smallest batch is the base: one request at a time is what a batch-invariant server must match
  batchSize: {
    suiteField: 'batchSizes', flag: '--batch-sizes', isValue: isBatchSize, expected: 'whole numbers ≥ 1 or all (e.g. 1,7,32,128)',
    help: 'examples per call of the inference workloads, e.g. 1,7,32,128 (default all: one call)',
    omitted: 'all', key: (b) => `b${b}`, order: (a, b) => (a === 'all' ? Infinity : a) - (b === 'all' ? Infinity : b) || 0, perSession: false,
  },
  // the harness hands the count to the run's loader (run/loader.ts, or torch's own DataLoader): no
  // session per value; 0 workers (the run builds its batches itself) is the base
  loaderWorkers: {
    suiteField: 'loaderWorkers', flag: '--loader-workers', isValue: isLoaderWorkers, expected: `whole numbers from 0 to ${MAX_LOADER_WORKERS} (e.g. 0,2,4)`,
    help: 'data-loader workers of the workloads with a data loader (data-pipeline), e.g. 0,2,4 (default 0: the run builds its batches)',
    omitted: 0, key: (n) => `w${n}`, order: ascending, perSession: false, nondetCompared: true,
  },
  // run by the runner in two halves (run/resume.ts) on the cell's sessions; always against 0, the
  // uninterrupted run
  resumeAt: {
    suiteField: 'resumeAt', flag: '--resume-at', isValue: isWhole, expected: 'whole numbers ≥ 1, fewer than the workload\'s steps (e.g. 3)',
    help: 'resume replay: train K steps, write the full training state, restore it in a fresh process and finish; compared with the uninterrupted run (e.g. 3)',
    omitted: 0, key: (k) => `r${k}`, order: ascending, perSession: false, alwaysWith: 0,
  },
  // cudnn.benchmark is process-wide in torch and the search a provider option in onnxruntime: a
  // session (a Python worker, an onnxruntime session) per value. nondet autotunes at either value
  // (torch's nondet is PyTorch's defaults with benchmark on), so only det is compared across values
  autotune: {
    suiteField: 'autotune', flag: '--autotune', isValue: isAutotune, expected: `${AUTOTUNE.join(', ')} (e.g. off,on)`,
    help: 'GPU algorithm autotuning with determinism on: off,on compares det with and without cuDNN\'s algorithm search (default off)',
    omitted: 'off', key: (v) => `autotune-${v}`, order: (a, b) => AUTOTUNE.indexOf(a) - AUTOTUNE.indexOf(b), perSession: true,
  },
};

/** A cell's value of an axis: its field, or the axis's omitted value when the field is absent. */
export function axisValue<A extends AxisId>(c: Partial<AxisValues>, axis: A): AxisValues[A] {
  return (c[axis] ?? AXES[axis].omitted) as AxisValues[A];
}

/** Whether a value is left out of keys and records: absent, or an optional axis's omitted value. */
export function isOmitted<A extends AxisId>(axis: A, value: AxisValues[A] | undefined): boolean {
  const omitted = AXES[axis].omitted;
  return value === undefined || (omitted !== undefined && value === omitted);
}

/** The part of a cell key for an axis value, or null where the key leaves it out. */
export function axisKeyPart<A extends AxisId>(axis: A, value: AxisValues[A] | undefined): string | null {
  const spec = AXES[axis] as AxisSpec<A>;
  // a required axis is always written, as it always was (`t${threads}`)
  if (spec.omitted === undefined) return spec.key(value as AxisValues[A]);
  return isOmitted(axis, value) ? null : spec.key(value as AxisValues[A]);
}

/** The axis fields of a cell or record as they are stored: every value that is not left out. */
export function axisFields(c: Partial<AxisValues>): AxisFields {
  const out: Partial<AxisValues> = {};
  for (const a of AXIS_IDS) if (!isOmitted(a, c[a])) Object.assign(out, { [a]: c[a] });
  return out as AxisFields;
}

/** The values a suite runs an axis at: its suite field, or the omitted value alone. */
export function suiteAxisValues<A extends AxisId>(suite: ResolvedSuite, axis: A): AxisValues[A][] {
  const listed = suite[AXES[axis].suiteField] as AxisValues[A][] | undefined;
  return listed ?? [AXES[axis].omitted as AxisValues[A]];
}
