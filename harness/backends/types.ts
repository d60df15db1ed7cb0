/**
 * The one interface every backend adapter implements. A backend compiles the workload primitives
 * (workloads/types.ts) into something it can run, and says what `det` and `nondet` mean for it.
 */
import type { DeterminismRecord, Mode } from '../protocol.js';
import { AXIS_IDS, isOmitted, type AxisFields, type AxisId, type AxisValue, type AxisValues, type Numerics } from '../axes.js';
import { isGpuDevice, type NamedTensor, type ResolvedWorkload, type TrainSpec, type WorkloadSpec } from '../../workloads/types.js';
import { modelLayout } from '../../workloads/params.js';
import type { TrainingState } from '../checkpoint.js';
import { examplesOf } from '../../workloads/batching.js';

export type Availability =
  | {
      available: true;
      version: string;
      devices: string[];
      notes: string[];
      /** Model name per device (e.g. cuda:1 → "NVIDIA H100 80GB HBM3"): identical names are compared as siblings. */
      deviceNames?: Record<string, string>;
      /** The libraries beneath the backend, as its probe saw them (torch: for the doctor's checklist, which then starts no Python of its own). */
      stack?: StackFacts;
    }
  | { available: false; reason: string };

/** torch's CUDA and cuDNN builds (null on a CPU-only build or host) and cudnn.benchmark as a fresh process has it. */
export interface StackFacts {
  cuda: string | null;
  cudnn: number | null;
  cudnnBenchmark: boolean | null;
}

export type Support = { ok: true } | { ok: false; reason: string };

export const DEVICE_KINDS = ['cpu', 'gpu'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export interface BackendInfo {
  id: string;
  /** Human-readable: library, execution provider, device kind. */
  description: string;
  /** What it can compute on: torch runs on the CPU and on CUDA GPUs; a suite of GPUs picks backends that can run on one. */
  deviceKinds: readonly DeviceKind[];
  /**
   * Runs in a child process per mode, started with `processEnv(mode)`: its switches are process-wide
   * settings a native library reads once at load time. (torch is false: it drives a Python subprocess
   * of its own from a worker thread, one per session.)
   */
  processPerMode: boolean;
  /** Whether the `threads` axis of a cell changes anything for this backend. */
  threadControl: boolean;
  /** Primitives it compiles and whether it trains or only runs forward passes. */
  capabilities: string;
  /** Runs WGSL kernels (the atomic-sum control). */
  wgsl?: boolean;
  /**
   * Runs a workload's data loader itself (torch: a torch.utils.data.DataLoader with `num_workers`);
   * the others train on the batches of detbench's JS loader (harness/run/loader.ts).
   */
  runsLoader?: boolean;
  /** Hands back its full training state and starts from one (ExecuteOptions `stopAfter`, `resumeFrom`, `state`): resume replay. */
  resumes?: boolean;
}

/**
 * What a session is opened for: the mode, the device, and the cell's value of every invariance axis
 * that is set per session (harness/axes.ts `perSession`; the others are absent at their omitted value).
 */
export interface SessionOptions extends AxisFields {
  mode: Mode;
  device: string;
}

export interface Execution {
  outputs: NamedTensor[];
  computeMs: number;
  loss: number | null;
  /** With tracing on (training workloads): the weights (and state) after every step, [steps × artifact]. */
  trace?: Float32Array;
  /**
   * Training workloads: the logits of the evaluation set `xEval` after the last step, in evaluation
   * mode, [prediction units × classes] row-major; the harness derives loss, accuracy and predictions.
   * Not timed as compute. Absent when the backend cannot evaluate (the record then says so).
   */
  evalLogits?: Float32Array;
  /**
   * With `evalLogits`: the milliseconds the backend spent on them (the evaluation-mode forward pass
   * and reading the logits back), timed by the backend like `computeMs` and kept apart from it.
   */
  evalMs?: number;
  /** Training workloads asked for it (ExecuteOptions): the full training state where the run stopped. */
  state?: TrainingState;
}

/** A backend's evaluation (the held-out logits) and the milliseconds it took (Execution.evalMs). */
export async function timedEvaluation(evaluate: () => Promise<Float32Array>): Promise<Pick<Execution, 'evalLogits' | 'evalMs'>> {
  const start = performance.now();
  const evalLogits = await evaluate();
  return { evalLogits, evalMs: performance.now() - start };
}

export interface ExecuteOptions {
  /** Record the weights after every training step (for the first divergent step). */
  trace?: boolean;
  /** Report every op's output here (`--locate`, harness/run/ops.ts); absent in ordinary runs. */
  ops?: OpSink;
  /**
   * Resume replay (harness/checkpoint.ts). `stopAfter`: train that many steps only and return the
   * state (no evaluation); `resumeFrom`: start from this state, at the step it records; `state`:
   * return the state after the last step too (runs compared with resumed ones).
   */
  stopAfter?: number;
  resumeFrom?: TrainingState;
  state?: boolean;
}

/** What a training run is prepared with beyond its inputs. */
export interface PrepareOptions {
  /** Workloads with a data loader, on a backend that runs its own (`runsLoader`): how many loader workers… */
  loaderWorkers?: number;
  /** …and the run's seed, which a loader seeds its generators from. */
  seed?: number;
}

/**
 * Where a backend reports op outputs while a run is being located. Ops are named by the workload's
 * declared structure (workloads/ops.ts), the same on every backend; a backend reports the ones it
 * can expose, in any order. Reporting must not change what is computed.
 */
export interface OpSink {
  /** Op `op`'s output in training step `step` (0 for an inference): float32 in the declared layout (NHWC), read at once, not kept. */
  record(step: number, op: string, data: Float32Array): void;
}

/** A workload compiled for one run: setup is done, `execute` is what gets timed. */
export interface Program {
  execute(options?: ExecuteOptions): Promise<Execution>;
  dispose(): void;
}

/**
 * Collects the weights after each training step when tracing is on. The time spent copying is
 * measured so the caller can keep it out of `computeMs`.
 */
export class StepTrace {
  private steps: Float32Array[] = [];
  copyMs = 0;

  constructor(readonly enabled: boolean) {}

  /** `read` returns the current weights; it is only called when tracing is on. */
  async record(read: () => Promise<Float32Array[]> | Float32Array[]): Promise<void> {
    if (!this.enabled) return;
    const t0 = performance.now();
    const parts = await read();
    const flat = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      flat.set(p, offset);
      offset += p.length;
    }
    this.steps.push(flat);
    this.copyMs += performance.now() - t0;
  }

  result(): Float32Array | undefined {
    if (!this.enabled || this.steps.length === 0) return undefined;
    const out = new Float32Array(this.steps.length * this.steps[0].length);
    this.steps.forEach((s, i) => out.set(s, i * s.length));
    return out;
  }
}

