/**
 * PyTorch through a Python subprocess (harness/backends/torch/worker.py), one per session, i.e. per
 * (mode, device) in a worker. The environment of that process carries the mode, so process-wide
 * switches are set before CUDA initialises: det = torch.use_deterministic_algorithms(True),
 * cudnn.deterministic = True, cudnn.benchmark = False, CUBLAS_WORKSPACE_CONFIG=:4096:8; nondet =
 * defaults with cudnn.benchmark = True. The session's numerics (harness/axes.ts) are switches in both
 * modes: fp32 turns TF32 off for matmuls and cuDNN (PyTorch leaves cuDNN's on), tf32 on (GPUs only),
 * bf16 runs forward passes under autocast to bfloat16 (its CPU rules cover matmuls, linear and
 * convolutions, not sum or index_add_). Autotuning `on` (GPUs only) turns cudnn.benchmark on in det too,
 * with deterministic algorithms kept: cuDNN then picks among deterministic algorithms by timing them, so
 * det at `on` differs from det at `off` in autotuning alone. The worker reads the flags back (`hello`), so every switch in
 * the record is verified; torch, CUDA and cuDNN versions and device names go into the record too.
 *
 * Protocol, version 3: JSON lines. Requests {id, op: "hello", threads?, numerics?, device?, autotune?} | {id, op: "run", spec, device,
 * inputs: [{name, shape, dtype: "float32"|"int32", path}], params: [names], state: [names],
 * dropout: [names], out: path, trace, dtype?: "float64", ops?: names, loader?: {workers, mode, seed},
 * resume?: {stop_after?, from?: {path, tensors: [{name, shape, offset}]}, state?}} | {id, op: "exit"};
 * replies {id, ok: true, outputs, loss, compute_ms, trace, eval, eval_ms?, ops, state?, nondeterministic?} or {id,
 * ok: false, error, unsupported}. The artifact (the parameters, then the state) is written to `out`,
 * per-step weights to `out.trace`, the evaluation logits of training workloads to `out.eval` (their time `eval_ms`), the
 * training state (harness/checkpoint.ts, with `resume`) to `out.state`, all float32. `ops` (locating):
 * the names of workloads/ops.ts for each site (opNamesFor); the worker writes every op's output to
 * `out.ops` and replies `ops: [[step, name, elements], …]` in the order written. `loader`: the
 * batches come from a torch.utils.data.DataLoader with that many workers (datalayer.py). `resume`:
 * start from a checkpoint, stop after `stop_after` steps, return the state. In
 * DETBENCH_TORCH_MODE=det-warn (`detbench doctor`), replies list the ops PyTorch warned have no
 * deterministic implementation (`nondeterministic: [{op, message}]`). `dtype: "float64"` computes in float64 (the
 * oracle, harness/oracle.ts) and rounds the results to float32 once. When stdin
 * closes, requests already sent are answered and the worker leaves within 10 s, mid-run if need be
 * (a run abandoned by its timeout must not keep a GPU busy). Tensors are raw
 * little-endian files in a private temporary folder — never pickle. An op without a deterministic
 * implementation raises in PyTorch and comes back as `unsupported` with PyTorch's message.
 *
 * Python is `$DETBENCH_PYTHON` (or `detbench run --python PATH`), else python3. CI runs it on the CPU
 * with Debian's python3-torch (test/system/torch.test.ts); CUDA is unverified there (no GPU).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DeterminismRecord, Mode, Switch } from '../../protocol.js';
import { axisValue, type AxisFields, type Numerics } from '../../axes.js';
import { modelLayout } from '../../../workloads/params.js';
import { isGpuDevice, type NamedTensor, type ResolvedWorkload, type WorkloadSpec } from '../../../workloads/types.js';
import { scratchRoot } from '../../run/scratch.js';
import { packState, unpackState, type TrainingState } from '../../checkpoint.js';
import { UnsupportedOpError, autotuneUnsupported, numericsUnsupported, type Availability, type Backend, type Execution, type OpSink, type Program, type Session, type SessionOptions, type StackFacts, type Support } from '../types.js';
import { CLIP_NORM_OP, HEAD_PATH, LAYER_OP, LOSS_GRAD_OP, LOSS_OP, inferOps, opNames } from '../../../workloads/ops.js';

export const TORCH_PROTOCOL = 3;
const WORKER = fileURLToPath(new URL('./worker.py', import.meta.url));
/** The Python that runs torch: `$DETBENCH_PYTHON` (set by --python), else python3. */
export const torchPython = () => process.env.DETBENCH_PYTHON || 'python3';
const python = torchPython;

