/**
 * The results folder: manifest.json, runs.jsonl (appended and flushed run by run), artifacts stored
 * content-addressed by sha256, complete.json once the suite ends. Nothing is ever overwritten; a
 * folder without complete.json, or with fewer runs than planned, is incomplete.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError, message } from './errors.js';
import type { DoctorReport } from './doctor.js';
import { ORACLE_FILE, type OracleFile } from './analysis/oracle.js';
import { LOCATE_FILE, type LocateFile } from './analysis/locate.js';
import type { Fingerprint } from './env.js';
import type { Plan, PlannedCell, Shard } from './plan.js';
import { cellId, type RunRecord } from './protocol.js';
import type { ResolvedSuite } from './config.js';
import { DIGEST, problemOf, quote, type FileKind, type FileType } from './schema.js';
import type { Availability } from './backends/types.js';
import { sizeOf } from '../workloads/types.js';

/** 2: suites gained allowSlow and the gpu preset, records their held-out evaluation, manifests the doctor's checklist. */
export const SCHEMA_VERSION = 2;
/** detbench's own version, recorded in every manifest (package.json says the same). */
export const TOOL_VERSION = '0.1.0';

export interface Manifest {
  schemaVersion: number;
  tool: { name: 'detbench'; version: string };
  runId: string;
  createdAt: string;
  suite: ResolvedSuite;
  /** The slice of the plan this folder ran (`--shard I/N`), or null for the whole plan. */
  shard?: Shard | null;
  /** Set by `detbench merge`: every machine whose runs are in this folder; records carry `machine`. */
  machines?: MachineEntry[];
  /** `detbench doctor`'s checklist for this host and stack, taken when the run started. */
  doctor?: DoctorReport;
  plannedRuns: number;
  cells: PlannedCell[];
  backends: Record<string, Availability>;
  environment: Fingerprint;
  warnings: string[];
}

export interface MachineEntry {
  /** Index referenced by each record's `machine` field. */
  machine: number;
  hostname: string;
  hardware: string;
  sourceRunId: string;
  shard: Shard | null;
  environment: Fingerprint;
}

export interface Completion {
  finishedAt: string;
  runs: number;
  interrupted: boolean;
}

/** The manifest of a new run: what was asked, what was found, what will run, on what. */
export function newManifest(o: {
  runId: string;
  suite: ResolvedSuite;
  shard: Shard | null;
  plan: Plan;
  backends: Record<string, Availability>;
  environment: Fingerprint;
  warnings: string[];
  doctor?: DoctorReport;
}): Manifest {
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'detbench', version: TOOL_VERSION },
    runId: o.runId,
    createdAt: new Date().toISOString(),
    suite: o.suite,
    shard: o.shard,
    plannedRuns: o.plan.runs.length,
    cells: o.plan.cells,
    backends: o.backends,
    environment: o.environment,
    warnings: o.warnings,
    ...(o.doctor ? { doctor: o.doctor } : {}),
  };
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Write-then-rename, so a reader never sees half a file. It replaces an existing file: callers that
 * must never overwrite (artifacts, manifest, complete.json) check first. Neither step follows a
 * symbolic link: the temporary file is created exclusively (a link of that name, planted in a
 * folder from elsewhere, is removed, not written through), and rename replaces a link at `file`.
 */
export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    try {
      fs.writeFileSync(tmp, data, { flag: 'wx' });
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
      fs.rmSync(tmp);
      fs.writeFileSync(tmp, data, { flag: 'wx' });
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new UsageError(message.cannotWrite(file, (err as Error).message));
  }
}

/** Whether a folder exists, as a real folder: false when absent; a link (to a folder elsewhere) or a file is refused. */
export function isOwnFolder(dir: string): boolean {
  const st = lstat(dir);
  if (st && !st.isDirectory()) throw new UsageError(message.notRegularFile(dir, kindOf(st)));
  return st !== null;
}

/** Creates a folder (and its parents) inside one the user gave, or checks that it is a real folder and no link to one elsewhere. */
export function ownFolder(dir: string): void {
  if (isOwnFolder(dir)) return;
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(message.cannotWrite(dir, (err as Error).message));
  }
}

/**
 * Makes sure `dir` is a folder this process can write, creating it and its missing parents one level
 * at a time, and returns its absolute path. Node's recursive mkdir spins forever on procfs
 * (`/proc/x` answers ENOENT however often it is asked), so every level is created on its own and any
 * refusal is a usage error naming the flag.
 */
