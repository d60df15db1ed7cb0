/**
 * Suites: the built-in `quick`, `standard`, `noise` and `acceptance`, or a YAML/JSON file; CLI flags override fields.
 * Everything is validated here, once, into a ResolvedSuite; the caller's objects are never mutated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { backendIds, findBackend } from './backends/index.js';
import { UsageError, message } from './errors.js';
import { parseYaml } from './yaml.js';
import { parseShard, type Shard } from './plan.js';
import { MODES, isMode, type Mode } from './protocol.js';
import { AXES, AXIS_IDS, type AxisId, type AxisSpec, type AxisValue, type Autotune, type BatchSize, type Numerics } from './axes.js';
import { prepareFolder } from './store.js';
import { DEFAULT_GRACE_SEC } from './run/signals.js';
import { DEFAULT_SLOWDOWN_THRESHOLD } from './analysis/summary.js';
import { ZERO_BUDGET, type LocateBudget } from './analysis/locate.js';
import { DEFAULT_WORKLOAD_IDS, WORKLOAD_IDS, findWorkload } from '../workloads/index.js';
import { PRESETS, type Preset, type SizeParams } from '../workloads/types.js';

export { PRESETS, type Preset };

/** What a suite file (or the flags) may say. Every field is optional. */
export interface SuiteInput {
  name?: string;
  /** `noise`: the noise decomposition instead of det/nondet cells (see harness/analysis/noise.ts). */
  kind?: 'determinism' | 'noise';
  preset?: Preset;
  workloads?: string[];
  backends?: string[];
  modes?: Mode[];
  threads?: number[];
  /** Numerics to run each cell in (harness/axes.ts); fp32 when absent. */
  numerics?: Numerics[];
  /** Examples per call of the inference workloads (harness/axes.ts); all in one call when absent. */
  batchSizes?: BatchSize[];
  /** Data-loader workers of the workloads with a loader (harness/axes.ts); 0 when absent. */
  loaderWorkers?: number[];
  /** Resume replay after these many steps (harness/axes.ts), each against the uninterrupted run; none when absent. */
  resumeAt?: number[];
  /** GPU algorithm autotuning with determinism on (harness/axes.ts); off when absent. */
  autotune?: Autotune[];
  repeats?: number;
  seed?: number;
  timeoutSec?: number;
  /** Per-workload size parameter overrides, e.g. { matmul: { m: 512 } }. */
  params?: Record<string, Record<string, number>>;
  /** Record the weights after every training step (first divergent step, divergence growth). */
  trace?: boolean;
  /** `gpu`: only GPU backends (all of them unless `backends` names some); `all` (default): every backend. */
  devices?: 'all' | 'gpu';
  /** Soak: after the suite, repeat det runs of every det cell for this long, flagging any change. */
  soakSec?: number;
  /** Run CPU cells of the gpu preset too (otherwise planned `unsupported`: hours of CPU time). */
  allowSlow?: boolean;
}

/** Every field a suite file may have: each invariance axis's values among them (harness/axes.ts). */
export const SUITE_FIELDS: readonly string[] = [
  'name', 'kind', 'preset', 'workloads', 'backends', 'modes', ...AXIS_IDS.map((a) => AXES[a].suiteField), 'repeats', 'seed', 'timeoutSec', 'params', 'trace', 'devices', 'soakSec', 'allowSlow',
];

export interface ResolvedSuite {
  name: string;
  kind: 'determinism' | 'noise';
  source: string;
  preset: Preset;
  workloads: Array<{ id: string; params: SizeParams }>;
  /** Backends asked for: all known ones unless the suite or flags name some. */
  backends: string[];
  /** True when the user named the backends (an unavailable one is then shown as a plan entry). */
  backendsExplicit: boolean;
  modes: Mode[];
  threads: number[];
  /** Absent: fp32 only. */
  numerics?: Numerics[];
  /** Absent: all examples in one call. */
  batchSizes?: BatchSize[];
  /** Absent: 0 loader workers. */
  loaderWorkers?: number[];
  /** Absent: no resume replay; else 0 (the uninterrupted run) and the steps to resume at. */
  resumeAt?: number[];
  /** Absent: autotuning off only. */
  autotune?: Autotune[];
  repeats: number;
  seed: number;
  timeoutMs: number;
  trace: boolean;
  devices: 'all' | 'gpu';
  /** 0: no soak. */
  soakMs: number;
  allowSlow: boolean;
}

