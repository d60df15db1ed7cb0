/**
 * The piscina task: one run. Backend sessions are opened once per worker and cached by
 * (backend, mode, device, the axis values set per session); setup (inputs, compilation) is timed apart from compute. A thrown error
 * becomes an `error` result (or `unsupported` for an op the backend lacks); the worker never throws.
 */
import { workerData } from 'node:worker_threads';
import { BACKENDS, findBackend, loadPlugins } from '../backends/index.js';
import { setScratchRoot } from './scratch.js';
import { isUnsupportedOp, timedEvaluation, supportOf, type Availability, type Backend, type Session } from '../backends/types.js';
import { ShardPool, trainDataParallel } from './dataparallel.js';
import { mark } from './timeline.js';
import type { DeterminismRecord, LocateRequest, Mode, RunRequest, RunTask, WorkerResult } from '../protocol.js';
import { OpRecorder } from './ops.js';
import { AXES, AXIS_IDS, axisFields } from '../axes.js';
import { packState, stateTensor, unpackState } from '../checkpoint.js';
import { hasLoader } from '../../workloads/loader.js';
import { loadBatches } from './loader.js';
import { findWorkload, resolveWorkload } from '../../workloads/index.js';
import { makePlan, restrictToGpus } from '../plan.js';
import type { ResolvedSuite } from '../config.js';
import { byName, workloadInputs } from '../../workloads/inputs.js';
import { evaluate, type Evaluation } from './evaluation.js';
import { executeInBatches } from './batches.js';
import type { ExecuteOptions, Execution } from '../backends/types.js';
import type { NamedTensor, ResolvedWorkload, TrainSpec } from '../../workloads/types.js';

await loadPlugins();
if (typeof workerData?.scratch === 'string') setScratchRoot(workerData.scratch);

const sessions = new Map<string, Promise<Session>>();
const shardPools = new Map<string, ShardPool>();
/**
 * Inputs by (workload, seed, sizes): every repeat, mode and backend of a workload reuses the same
 * bytes (backends never write to them). Oldest entries go first past INPUT_CACHE_BYTES.
 */
const INPUT_CACHE_BYTES = 512 * 2 ** 20;
const inputCache = new Map<string, NamedTensor[]>();

const cachedInputBytes = () => [...inputCache.values()].flat().reduce((n, t) => n + t.data.byteLength, 0);

function inputsFor(workload: ResolvedWorkload, seed: number): NamedTensor[] {
  const key = `${workload.id}|${seed}|${JSON.stringify(workload.params)}`;
  let tensors = inputCache.get(key);
  if (!tensors) {
    tensors = workloadInputs(workload, seed);
    inputCache.set(key, tensors);
    while (inputCache.size > 1 && cachedInputBytes() > INPUT_CACHE_BYTES) inputCache.delete(inputCache.keys().next().value!);
  }
  return tensors;
}

/** The inputs with one element of one tensor moved by 1 ULP (a copy: the cache stays clean). */
function perturbed(tensors: NamedTensor[], perturb: RunRequest['perturb']): NamedTensor[] {
  if (!perturb) return tensors;
  return tensors.map((t) => {
    if (t.name !== perturb.tensor) return t;
    const data = Float32Array.from(t.data as Float32Array);
    if (perturb.index < 0 || perturb.index >= data.length) throw new Error(`perturb index ${perturb.index} outside ${t.name} (${data.length} elements)`);
    // one step along the float32 ordering: away from zero for positive values, towards it for negative
    new Int32Array(data.buffer)[perturb.index] += 1;
    return { ...t, data };
  });
}

/**
 * One pool per model, shared by every backend: each shard worker opens a session per backend. A pool
 * whose worker died is closed and replaced, so the run that saw the death fails and the next opens anew.
 */
function shardPool(spec: TrainSpec): ShardPool {
  const key = JSON.stringify(spec);
  let pool = shardPools.get(key);
  if (pool?.failed) void pool.close();
  if (!pool || pool.failed) shardPools.set(key, (pool = ShardPool.open(spec, spec.dataParallel!.workers)));
  return pool;
}

