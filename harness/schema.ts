/**
 * The schema of every file a reader trusts: manifest.json, each runs.jsonl record, complete.json,
 * a saved baseline's baseline.json, and summary.json as far as `compare` reads it. Results folders
 * travel between machines and people, so readers treat them as untrusted input: ajv validates each
 * file against these JSON Schemas (draft-07) before any field is used.
 *
 * The schemas are built with a few typed helpers (`object`, `tagged`, …) that carry the TypeScript
 * type each schema accepts, and the checks at the end of this file fail `tsc` when a schema and the
 * type it describes (Manifest, RunRecord, Completion, BaselineEntry) drift apart in either direction:
 * a field added to RunRecord must be added here, and the other way round.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv as AjvClass, ErrorObject, Options, ValidateFunction } from 'ajv';
import type { BaselineEntry } from './baselines.js';
import type { Summary } from './analysis/summary.js';
import { ORACLE_VERSION, type OracleFile } from './analysis/oracle.js';
import { BUDGET_KINDS, LOCATE_AGAINST, LOCATE_VERSION, type LocateFile } from './analysis/locate.js';
import { CHECK_STATUSES } from './doctor.js';
import { MODES, NOISE_ARMS, type RunRecord } from './protocol.js';
import { AUTOTUNE, NUMERICS, type AxisId, type AxisValues, type BatchSize } from './axes.js';
import { PRESETS } from '../workloads/types.js';
import type { Completion, Manifest } from './store.js';

// ── typed schema helpers ─────────────────────────────────────────────────────────────────────────

declare const STATIC: unique symbol;
/** A JSON Schema that accepts exactly the values of type T (the type exists for tsc only). */
export interface Schema<T> {
  readonly [STATIC]?: T;
  readonly [keyword: string]: unknown;
}
/** The type of the values a schema accepts. */
export type Static<S> = S extends Schema<infer T> ? T : never;
type Props = Record<string, Schema<unknown>>;
type StaticProps<P extends Props> = { [K in keyof P]: Static<P[K]> };

const schema = <T>(s: Record<string, unknown>) => s as Schema<T>;

const str = (extra: { pattern?: string } = {}) => schema<string>({ type: 'string', ...extra });
const oneOf = <const L extends readonly string[]>(values: L) => schema<L[number]>({ type: 'string', enum: [...values] });
const constant = <const L extends string>(value: L) => schema<L>({ type: 'string', const: value });
const bool = () => schema<boolean>({ type: 'boolean' });
interface Range { minimum?: number; exclusiveMinimum?: number; maximum?: number; multipleOf?: number }
/** Finite numbers only: ajv runs with strictNumbers, so NaN and ±Infinity (JSON's 1e999) are refused. */
const num = (range: Range = {}) => schema<number>({ type: 'number', ...range });
const int = (range: Range = {}) => schema<number>({ type: 'integer', maximum: Number.MAX_SAFE_INTEGER, ...range });
const array = <T>(items: Schema<T>) => schema<T[]>({ type: 'array', items });
/** Exactly two items (a pair's two sides). */
const pair = <T>(items: Schema<T>) => schema<[T, T]>({ type: 'array', items, minItems: 2, maxItems: 2 });
/** An object whose keys are free and whose values all match `values`. */
const record = <T>(values: Schema<T>) => schema<Record<string, T>>({ type: 'object', additionalProperties: values });

/** null or what `s` accepts. A primitive keeps one `type` list so the error says "must be number,null". */
function nullable<T>(s: Schema<T>): Schema<T | null> {
  const type = s.type;
  return typeof type === 'string' && type !== 'object' && type !== 'array' ? schema({ ...s, type: [type, 'null'] }) : schema({ anyOf: [s, { type: 'null' }] });
}

/**
 * An object with exactly these fields: `required` ones and `optional` ones, nothing else (a field
 * this version does not know is refused, as a misspelt one would be).
 */
function object<R extends Props, O extends Props = Record<never, never>>(required: R, optional?: O): Schema<StaticProps<R> & Partial<StaticProps<O>>> {
  return schema({ type: 'object', properties: { ...required, ...optional }, required: Object.keys(required), additionalProperties: false });
}