export const BUILTIN_SUITE_NAMES = ['quick', 'standard', 'noise', 'acceptance'] as const;

export const BUILTIN_SUITES: Record<(typeof BUILTIN_SUITE_NAMES)[number], SuiteInput> = {
  quick: { name: 'quick', preset: 'quick', repeats: 3, threads: [1, 2], timeoutSec: 60 },
  standard: { name: 'standard', preset: 'standard', repeats: 5, threads: [1, 2], timeoutSec: 300 },
  // The data-parallel model is the default: on CPUs its all-reduce order is the implementation noise.
  // New hardware: every available GPU backend, the GPU-relevant workloads at the gpu preset (sized
  // so split-K GEMMs, cuDNN algorithm choice and 16M-element scatters are reached; TFLOPs per run
  // for the two models), both GPU negative controls; enough repeats that a control differs in nondet
  // (≥ 2 of 8).
  acceptance: {
    name: 'acceptance',
    preset: 'gpu',
    devices: 'gpu',
    workloads: ['mlp-train', 'conv-train', 'embedding-train', 'transformer-train', 'resnet-train', 'attention-infer', 'reduce-sum', 'matmul', 'index-add', 'atomic-sum'],
    repeats: 8,
    threads: [1],
    timeoutSec: 300,
  },
  noise: { name: 'noise', kind: 'noise', preset: 'quick', workloads: ['dataparallel-train'], backends: ['tfjs-cpu', 'ort-cpu'], repeats: 20, threads: [1], timeoutSec: 60 },
};