/** `det-warn`: det's switches with use_deterministic_algorithms(True, warn_only=True) (`detbench doctor`). */
export type TorchMode = Mode | 'det-warn';

export function torchEnv(mode: TorchMode): Record<string, string | undefined> {
  if (mode === 'det-warn') return { DETBENCH_TORCH_MODE: 'det-warn', CUBLAS_WORKSPACE_CONFIG: ':4096:8' };
  return mode === 'det' ? { DETBENCH_TORCH_MODE: 'det', CUBLAS_WORKSPACE_CONFIG: ':4096:8' } : { DETBENCH_TORCH_MODE: 'nondet', CUBLAS_WORKSPACE_CONFIG: undefined };
}

interface Hello {
  protocol: number;
  torch: string;
  cuda: string | null;
  cudnn: number | null;
  devices: string[];
  flags: Record<string, boolean | string | number | null>;
  /** PyTorch's own settings before the mode's (cudnn.benchmark as a fresh process has it). */
  defaults: { 'cudnn.benchmark': boolean };
}

/**
 * Python workers started ahead of the sessions that will use them, by mode (`startAhead`): the same
 * process a session would start (same Python, script and environment), started while the probes run
 * instead of after them, so that importing torch overlaps them. The probe asks the det one about
 * torch; `open` takes one; `endAhead` stops those left.
 */
const ahead = new Map<TorchMode, { python: string; worker: TorchProcess }>();

/** The worker started ahead for `mode`, if it is still alive and its Python is still the one asked for. */
function spareFor(mode: TorchMode): TorchProcess | null {
  const spare = ahead.get(mode);
  return spare && spare.python === python() && !spare.worker.exited ? spare.worker : null;
}

/** A worker for `mode`: the one started ahead for it, else a new one. */
function startWorker(mode: TorchMode): TorchProcess {
  const spare = spareFor(mode);
  if (!spare) ahead.get(mode)?.worker.stop();
  ahead.delete(mode);
  return spare ?? TorchProcess.start(mode);
}

/**
 * The workers of this thread's open sessions, shared by the sessions that differ only in their
 * thread count: every run request sets torch's intra-op threads itself, and each session's hello
 * reads the switches back at its own count, while what a process keeps once set (the mode's
 * environment and switches, numerics, cudnn.benchmark for autotune, the device) is in the key.
 * Starting a Python and importing torch costs about a second of CPU per process.
 */
const shared = new Map<string, SharedWorker>();

interface SharedWorker {
  worker: TorchProcess;
  sessions: number;
  /**
   * The input files of each input set its sessions ran (the worker thread caches inputs per
   * workload), written once per worker: the Python keeps the last set it loaded on the device while
   * requests name the same files, so runs of sessions sharing it load none again.
   */
  inputs: WeakMap<NamedTensor[], ReturnType<typeof writeTensor>[]>;
  dir: string | null;
}

interface HeldWorker {
  worker: TorchProcess;
  /** The files of an input set, written (into the worker's scratch folder) if this worker has none yet. */
  inputFiles(inputs: NamedTensor[]): ReturnType<typeof writeTensor>[];
  release(): void;
}