/**
 * Like `object`, but fields beyond these are let through unchecked (for files read only in part);
 * `optional` ones are checked where present.
 */
function partOf<R extends Props, O extends Props = Record<never, never>>(required: R, optional?: O): Schema<StaticProps<R> & Partial<StaticProps<O>>> {
  return schema({ type: 'object', properties: { ...required, ...optional }, required: Object.keys(required) });
}

/**
 * A union tagged by a string field (`status: ok | error | …`): ajv's discriminator picks the branch
 * by the tag, so an error names the field of that branch rather than every branch's complaint.
 */
function tagged<S extends Schema<unknown>>(tag: string, branches: readonly S[]): Schema<Static<S>> {
  const values = branches.flatMap((b) => {
    const t = (b.properties as Record<string, { const?: string; enum?: string[] }>)[tag];
    return t.enum ?? [t.const!];
  });
  TAG_VALUES.set(tag, values);
  return schema({ type: 'object', discriminator: { propertyName: tag }, required: [tag], oneOf: branches });
}
/** The values of each union tag, for the message when a tag has another value. */
const TAG_VALUES = new Map<string, string[]>();

/** A union tagged by a boolean field (`available: true | false`). */
function byFlag<A, B>(flag: string, whenTrue: Schema<A>, whenFalse: Schema<B>): Schema<A | B> {
  return schema({
    type: 'object', required: [flag], properties: { [flag]: { type: 'boolean' } },
    if: { type: 'object', properties: { [flag]: { const: true } } }, then: whenTrue, else: whenFalse,
  });
}

// ── the files ────────────────────────────────────────────────────────────────────────────────────

/** Artifacts are named by the sha256 of their bytes; nothing else may name a file. */
export const DIGEST = '^[0-9a-f]{64}$';
const digest = () => str({ pattern: DIGEST });
const texts = () => array(str());
const ms = () => num({ minimum: 0 });

/**
 * The value of each invariance axis (harness/axes.ts). Cells, records and the manifest's suite carry
 * the required axes always, the others only where not their omitted value.
 */
const AXIS_VALUE_SCHEMAS: { [A in AxisId]: Schema<AxisValues[A]> } = {
  threads: int({ minimum: 1 }),
  numerics: oneOf(NUMERICS),
  batchSize: schema<BatchSize>({ anyOf: [int({ minimum: 1 }), { type: 'string', const: 'all' }] }),
  loaderWorkers: int({ minimum: 0 }),
  resumeAt: int({ minimum: 0 }),
  autotune: oneOf(AUTOTUNE),
};
const { threads: threadsSchema, ...optionalAxes } = AXIS_VALUE_SCHEMAS;
/** The axes a cell carries only where not their omitted value (exported for the nights a site keeps: harness/nights.ts). */
export { optionalAxes };

const cellKey = {
  workload: str(), backend: str(), device: str(), mode: oneOf(MODES), threads: threadsSchema,
};
const sizeParams = () => record(num());
const shard = object({ index: int({ minimum: 1 }), count: int({ minimum: 1 }) });

/** Exported for the nights of a history (harness/nights.ts), which read a manifest's environment and backends whole. */
export const fingerprint = object({
  node: str(),
  npm: nullable(str()),
  packages: record(nullable(str())),
  os: object({ platform: str(), release: str(), arch: str(), type: str() }),
  cpu: object({ model: str(), cores: int({ minimum: 0 }) }),
  memoryBytes: num({ minimum: 0 }),
  hostname: str(),
  env: record(str()),
  git: object({ commit: nullable(str()), dirty: nullable(bool()) }),
}, {
  gpus: array(object({ name: str(), driver: str() })),
});

export const availability = byFlag(
  'available',
  object(
    { available: schema<true>({ const: true }), version: str(), devices: texts(), notes: texts() },
    { deviceNames: record(str()), stack: object({ cuda: nullable(str()), cudnn: nullable(int()), cudnnBenchmark: nullable(bool()) }) },
  ),
  object({ available: schema<false>({ const: false }), reason: str() }),
);