/** The axis values a session is opened with: those set per session (axes.ts `perSession`). */
const sessionAxes = (req: RunRequest) => axisFields(Object.fromEntries(AXIS_IDS.filter((a) => AXES[a].perSession).map((a) => [a, req[a]])));

const sessionOptions = (req: RunRequest) => ({ mode: req.mode, device: req.device, ...sessionAxes(req) });
const sessionKey = (req: RunRequest) => `${req.backend}|${JSON.stringify(sessionOptions(req))}`;

function session(req: RunRequest): Promise<Session> {
  const options = sessionOptions(req);
  const key = sessionKey(req);
  let s = sessions.get(key);
  if (!s) {
    const backend = findBackend(req.backend);
    if (!backend) throw new Error(`unknown backend ${req.backend}`);
    s = backend.open(options);
    s.catch(() => sessions.delete(key));
    sessions.set(key, s);
  }
  return s;
}

/**
 * The runs this thread found a backend cannot run (an `unsupported` result: a kernel or op it lacks,
 * such as tfjs-wasm's missing Conv2DBackpropFilter), by what decides that: the session, the spec and
 * how the run is executed. The answer is the same for every repeat of a cell, so a later one returns
 * the first one's result at once instead of setting up and running until the backend throws again.
 */
const unsupportedRuns = new Map<string, WorkerResult>();
const executionKey = (req: RunTask, spec: ResolvedWorkload['spec']) =>
  JSON.stringify([sessionKey(req), spec, req.batchSize ?? null, req.trace === true, 'captureOps' in req, req.resumePhase ? Object.keys(req.resumePhase) : null, req.resumeAt ?? null, req.keepState === true, req.loaderWorkers ?? 0]);

/** What the coming runs will compute, so that `probe` can start warming up for them while it waits. */
export type WarmTarget = Pick<RunRequest, 'workload' | 'preset' | 'params'>;

/**
 * The suite about to run, for `probe` to warm up for: the shard pools of its workloads (`warm`) and,
 * when the whole suite is given, each backend's sessions.
 */
export interface Upcoming {
  warm: WarmTarget[];
  suite?: ResolvedSuite;
}

/**
 * Warm-up started by `probe`. `prewarm` waits for all of it, needed by the plan or not, so that none
 * overlaps a timed run; a failure is left for the run that needs what failed to report.
 */
const warming: Array<Promise<unknown>> = [];
const warmUp = (work: Promise<unknown>) => warming.push(work.catch(() => {}));

/**
 * Piscina task `probe`: availability of each backend, seen from a worker thread. The probes run
 * concurrently (several wait on child processes: GPU stacks, Python importing torch). Meanwhile the
 * shard pools of the data-parallel workloads in `warm` start their threads, and each CPU backend
 * that probes available opens its sessions in them at once, instead of after every probe and the
 * plan; given the whole `suite`, each backend that probes available opens the sessions its planned
 * runs will use. The same start-up work as `prewarm`, overlapped (prewarm then waits for what is
 * left).
 */
export async function probe({ ids, warm = [], suite }: { ids: string[] } & Partial<Upcoming>): Promise<Record<string, Availability>> {
  if (suite) for (const id of ids) findBackend(id)?.startAhead?.(suite.modes);
  const specs = dataParallelSpecs(warm);
  for (const spec of specs) shardPool(spec);
  const results = await Promise.all(
    ids.map(async (id) => {
      const backend = findBackend(id);
      const started = performance.now();
      const availability: Availability = backend
        ? await backend.probe().catch((err: Error) => ({ available: false as const, reason: `its probe failed: ${err.message}` }))
        : { available: false, reason: `unknown backend ${id}` };
      mark(`probe:${id} ${(performance.now() - started).toFixed(0)} ms`);
      if (backend && availability.available && !backend.info.processPerMode) {
        for (const spec of specs) if (supportOf(backend, spec).ok) warmUp(prepareShards(spec, id));
        if (suite) warmUp(openSessions(plannedRuns(suite, id, availability)));
      }
      return availability;
    }),
  );
  return Object.fromEntries(ids.map((id, i) => [id, results[i]]));
}