function useWorker(options: SessionOptions): HeldWorker {
  const key = JSON.stringify([python(), options.mode, options.device, axisValue(options, 'numerics'), axisValue(options, 'autotune')]);
  let entry = shared.get(key);
  if (!entry || entry.worker.exited) {
    entry = { worker: startWorker(options.mode), sessions: 0, inputs: new WeakMap(), dir: null };
    shared.set(key, entry);
  }
  entry.sessions++;
  const used = entry;
  let released = false;
  return {
    worker: used.worker,
    inputFiles(inputs) {
      let files = used.inputs.get(inputs);
      if (!files) {
        used.dir ??= fs.mkdtempSync(path.join(scratchRoot(), 'detbench-torch-inputs-'));
        const sub = fs.mkdtempSync(path.join(used.dir, 'set-'));
        files = inputs.map((t) => writeTensor(sub, t));
        used.inputs.set(inputs, files);
      }
      return files;
    },
    release() {
      if (released) return;
      released = true;
      if (--used.sessions > 0) return;
      used.worker.stop();
      if (used.dir) fs.rmSync(used.dir, { recursive: true, force: true });
      if (shared.get(key) === used) shared.delete(key);
    },
  };
}

/** How long a fresh Python may take to say hello (import torch, start CUDA) before it counts as hung. */
export const PROBE_TIMEOUT_MS = 120_000;

/** The probe's reason when `py` did not say hello in time (the oracle then does not wait for it a second time). */
export const noAnswerReason = (py: string) => `${py} did not answer within ${PROBE_TIMEOUT_MS / 1000} s (importing torch or starting CUDA hangs there): pass --python PATH to another Python`;

/** What `answerWithin` rejects with when the Python has not answered in time. */
export class NoAnswer extends Error {}

/** `work` (a request to a Python worker), or a NoAnswer rejection once `ms` have passed; the timer is cleared either way. */
export async function answerWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new NoAnswer()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** One Python worker process and its request/reply loop. */
export class TorchProcess {
  private nextId = 0;
  private waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private stderr = '';
  private dead: Error | null = null;

  private constructor(private child: ChildProcessWithoutNullStreams) {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return; // a stray print from a library; replies are always JSON
      }
      const w = this.waiting.get(message.id as number);
      this.waiting.delete(message.id as number);
      w?.resolve(message);
    });
    child.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    child.on('exit', (code, signal) => this.failAll(new Error(`the Python worker exited (code ${code}, signal ${signal}): ${this.stderr.trim().split('\n').slice(-3).join(' ') || 'it printed nothing'}`)));
    // a Python that cannot be started: 'error' instead of 'exit', and writes to its stdin fail too
    child.on('error', (err) => this.failAll(new Error(`${python()} cannot be started: ${err.message}`)));
    child.stdin.on('error', () => {});
  }

  private failAll(err: Error): void {
    this.dead = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  static start(mode: TorchMode, pythonPath = python()): TorchProcess {
    // a process group of its own: a signal to detbench's group must not end the run (run/signals.ts);
    // the worker leaves when its stdin closes
    const child = spawn(pythonPath, ['-u', WORKER], { env: { ...process.env, ...torchEnv(mode) }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const worker = new TorchProcess(child);
    live.add(worker);
    child.on('exit', () => live.delete(worker));
    if (!endsWithProcess) {
      // a Python stuck before it reads its stdin (importing torch, starting CUDA) would outlive detbench
      process.once('exit', () => live.forEach((w) => w.stop()));
      endsWithProcess = true;
    }
    return worker;
  }

  /** Whether it has exited (or never started): every request fails. */
  get exited(): boolean {
    return this.dead !== null;
  }

  request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.stdin.write(JSON.stringify({ ...message, id }) + '\n');
    });
  }

  async call(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = await this.request(message);
    if (r.ok !== true) {
      const error = String(r.error ?? 'unknown error');
      throw r.unsupported ? new UnsupportedOpError(error) : new Error(error);
    }
    return r;
  }

  /** Ends the worker and its process group (what it started, e.g. DataLoader workers, goes with it). */
  stop(): void {
    this.child.stdin.end();
    try {
      process.kill(-this.child.pid!, 'SIGTERM');
    } catch {
      this.child.kill(); // gone already, or never started
    }
  }
}

/** The workers of this thread that have not exited: stopped when the process exits. */
const live = new Set<TorchProcess>();
let endsWithProcess = false;