export const manifestSchema = object(
  {
    schemaVersion: int({ minimum: 1 }),
    tool: object({ name: constant('detbench'), version: str() }),
    runId: str(),
    createdAt: str(),
    suite: object({
      name: str(),
      kind: oneOf(['determinism', 'noise']),
      source: str(),
      preset: oneOf(PRESETS),
      workloads: array(object({ id: str(), params: sizeParams() })),
      backends: texts(),
      backendsExplicit: bool(),
      modes: array(oneOf(MODES)),
      threads: array(threadsSchema),
      repeats: int({ minimum: 1 }),
      seed: int({ minimum: 0 }),
      timeoutMs: num({ exclusiveMinimum: 0 }),
      trace: bool(),
      devices: oneOf(['all', 'gpu']),
      soakMs: ms(),
      allowSlow: bool(),
    }, {
      // each optional invariance axis's values, where the suite named others than its omitted one
      numerics: array(AXIS_VALUE_SCHEMAS.numerics),
      batchSizes: array(AXIS_VALUE_SCHEMAS.batchSize),
      loaderWorkers: array(AXIS_VALUE_SCHEMAS.loaderWorkers),
      resumeAt: array(AXIS_VALUE_SCHEMAS.resumeAt),
      autotune: array(AXIS_VALUE_SCHEMAS.autotune),
    }),
    plannedRuns: int({ minimum: 0 }),
    cells: array(object({ ...cellKey, id: str(), status: oneOf(['planned', 'unsupported', 'unavailable']) }, { ...optionalAxes, arm: oneOf(NOISE_ARMS), reason: str() })),
    backends: record(availability),
    environment: fingerprint,
    warnings: texts(),
  },
  {
    shard: nullable(shard),
    machines: array(object({
      machine: int({ minimum: 0 }), hostname: str(), hardware: str(), sourceRunId: str(), shard: nullable(shard), environment: fingerprint,
    })),
    doctor: object({
      checks: array(object({ id: str(), status: oneOf(CHECK_STATUSES), found: str() }, { fix: str() })),
      ok: bool(),
    }),
  },
);

const determinism = object({
  mode: oneOf(MODES),
  control: oneOf(['controlled', 'uncontrolled']),
  switches: array(object({ name: str(), value: str(), verified: nullable(bool()) }, { note: str() })),
  summary: str(),
});

const recordBase = {
  ...cellKey,
  runIndex: int({ minimum: 0 }),
  /** -1 for warm-up runs. */
  repeat: int({ minimum: -1 }),
  warmup: bool(),
  seed: int({ minimum: 0 }),
  preset: oneOf(PRESETS),
  params: sizeParams(),
  cell: str(),
  startedAt: str(),
  wallMs: ms(),
  determinism: nullable(determinism),
  warnings: texts(),
};
const recordOptional = {
  ...optionalAxes,
  arm: oneOf(NOISE_ARMS),
  trace: bool(),
  perturb: object({ tensor: str(), index: int({ minimum: 0 }) }),
  soak: bool(),
  machine: int({ minimum: 0 }),
  keepState: bool(),
};

const artifactRef = object({
  sha256: digest(),
  // raw float32
  bytes: int({ minimum: 0, multipleOf: 4 }),
  tensors: array(object({ name: str(), shape: array(int({ minimum: 0 })), offset: int({ minimum: 0 }) })),
});

const evaluationRef = object({ loss: num(), accuracy: num({ minimum: 0, maximum: 1 }), units: int({ minimum: 1 }), predictions: digest() });

export const runRecordSchema = tagged('status', [
  object(
    {
      ...recordBase,
      status: constant('ok'),
      setupMs: ms(),
      computeMs: ms(),
      loss: nullable(num()),
      outputL2: num({ minimum: 0 }),
      artifact: artifactRef,
    },
    {
      ...recordOptional,
      stepTrace: object({ sha256: digest(), steps: int({ minimum: 1 }), stepDigests: array(str({ pattern: '^[0-9a-f]{16}$' })) }),
      evaluation: evaluationRef,
      evalMs: ms(),
      finalState: artifactRef,
      resume: object({ checkpoint: artifactRef, savedByPid: int({ minimum: 0 }), restoredByPid: int({ minimum: 0 }) }),
    },
  ),
  object({ ...recordBase, status: oneOf(['unsupported', 'error', 'crashed']), message: str() }, recordOptional),
  object({ ...recordBase, status: constant('timeout'), message: str(), timeoutMs: num({ exclusiveMinimum: 0 }) }, recordOptional),
]);