/**
 * Piscina task `prewarm`: opens the sessions and the data-parallel shard pools (and their backend
 * sessions) the coming runs need and draws their inputs, before any run is timed. This is harness
 * start-up, like starting the worker.
 */
export async function prewarm(requests: RunRequest[]): Promise<void> {
  // drawn while the sessions the probes started open (torch's in child processes)
  const inputs = prepareInputs(requests);
  await Promise.all(warming.splice(0));
  const prepared = new Map<string, Promise<void>>([['sessions', openSessions(requests)]]);
  for (const req of requests) {
    const backend = findBackend(req.backend);
    const [spec] = dataParallelSpecs([req]);
    if (!backend || !spec || !supportOf(backend, spec).ok) continue;
    const key = `${req.backend}|${JSON.stringify(spec)}`;
    if (!prepared.has(key)) prepared.set(key, prepareShards(spec, req.backend));
  }
  // a failure is reported by the run that needs what failed, as its own record
  await Promise.allSettled([...prepared.values(), inputs]);
  for (const backend of BACKENDS) backend.endAhead?.();
}

/**
 * The runs a backend will be planned, from the suite and its own probe (the plan's own rules, so the
 * sessions warmed up are the ones the runs open); none where planning fails (the plan reports it).
 */
function plannedRuns(suite: ResolvedSuite, id: string, availability: Availability): RunRequest[] {
  try {
    const probed = { [id]: availability };
    return makePlan({ ...suite, backends: [id] }, suite.devices === 'gpu' ? restrictToGpus(probed) : probed).runs;
  } catch {
    return [];
  }
}

/** Whether `backend` can run `req` (a workload spec at the run's device and axis values): runTask and the warm-up ask alike. */
const runSupport = (backend: Backend, spec: ResolvedWorkload['spec'], req: RunRequest) => supportOf(backend, spec, { device: req.device, ...axisFields(req) });

/**
 * Opens every session `runs` will use, all at once: a session's start-up (torch starts a Python and
 * imports torch, about a second of CPU each) is harness start-up, not part of the first run of its
 * cell. A session that fails to open is left for its runs to report.
 */
async function openSessions(runs: RunRequest[]): Promise<void> {
  const opening = new Map<string, Promise<unknown>>();
  for (const req of runs) {
    const backend = findBackend(req.backend);
    const def = findWorkload(req.workload);
    if (!backend || !def || backend.info.processPerMode) continue;
    const spec = resolveWorkload(def, req.preset, req.params).spec;
    // a run its backend does not support opens no session (runTask returns first)
    if (!runSupport(backend, spec, req).ok) continue;
    const key = sessionKey(req);
    if (!opening.has(key)) opening.set(key, session(req));
  }
  await Promise.allSettled(opening.values());
}

/**
 * Generates the inputs of `runs` (detbench's own Philox draws, the same for every backend, mode and
 * repeat of a workload and seed) into the input cache, one set per turn of the event loop so that
 * sessions opening meanwhile are not held up; up to half the cache, so that none pushes out another.
 */
async function prepareInputs(runs: RunRequest[]): Promise<void> {
  const drawn = new Set<string>();
  for (const req of runs) {
    const key = `${req.workload}|${req.seed}|${req.preset}|${JSON.stringify(req.params)}`;
    const def = findWorkload(req.workload);
    if (drawn.has(key) || !def) continue;
    drawn.add(key);
    await new Promise((resolve) => setImmediate(resolve));
    if (cachedInputBytes() > INPUT_CACHE_BYTES / 2) return;
    inputsFor(resolveWorkload(def, req.preset, req.params), req.seed);
  }
}