export function loadSuite(suite: string): { input: SuiteInput; source: string } {
  if ((BUILTIN_SUITE_NAMES as readonly string[]).includes(suite)) return { input: BUILTIN_SUITES[suite as (typeof BUILTIN_SUITE_NAMES)[number]], source: `builtin:${suite}` };
  if (!fs.existsSync(suite)) throw new UsageError(message.suiteNotFound(suite));
  let parsed: unknown;
  try {
    parsed = parseYaml(fs.readFileSync(suite, 'utf8'));
  } catch (err) {
    throw new UsageError(message.suiteParse(suite, (err as Error).message.split('\n')[0]));
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(message.suiteShape(suite));
  for (const key of Object.keys(parsed)) {
    if (!SUITE_FIELDS.includes(key)) throw new UsageError(message.suiteUnknownField(key, SUITE_FIELDS));
  }
  return { input: parsed as SuiteInput, source: suite };
}

const isWhole = (x: unknown, min: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= min;
const isMapping = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** The most counted runs per cell: the plan lists every run (for longer checks of one cell, soak with --duration). */
export const MAX_REPEATS = 10_000;
/** The most runs in flight: each is a worker thread, all started at once. */
export const MAX_CONCURRENCY = 1024;

/** Node's timers hold at most 2^31 − 1 ms; below 1 ms a timeout rounds to nothing. */
export const MAX_TIMEOUT_SEC = Math.floor((2 ** 31 - 1) / 1000);
export const MIN_TIMEOUT_SEC = 0.001;

function nameList(field: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new UsageError(message.suiteList(field));
  return value;
}

/** Validates a suite with flag overrides applied on top (flags win). */
export function resolveSuite(base: SuiteInput, overrides: SuiteInput, source: string): ResolvedSuite {
  const s: SuiteInput = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  const preset = s.preset ?? 'quick';
  if (!(PRESETS as readonly string[]).includes(preset)) throw new UsageError(message.preset(preset));

  const workloadIds = nameList('workloads', s.workloads) ?? DEFAULT_WORKLOAD_IDS;
  for (const id of workloadIds) if (!findWorkload(id)) throw new UsageError(message.unknownWorkload(id, WORKLOAD_IDS));
  const backendList = nameList('backends', s.backends);
  if (backendList?.length === 0) throw new UsageError(message.emptyList('backends', backendIds()));
  if (s.workloads !== undefined && workloadIds.length === 0) throw new UsageError(message.emptyList('workloads', WORKLOAD_IDS));
  for (const id of backendList ?? []) if (!backendIds().includes(id)) throw new UsageError(message.unknownBackend(id, backendIds()));
  const devices = s.devices ?? 'all';
  if (devices !== 'all' && devices !== 'gpu') throw new UsageError(message.devices(devices));
  const soakSec = s.soakSec ?? 0;
  // finite: the manifest stores it, and JSON writes Infinity as null (the folder would not read back)
  if (typeof soakSec !== 'number' || !(soakSec >= 0) || !Number.isFinite(soakSec)) throw new UsageError(message.soak(soakSec));

  const repeats = s.repeats ?? 3;
  // the plan holds every run: past this it would take the memory instead of the time
  if (!isWhole(repeats, 2) || repeats > MAX_REPEATS) throw new UsageError(message.repeats(repeats, MAX_REPEATS));
  const axes = resolveAxes(s);
  const modes = s.modes ?? [...MODES];
  if (!Array.isArray(modes) || modes.length === 0 || !modes.every(isMode)) throw new UsageError(message.modes(modes));
  const seed = s.seed ?? 0;
  // beyond 2^53 − 1 a seed is not the number the user typed (9007199254740993 reads as …992)
  if (!isWhole(seed, 0) || !Number.isSafeInteger(seed)) throw new UsageError(message.seed(seed));
  const timeoutSec = s.timeoutSec ?? 120;
  // setTimeout fires at once past 2^31 − 1 ms (24.8 days), and a timeout under 1 ms rounds to none
  if (typeof timeoutSec !== 'number' || !(timeoutSec >= MIN_TIMEOUT_SEC && timeoutSec <= MAX_TIMEOUT_SEC)) throw new UsageError(message.timeout(timeoutSec, MIN_TIMEOUT_SEC, MAX_TIMEOUT_SEC));

  if (s.trace !== undefined && typeof s.trace !== 'boolean') throw new UsageError(message.trace(s.trace));
  if (s.allowSlow !== undefined && typeof s.allowSlow !== 'boolean') throw new UsageError(message.allowSlow(s.allowSlow));
  if (s.name !== undefined && (typeof s.name !== 'string' || s.name.trim() === '')) throw new UsageError(message.suiteName(s.name));
  const params: unknown = s.params ?? {};
  if (!isMapping(params)) throw new UsageError(message.suiteParams(params));
  for (const [id, value] of Object.entries(params)) if (!isMapping(value)) throw new UsageError(message.suiteParamsOf(id, value));
  const workloads = workloadIds.map((id) => {
    const def = findWorkload(id)!;
    const known = Object.keys(def.presets[preset]);
    const overridesFor = (params[id] ?? {}) as Record<string, unknown>;
    for (const [key, value] of Object.entries(overridesFor)) {
      if (!known.includes(key)) throw new UsageError(message.workloadParam(id, key, known));
      if (!isWhole(value, 1)) throw new UsageError(message.workloadParamValue(id, key, value));
    }
    return { id, params: { ...def.presets[preset], ...(overridesFor as SizeParams) } };
  });
  for (const id of Object.keys(params)) if (!findWorkload(id)) throw new UsageError(message.unknownWorkload(id, WORKLOAD_IDS));

  const kind = s.kind ?? 'determinism';
  if (kind !== 'determinism' && kind !== 'noise') throw new UsageError(message.suiteKind(kind));
  if (kind === 'noise') {
    const notTraining = workloads.find((w) => findWorkload(w.id)!.build(w.params).kind !== 'train');
    if (notTraining) throw new UsageError(message.noiseNeedsTraining(notTraining.id));
  }
  return {
    name: s.name ?? (source.startsWith('builtin:') ? source.slice(8) : 'custom'),
    kind,
    source,
    preset,
    workloads,
    backends: backendList ?? (devices === 'gpu' ? backendIds().filter((id) => findBackend(id)!.info.deviceKinds.includes('gpu')) : backendIds()),
    backendsExplicit: backendList !== undefined,
    modes: [...new Set(modes)],
    ...axes,
    repeats,
    seed,
    timeoutMs: Math.round(timeoutSec * 1000),
    trace: s.trace === true,
    devices,
    soakMs: Math.round(soakSec * 1000),
    allowSlow: s.allowSlow === true,
  };
}

/**
 * Every invariance axis's values (harness/axes.ts), each list deduplicated and in the axis's order:
 * the thread counts always (default 1), another axis only when the suite names values other than its
 * omitted one alone (so a suite that never mentions it resolves, and is stored, as before the axis).
 */
function resolveAxes(s: SuiteInput): Pick<ResolvedSuite, 'threads'> & Partial<ResolvedSuite> {
  const out: Record<string, unknown> = { threads: [1] };
  for (const axis of AXIS_IDS) {
    const spec = AXES[axis] as AxisSpec<AxisId>;
    const given: unknown = s[spec.suiteField];
    if (given === undefined) continue;
    if (!Array.isArray(given) || given.length === 0 || !given.every((v) => spec.isValue(v))) throw new UsageError(message.axisValues(spec.suiteField, spec.expected, given));
    const values = [...new Set([...(given as AxisValue[]), ...(spec.alwaysWith === undefined ? [] : [spec.alwaysWith])])].sort(spec.order as (a: AxisValue, b: AxisValue) => number);
    if (spec.omitted === undefined || values.length !== 1 || values[0] !== spec.omitted) out[spec.suiteField] = values;
  }
  return out as Pick<ResolvedSuite, 'threads'>;
}

/** "90s", "10m", "1.5h" → seconds. A bare number is refused: its unit would be a guess. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)\s*$/.exec(text);
  if (!m) throw new UsageError(message.soak(text));
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}

/** `detbench run`'s flags as commander hands them over (numbers unparsed where they were not numbers). */
export interface RunFlags {
  suite: string;
  backends?: string[];
  workloads?: string[];
  repeats?: number;
  threads?: number[];
  numerics?: Numerics[];
  batchSizes?: BatchSize[];
  loaderWorkers?: number[];
  resumeAt?: number[];
  autotune?: Autotune[];
  modes?: Mode[];
  seed?: number;
  timeout?: number;
  out: string;
  json?: boolean;
  checkOnly?: boolean;
  concurrency?: number;
  /** commander's negation of --no-report */
  report: boolean;
  shard?: string;
  trace?: boolean;
  precision?: number;
  budget?: number;
  python?: string;
  duration?: string;
  allowSlow?: boolean;
  /** commander's negation of --no-oracle */
  oracle?: boolean;
  /** `--junit FILE`: a JUnit XML report of the run. */
  junit?: string;
  /** `--expect FILE`: known findings (harness/expectations.ts). */
  expect?: string;
  /** `--locate`: after the suite, find where disagreeing runs part, op by op (run/locate.ts). */
  locate?: boolean;
  locateBudget?: string;
}

/** Everything `detbench run` needs, validated: nothing downstream checks a flag again. */
export interface RunOptions {
  suite: ResolvedSuite;
  /** The folder that receives the results folder (exists and is writable). */
  outRoot: string;
  /** Runs in flight at once: 1 unless --check-only or --concurrency says otherwise. */
  concurrency: number;
  shard: Shard | null;
  /** `--precision`: paired det/nondet runs until the slowdown CI is this tight, or the budget is spent. */
  paired: { precision: number; budgetMs: number } | null;
  report: boolean;
  json: boolean;
  /** The Python for the torch backend, when given. */
  python: string | null;
  /** After a first signal, how long the run in flight may go on before it is abandoned (signals.ts). */
  graceMs: number;
  /** Compute the float64 oracle after the suite (run/oracle.ts): off with --no-oracle or DETBENCH_ORACLE=off. */
  oracle: boolean;
  /** `--locate`: the budget of pairs of backends (null: each workload's tolerance); null when off. */
  locate: { budget: LocateBudget | null } | null;
}

export const DEFAULT_PRECISION_BUDGET_SEC = 300;

/**
 * Every flag of `detbench run`, validated once and before anything starts (no backend is probed and
 * no folder is written for a bad flag or an unusable --out).
 */
export function resolveRunOptions(flags: RunFlags, cores: number): RunOptions {
  const { input, source } = loadSuite(flags.suite);
  const overrides: SuiteInput = {
    backends: flags.backends, workloads: flags.workloads, repeats: flags.repeats,
    ...Object.fromEntries(AXIS_IDS.map((a) => [AXES[a].suiteField, flags[AXES[a].suiteField as keyof RunFlags]])),
    modes: flags.modes, seed: flags.seed, timeoutSec: flags.timeout, trace: flags.trace,
    soakSec: flags.duration === undefined ? undefined : parseDuration(flags.duration),
    allowSlow: flags.allowSlow,
  };
  const suite = resolveSuite(input, overrides, source);
  if (flags.precision !== undefined && !(typeof flags.precision === 'number' && flags.precision > 0 && flags.precision < 1)) throw new UsageError(message.precision(flags.precision));
  if (flags.budget !== undefined && !(typeof flags.budget === 'number' && flags.budget > 0)) throw new UsageError(message.budget(flags.budget));
  if (flags.budget !== undefined && flags.precision === undefined) throw new UsageError(message.budgetWithoutPrecision());
  const concurrency = flags.concurrency ?? (flags.checkOnly ? Math.min(Math.max(1, cores), MAX_CONCURRENCY) : 1);
  if (!isWhole(concurrency, 1) || concurrency > MAX_CONCURRENCY) throw new UsageError(message.concurrency(flags.concurrency, MAX_CONCURRENCY));
  if (flags.python !== undefined && flags.python.trim() === '') throw new UsageError(message.python(flags.python));
  const shard = flags.shard === undefined ? null : parseShard(flags.shard);
  if (flags.locateBudget !== undefined && !flags.locate) throw new UsageError(message.locateBudgetWithoutLocate());
  const locate = flags.locate ? { budget: flags.locateBudget === undefined ? null : parseLocateBudget(flags.locateBudget) } : null;
  const graceMs = graceSec(process.env.DETBENCH_GRACE_SEC) * 1000;
  return {
    suite,
    // last: the folder is created only for a run whose every other flag is good
    outRoot: prepareFolder(flags.out, '--out'),
    concurrency,
    shard,
    paired: flags.precision === undefined ? null : { precision: flags.precision, budgetMs: (flags.budget ?? DEFAULT_PRECISION_BUDGET_SEC) * 1000 },
    report: flags.report,
    json: flags.json === true,
    python: flags.python ?? null,
    graceMs,
    oracle: flags.oracle !== false && process.env.DETBENCH_ORACLE !== 'off',
    locate,
  };
}

/** `detbench locate DIR`'s flags as commander hands them over. */
export interface LocateFlags {
  cell?: string;
  locateBudget?: string;
  timeout?: number;
  /** commander's negation of --no-report */
  report: boolean;
  json?: boolean;
}

/** Everything `detbench locate` needs, validated before any run starts. */
export interface LocateCommandOptions {
  budget: LocateBudget | null;
  cell: string | null;
  /** null: the suite's per-run timeout (from the folder's manifest). */
  timeoutMs: number | null;
  report: boolean;
  json: boolean;
}

export function resolveLocateOptions(flags: LocateFlags): LocateCommandOptions {
  const timeout = flags.timeout;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= MIN_TIMEOUT_SEC && timeout <= MAX_TIMEOUT_SEC)) throw new UsageError(message.timeout(timeout, MIN_TIMEOUT_SEC, MAX_TIMEOUT_SEC));
  return {
    budget: flags.locateBudget === undefined ? null : parseLocateBudget(flags.locateBudget),
    cell: flags.cell ?? null,
    timeoutMs: timeout === undefined ? null : Math.round(timeout * 1000),
    report: flags.report,
    json: flags.json === true,
  };
}