export function prepareFolder(dir: string, flag: string): string {
  const abs = path.resolve(dir);
  const fail = (why: string): never => {
    throw new UsageError(message.folder(flag, dir, why));
  };
  const missing: string[] = [];
  let existing = abs;
  for (;;) {
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(existing);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') fail(errorText(err));
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && fs.lstatSync(existing, { throwIfNoEntry: false })?.isSymbolicLink()) fail(`${existing} is a symbolic link to nothing`);
    }
    if (stat) {
      if (!stat.isDirectory()) fail(`${existing} is not a folder`);
      break;
    }
    missing.unshift(existing);
    const parent = path.dirname(existing);
    if (parent === existing) fail('no part of the path exists');
    existing = parent;
  }
  for (const level of missing) {
    try {
      fs.mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') fail(errorText(err));
    }
  }
  try {
    fs.accessSync(abs, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    fail(errorText(err));
  }
  return abs;
}

const errorText = (err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = { EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system', ENOSPC: 'no space left', ENOENT: 'this file system does not allow a folder there', ENOTDIR: 'a part of the path is not a folder' };
  return (e.code && words[e.code]) ?? e.message;
};

export class ResultsWriter {
  private fd: number;
  private count = 0;

  private constructor(readonly dir: string) {
    this.fd = fs.openSync(path.join(dir, 'runs.jsonl'), 'a');
  }

  /** `dir`'s parent must exist (prepareFolder); `dir` itself must not: results are never overwritten. */
  static create(dir: string, manifest: Manifest): ResultsWriter {
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(message.outExists(dir));
      throw err;
    }
    fs.mkdirSync(path.join(dir, 'artifacts'));
    writeAtomic(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    return new ResultsWriter(dir);
  }

  /** Stores bytes under their sha256 (once: identical results share one file). */
  writeArtifact(bytes: Uint8Array): string {
    return writeArtifactTo(this.dir, bytes);
  }

  /** Appends one record and flushes it to disk before returning. */
  append(record: RunRecord): void {
    this.write(record);
    this.flush();
  }

  /**
   * Appends one record without waiting for the disk: from here it survives this process dying,
   * not yet the machine. flush() before the next write keeps records flushed one by one (the
   * runner flushes while the next run computes: ≈ 4 ms a record here, pure I/O wait).
   */
  write(record: RunRecord): void {
    // JSON.stringify would write NaN and ±Infinity as null, and the record would read back as another
    // one (or not at all): the runner turns such a run into an error record before it gets here.
    const bad = nonFiniteField(record);
    if (bad) throw new Error(`${message.nonFinite(bad.field, bad.value)} (run ${record.runIndex} reached the writer unchecked)`);
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
    this.count++;
  }

  /** Waits until every record written so far is on disk. */
  flush(): void {
    fs.fdatasyncSync(this.fd);
  }

  get written(): number {
    return this.count;
  }

  writeJson(name: string, value: unknown): void {
    const file = path.join(this.dir, name);
    // summary.json is derived data and may be rewritten by `detbench analyze`; complete.json never is.
    writeAtomic(file, JSON.stringify(value, null, 2) + '\n');
  }

  private finished = false;

  /** Writes complete.json once; later calls do nothing (an interruption may race the normal end). */
  finishIfOpen(completion: Completion): void {
    if (this.finished) return;
    this.finished = true;
    writeAtomic(path.join(this.dir, 'complete.json'), JSON.stringify(completion, null, 2) + '\n');
    this.close();
  }

  /** Closes runs.jsonl (finish does; this is for a writer given up half-way). */
  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  finish(completion: Completion): void {
    this.finishIfOpen(completion);
  }
}

/** Stores bytes in a results folder's artifacts/ under their sha256 (once: identical bytes share one file); returns the digest. */
export function writeArtifactTo(dir: string, bytes: Uint8Array): string {
  const digest = sha256(bytes);
  const file = artifactPath(dir, digest);
  if (!fs.existsSync(file)) writeAtomic(file, bytes);
  return digest;
}

/** The first number in a value that JSON cannot hold (NaN, ±Infinity), with its field; null if none. */
export function nonFiniteField(value: unknown, field = ''): { field: string; value: number } | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : { field, value };
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return null;
  for (const [k, v] of Object.entries(value)) {
    const bad = nonFiniteField(v, Array.isArray(value) ? `${field}[${k}]` : field ? `${field}.${k}` : k);
    if (bad) return bad;
  }
  return null;
}

