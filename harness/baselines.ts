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
import { artifactPath, loadResults } from './store.js';

export interface BaselineEntry {
  hash: string;
  hardware: string;
  savedAt: string;
  runId: string;
  source: string;
  gitCommit: string | null;
  dir: string;
}

/** CPU model, core count, OS and architecture (GPU names join this when GPU backends land). */
export function hardwareKey(env: Pick<Fingerprint, 'cpu' | 'os'>): string {
  const text = `${env.cpu.model} x${env.cpu.cores} ${env.os.platform}-${env.os.arch}`;
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
  if (fs.existsSync(path.join(dir, 'baseline.json'))) return { entry: JSON.parse(fs.readFileSync(path.join(dir, 'baseline.json'), 'utf8')), created: false };
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.mkdirSync(path.join(tmp, 'artifacts'), { recursive: true });
  fs.copyFileSync(path.join(resultsDir, 'manifest.json'), path.join(tmp, 'manifest.json'));
  fs.writeFileSync(path.join(tmp, 'summary.json'), summaryText);
  for (const c of summary.cells) {
    if (c.mode === 'det' && c.modalDigest) fs.copyFileSync(artifactPath(resultsDir, c.modalDigest), artifactPath(tmp, c.modalDigest));
  }
  fs.writeFileSync(path.join(tmp, 'baseline.json'), JSON.stringify(entry, null, 2) + '\n');
  fs.renameSync(tmp, dir);
  return { entry, created: true };
}

export function listBaselines(root: string): BaselineEntry[] {
  if (!fs.existsSync(root)) return [];
  const entries: BaselineEntry[] = [];
  for (const hw of fs.readdirSync(root)) {
    const hwDir = path.join(root, hw);
    if (!fs.statSync(hwDir).isDirectory()) continue;
    for (const hash of fs.readdirSync(hwDir)) {
      const file = path.join(hwDir, hash, 'baseline.json');
      if (fs.existsSync(file)) entries.push({ ...(JSON.parse(fs.readFileSync(file, 'utf8')) as BaselineEntry), dir: path.join(hwDir, hash) });
    }
  }
  return entries.sort((a, b) => a.savedAt.localeCompare(b.savedAt));
}

export function latestBaseline(root: string, hardware: string): BaselineEntry | null {
  return listBaselines(root).filter((e) => e.hardware === hardware).at(-1) ?? null;
}
