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
import type { PlannedCell, Shard } from './plan.js';
import type { RunRecord } from './protocol.js';
import type { ResolvedSuite } from './config.js';
import type { Availability } from './backends/types.js';

export const SCHEMA_VERSION = 1;

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

export class ResultsWriter {
  private fd: number;
  private count = 0;

  private constructor(readonly dir: string) {
    this.fd = fs.openSync(path.join(dir, 'runs.jsonl'), 'a');
  }

  static create(dir: string, manifest: Manifest): ResultsWriter {
    if (fs.existsSync(dir)) throw new UsageError(message.outExists(dir));
    fs.mkdirSync(path.join(dir, 'artifacts'), { recursive: true });
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
    this.write(record);
    this.flush();
  }

  /**
   * Appends one record without waiting for the disk: from here it survives this process dying,
   * not yet the machine. flush() before the next write keeps records flushed one by one (the
   * runner flushes while the next run computes: ≈ 4 ms a record here, pure I/O wait).
   */
  write(record: RunRecord): void {
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

  finish(completion: Completion): void {
    writeAtomic(path.join(this.dir, 'complete.json'), JSON.stringify(completion, null, 2) + '\n');
    fs.closeSync(this.fd);
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