export const artifactPath = (dir: string, digest: string) => path.join(dir, 'artifacts', `${digest}.f32`);

/** What the records say of an artifact, known before it is opened: its size, and which record names it. */
export interface ArtifactClaim {
  /** From the record (`artifact.bytes`; `stepTrace.steps` × that for a trace); null where no record says (a saved baseline). */
  bytes: number | null;
  /** `…/runs.jsonl line 12`: named when the artifact is missing or damaged. */
  by: string;
}

export interface LoadedResults {
  dir: string;
  manifest: Manifest;
  runs: RunRecord[];
  completion: Completion | null;
  /** False when the suite did not finish (killed, interrupted) or runs are missing. */
  complete: boolean;
  /** Problems found while reading, e.g. a truncated last line from a killed run. */
  readWarnings: string[];
  /** Every artifact a record refers to (final results, per-step traces, held-out predictions, the oracle's), by digest. */
  artifacts: Map<string, ArtifactClaim>;
  /** oracle.json, validated; null when the folder has none. */
  oracle: OracleFile | null;
  /** locate.json (`--locate`, `detbench locate`), validated; null when the folder has none. */
  locate: LocateFile | null;
}

/**
 * Reads a results folder, trusting nothing in it: the manifest, every record and complete.json are
 * validated against their schema (harness/schema.ts) and against each other, and every artifact a
 * record names is checked (readArtifactBytes); any problem is a UsageError naming the file, the line
 * and the field. Only a last line cut short by a kill is tolerated (left out, and the folder reads
 * as incomplete).
 */
export function loadResults(dir: string): LoadedResults {
  const manifest = readManifest(dir);
  const runsFile = path.join(dir, 'runs.jsonl');
  // a saved baseline keeps a summary and the modal artifacts, not the runs: read as a results folder it
  // was a run of 0 runs, and report and locate wrote that summary over the baseline's own
  if (!hasFile(dir, 'runs.jsonl') && hasFile(dir, 'baseline.json')) throw new UsageError(message.savedBaselineNotResults(dir));
  const text = readText(runsFile) ?? '';
  const lines = text.split('\n');
  let last = lines.length - 1;
  while (last >= 0 && lines[last].trim() === '') last--;

  const readWarnings: string[] = [];
  const runs: RunRecord[] = [];
  const check = recordChecks(manifest);
  for (let i = 0; i <= last; i++) {
    if (lines[i].trim() === '') continue;
    const where = `${runsFile} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch (err) {
      // Each record is written with its newline in one write: only an unterminated last line can be
      // one cut short by a kill; anywhere else the file is damaged.
      if (i < last || text.endsWith('\n')) throw new UsageError(message.resultsCorrupt(where, (err as Error).message));
      readWarnings.push(`runs.jsonl ends with a partial record (line ${i + 1}), left out: the run was interrupted while writing it`);
      continue;
    }
    const problem = problemOf('record', value);
    if (problem) throw new UsageError(message.resultsInvalid(where, problem.field, problem.problem));
    check(value as RunRecord, where);
    runs.push(value as RunRecord);
  }

  // the float64 oracle (run/oracle.ts), when the run made one: validated, its artifacts claimed too
  const oracleFile = path.join(dir, ORACLE_FILE);
  const oracle = readJson(oracleFile, 'oracle');
  oracle?.workloads.forEach((w, i) => {
    const where = `${oracleFile} workloads[${i}]`;
    if (w.artifact) check.artifact(w.artifact.sha256, w.artifact.bytes, where);
    if (w.evaluation) check.artifact(w.evaluation.predictions, w.evaluation.units * 4, where);
  });

  // where runs part (run/locate.ts), when located: validated, its op outputs claimed too
  const locateFile = path.join(dir, LOCATE_FILE);
  const locate = readJson(locateFile, 'locate');
  locate?.pairs.forEach((p, i) => checkLocatePair(p, `${locateFile} pairs[${i}]`, new Set(manifest.cells.map((c) => c.id)), check.artifact));

  // A folder that loads is whole: every artifact a record names is there, a regular file of the
  // recorded size whose content has its digest (read once here, one at a time).
  for (const [digest, claim] of check.artifacts) readArtifactBytes(dir, digest, claim);

  const completeFile = path.join(dir, 'complete.json');
  const completion = readJson(completeFile, 'completion');
  let complete = completion !== null && !completion.interrupted && runs.length >= manifest.plannedRuns;
  if (completion && runs.length < completion.runs) {
    complete = false;
    readWarnings.push(`complete.json says ${completion.runs} runs were recorded, runs.jsonl holds ${runs.length}: records are missing`);
  }
  if (!complete) {
    readWarnings.push(
      `incomplete results: ${runs.length} of ${manifest.plannedRuns} planned runs recorded${completion?.interrupted ? ' (interrupted)' : completion ? '' : ' and the suite never finished'}`,
    );
  }
  return { dir, manifest, runs, completion, complete, readWarnings, artifacts: check.artifacts, oracle, locate };
}

/**
 * What locate.json's schema cannot say: its cells are cells of the manifest, each side's digests
 * cover its ops in every step, the stored outputs are as large as the ops they hold, and the stored
 * step is one the digests cover.
 */
function checkLocatePair(p: LocateFile['pairs'][number], where: string, cells: Set<string>, artifact: (digest: string, bytes: number, where: string) => void): void {
  const fail = (what: string) => {
    throw new UsageError(message.resultsInconsistent(where, what));
  };
  for (const id of [p.cell, p.referenceCell]) if (!cells.has(id)) fail(`cell ${quote(id)} is not a cell of manifest.json`);
  p.sides.forEach((side, k) => {
    const ops = side.ops;
    if (ops) {
      if (ops.elements.length !== ops.names.length) fail(`\`sides[${k}].ops\` gives ${ops.elements.length} sizes for ${ops.names.length} ops`);
      ops.digests.forEach((d, step) => d.length !== ops.names.length && fail(`\`sides[${k}].ops.digests[${step}]\` has ${d.length} digests for ${ops.names.length} ops`));
    }
    if (side.values) {
      if (!ops || p.step === null || p.step >= ops.digests.length) fail(`\`sides[${k}].values\` stores a step its ops do not cover`);
      const bytes = ops!.elements.reduce((n, e) => n + e * 4, 0);
      if (side.values.bytes !== bytes) fail(`\`sides[${k}].values\` is ${side.values.bytes} bytes, its ops' outputs are ${bytes}`);
      artifact(side.values.sha256, side.values.bytes, where);
    }
  });
}