/** oracle.json: the float64 oracle's result per workload (harness/run/oracle.ts writes it). */
export const oracleSchema = object(
  {
    oracleVersion: int({ minimum: ORACLE_VERSION, maximum: ORACLE_VERSION }),
    made: bool(),
    python: str(),
    workloads: array(object(
      { workload: str(), status: oneOf(['ok', 'error', 'timeout']) },
      { message: str(), computeMs: ms(), loss: nullable(num()), artifact: artifactRef, evaluation: evaluationRef, evalMs: ms() },
    )),
  },
  { reason: str(), torch: str(), threads: int({ minimum: 1 }) },
);

/** locate.json: the re-runs of located pairs (harness/run/locate.ts writes it, analysis/locate.ts reads it). */
const stepDigest = () => str({ pattern: '^[0-9a-f]{16}$' });
export const locateSchema = object({
  locateVersion: int({ minimum: LOCATE_VERSION, maximum: LOCATE_VERSION }),
  pairs: array(object({
    cell: str(),
    against: oneOf(LOCATE_AGAINST),
    referenceCell: str(),
    budget: object({ kind: oneOf(BUDGET_KINDS), value: num({ minimum: 0 }) }),
    runs: int({ minimum: 0 }),
    outcome: oneOf(['parted', 'same', 'failed']),
    step: nullable(int({ minimum: 0 })),
    sides: pair(object(
      { cell: str(), status: oneOf(['ok', 'error', 'unsupported']), wallMs: ms() },
      {
        message: str(),
        artifactSha256: digest(),
        matchesRecorded: bool(),
        stepDigests: array(stepDigest()),
        ops: object({ names: texts(), elements: array(int({ minimum: 0 })), digests: array(array(stepDigest())) }),
        values: object({ sha256: digest(), bytes: int({ minimum: 0, multipleOf: 4 }) }),
      },
    )),
  })),
});

export const completionSchema = object({ finishedAt: str(), runs: int({ minimum: 0 }), interrupted: bool() });

export const baselineEntrySchema = object({
  hash: str({ pattern: '^[0-9a-f]{16}$' }), hardware: str(), savedAt: str(), runId: str(), source: str(), gitCommit: nullable(str()), dir: str(),
});

/**
 * summary.json of a saved baseline, as far as `compare` reads it. Only these fields are checked:
 * the rest of the summary (findings included, which are changing shape) passes through untouched.
 * When compare reads a new field, add it here.
 */
export const savedSummarySchema = partOf({
  summaryVersion: int({ minimum: 1 }),
  runId: str(),
  complete: bool(),
  cells: array(partOf({
    ...cellKey,
    cell: str(),
    verdict: str(),
    statuses: record(int({ minimum: 0 })),
    distinctDigests: int({ minimum: 0 }),
    modalDigest: nullable(digest()),
    maxUlp: num({ minimum: 0 }),
    message: nullable(str()),
    runs: array(partOf({ repeat: int({ minimum: -1 }), computeMs: ms() })),
  }, { ...optionalAxes, arm: oneOf(NOISE_ARMS) })),
  modes: array(partOf({ workload: str(), backend: str(), device: str(), threads: threadsSchema }, optionalAxes)),
  findings: schema<unknown[]>({ type: 'array' }),
});

// ── validation ───────────────────────────────────────────────────────────────────────────────────

const AJV_OPTIONS: Options = { strictNumbers: true, discriminator: true, allowUnionTypes: true };

export const FILE_SCHEMAS = {
  manifest: manifestSchema,
  record: runRecordSchema,
  completion: completionSchema,
  baseline: baselineEntrySchema,
  summary: savedSummarySchema,
  oracle: oracleSchema,
  locate: locateSchema,
} as const;
export type FileKind = keyof typeof FILE_SCHEMAS;
export type FileType<K extends FileKind> = Static<(typeof FILE_SCHEMAS)[K]>;