/** Gradients of the mean softmax cross-entropy of a shard, for the data-parallel driver. */
export type GradientFn = (weights: Float32Array[], x: NamedTensor, y: Int32Array) => Promise<{ grads: Float32Array[]; loss: number }>;

/** An evaluation-mode forward pass on the inputs it was made for: the logits for these weights (and state, artifact order); the data-parallel driver's evaluation. */
export type ForwardFn = (weights: Float32Array[]) => Promise<Float32Array>;

export interface Session {
  readonly determinism: DeterminismRecord;
  readonly warnings: string[];
  prepare(workload: ResolvedWorkload, inputs: NamedTensor[], options?: PrepareOptions): Promise<Program>;
  gradients(spec: TrainSpec): Promise<GradientFn>;
  /**
   * Evaluation-mode forward passes on `x` (the held-out set), where the backend has them (optional):
   * what they need compiled is compiled here, so that a call is the pass alone (Execution.evalMs).
   */
  forward?(spec: TrainSpec, x: NamedTensor): Promise<ForwardFn>;
  close(): Promise<void>;
}

export interface Backend {
  readonly info: BackendInfo;
  probe(): Promise<Availability>;
  supports(spec: WorkloadSpec): Support;
  open(options: SessionOptions): Promise<Session>;
  /**
   * Whether it can run a cell at this value of an invariance axis (never asked for an axis's omitted
   * value): a Support, or null to leave it to the axis's rule for every backend (AXIS_SUPPORT).
   */
  supportsAxis?(axis: AxisId, value: AxisValue, at: { device: string; spec: WorkloadSpec }): Support | null;
  /** For `processPerMode` backends: the environment the child process for a mode must start with. */
  processEnv?(mode: Mode): Record<string, string | undefined>;
  /**
   * A suite with sessions of these modes is about to run (this thread probes, then opens them): start
   * what opening them will wait for, beside the probe (torch: a Python per mode, importing torch).
   * `open` uses it; `endAhead` ends whatever no session took.
   */
  startAhead?(modes: Mode[]): void;
  endAhead?(): void;
}

/**
 * Whether a backend that says nothing (no `supportsAxis`, or null from it) runs a value of each axis
 * other than the omitted one.
 */
const AXIS_SUPPORT: { readonly [A in AxisId]: (backend: Backend, value: AxisValues[A], at: { device: string; spec: WorkloadSpec }) => Support } = {
  // the plan runs a backend without thread control at one thread count (plan.ts)
  threads: () => ({ ok: true }),
  // a backend computes in float32 unless it says it has another mode (torch)
  numerics: (backend, value, { device }) => ({ ok: false, reason: numericsUnsupported(backend.info.id, value, device) }),
  // the harness splits the examples (run/batches.ts): any backend runs any batch of them there is
  batchSize: (_backend, value, { spec }) => {
    const examples = examplesOf(spec);
    if (!examples) return { ok: false, reason: 'this workload has no examples to batch' };
    if (value !== 'all' && value > examples.count) {
      return { ok: false, reason: `a batch of ${value} is more than the ${examples.count} ${examples.what} this workload has at this size: raise its size parameter \`${examples.param}\` to at least ${value} (a suite file's params) or pick a larger preset` };
    }
    return { ok: true };
  },
  // the harness's JS loader builds any backend's batches (run/loader.ts); torch runs its own DataLoader
  loaderWorkers: () => ({ ok: true }),
  // the backend must hand back its training state and start from one (ExecuteOptions), and the
  // checkpoint must fall between two steps
  resumeAt: (backend, value, { spec }) => {
    if (spec.kind !== 'train') return { ok: false, reason: 'resume replay applies to training workloads' };
    if (spec.dataParallel) return { ok: false, reason: 'the data-parallel driver cannot resume from a checkpoint' };
    if (!backend.info.resumes) return { ok: false, reason: `${backend.info.id} cannot write or restore a training state (resume replay runs on tfjs, onnxruntime and torch)` };
    if (value >= spec.steps) return { ok: false, reason: `step ${value} is not before the last of this workload's ${spec.steps} steps: pick a smaller --resume-at, or a larger preset` };
    return { ok: true };
  },
  // only torch (cudnn.benchmark) and onnxruntime's CUDA provider (cuDNN's algorithm search) say they autotune
  autotune: (backend, _value, { device }) => ({ ok: false, reason: autotuneUnsupported(backend.info.id, device) }),
};

