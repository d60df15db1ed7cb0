/**
 * merge: results folders from many machines (shards of one plan, or the same suite on a fleet) →
 * one folder. Each source becomes a machine entry with its own fingerprint; every record says which
 * machine ran it; artifacts (final results and per-step traces) are copied once.
 *
 * The sources are untrusted: every one is read and checked in full by loadResults (records,
 * manifests, and each artifact's digest and size) before anything is written, and the merged folder
 * is written under a temporary name inside --out and renamed into place only when it is whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hardwareKey } from './baselines.js';
import { UsageError, message } from './errors.js';
import { ResultsWriter, artifactPath, loadResults, newRunId, readArtifactBytes, type ArtifactClaim, type LoadedResults, type MachineEntry, type Manifest } from './store.js';
import { ORACLE_FILE, type OracleEntry, type OracleFile } from './analysis/oracle.js';
import { LOCATE_FILE, LOCATE_VERSION, type LocateFile, type LocatePair } from './analysis/locate.js';

/**
 * The float64 oracles of the sources as one: each workload from the first source that computed it
 * (shards of one plan share their inputs, so their oracles agree); when none was made, the first reason.
 */
function mergeOracles(sources: LoadedResults[]): { file: OracleFile; copies: Array<{ from: string; entry: OracleEntry }> } | null {
  const read = sources.map((s) => ({ dir: s.dir, file: s.oracle })).filter((x): x is { dir: string; file: OracleFile } => x.file !== null);
  if (read.length === 0) return null;
  const made = read.filter((x) => x.file.made);
  if (made.length === 0) return { file: read[0].file, copies: [] };
  const byWorkload = new Map<string, { from: string; entry: OracleEntry }>();
  for (const { dir, file } of made) {
    for (const entry of file.workloads) {
      const seen = byWorkload.get(entry.workload);
      if (!seen || (seen.entry.status !== 'ok' && entry.status === 'ok')) byWorkload.set(entry.workload, { from: dir, entry });
    }
  }
  const copies = [...byWorkload.values()];
  return { file: { ...made[0].file, workloads: copies.map((c) => c.entry) }, copies };
}

/** The located pairs of the sources as one file: each pair (cell, against, reference) from the first source that located it. */
function mergeLocated(sources: LoadedResults[]): { file: LocateFile; copies: Array<{ from: string; pair: LocatePair }> } | null {
  const byKey = new Map<string, { from: string; pair: LocatePair }>();
  for (const s of sources) {
    for (const pair of s.locate?.pairs ?? []) {
      const key = `${pair.cell}\n${pair.against}\n${pair.referenceCell}`;
      if (!byKey.has(key)) byKey.set(key, { from: s.dir, pair });
    }
  }
  if (byKey.size === 0) return null;
  const copies = [...byKey.values()];
  return { file: { locateVersion: LOCATE_VERSION, pairs: copies.map((c) => c.pair) }, copies };
}

const suiteIdentity = (m: Manifest) => JSON.stringify({ preset: m.suite.preset, workloads: m.suite.workloads, seed: m.suite.seed, repeats: m.suite.repeats, modes: m.suite.modes });

export function mergeResults(dirs: string[], outRoot: string): string {
  if (dirs.length === 0) throw new UsageError(message.mergeNothing());
  const sources: LoadedResults[] = dirs.map((d) => loadResults(d));
  const first = sources[0];
  for (const s of sources.slice(1)) {
    if (suiteIdentity(s.manifest) !== suiteIdentity(first.manifest)) throw new UsageError(message.mergeSuites(first.dir, s.dir));
  }

  const cells = new Map(first.manifest.cells.map((c) => [c.id, c]));
  for (const s of sources.slice(1)) for (const c of s.manifest.cells) if (!cells.has(c.id)) cells.set(c.id, c);
  const runId = `${newRunId()}-merged`;
  // a merged source brings its machines along (its records already say which of them ran each run):
  // numbered on from the machines before it, so no two runs of a cell share a machine and a run index
  const machines: MachineEntry[] = [];
  const firstMachine = sources.map((s) => {
    const start = machines.length;
    const own = s.manifest.machines ?? [{
      machine: 0, hostname: s.manifest.environment.hostname, hardware: hardwareKey(s.manifest.environment),
      sourceRunId: s.manifest.runId, shard: s.manifest.shard ?? null, environment: s.manifest.environment,
    }];
    for (const m of own) machines.push({ ...m, machine: start + m.machine });
    return start;
  });
  const manifest: Manifest = {
    ...first.manifest,
    runId,
    createdAt: new Date().toISOString(),
    shard: null,
    cells: [...cells.values()],
    plannedRuns: sources.reduce((n, s) => n + s.manifest.plannedRuns, 0),
    backends: Object.assign({}, ...sources.map((s) => s.manifest.backends)),
    machines,
    warnings: [...new Set(sources.flatMap((s) => [...s.manifest.warnings, ...s.readWarnings]))],
  };

  const root = path.resolve(outRoot);
  const dir = path.join(root, runId);
  const tmp = path.join(root, `.${runId}.tmp-${process.pid}`);
  const writer = ResultsWriter.create(tmp, manifest);
  try {
    const copied = new Set<string>();
    // loadResults checked every artifact; reading checks it again, so the merged folder never holds
    // bytes that were not verified (even if a source changed in between)
    const copy = (from: string, digest: string, claim: ArtifactClaim) => {
      if (copied.has(digest)) return;
      fs.writeFileSync(artifactPath(tmp, digest), readArtifactBytes(from, digest, claim), { flag: 'wx' });
      copied.add(digest);
    };
    sources.forEach((s, i) => {
      // the weights, and what else a record points to: per-step traces, held-out predictions
      for (const [digest, claim] of s.artifacts) copy(s.dir, digest, claim);
      for (const r of s.runs) writer.append({ ...r, machine: firstMachine[i] + (r.machine ?? 0) });
    });
    const oracle = mergeOracles(sources);
    if (oracle) {
      for (const { from, entry } of oracle.copies) {
        for (const digest of [entry.artifact?.sha256, entry.evaluation?.predictions]) if (digest) copy(from, digest, { bytes: null, by: path.join(from, ORACLE_FILE) });
      }
      writer.writeJson(ORACLE_FILE, oracle.file);
    }
    // where located runs part, and the op outputs each located pair stored
    const located = mergeLocated(sources);
    if (located) {
      for (const { from, pair } of located.copies) {
        for (const side of pair.sides) if (side.values) copy(from, side.values.sha256, { bytes: side.values.bytes, by: path.join(from, LOCATE_FILE) });
      }
      writer.writeJson(LOCATE_FILE, located.file);
    }
    writer.finish({ finishedAt: new Date().toISOString(), runs: writer.written, interrupted: sources.some((s) => !s.complete) });
    fs.renameSync(tmp, dir);
  } catch (err) {
    writer.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return dir;
}