/**
 * The validators, compiled ahead of time: ajv compiling the manifest and run-record schemas costs
 * ≈ 0.3 s of CPU in every process that reads a results folder, more than the rest of a command's
 * start-up. harness/schema-validators.cjs is ajv's standalone code for FILE_SCHEMAS
 * (https://ajv.js.org/standalone.html), written by `npm run schemas`; it carries the digest of the
 * schemas it was made from, and when that is not the digest of the schemas above (a schema edited,
 * the file not regenerated: a test in test/hostile.test.ts fails then) ajv compiles them here instead.
 */
export const VALIDATORS_FILE = fileURLToPath(new URL('./schema-validators.cjs', import.meta.url));
const requireHere = createRequire(import.meta.url);
/** What the precompiled code depends on: the schemas, the options and ajv's version (its code generator). */
const schemasDigest = () => createHash('sha256').update(JSON.stringify([(requireHere('ajv/package.json') as { version: string }).version, AJV_OPTIONS, FILE_SCHEMAS])).digest('hex');
type Precompiled = { schemasDigest: string } & Record<FileKind, ValidateFunction>;

/** The precompiled validators when they are those of the schemas above, else null; looked up once. */
let precompiled: Precompiled | null | undefined;
let ajv: AjvClass | null = null;
const compiled = new Map<FileKind, ValidateFunction>();

function validatorOf(kind: FileKind): ValidateFunction {
  if (precompiled === undefined) {
    const file = fs.existsSync(VALIDATORS_FILE) ? (requireHere(VALIDATORS_FILE) as Precompiled) : null;
    precompiled = file?.schemasDigest === schemasDigest() ? file : null;
  }
  if (precompiled) return precompiled[kind];
  let v = compiled.get(kind);
  if (!v) compiled.set(kind, (v = (ajv ??= newAjv()).compile(FILE_SCHEMAS[kind])));
  return v;
}

const newAjv = (extra: Options = {}): AjvClass => new (requireHere('ajv') as typeof import('ajv')).Ajv({ ...AJV_OPTIONS, ...extra });

/** The text of harness/schema-validators.cjs for the schemas above (scripts/schemas.ts writes it). */
export function validatorsSource(): string {
  const ajv = newAjv({ code: { source: true } });
  const kinds = Object.keys(FILE_SCHEMAS) as FileKind[];
  for (const k of kinds) ajv.addSchema(FILE_SCHEMAS[k], k);
  const standaloneCode = requireHere('ajv/dist/standalone') as typeof import('ajv/dist/standalone/index.js').default;
  return [
    '// Generated by `npm run schemas` (scripts/schemas.ts) from harness/schema.ts: ajv\'s standalone validators. Do not edit.',
    standaloneCode(ajv, Object.fromEntries(kinds.map((k) => [k, k]))),
    `exports.schemasDigest = ${JSON.stringify(schemasDigest())};`,
    '',
  ].join('\n');
}

/** What is wrong with a value: the field (`artifact.sha256`, `cells[3].mode`; '' for the whole value) and why. */
export interface Problem {
  field: string;
  problem: string;
}

/** Checks a parsed file: null when it is valid, otherwise its first problem. */
export function problemOf(kind: FileKind, value: unknown): Problem | null {
  const v = validatorOf(kind);
  if (v(value)) return null;
  return describe(v.errors![0], value);
}

/** One step of a field name: `.mode`, `[3]`, or `["odd key"]` for a key that is not a plain name. */
function step(out: string, key: string): string {
  if (/^\d+$/.test(key)) return `${out}[${key}]`;
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return out ? `${out}.${key}` : key;
  return `${out}[${quote(key)}]`;
}

/** JSON pointer `/cells/3/mode` → `cells[3].mode`. */
const fieldName = (pointer: string) => pointer.split('/').slice(1).map(unescapePointer).reduce(step, '');
const unescapePointer = (p: string) => p.replace(/~1/g, '/').replace(/~0/g, '~');

