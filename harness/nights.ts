/**
 * The nights of a history: every results folder and saved baseline under the folders a user names
 * (one results folder, a folder of them such as nightly.sh's DETBENCH_OUT, a baselines store), each
 * read into a small Night: what history, publish and their charts need, and nothing else.
 *
 * A folder's summary.json is used when it has this summary version (detbench run wrote it; reading
 * 1,000 of them is what makes a site of 1,000 nights quick); a folder without one, or with another
 * version, is analysed again from its runs. Every field read is validated first: a damaged folder is
 * refused in one line naming the file and the field. Nothing is read outside the folders given:
 * symbolic links are not followed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { analyze } from './analysis/analyze.js';
import { medianCI, type Interval } from './analysis/stats.js';
import { CELL_VERDICTS, SUMMARY_VERSION, type CellVerdict, type Summary } from './analysis/summary.js';
import { hardwareKey } from './baselines.js';
import { UsageError, message } from './errors.js';
import { groupId, MODES, type CellKey } from './protocol.js';
import { hasFile, loadResults, parseUntrustedJson, SCHEMA_VERSION, type Manifest } from './store.js';
import { availability, fingerprint, optionalAxes } from './schema.js';

/** Which machine a night ran on: its hostname and hardware key (a merged folder: all of them). */
export interface MachineId {
  key: string;
  hostname: string;
  hardware: string;
  /** hostname (CPU model × cores, platform-arch), for readers. */
  label: string;
}

/** A cell's median compute time in a night, with its 95% CI (null ends: fewer than 2 runs). */
export interface NightTime {
  median: number;
  low: number | null;
  high: number | null;
  runs: number;
}

export interface NightCell extends Omit<CellKey, 'arm'> {
  cell: string;
  verdict: CellVerdict;
  distinctDigests: number;
  modalDigest: string | null;
  time: NightTime | null;
}

/** A det/nondet pair in a night: the paired det/nondet time ratio with its bootstrap 95% CI. */
export interface NightPair {
  group: string;
  workload: string;
  backend: string;
  device: string;
  threads: number;
  slowdown: Interval | null;
}

export interface Night {
  dir: string;
  runId: string;
  createdAt: string;
  /** Saved as a baseline: the folder is one, or a baseline copy of this run was found too. */
  baseline: boolean;
  complete: boolean;
  machine: MachineId;
  /** What may explain changed numbers (versions, hardware, settings), flattened, each value as JSON. */
  fingerprint: Record<string, string>;
  cells: NightCell[];
  pairs: NightPair[];
}

/** How deep under a named folder nights are looked for: a store is <root>/<hardware>/<hash>/. */
const MAX_DEPTH = 4;
/** Folders of a results folder or a store that never hold a night. */
const NOT_NIGHTS = new Set(['artifacts', 'charts', 'node_modules']);

/** Every results folder or saved baseline under `roots` (a folder with a manifest.json is one, and is not looked into). */
export function findNightDirs(roots: readonly string[]): string[] {
  const found: string[] = [];
  const visit = (dir: string, depth: number) => {
    // lstat, not exists: a manifest.json that is a link or a pipe makes a night, which its reader refuses
    if (hasFile(dir, 'manifest.json')) {
      found.push(dir);
      return;
    }
    if (depth >= MAX_DEPTH) return;
    for (const name of fs.readdirSync(dir).sort()) {
      // half-written baselines (`<hash>.tmp-<pid>`) and hidden folders are no nights
      if (NOT_NIGHTS.has(name) || name.startsWith('.') || name.includes('.tmp-')) continue;
      const child = path.join(dir, name);
      if (fs.lstatSync(child).isDirectory()) visit(child, depth + 1);
    }
  };
  for (const root of roots) {
    const stat = fs.lstatSync(root, { throwIfNoEntry: false });
    if (!stat?.isDirectory()) throw new UsageError(message.historyMissing(root));
    visit(path.resolve(root), 0);
  }
  if (found.length === 0) throw new UsageError(message.historyEmpty(roots));
  return [...new Set(found)];
}

/** What identifies the files a Night is read from: their sizes and modification times (a cache key). */
export function nightStamp(dir: string): string {
  return JSON.stringify(['manifest.json', 'summary.json', 'runs.jsonl', 'complete.json', 'baseline.json'].map((f) => {
    const s = fs.lstatSync(path.join(dir, f), { throwIfNoEntry: false });
    return s ? [s.size, s.mtimeMs] : null;
  }));
}

/** ajv, loaded and each schema compiled on first use: most commands read no nights. */
let ajv: import('ajv').Ajv | null = null;
function compiledOnUse(schema: object): () => ValidateFunction {
  let validate: ValidateFunction | null = null;
  return () => (validate ??= (ajv ??= new (createRequire(import.meta.url)('ajv') as typeof import('ajv')).Ajv({ allErrors: false, strict: false })).compile(schema));
}
const str = { type: 'string' };
const num = { type: 'number' };
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });

/** The fields of manifest.json a night reads. */
const manifestValidator = compiledOnUse({
  type: 'object',
  required: ['schemaVersion', 'runId', 'createdAt', 'environment', 'backends'],
  properties: {
    runId: str,
    createdAt: str,
    // read whole (each a night's fingerprint): checked whole, so nothing in them nests deeper than the schema says
    environment: fingerprint,
    backends: { type: 'object', additionalProperties: availability },
    machines: { type: 'array', items: { type: 'object', required: ['hostname', 'hardware'], properties: { hostname: str, hardware: str } } },
  },
});

/** The fields of summary.json a night reads. */
const summaryValidator = compiledOnUse({
  type: 'object',
  required: ['summaryVersion', 'runId', 'complete', 'cells', 'modes'],
  properties: {
    runId: str,
    complete: { type: 'boolean' },
    cells: {
      type: 'array',
      items: {
        type: 'object',
        required: ['cell', 'workload', 'backend', 'device', 'mode', 'threads', 'verdict', 'distinctDigests', 'modalDigest', 'runs'],
        properties: {
          cell: str, workload: str, backend: str, device: str, threads: num,
          mode: { enum: [...MODES] },
          verdict: { enum: [...CELL_VERDICTS] },
          distinctDigests: num,
          modalDigest: nullable(str),
          runs: { type: 'array', items: { type: 'object', required: ['computeMs'], properties: { computeMs: num } } },
        },
      },
    },
    modes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['workload', 'backend', 'device', 'threads', 'slowdown'],
        properties: {
          workload: str, backend: str, device: str, threads: num,
          slowdown: nullable({ type: 'object', required: ['ratio', 'low', 'high'], properties: { ratio: num, low: num, high: num } }),
        },
      },
    },
  },
});

const nullableNum = nullable(num);
const interval = (fields: readonly string[]) => ({ type: 'object', required: [...fields], properties: Object.fromEntries(fields.map((f) => [f, num])) });

/**
 * A Night as publish keeps it in its site's state file, read back: that file may be damaged or
 * edited like any other, and history takes its nights as they are.
 */
const nightValidator = compiledOnUse({
  type: 'object',
  required: ['dir', 'runId', 'createdAt', 'baseline', 'complete', 'machine', 'fingerprint', 'cells', 'pairs'],
  properties: {
    dir: str, runId: str, createdAt: str, baseline: { type: 'boolean' }, complete: { type: 'boolean' },
    machine: { type: 'object', required: ['key', 'hostname', 'hardware', 'label'], properties: { key: str, hostname: str, hardware: str, label: str } },
    fingerprint: { type: 'object', additionalProperties: str },
    cells: {
      type: 'array',
      items: {
        type: 'object',
        required: ['cell', 'workload', 'backend', 'device', 'mode', 'threads', 'verdict', 'distinctDigests', 'modalDigest', 'time'],
        properties: {
          cell: str, workload: str, backend: str, device: str, mode: { enum: [...MODES] }, threads: num,
          ...optionalAxes,
          verdict: { enum: [...CELL_VERDICTS] }, distinctDigests: num, modalDigest: nullable(str),
          time: nullable({ type: 'object', required: ['median', 'low', 'high', 'runs'], properties: { median: num, low: nullableNum, high: nullableNum, runs: num } }),
        },
      },
    },
    pairs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['group', 'workload', 'backend', 'device', 'threads', 'slowdown'],
        properties: { group: str, workload: str, backend: str, device: str, threads: num, slowdown: nullable(interval(['value', 'low', 'high'])) },
      },
    },
  },
});

/** Whether a value is a Night (what publish's state file says one was). */
export const isNight = (value: unknown): value is Night => nightValidator()(value) === true;

function check<T>(validator: () => ValidateFunction, value: unknown, file: string): T {
  const validate = validator();
  if (validate(value)) return value as T;
  const e: ErrorObject | undefined = validate.errors?.[0];
  throw new UsageError(message.resultsField(file, e?.instancePath || '(top level)', e?.message ?? 'is not valid'));
}

/** The summary of a folder: its summary.json at this version, or its runs analysed again. */
function summaryOf(dir: string, runId: string): Summary {
  const file = path.join(dir, 'summary.json');
  const hasRuns = hasFile(dir, 'runs.jsonl');
  if (hasFile(dir, 'summary.json')) {
    // through store's reader: no link followed, no pipe waited on
    const raw = parseUntrustedJson(file) as Partial<Summary> | null;
    if (raw?.summaryVersion === SUMMARY_VERSION) {
      const summary = check<Summary>(summaryValidator, raw, file);
      // another run's summary (a report written with --out into this folder) would stand for this run
      if (summary.runId !== runId) throw new UsageError(message.resultsInconsistent(file, `\`runId\` is ${JSON.stringify(summary.runId)}, but manifest.json's is ${JSON.stringify(runId)}`));
      return summary;
    }
    if (!hasRuns) throw new UsageError(message.summaryVersion(file, raw?.summaryVersion, SUMMARY_VERSION));
  }
  if (!hasRuns) throw new UsageError(message.resultsMissing(dir));
  return analyze(loadResults(dir));
}

