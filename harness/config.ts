/**
 * Suites: the built-in `quick`, `standard`, `noise` and `acceptance`, or a YAML/JSON file; CLI flags override fields.
 * Everything is validated here, once, into a ResolvedSuite; the caller's objects are never mutated.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { backendIds, findBackend } from './backends/index.js';
import { UsageError, message } from './errors.js';
import { MODES, isMode, type Mode } from './protocol.js';
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

export const SUITE_FIELDS = ['name', 'kind', 'preset', 'workloads', 'backends', 'modes', 'threads', 'repeats', 'seed', 'timeoutSec', 'params', 'trace', 'devices', 'soakSec', 'allowSlow'] as const;

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
    parsed = YAML.parse(fs.readFileSync(suite, 'utf8'), { prettyErrors: false });
  } catch (err) {
    throw new UsageError(message.suiteParse(suite, (err as Error).message.split('\n')[0]));
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(message.suiteShape(suite));
  for (const key of Object.keys(parsed)) {
    if (!(SUITE_FIELDS as readonly string[]).includes(key)) throw new UsageError(message.suiteUnknownField(key, SUITE_FIELDS));
  }
  return { input: parsed as SuiteInput, source: suite };
}

const isWhole = (x: unknown, min: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= min;

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
  for (const id of backendList ?? []) if (!backendIds().includes(id)) throw new UsageError(message.unknownBackend(id, backendIds()));
  const devices = s.devices ?? 'all';
  if (devices !== 'all' && devices !== 'gpu') throw new UsageError(message.devices(devices));
  const soakSec = s.soakSec ?? 0;
  if (typeof soakSec !== 'number' || !(soakSec >= 0)) throw new UsageError(message.soak(soakSec));

  const repeats = s.repeats ?? 3;
  if (!isWhole(repeats, 2)) throw new UsageError(message.repeats(repeats));
  const threads = s.threads ?? [1];
  if (!Array.isArray(threads) || threads.length === 0 || !threads.every((t) => isWhole(t, 1))) throw new UsageError(message.threads(threads));
  const modes = s.modes ?? [...MODES];
  if (!Array.isArray(modes) || modes.length === 0 || !modes.every(isMode)) throw new UsageError(message.modes(modes));
  const seed = s.seed ?? 0;
  if (!isWhole(seed, 0)) throw new UsageError(message.seed(seed));
  const timeoutSec = s.timeoutSec ?? 120;
  if (typeof timeoutSec !== 'number' || !(timeoutSec > 0)) throw new UsageError(message.timeout(timeoutSec));

  if (s.trace !== undefined && typeof s.trace !== 'boolean') throw new UsageError(message.trace(s.trace));
  if (s.allowSlow !== undefined && typeof s.allowSlow !== 'boolean') throw new UsageError(message.allowSlow(s.allowSlow));
  const params = s.params ?? {};
  const workloads = workloadIds.map((id) => {
    const def = findWorkload(id)!;
    const known = Object.keys(def.presets[preset]);
    const overridesFor = params[id] ?? {};
    for (const [key, value] of Object.entries(overridesFor)) {
      if (!known.includes(key)) throw new UsageError(message.workloadParam(id, key, known));
      if (!isWhole(value, 1)) throw new UsageError(message.workloadParamValue(id, key, value));
    }
    return { id, params: { ...def.presets[preset], ...overridesFor } };
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
    backends: backendList ?? (devices === 'gpu' ? backendIds().filter((id) => findBackend(id)!.info.deviceKind === 'gpu') : backendIds()),
    backendsExplicit: backendList !== undefined,
    modes: [...new Set(modes)],
    threads: [...new Set(threads)].sort((a, b) => a - b),
    repeats,
    seed,
    timeoutMs: Math.round(timeoutSec * 1000),
    trace: s.trace === true,
    devices,
    soakMs: Math.round(soakSec * 1000),
    allowSlow: s.allowSlow === true,
  };
}