const readFloat32 = (file: string): Float32Array => {
  const bytes = fs.readFileSync(file);
  fs.rmSync(file, { force: true });
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

/** What a run request asks beyond the workload and its inputs. */
export interface RunRequestOptions {
  device: string;
  threads: number;
  trace?: boolean;
  dtype?: 'float64';
  /** Locating: every op's output is reported here. */
  ops?: OpSink;
  /** Workloads with a data loader: the DataLoader's workers and the mode of its draws. */
  loader?: { workers: number; mode: Mode; seed: number };
  /** Resume replay: the checkpoint to start from, when to stop, whether to return the state. */
  resume?: { stopAfter?: number; from?: TrainingState; state?: boolean };
}

/** The ops a det-warn run was warned about: PyTorch's name of each op, and its message. */
export type NondeterministicOp = { op: string; message: string };

/** The op names the worker reports under (locating): each site's name from workloads/ops.ts, so none is spelt in Python. */
export function opNamesFor(spec: WorkloadSpec): Record<string, unknown> {
  if (spec.kind === 'infer') return { infer: inferOps(spec) };
  const n = opNames(spec);
  return {
    layers: Object.fromEntries([...n.layers.map((s) => [s.path, `${s.path}.${LAYER_OP[s.layer.kind]}`]), [HEAD_PATH, `${HEAD_PATH}.${LAYER_OP.dense}`]]),
    gradInput: Object.fromEntries(n.layers.filter((s) => s.gradInput).map((s) => [s.path, s.gradInput])),
    headGradInput: n.headGradInput,
    paramGrad: Object.fromEntries(n.paramGrad),
    update: Object.fromEntries(n.update),
    clip: CLIP_NORM_OP,
    loss: LOSS_OP,
    lossGrad: LOSS_GRAD_OP,
  };
}

/**
 * One `run` request and its results: the artifact, the per-step trace, the evaluation logits and the
 * training state, read back from their files (which are removed); with `ops`, every op's output too,
 * reported to it.
 */
export async function runRequest(
  worker: TorchProcess, out: string, workload: ResolvedWorkload, files: ReturnType<typeof writeTensor>[], options: RunRequestOptions,
): Promise<Execution & { nondeterministic?: NondeterministicOp[] }> {
  const model = workload.spec.kind === 'train' ? workload.spec : workload.spec.op === 'forward' ? workload.spec.model : null;
  const layout = model ? modelLayout(model) : null;
  let resume: Record<string, unknown> | undefined;
  if (options.resume) {
    const { stopAfter, from, state } = options.resume;
    resume = { ...(stopAfter !== undefined ? { stop_after: stopAfter } : {}), ...(state ? { state: true } : {}) };
    if (from) {
      const packed = packState(from);
      fs.writeFileSync(`${out}.from`, new Uint8Array(packed.data.buffer));
      resume.from = { path: `${out}.from`, tensors: packed.tensors };
    }
  }
  let r: Record<string, unknown>;
  try {
    r = await worker.call({
      op: 'run', spec: workload.spec, device: options.device, threads: options.threads, inputs: files, out, trace: options.trace === true,
      params: layout ? layout.params.map(([n]) => n) : [], state: layout ? layout.state.map(([n]) => n) : [], dropout: layout ? layout.dropout.map((d) => d.name) : [],
      ...(options.dtype ? { dtype: options.dtype } : {}),
      ...(options.ops ? { ops: opNamesFor(workload.spec) } : {}),
      ...(options.loader ? { loader: options.loader } : {}),
      ...(resume ? { resume } : {}),
    });
  } finally {
    fs.rmSync(`${out}.from`, { force: true });
  }
  if (options.ops && Array.isArray(r.ops)) {
    const values = readFloat32(`${out}.ops`);
    let offset = 0;
    for (const [step, op, elements] of r.ops as Array<[number, string, number]>) {
      options.ops.record(step, op, values.subarray(offset, offset + elements));
      offset += elements;
    }
  }
  const data = readFloat32(out);
  const meta = r.outputs as TensorMeta[];
  const outputs = meta.map((m, i) => ({ name: m.name, shape: m.shape, data: data.subarray(m.offset, i + 1 < meta.length ? meta[i + 1].offset : data.length) }));
  const trace = r.trace ? readFloat32(`${out}.trace`) : undefined;
  const evalLogits = r.eval ? readFloat32(`${out}.eval`) : undefined;
  const state = r.state ? unpackState(readFloat32(`${out}.state`), r.state as TensorMeta[]) : undefined;
  return {
    outputs, computeMs: r.compute_ms as number, loss: (r.loss as number | null) ?? null, trace,
    ...(evalLogits ? { evalLogits, ...(typeof r.eval_ms === 'number' ? { evalMs: r.eval_ms } : {}) } : {}), ...(state ? { state } : {}),
    ...(r.nondeterministic ? { nondeterministic: r.nondeterministic as NondeterministicOp[] } : {}),
  };
}

type TensorMeta = { name: string; shape: number[]; offset: number };

/** A tensor as a protocol input: its raw little-endian file in `dir` and the entry naming it. */
export function writeTensor(dir: string, t: NamedTensor): { name: string; shape: number[]; dtype: string; path: string } {
  const file = path.join(dir, `${t.name.replace(/[^\w.-]/g, '_')}.bin`);
  fs.writeFileSync(file, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return { name: t.name, shape: t.shape, dtype: t.data instanceof Int32Array ? 'int32' : 'float32', path: file };
}

/** The TF32 flags and autocast each numerics sets (worker.py `set_numerics`), as hello reads them back. */
function numericsSwitches(numerics: Numerics): Record<string, boolean | string> {
  return { 'cuda.matmul.allow_tf32': numerics === 'tf32', 'cudnn.allow_tf32': numerics === 'tf32', autocast: numerics === 'bf16' ? 'bfloat16' : 'off' };
}

const NUMERICS_SUMMARY: { readonly [N in Numerics]: string } = {
  fp32: 'float32 (TF32 off for matmuls and cuDNN)',
  tf32: 'TF32 allowed for matmuls and cuDNN convolutions',
  bf16: 'autocast to bfloat16 (matmuls and convolutions in bfloat16)',
};

/**
 * Environment variables that change TF32 behind PyTorch's flags: TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1
 * turns TF32 on for cuBLAS whatever allow_tf32 says, NVIDIA_TF32_OVERRIDE=0 turns it off in cuBLAS
 * and cuDNN. Where one contradicts the cell's numerics, the record says so (unverified).
 */
function tf32Override(flags: Hello['flags'], numerics: Numerics): Switch | null {
  if (numerics !== 'tf32' && flags.TORCH_ALLOW_TF32_CUBLAS_OVERRIDE === '1') {
    return { name: 'TORCH_ALLOW_TF32_CUBLAS_OVERRIDE', value: '1', verified: false, note: `cuBLAS matmuls run in TF32 whatever allow_tf32 says: this ${numerics} cell is not float32 on Ampere and later GPUs; unset it` };
  }
  if (numerics === 'tf32' && flags.NVIDIA_TF32_OVERRIDE === '0') {
    return { name: 'NVIDIA_TF32_OVERRIDE', value: '0', verified: false, note: 'cuBLAS and cuDNN never use TF32: this tf32 cell runs in float32; unset it' };
  }
  return null;
}

/** The session's hello request (worker.py `hello`): its numerics and autotuning, and on the CPU its thread count. */
export function helloRequest(options: Pick<SessionOptions, 'device' | 'threads'> & Partial<AxisFields>): Record<string, unknown> {
  const onCpu = options.device === 'cpu';
  return { op: 'hello', numerics: axisValue(options, 'numerics'), autotune: axisValue(options, 'autotune'), device: options.device, ...(onCpu ? { threads: options.threads } : {}) };
}

/**
 * Every switch a session's worker must read back (worker.py `hello`), by name: the mode's, the
 * thread count on the CPU, the numerics', and cudnn.benchmark, which det turns on only with
 * autotuning `on` (nondet has it on at either value: PyTorch's defaults with benchmark).
 */
export function expectedSwitches(options: Pick<SessionOptions, 'mode' | 'device' | 'threads'> & Partial<AxisFields>): Record<string, boolean | string | number | null> {
  const det = options.mode === 'det';
  const expect: Record<string, boolean | string | number | null> = {
    use_deterministic_algorithms: det,
    'cudnn.deterministic': det,
    'cudnn.benchmark': !det || axisValue(options, 'autotune') === 'on',
    CUBLAS_WORKSPACE_CONFIG: det ? ':4096:8' : null,
  };
  // on the CPU the cell's thread count is a switch too: PyTorch splits its reductions per thread
  if (options.device === 'cpu') expect.num_threads = options.threads;
  // the numerics are switches in either mode: fp32 is float32 (TF32 off, which cudnn.allow_tf32 is not by default)
  return Object.assign(expect, numericsSwitches(axisValue(options, 'numerics')));
}

export const torchBackend: Backend = {
  info: {
    id: 'torch',
    description: `PyTorch in a Python subprocess (JSON-lines protocol v${TORCH_PROTOCOL}, raw float32 files), CUDA when available`,
    deviceKinds: ['cpu', 'gpu'],
    processPerMode: false,
    runsLoader: true,
    resumes: true,
    // torch.set_num_threads on the CPU: its reductions split work per intra-op thread
    threadControl: true,
    capabilities: 'train and infer: every primitive (dense, conv2d, pooling, embedding, mean and global average pooling, layer and batch norm, GELU, dropout masks, causal self-attention, residual, softmax-xent, SGD, momentum SGD and AdamW from torch.optim, clip_grad_norm_, attention, reduce-sum, matmul, index-add via index_add_), evaluation, float64 (the oracle); no data-parallel driver or WGSL',
  },
  async probe(): Promise<Availability> {
    // a det worker's hello, which changes nothing: the one started ahead for the suite, or one of its own
    const spare = spareFor('det');
    const worker = spare ?? TorchProcess.start('det');
    let hello: Hello;
    try {
      hello = (await answerWithin(worker.call({ op: 'hello' }), PROBE_TIMEOUT_MS)) as unknown as Hello;
    } catch (err) {
      worker.stop();
      if (err instanceof NoAnswer) {
        return { available: false, reason: noAnswerReason(python()) };
      }
      const why = (err as Error).message;
      const notStarted = `${python()} cannot be started: `;
      if (why.startsWith(notStarted)) return { available: false, reason: `${python()} cannot be started (${why.slice(notStarted.length)}): install Python 3 with torch, or pass --python PATH` };
      return { available: false, reason: `torch is not importable by ${python()} (${why.replace(/^torch is not importable: /, '')}): pip install torch, or pass --python PATH to a Python that has it` };
    }
    if (!spare) worker.stop();
    const gpus = hello.devices;
    return {
      available: true,
      version: hello.torch,
      devices: gpus.length ? gpus.map((_, i) => `cuda:${i}`) : ['cpu'],
      notes: gpus.length ? [`GPUs: ${gpus.join('; ')}`] : ['no CUDA device: torch runs on the CPU'],
      ...(gpus.length ? { deviceNames: Object.fromEntries(gpus.map((name, i) => [`cuda:${i}`, name])) } : {}),
      stack: { cuda: hello.cuda, cudnn: hello.cudnn, cudnnBenchmark: hello.defaults['cudnn.benchmark'] },
    };
  },
  startAhead(modes) {
    for (const mode of modes) if (!ahead.has(mode)) ahead.set(mode, { python: python(), worker: TorchProcess.start(mode) });
  },
  endAhead() {
    for (const { worker } of ahead.values()) worker.stop();
    ahead.clear();
  },
  supports(spec: WorkloadSpec): Support {
    if (spec.kind === 'train' && spec.dataParallel) return { ok: false, reason: 'torch has no data-parallel driver in detbench: the CPU negative control runs on the CPU backends' };
    return { ok: true };
  },
  supportsAxis(axis, value, { device, spec }): Support | null {
    // cudnn.benchmark: cuDNN's algorithm search, on GPU devices
    if (axis === 'autotune') return isGpuDevice(device) ? { ok: true } : { ok: false, reason: autotuneUnsupported('torch', device) };
    if (axis !== 'numerics') return null;
    if (value === 'tf32' && !isGpuDevice(device)) return { ok: false, reason: numericsUnsupported('torch', 'tf32', device) };
    // torch 1.13–2.x autocast has no bfloat16 rule for sum and index_add_: they stay float32, so a bf16 cell would repeat the fp32 one
    if (value === 'bf16' && spec.kind === 'infer' && (spec.op === 'reduceSum' || spec.op === 'indexAdd' || spec.op === 'atomicSum')) {
      return { ok: false, reason: `torch.autocast has no bfloat16 rule for ${spec.op === 'indexAdd' ? 'index_add_' : 'sum'}: it runs in float32 under autocast, so a bf16 cell would repeat the fp32 one` };
    }
    return { ok: true };
  },
  async open(options: SessionOptions): Promise<Session> {
    const numerics = axisValue(options, 'numerics');
    const autotune = axisValue(options, 'autotune') === 'on';
    // hello sets the session's threads, numerics and autotune in its worker and reads every switch back
    const greet = async (worker: TorchProcess): Promise<Hello> => {
      const reply = (await worker.call(helloRequest(options))) as unknown as Hello;
      if (reply.protocol !== TORCH_PROTOCOL) throw new Error(`the Python worker speaks protocol ${reply.protocol}, detbench ${TORCH_PROTOCOL}`);
      return reply;
    };
    let held = useWorker(options);
    let hello: Hello;
    let dir: string;
    try {
      hello = await greet(held.worker);
      dir = fs.mkdtempSync(path.join(scratchRoot(), 'detbench-torch-'));
    } catch (err) {
      held.release();
      throw err;
    }
    /** The session's worker; one that has exited (a crash in a run of this or a sharing session) is replaced and greeted again. */
    const current = async (): Promise<TorchProcess> => {
      if (held.worker.exited) {
        held.release();
        held = useWorker(options);
        await greet(held.worker);
      }
      return held.worker;
    };
    const det = options.mode === 'det';
    const expect = expectedSwitches(options);
    const switches: Switch[] = Object.entries(expect).map(([name, value]) => ({ name, value: String(hello.flags[name]), verified: hello.flags[name] === value }));
    const override = tf32Override(hello.flags, numerics);
    if (override) switches.push(override);
    const determinism: DeterminismRecord = {
      mode: options.mode,
      control: 'controlled',
      switches,
      summary: `torch ${hello.torch}, CUDA ${hello.cuda ?? 'none'}, cuDNN ${hello.cudnn ?? 'none'}${hello.devices.length ? `, ${hello.devices.join('; ')}` : ''}: ${det ? `deterministic algorithms, cuDNN deterministic, ${autotune ? 'cudnn.benchmark among deterministic algorithms' : 'no benchmark'}, CUBLAS_WORKSPACE_CONFIG=:4096:8` : 'defaults with cudnn.benchmark'}; ${NUMERICS_SUMMARY[numerics]}`,
    };
    let runs = 0;
    return {
      determinism,
      warnings: determinism.switches.filter((s) => !s.verified).map((s) => `torch switch ${s.name} reads back as ${s.value}`),
      async prepare(workload, inputs, prepareOptions): Promise<Program> {
        held.inputFiles(inputs); // written in setup; a replaced worker writes its own at its first run
        return {
          async execute(executeOptions): Promise<Execution> {
            const spec = workload.spec;
            const { stopAfter, resumeFrom, state } = executeOptions ?? {};
            const worker = await current();
            return runRequest(worker, path.join(dir, `out-${runs++}.f32`), workload, held.inputFiles(inputs), {
              device: options.device, threads: options.threads, trace: executeOptions?.trace === true, ...(executeOptions?.ops ? { ops: executeOptions.ops } : {}),
              ...(spec.kind === 'train' && spec.loader ? { loader: { workers: prepareOptions?.loaderWorkers ?? 0, mode: options.mode, seed: prepareOptions?.seed ?? 0 } } : {}),
              ...(stopAfter !== undefined || resumeFrom || state ? { resume: { stopAfter, from: resumeFrom, state } } : {}),
            });
          },
          dispose() {},
        };
      },
      async gradients() {
        throw new UnsupportedOpError('torch has no data-parallel driver in detbench');
      },
      async close() {
        held.release();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