/** Flattens nested fields into `a.b.c` keys, each value as JSON text. */
function flatten(value: unknown, prefix: string, out: Record<string, string>): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = JSON.stringify(value ?? null);
  return out;
}

/** Library, runtime, OS and driver versions, hardware and settings; not the hostname (that is the machine). */
function fingerprintOf(m: Manifest): Record<string, string> {
  const { hostname: _hostname, ...environment } = m.environment;
  const backends = Object.fromEntries(Object.entries(m.backends).map(([id, a]) => [id, a.available ? { version: a.version, devices: a.devices, notes: a.notes, deviceNames: a.deviceNames } : { available: false }]));
  return flatten({ environment, backends }, '', {});
}

function machineOf(m: Manifest): MachineId {
  const env = m.environment;
  if (m.machines && m.machines.length > 1) {
    const hostname = [...new Set(m.machines.map((x) => x.hostname))].sort().join('+');
    const hardware = [...new Set(m.machines.map((x) => x.hardware))].sort().join('+');
    return { key: `${hostname}|${hardware}`, hostname, hardware, label: `merged: ${hostname}` };
  }
  const hardware = hardwareKey(env);
  return { key: `${env.hostname}|${hardware}`, hostname: env.hostname, hardware, label: `${env.hostname} (${env.cpu.model} ×${env.cpu.cores}${env.gpus ? `, ${env.gpus.map((g) => g.name).join(' + ')}` : ''}, ${env.os.platform}-${env.os.arch})` };
}

/** One results folder or saved baseline as a night. */
export function readNight(dir: string): Night {
  const manifestFile = path.join(dir, 'manifest.json');
  const raw = parseUntrustedJson(manifestFile) as Partial<Manifest> | null;
  if (raw?.schemaVersion !== SCHEMA_VERSION) throw new UsageError(message.resultsSchema(dir, raw?.schemaVersion, SCHEMA_VERSION));
  const manifest = check<Manifest>(manifestValidator, raw, manifestFile);
  const summary = summaryOf(dir, manifest.runId);
  const cells: NightCell[] = summary.cells
    .filter((c) => !c.arm)
    .map((c) => {
      const times = c.runs.map((r) => r.computeMs);
      const ci = medianCI(times);
      return {
        cell: c.cell, workload: c.workload, backend: c.backend, device: c.device, mode: c.mode, threads: c.threads,
        verdict: c.verdict, distinctDigests: c.distinctDigests, modalDigest: c.modalDigest,
        time: times.length === 0 ? null : { median: ci?.value ?? times[0], low: ci?.low ?? null, high: ci?.high ?? null, runs: times.length },
      };
    });
  const pairs: NightPair[] = summary.modes.map((m) => ({
    group: groupId(m), workload: m.workload, backend: m.backend, device: m.device, threads: m.threads,
    slowdown: m.slowdown ? { value: m.slowdown.ratio, low: m.slowdown.low, high: m.slowdown.high } : null,
  }));
  return {
    dir, runId: manifest.runId, createdAt: manifest.createdAt,
    baseline: hasFile(dir, 'baseline.json'),
    complete: summary.complete,
    machine: machineOf(manifest),
    fingerprint: fingerprintOf(manifest),
    cells, pairs,
  };
}

/** A cache of nights read before (publish keeps one in the site): a night whose files did not change is not read again. */
export type NightCache = Map<string, { stamp: string; night: Night }>;

/**
 * The nights under `roots`, oldest first, one per run id (a saved baseline is a copy of a run: the
 * results folder is kept, marked as saved, when both are found). `cache` is used, and left holding
 * exactly the folders found.
 */
export function loadNights(roots: readonly string[], cache: NightCache = new Map()): Night[] {
  const nights: Night[] = [];
  const dirs = findNightDirs(roots);
  for (const dir of dirs) {
    const stamp = nightStamp(dir);
    const cached = cache.get(dir);
    if (cached && cached.stamp === stamp) {
      nights.push(cached.night);
      continue;
    }
    const night = readNight(dir);
    cache.set(dir, { stamp, night });
    nights.push(night);
  }
  const found = new Set(dirs);
  for (const dir of [...cache.keys()]) if (!found.has(dir)) cache.delete(dir);
  const byRun = new Map<string, Night>();
  for (const n of nights) {
    const seen = byRun.get(n.runId);
    if (!seen) byRun.set(n.runId, n);
    else if (seen.baseline !== n.baseline) byRun.set(n.runId, { ...(seen.baseline ? n : seen), baseline: true });
  }
  return [...byRun.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.runId.localeCompare(b.runId));
}