/** A value as it appears in the message: JSON, cut short, never spanning lines. */
export function quote(value: unknown): string {
  const text = shortJson(value, 40);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

/**
 * JSON text of a value, written only until it is longer than `room`: a damaged file may nest a
 * field 100,000 deep, and JSON.stringify of all of it overflows the stack for a message that shows
 * 40 characters. Each level costs a bracket of room, so this goes at most `room` levels deep.
 */
function shortJson(value: unknown, room: number): string {
  // JSON.stringify would show NaN and Infinity as null
  if (typeof value === 'number') return String(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? String(value);
  const list = Array.isArray(value);
  const keys = list ? null : Object.keys(value);
  const n = list ? value.length : keys!.length;
  let out = list ? '[' : '{';
  for (let i = 0; i < n && out.length <= room; i++) {
    if (i > 0) out += ',';
    if (keys) out += `${JSON.stringify(keys[i])}:`;
    out += shortJson(list ? value[i] : (value as Record<string, unknown>)[keys![i]], room - out.length);
  }
  return out.length > room ? out : out + (list ? ']' : '}');
}

function at(value: unknown, pointer: string): unknown {
  let v = value;
  for (const p of pointer.split('/').slice(1)) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[unescapePointer(p)] : undefined;
  return v;
}

function describe(e: ErrorObject, root: unknown): Problem {
  const field = fieldName(e.instancePath);
  const got = at(root, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { field: step(field, String(p.missingProperty)), problem: 'is missing' };
    case 'additionalProperties':
      return { field: step(field, String(p.additionalProperty)), problem: 'is not a field this version of detbench writes' };
    case 'discriminator':
      return { field: step(field, String(p.tag)), problem: `must be one of ${TAG_VALUES.get(String(p.tag))!.join(', ')}, got ${quote(p.tagValue)}` };
    case 'pattern':
      return { field, problem: `must be ${p.pattern === DIGEST ? 'a sha256 digest (64 lowercase hex digits)' : `hex digits (${String(p.pattern)})`}, got ${quote(got)}` };
    case 'enum':
      return { field, problem: `must be one of ${(p.allowedValues as unknown[]).join(', ')}, got ${quote(got)}` };
    case 'const':
      return { field, problem: `must be ${quote(p.allowedValue)}, got ${quote(got)}` };
    case 'type': {
      const finite = typeof got === 'number' && !Number.isFinite(got) && /number|integer/.test(String(p.type)) ? ' (a finite number)' : '';
      return { field, problem: `must be ${String(p.type).replace(',', ' or ')}${finite}, got ${quote(got)}` };
    }
    default:
      return { field, problem: `${e.message ?? 'is not valid'}, got ${quote(got)}` };
  }
}

// ── the schemas and the types cannot drift apart ─────────────────────────────────────────────────

/** Intersections flattened, modifiers kept, so two spellings of one type compare equal. */
type Normalize<T> = T extends readonly (infer U)[] ? Normalize<U>[] : T extends object ? { -readonly [K in keyof T]: Normalize<T[K]> } : T;
/** True when A and B are the same type (every field, optionality and nullability included). */
type Same<A, B> = (<X>() => X extends Normalize<A> ? 1 : 2) extends <X>() => X extends Normalize<B> ? 1 : 2 ? true : false;

/**
 * `tsc` fails here when a schema above accepts other values than its type: fix the schema (or the
 * type) until each is `true`. The saved summary is checked one way only (everything analyze writes
 * passes), since compare reads part of it.
 */
export const SCHEMAS_MATCH_TYPES: {
  manifest: Same<FileType<'manifest'>, Manifest>;
  record: Same<FileType<'record'>, RunRecord>;
  completion: Same<FileType<'completion'>, Completion>;
  baseline: Same<FileType<'baseline'>, BaselineEntry>;
  oracle: Same<FileType<'oracle'>, OracleFile>;
  locate: Same<FileType<'locate'>, LocateFile>;
  summary: Summary extends FileType<'summary'> ? true : false;
} = { manifest: true, record: true, completion: true, baseline: true, oracle: true, locate: true, summary: true };