/** The manifest of a results folder or saved baseline, validated. */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'manifest.json');
  const value = parseJson(file);
  if (value === ABSENT) throw new UsageError(message.resultsMissing(dir));
  if (value !== null && typeof value === 'object' && 'schemaVersion' in value && value.schemaVersion !== SCHEMA_VERSION) {
    throw new UsageError(message.resultsSchema(dir, value.schemaVersion, SCHEMA_VERSION));
  }
  const problem = problemOf('manifest', value);
  if (problem) throw new UsageError(message.resultsInvalid(file, problem.field, problem.problem));
  const manifest = value as Manifest;
  const ids = new Set<string>();
  manifest.cells.forEach((c, i) => {
    if (c.id !== cellId(c)) throw new UsageError(message.resultsInconsistent(file, `\`cells[${i}].id\` is ${quote(c.id)}, but its fields make ${quote(cellId(c))}`));
    if (ids.has(c.id)) throw new UsageError(message.resultsInconsistent(file, `\`cells[${i}]\` repeats cell ${quote(c.id)}`));
    ids.add(c.id);
  });
  manifest.machines?.forEach((m, i) => {
    if (m.machine !== i) throw new UsageError(message.resultsInconsistent(file, `\`machines[${i}].machine\` is ${m.machine}, not ${i}`));
  });
  return manifest;
}

/**
 * What schemas cannot say about one record: it belongs to a planned cell, its run is recorded once,
 * its machine exists, and each artifact it names has one size. Collects the artifacts as it goes.
 */