/** Why a backend cannot run a cell with algorithm autotuning on. */
export function autotuneUnsupported(id: string, device: string): string {
  if (!isGpuDevice(device)) return 'algorithm autotuning is a GPU matter (cuDNN\'s algorithm search): on the CPU an autotune-on cell would repeat the off one';
  return `${id} has no algorithm-autotuning switch in detbench (torch's cudnn.benchmark and onnxruntime CUDA's cuDNN algorithm search are the ones it sets): an autotune-on cell would repeat the off one`;
}

/** Why a backend without a switch for `value` (tf32 or bf16) cannot run a cell in it. */
export function numericsUnsupported(id: string, value: Numerics, device: string): string {
  if (value === 'tf32' && !isGpuDevice(device)) {
    return 'TF32 is a GPU tensor-core mode (NVIDIA Ampere and later); on the CPU float32 matmuls and convolutions are computed in float32 whatever the setting, so a tf32 cell would repeat the fp32 one';
  }
  return value === 'tf32'
    ? `${id} has no TF32 switch in detbench: it runs its float32 work as its library decides (see README, Numerics)`
    : `${id} has no bfloat16 mode in detbench: it compiles float32 only (torch has one, by autocast)`;
}

/**
 * Whether `backend` can run a workload (at a device and axis values, when given): its own answer
 * first, then the rules that hold for every backend — WGSL kernels need a backend that runs WGSL, and
 * the data-parallel driver, whose shard worker threads each open the backend, runs CPU backends only
 * (a GPU stack opened in four threads at once took the process down) —, then each axis value that is
 * not the axis's omitted one. The plan and the worker both ask here, never `supports` alone.
 */
export function supportOf(backend: Backend, spec: WorkloadSpec, at?: { device: string } & Partial<AxisValues>): Support {
  const own = backend.supports(spec);
  if (!own.ok) return own;
  const general = generalSupport(backend, spec);
  if (!general.ok || !at) return general;
  for (const axis of AXIS_IDS) {
    const value = at[axis];
    if (isOmitted(axis, value)) continue;
    const where = { device: at.device, spec };
    const answer = backend.supportsAxis?.(axis, value!, where) ?? (AXIS_SUPPORT[axis] as (b: Backend, v: AxisValue, w: typeof where) => Support)(backend, value!, where);
    if (!answer.ok) return answer;
  }
  return general;
}

function generalSupport(backend: Backend, spec: WorkloadSpec): Support {
  const id = backend.info.id;
  if (spec.kind === 'infer' && spec.op === 'atomicSum' && !backend.info.wgsl) return { ok: false, reason: `${id} cannot run WGSL kernels: atomic-sum runs on tfjs-webgpu` };
  if (spec.kind === 'train' && spec.dataParallel && backend.info.deviceKinds.includes('gpu')) {
    return { ok: false, reason: `${id} is a GPU backend: the data-parallel control runs its shards in CPU worker threads, on the CPU backends` };
  }
  if (spec.kind === 'train' && spec.dataParallel) {
    const layout = modelLayout(spec);
    const beyond = (spec.optimizer && spec.optimizer.kind !== 'sgd') || (spec.schedule && spec.schedule.kind !== 'constant') || spec.clipNorm !== undefined || layout.state.length > 0 || layout.dropout.length > 0;
    if (beyond) return { ok: false, reason: 'the data-parallel driver trains with plain SGD at a constant rate, without clipping, batch norm or dropout' };
  }
  return { ok: true };
}

/**
 * Thrown by a backend when an op has no implementation (or no deterministic one) there; the run
 * becomes an `unsupported` record carrying the backend's own message.
 */
export class UnsupportedOpError extends Error {
  override name = 'UnsupportedOpError';
}

/**
 * Whether `err` is an UnsupportedOpError, by its name: a plugin may throw one from its own copy of
 * this module (the sources through tsx, while detbench runs compiled: run/compiled.mjs).
 */
export const isUnsupportedOp = (err: unknown): boolean => err instanceof Error && err.name === 'UnsupportedOpError';
