/**
 * merge: results folders from many machines (shards of one plan, or the same suite on a fleet) →
 * one folder. Each source becomes a machine entry with its own fingerprint; every record says which
 * machine ran it; artifacts are copied once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hardwareKey } from './baselines.js';
import { UsageError, message } from './errors.js';
import { ResultsWriter, artifactPath, loadResults, newRunId, type LoadedResults, type Manifest } from './store.js';

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
  const manifest: Manifest = {
    ...first.manifest,
    runId: `${newRunId()}-merged`,
    createdAt: new Date().toISOString(),
    shard: null,
    cells: [...cells.values()],
    plannedRuns: sources.reduce((n, s) => n + s.manifest.plannedRuns, 0),
    backends: Object.assign({}, ...sources.map((s) => s.manifest.backends)),
    machines: sources.map((s, machine) => ({
      machine,
      hostname: s.manifest.environment.hostname,
      hardware: hardwareKey(s.manifest.environment),
      sourceRunId: s.manifest.runId,
      shard: s.manifest.shard ?? null,
      environment: s.manifest.environment,
    })),
    warnings: [...new Set(sources.flatMap((s) => [...s.manifest.warnings, ...s.readWarnings]))],
  };
  const dir = path.join(path.resolve(outRoot), manifest.runId);
  const writer = ResultsWriter.create(dir, manifest);
  sources.forEach((s, machine) => {
    for (const r of s.runs) {
      if (r.status === 'ok' && !fs.existsSync(artifactPath(dir, r.artifact.sha256))) fs.copyFileSync(artifactPath(s.dir, r.artifact.sha256), artifactPath(dir, r.artifact.sha256));
      writer.append({ ...r, machine });
    }
  });
  writer.finish({ finishedAt: new Date().toISOString(), runs: writer.written, interrupted: sources.some((s) => !s.complete) });
  return dir;
}