function recordChecks(manifest: Manifest) {
  const cells = new Set(manifest.cells.map((c) => c.id));
  const machines = manifest.machines?.length;
  const seen = new Map<string, string>();
  const artifacts = new Map<string, ArtifactClaim>();
  const fail = (where: string, what: string) => {
    throw new UsageError(message.resultsInconsistent(where, what));
  };
  const artifact = (digest: string, bytes: number, where: string) => {
    const known = artifacts.get(digest);
    if (known && known.bytes !== bytes) fail(where, `artifact ${digest} is ${bytes} bytes here and ${known.bytes} bytes at ${known.by}`);
    if (!known) artifacts.set(digest, { bytes, by: where });
  };
  // a tensor table lays its tensors end to end from offset 0, each as long as its shape, filling the
  // artifact: anything else would make a reader slice (and copy) what the table says, not the file
  const table = (ref: { bytes: number; tensors: ReadonlyArray<{ name: string; shape: readonly number[]; offset: number }> }, field: string, where: string) => {
    let end = 0;
    ref.tensors.forEach((t, i) => {
      if (t.offset !== end) fail(where, `\`${field}.tensors[${i}].offset\` is ${t.offset}, but the tensors before it end at ${end}`);
      end += sizeOf(t.shape);
    });
    if (ref.tensors.length > 0 && end * 4 !== ref.bytes) fail(where, `\`${field}.tensors\` hold ${end} floats, but \`${field}.bytes\` is ${ref.bytes} (${ref.bytes / 4} floats)`);
  };
  const check = (r: RunRecord, where: string) => {
    if (r.cell !== cellId(r)) fail(where, `\`cell\` is ${quote(r.cell)}, but the record's fields make ${quote(cellId(r))}`);
    if (!cells.has(r.cell)) fail(where, `\`cell\` ${quote(r.cell)} is not a cell of manifest.json`);
    if (machines === undefined ? r.machine !== undefined : r.machine === undefined || r.machine >= machines) {
      fail(where, `\`machine\` is ${quote(r.machine ?? null)}, but manifest.json lists ${machines ?? 'no'} machines`);
    }
    // (the cell is part of the key: the noise plan gives its two warm-ups one run index)
    const run = `${r.machine ?? ''}/${r.runIndex}/${r.cell}`;
    const before = seen.get(run);
    if (before) fail(where, `run ${r.runIndex} of ${quote(r.cell)}${r.machine === undefined ? '' : ` on machine ${r.machine}`} is already recorded at ${before}`);
    seen.set(run, where);
    if (r.status !== 'ok') return;
    artifact(r.artifact.sha256, r.artifact.bytes, where);
    table(r.artifact, 'artifact', where);
    if (r.stepTrace) {
      if (r.stepTrace.stepDigests.length !== r.stepTrace.steps) fail(where, `\`stepTrace\` has ${r.stepTrace.stepDigests.length} step digests for ${r.stepTrace.steps} steps`);
      // the trace holds the weights after each step: as many floats per step as the final artifact
      artifact(r.stepTrace.sha256, r.stepTrace.steps * r.artifact.bytes, where);
    }
    // the held-out predictions: one float32 class id per prediction unit
    if (r.evaluation) artifact(r.evaluation.predictions, r.evaluation.units * 4, where);
    // resume replay: the final training state, and a resumed run's checkpoint
    if (r.finalState) {
      artifact(r.finalState.sha256, r.finalState.bytes, where);
      table(r.finalState, 'finalState', where);
    }
    if (r.resume) {
      artifact(r.resume.checkpoint.sha256, r.resume.checkpoint.bytes, where);
      table(r.resume.checkpoint, 'resume.checkpoint', where);
    }
  };
  return Object.assign(check, { artifacts, artifact });
}

/** The messages for a damaged file: a results folder's, or a saved baseline's (whose fix differs). */
export interface DamageMessages {
  notJson: (file: string, why: string) => string;
  invalid: (file: string, field: string, problem: string) => string;
}
const RESULTS_DAMAGE: DamageMessages = { notJson: message.resultsCorrupt, invalid: message.resultsInvalid };

/**
 * A JSON file of a results folder or baseline, validated; null when it does not exist. `before` sees
 * the parsed value first (a version check says more than the schema of another version would).
 */
export function readJson<K extends FileKind>(file: string, kind: K, damage = RESULTS_DAMAGE, before?: (value: unknown) => void): FileType<K> | null {
  const value = parseJson(file, damage);
  if (value === ABSENT) return null;
  before?.(value);
  const problem = problemOf(kind, value);
  if (problem) throw new UsageError(damage.invalid(file, problem.field, problem.problem));
  return value as FileType<K>;
}

const ABSENT = Symbol('absent');

