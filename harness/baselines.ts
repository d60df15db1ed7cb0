/**
 * Saved baselines: a finished run's manifest, summary and the modal artifact of every det cell,
 * stored under <root>/<hardware key>/<summary hash>/ so a nightly job compares against the latest
 * baseline of the same hardware.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { analyze } from './analysis/analyze.js';
import type { Fingerprint } from './env.js';
import { UsageError, message } from './errors.js';
import { artifactPath, isOwnFolder, loadResults, ownFolder, readArtifactBytes, readJson } from './store.js';

export interface BaselineEntry {
  hash: string;
  hardware: string;
  savedAt: string;
  runId: string;
  source: string;
  gitCommit: string | null;
  dir: string;
}

/**
 * CPU model, core count, OS and architecture, and the GPUs' names where nvidia-smi listed any (the
 * key of a host without them is what it was before GPUs joined it).
 */
export function hardwareKey(env: Pick<Fingerprint, 'cpu' | 'os' | 'gpus'>): string {
  const gpus = env.gpus?.length ? ` ${env.gpus.map((g) => g.name).join(' + ')}` : '';
  const text = `${env.cpu.model} x${env.cpu.cores} ${env.os.platform}-${env.os.arch}${gpus}`;
  const slug = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  return `${slug}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
}

export function saveBaseline(resultsDir: string, root: string): { entry: BaselineEntry; created: boolean } {
  const results = loadResults(resultsDir);
  if (!results.complete) throw new UsageError(message.baselineIncomplete(resultsDir));
  const summary = analyze(results);
  const summaryText = JSON.stringify(summary, null, 2) + '\n';
  const hash = createHash('sha256').update(summaryText).digest('hex').slice(0, 16);
  const hardware = hardwareKey(results.manifest.environment);
  const dir = path.join(root, hardware, hash);
  const entry: BaselineEntry = {
    hash, hardware, savedAt: new Date().toISOString(), runId: results.manifest.runId, source: path.resolve(resultsDir),
    gitCommit: results.manifest.environment.git.commit, dir,
  };
  // the baselines folder may come from a repository: a link in it is refused, never followed
  const saved = isOwnFolder(path.join(root, hardware)) && isOwnFolder(dir) ? readEntry(dir) : null;
  if (saved) return { entry: saved, created: false };
  // every artifact is read and checked (digest, size, regular file) before anything is written
  const modal = summary.cells.filter((c) => c.mode === 'det' && c.modalDigest).map((c) => c.modalDigest!);
  const artifacts = new Map(modal.map((d) => [d, readArtifactBytes(resultsDir, d, results.artifacts.get(d)!)]));
  ownFolder(path.join(root, hardware));
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'artifacts'), { recursive: true });
  // the validated manifest, not a copy of the file: what is saved is what was checked
  fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(results.manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(tmp, 'summary.json'), summaryText);
  for (const [digest, bytes] of artifacts) fs.writeFileSync(artifactPath(tmp, digest), bytes);
  fs.writeFileSync(path.join(tmp, 'baseline.json'), JSON.stringify(entry, null, 2) + '\n');
  fs.renameSync(tmp, dir);
  return { entry, created: true };
}

const BASELINE_DAMAGE = { notJson: message.baselineCorrupt, invalid: message.baselineInvalid };

/** A saved baseline's entry, validated, with `dir` where it lies now; null when there is none. */
function readEntry(dir: string): BaselineEntry | null {
  const entry = readJson(path.join(dir, 'baseline.json'), 'baseline', BASELINE_DAMAGE);
  return entry && { ...entry, dir };
}

/** Folders directly under `dir`, never through a symbolic link (a link to elsewhere is not followed). */
const subfolders = (dir: string) =>
  fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.includes('.tmp-')).map((e) => path.join(dir, e.name));

export function listBaselines(root: string): BaselineEntry[] {
  const st = fs.statSync(root, { throwIfNoEntry: false });
  if (!st) return [];
  if (!st.isDirectory()) throw new UsageError(message.baselinesNotFolder(root));
  const entries: BaselineEntry[] = [];
  for (const hwDir of subfolders(root)) {
    for (const dir of subfolders(hwDir)) {
      const entry = readEntry(dir);
      if (entry) entries.push(entry);
    }
  }
  return entries.sort((a, b) => a.savedAt.localeCompare(b.savedAt));
}

export function latestBaseline(root: string, hardware: string): BaselineEntry | null {
  return listBaselines(root).filter((e) => e.hardware === hardware).at(-1) ?? null;
}
