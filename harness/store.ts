/**
 * The results folder: manifest.json, runs.jsonl (appended and flushed run by run), artifacts stored
 * content-addressed by sha256, complete.json once the suite ends. Nothing is ever overwritten; a
 * folder without complete.json, or with fewer runs than planned, is incomplete.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError, message } from './errors.js';
import type { Fingerprint } from './env.js';
import type { Plan, PlannedCell, Shard } from './plan.js';
import type { RunRecord } from './protocol.js';
import type { ResolvedSuite } from './config.js';
import type { Availability } from './backends/types.js';

export const SCHEMA_VERSION = 1;
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
 * must never overwrite (artifacts, manifest, complete.json) check first.
 */
export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
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
    const digest = sha256(bytes);
    const file = artifactPath(this.dir, digest);
    if (!fs.existsSync(file)) writeAtomic(file, bytes);
    return digest;
  }

  /** Appends one record and flushes it to disk before returning. */
  append(record: RunRecord): void {
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
    fs.fdatasyncSync(this.fd);
    this.count++;
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
    fs.closeSync(this.fd);
  }

  finish(completion: Completion): void {
    this.finishIfOpen(completion);
  }
}

export const artifactPath = (dir: string, digest: string) => path.join(dir, 'artifacts', `${digest}.f32`);

export interface LoadedResults {
  dir: string;
  manifest: Manifest;
  runs: RunRecord[];
  completion: Completion | null;
  /** False when the suite did not finish (killed, interrupted) or runs are missing. */
  complete: boolean;
  /** Problems found while reading, e.g. a truncated last line from a killed run. */
  readWarnings: string[];
}

export function loadResults(dir: string): LoadedResults {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new UsageError(message.resultsMissing(dir));
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
  } catch (err) {
    throw new UsageError(message.resultsCorrupt(manifestFile, (err as Error).message));
  }
  if (manifest.schemaVersion !== SCHEMA_VERSION) throw new UsageError(message.resultsSchema(dir, manifest.schemaVersion, SCHEMA_VERSION));

  const readWarnings: string[] = [];
  const runsFile = path.join(dir, 'runs.jsonl');
  const text = fs.existsSync(runsFile) ? fs.readFileSync(runsFile, 'utf8') : '';
  const lines = text.split('\n');
  const runs: RunRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      runs.push(JSON.parse(line) as RunRecord);
    } catch (err) {
      // Only the last line can be cut short by a kill mid-write; anywhere else the file is damaged.
      const last = i === lines.length - 1 || lines.slice(i + 1).every((l) => l.trim() === '');
      if (!last) throw new UsageError(message.resultsCorrupt(`${runsFile} line ${i + 1}`, (err as Error).message));
      readWarnings.push(`runs.jsonl ends with a partial record (line ${i + 1}), left out: the run was interrupted while writing it`);
    }
  });
  const completeFile = path.join(dir, 'complete.json');
  const completion = fs.existsSync(completeFile) ? (JSON.parse(fs.readFileSync(completeFile, 'utf8')) as Completion) : null;
  const complete = completion !== null && !completion.interrupted && runs.length >= manifest.plannedRuns;
  if (!complete) {
    readWarnings.push(
      `incomplete results: ${runs.length} of ${manifest.plannedRuns} planned runs recorded${completion?.interrupted ? ' (interrupted)' : completion ? '' : ' and the suite never finished'}`,
    );
  }
  return { dir, manifest, runs, completion, complete, readWarnings };
}

export function readArtifact(dir: string, digest: string): Float32Array {
  const bytes = fs.readFileSync(artifactPath(dir, digest));
  if (sha256(bytes) !== digest) throw new Error(`artifact ${digest} is corrupt: its content does not match its name`);
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes);
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}