/** The data-parallel training specs among `targets`, one per distinct spec. */
function dataParallelSpecs(targets: WarmTarget[]): TrainSpec[] {
  const specs = new Map<string, TrainSpec>();
  for (const t of targets) {
    const def = findWorkload(t.workload);
    const spec = def && resolveWorkload(def, t.preset, t.params).spec;
    if (spec?.kind === 'train' && spec.dataParallel) specs.set(JSON.stringify(spec), spec);
  }
  return [...specs.values()];
}

async function prepareShards(spec: TrainSpec, backend: string): Promise<void> {
  const started = performance.now();
  await shardPool(spec).prepare(backend);
  mark(`shards:${backend} ${(performance.now() - started).toFixed(0)} ms`);
}

/** A run, or a run being located (`captureOps`: every op's output is reported to an OpRecorder, and the run is traced). */
export default async function runTask(req: RunTask): Promise<WorkerResult> {
  let determinism: DeterminismRecord | null = null;
  const warnings: string[] = [];
  let key: string | null = null;
  try {
    const def = findWorkload(req.workload);
    if (!def) throw new Error(`unknown workload ${req.workload}`);
    const workload = resolveWorkload(def, req.preset, req.params);
    const backend = findBackend(req.backend);
    const support = backend && runSupport(backend, workload.spec, req);
    if (support && !support.ok) return { status: 'unsupported', message: support.reason, determinism, warnings };
    key = executionKey(req, workload.spec);
    const known = unsupportedRuns.get(key);
    if (known) return structuredClone(known);
    const s = await session(req);
    determinism = s.determinism;
    warnings.push(...s.warnings);

    // resume replay: the first half stops after resumeAt steps; the second starts from the checkpoint
    const phase = req.resumePhase;
    const from = phase && 'restore' in phase ? unpackState(phase.restore.data, phase.restore.tensors) : undefined;
    const spec = workload.spec;
    const executeOptions: ExecuteOptions = {
      trace: req.trace,
      ...(phase && 'save' in phase ? { stopAfter: req.resumeAt } : {}),
      ...(from ? { resumeFrom: from } : {}),
      ...((req.keepState || req.resumeAt) && !(phase && 'save' in phase) ? { state: true } : {}),
    };
    if (spec.kind === 'train' && spec.dataParallel && req.resumeAt) throw new Error('the data-parallel driver cannot resume from a checkpoint');

    const setupStart = performance.now();
    let inputs = perturbed(inputsFor(workload, req.seed), req.perturb);
    const ops = 'captureOps' in req ? new OpRecorder(workload.spec, req.captureOps.maxValueBytes) : undefined;
    const trace = req.trace === true || ops !== undefined;
    const loaderWorkers = req.loaderWorkers ?? 0;
    const ownLoader = spec.kind === 'train' && hasLoader(spec) && backend?.info.runsLoader === true;
    if (spec.kind === 'train' && hasLoader(spec)) {
      if (!ownLoader) {
        // a resumed loader restarts where the checkpoint's data position says
        const first = from ? stateTensor(from, 'data/position').data[0] / spec.batch : 0;
        inputs = await loadBatches(workload.id, req.seed, spec, inputs, req.mode, loaderWorkers, first);
      }
      determinism = withLoader(determinism, req.mode, loaderWorkers, ownLoader);
    }
    let execution: Execution;
    let setupMs: number;
    if (spec.kind === 'train' && spec.dataParallel) {
      const pool = shardPool(spec);
      await pool.prepare(req.backend);
      // the evaluation's graph (ort) is compiled here, in setup, as a single-session run compiles it in prepare
      const forward = await s.forward?.(spec, byName(inputs, 'xEval'));
      setupMs = performance.now() - setupStart;
      execution = await trainDataParallel(pool, req.backend, spec, inputs, req.mode, trace, ops);
      if (forward) Object.assign(execution, await timedEvaluation(() => forward(execution.outputs.map((t) => t.data as Float32Array))));
      determinism = {
        ...determinism,
        control: 'controlled',
        switches: [...determinism.switches, { name: 'all-reduce order', value: req.mode === 'det' ? 'shard order' : 'arrival order', verified: null }],
        summary: `${determinism.summary}; gradients of ${spec.dataParallel!.shards} shards on ${spec.dataParallel!.workers} worker threads summed in ${req.mode === 'det' ? 'shard' : 'arrival'} order`,
      };
    } else if (typeof req.batchSize === 'number') {
      // the batch-size axis: the examples in calls of batchSize each (run/batches.ts)
      const inputsReady = performance.now();
      const batched = await executeInBatches(s, workload, inputs, req.batchSize);
      setupMs = inputsReady - setupStart + batched.setupMs;
      execution = batched.execution;
    } else {
      const program = await s.prepare(workload, inputs, ownLoader ? { loaderWorkers, seed: req.seed } : undefined);
      setupMs = performance.now() - setupStart;
      try {
        execution = await program.execute({ ...executeOptions, trace, ...(ops ? { ops } : {}) });
      } finally {
        program.dispose();
      }
    }
    let evaluation: Evaluation | undefined;
    if (spec.kind === 'train' && executeOptions.stopAfter === undefined) {
      if (execution.evalLogits) evaluation = evaluate(execution.evalLogits, byName(inputs, 'yEval').data as Int32Array, spec.classes);
      else warnings.push(`${req.backend} does not evaluate trained models yet: ${req.workload} has no evaluation loss, accuracy or predictions (no churn)`);
    }
    if (spec.kind === 'train' && req.resumeAt && !execution.state) throw new Error(`${req.backend} cannot hand back its training state: it cannot be resumed`);
    const captured = ops?.result();
    return {
      status: 'ok', setupMs, computeMs: execution.computeMs, loss: execution.loss, ...concat(execution), trace: execution.trace,
      ...(evaluation ? { evaluation, ...(execution.evalMs !== undefined ? { evalMs: execution.evalMs } : {}) } : {}), ...(captured ? { ops: captured } : {}),
      ...(execution.state ? { state: packState(execution.state) } : {}), pid: process.pid, determinism, warnings,
    };
  } catch (err) {
    const e = err as Error & { unsupported?: boolean };
    const unsupported = isUnsupportedOp(err) || e.unsupported === true;
    const result: WorkerResult = { status: unsupported ? 'unsupported' : 'error', message: e.message ?? String(err), determinism, warnings };
    if (unsupported && key) unsupportedRuns.set(key, structuredClone(result));
    return result;
  }
}