/**
 * A JSON file of a results folder or baseline, parsed but not validated (the caller checks the fields
 * it reads); undefined when absent. Read as every file of a folder is: never through a symbolic link,
 * never blocking on a named pipe.
 */
export function parseUntrustedJson(file: string): unknown {
  const value = parseJson(file);
  return value === ABSENT ? undefined : value;
}

function parseJson(file: string, damage = RESULTS_DAMAGE): unknown {
  const text = readText(file);
  if (text === null) return ABSENT;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(damage.notJson(file, (err as Error).message));
  }
}

const kindOf = (st: fs.Stats) =>
  st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : st.isFile() ? 'a file' : 'a device';

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** lstat that says "absent" for a missing file (or a missing folder on its way) instead of throwing. */
function lstat(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null;
    throw new UsageError(message.resultsCorrupt(file, (err as Error).message));
  }
}

/**
 * The bytes of a regular file, never through a symbolic link (lstat first for a clear message;
 * O_NOFOLLOW against a swap in between), never blocking on a named pipe; null when absent.
 */
function readRegular(file: string, expectBytes?: (size: number) => void): Buffer | null {
  const st = lstat(file);
  if (!st) return null;
  if (!st.isFile()) throw new UsageError(message.notRegularFile(file, kindOf(st)));
  expectBytes?.(st.size);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if (errno(err) === 'ELOOP') throw new UsageError(message.notRegularFile(file, 'a symbolic link'));
    throw new UsageError(message.resultsCorrupt(file, (err as Error).message));
  }
  try {
    const now = fs.fstatSync(fd);
    if (!now.isFile()) throw new UsageError(message.notRegularFile(file, kindOf(now)));
    expectBytes?.(now.size);
    return fs.readFileSync(fd);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(message.resultsCorrupt(file, (err as Error).message));
  } finally {
    fs.closeSync(fd);
  }
}

function readText(file: string): string | null {
  const bytes = readRegular(file);
  if (bytes === null) return null;
  try {
    return bytes.toString('utf8');
  } catch (err) {
    // larger than the longest string V8 can hold
    throw new UsageError(message.resultsCorrupt(file, (err as Error).message));
  }
}

/** Whether a results folder has this file (a regular one; anything else is refused when read). */
export const hasFile = (dir: string, name: string) => lstat(path.join(dir, name)) !== null;

/**
 * An artifact's bytes, after checking that its name is a digest, that it is a regular file inside
 * the folder's own artifacts/ (no link, no `..`), that its size is the one its record gives (before
 * reading it), and that its content has that digest.
 */
export function readArtifactBytes(dir: string, digest: string, claim: ArtifactClaim): Uint8Array {
  if (!DIGEST_RE.test(digest)) throw new UsageError(message.resultsInconsistent(claim.by, `${quote(digest)} is not a sha256 digest`));
  const folder = path.join(dir, 'artifacts');
  const file = artifactPath(dir, digest);
  const st = lstat(folder);
  if (!st) throw new UsageError(message.artifactMissing(file, claim.by));
  if (!st.isDirectory()) throw new UsageError(message.notRegularFile(folder, kindOf(st)));
  const bytes = readRegular(file, (size) => {
    if (claim.bytes !== null && size !== claim.bytes) throw new UsageError(message.artifactSize(file, size, claim.bytes));
  });
  if (bytes === null) throw new UsageError(message.artifactMissing(file, claim.by));
  if (sha256(bytes) !== digest) throw new UsageError(message.artifactCorrupt(file));
  return bytes;
}

const DIGEST_RE = new RegExp(DIGEST);

/** An artifact as float32 values (see readArtifactBytes for what is checked). */
export function readArtifact(dir: string, digest: string, claim: ArtifactClaim): Float32Array {
  const bytes = readArtifactBytes(dir, digest, claim);
  if (bytes.byteLength % 4 !== 0) throw new UsageError(message.resultsInconsistent(artifactPath(dir, digest), `is ${bytes.byteLength} bytes, not a whole number of float32 values`));
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes);
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** An artifact that a record of this folder refers to. */
export function loadArtifact(results: LoadedResults, digest: string): Float32Array {
  const claim = results.artifacts.get(digest);
  // analysis only asks for digests it took from the records
  if (!claim) throw new Error(`artifact ${digest} is referred to by no record of ${results.dir}`);
  return readArtifact(results.dir, digest, claim);
}