/**
 * `--locate-budget`: how far an op of one backend may differ from the reference backend's before
 * the localiser counts it as where they part. `4ulp` is a largest ULP distance, a bare number a
 * relative L2 distance; 0 is any bit.
 */
export function parseLocateBudget(text: string): LocateBudget {
  const ulps = /^\s*(\d+)\s*ulps?\s*$/i.exec(text);
  if (ulps && Number.isSafeInteger(Number(ulps[1]))) return { kind: 'maxUlp', value: Number(ulps[1]) };
  const value = text.trim() === '' ? NaN : Number(text);
  if (value === 0) return ZERO_BUDGET;
  if (Number.isFinite(value) && value > 0) return { kind: 'relL2', value };
  throw new UsageError(message.locateBudget(text));
}

function graceSec(text: string | undefined): number {
  if (text === undefined) return DEFAULT_GRACE_SEC;
  const sec = text.trim() === '' ? NaN : Number(text);
  if (!(sec >= 0 && sec <= 3600)) throw new UsageError(message.grace(text));
  return sec;
}

/** `--slowdown-threshold` of report and compare. */
export function resolveSlowdownThreshold(value: number | undefined): number {
  const threshold = value ?? DEFAULT_SLOWDOWN_THRESHOLD;
  if (typeof threshold !== 'number' || !(threshold > 0) || !Number.isFinite(threshold)) throw new UsageError(message.slowdownThreshold(value));
  return threshold;
}