/** What the data loader of a run was, in its determinism record. */
function withLoader(d: DeterminismRecord, mode: Mode, workers: number, ownLoader: boolean): DeterminismRecord {
  const who = ownLoader ? `a torch DataLoader with num_workers=${workers}` : workers === 0 ? 'the run\'s own thread' : `${workers} loader worker threads`;
  const how = mode === 'det' ? 'draws keyed by (seed, epoch, sample), batches in step order' : ownLoader ? 'each worker drawing from its own generator (base seed + worker id)' : 'each worker drawing from its own generator, batches in arrival order';
  return {
    ...d,
    control: 'controlled',
    switches: [...d.switches, { name: 'data loader', value: mode === 'det' ? 'index-keyed draws, step order' : 'per-worker generators', verified: null }],
    summary: `${d.summary}; batches built by ${who}, ${how}`,
  };
}

/** All outputs of a run in one float32 buffer, with where each tensor lies. */
function concat(execution: Execution): { artifact: Float32Array; tensors: Array<{ name: string; shape: number[]; offset: number }> } {
  const total = execution.outputs.reduce((n, t) => n + t.data.length, 0);
  const artifact = new Float32Array(total);
  let offset = 0;
  const tensors = execution.outputs.map((t) => {
    artifact.set(t.data as Float32Array, offset);
    const entry = { name: t.name, shape: t.shape, offset };
    offset += t.data.length;
    return entry;
  });
  return { artifact, tensors };
}