/**
 * A file a command writes (`--junit`): its folder is created if missing (prepareFolder's rules), and
 * the path must not be a folder. Returns the absolute path.
 */
export function resolveOutputFile(file: string, flag: string): string {
  if (file.trim() === '') throw new UsageError(message.outputFile(flag, JSON.stringify(file), 'it is empty'));
  const abs = path.resolve(file);
  if (fs.statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(message.outputFile(flag, file, 'it is a folder'));
  // a report written before is replaced; any other file (a results folder's runs.jsonl, say) is not
  if (fs.lstatSync(abs, { throwIfNoEntry: false }) && !isJunitReport(abs)) throw new UsageError(message.outputFile(flag, file, 'it exists and is no JUnit report (replacing it would lose what it holds)'));
  prepareFolder(path.dirname(abs), flag);
  return abs;
}

/** Whether a file is a JUnit XML report (or empty), by its first bytes; a pipe or link is not one, and is never opened through. */
function isJunitReport(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return false;
    if (st.size === 0) return true; // nothing to lose
    const head = Buffer.alloc(512);
    const text = head.toString('utf8', 0, fs.readSync(fd, head, 0, head.length, 0));
    return /^\s*(<\?xml[^>]*\?>\s*)?<testsuites?[\s>]/.test(text);
  } finally {
    fs.closeSync(fd);
  }
}

/** The most re-runs `compare --confirm` does: each is a whole run of the flagged cells. */
export const MAX_CONFIRM_RERUNS = 20;

/** `--confirm N` of compare. */
export function resolveConfirm(value: number | undefined): number | null {
  if (value === undefined) return null;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_CONFIRM_RERUNS)) throw new UsageError(message.confirmCount(value));
  return value;
}
