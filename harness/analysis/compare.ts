/**
 * compare: a baseline and a current results folder (or saved baseline) → regressions and an exit
 * code for nightly jobs. Cells are matched by (workload, backend, device, mode, threads).
 *
 *   0 no regression · 1 regression · 2 bad input · 3 inconclusive (timing CI straddles the threshold)
 */
import fs from 'node:fs';
import path from 'node:path';
import { analyze } from './analyze.js';
import type { CellSummary, Summary } from './summary.js';
import { diffFloat32, type DiffSummary } from './diff.js';
import { EXIT, UsageError, message } from '../errors.js';
import { ratioOfMediansCI, type RatioCI } from './stats.js';
import { loadResults, readArtifact, SCHEMA_VERSION, type Manifest } from '../store.js';
import { groupId } from '../protocol.js';

export const FINDING_KINDS = [
  'determinism-regression', 'results-changed', 'slower', 'inconclusive', 'missing-cell', 'newly-unsupported', 'newly-failing', 'new-cell', 'faster',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];
export type Severity = 'regression' | 'inconclusive' | 'info';

export interface CompareFinding {
  kind: FindingKind;
  severity: Severity;
  cell: string;
  /** One line a person can act on. */
  text: string;
  evidence: Record<string, unknown>;
}

export interface Comparison {
  baseline: { dir: string; runId: string };
  current: { dir: string; runId: string };
  slowdownThreshold: number;
  /** Environment fields that differ: what may explain changed numbers. */
  fingerprintChanges: Array<{ field: string; baseline: unknown; current: unknown }>;
  findings: CompareFinding[];
  exitCode: number;
}

interface Side {
  dir: string;
  manifest: Manifest;
  summary: Summary;
}

/** A results folder (analysed now) or a saved baseline (summary.json + modal artifacts). */
export function loadSide(dir: string): Side {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new UsageError(message.resultsMissing(dir));
  const summaryFile = path.join(dir, 'summary.json');
  if (fs.existsSync(path.join(dir, 'runs.jsonl'))) {
    const results = loadResults(dir);
    return { dir, manifest: results.manifest, summary: analyze(results) };
  }
  if (!fs.existsSync(summaryFile)) throw new UsageError(message.resultsMissing(dir));
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
  if (manifest.schemaVersion !== SCHEMA_VERSION) throw new UsageError(message.resultsSchema(dir, manifest.schemaVersion, SCHEMA_VERSION));
  return { dir, manifest, summary: JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as Summary };
}

function flatten(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = value;
  return out;
}

export function fingerprintChanges(a: Manifest, b: Manifest): Comparison['fingerprintChanges'] {
  const fa = flatten({ environment: a.environment, suite: { preset: a.suite.preset, seed: a.suite.seed, workloads: a.suite.workloads } });
  const fb = flatten({ environment: b.environment, suite: { preset: b.suite.preset, seed: b.suite.seed, workloads: b.suite.workloads } });
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort();
  return keys
    .filter((k) => JSON.stringify(fa[k]) !== JSON.stringify(fb[k]))
    .map((field) => ({ field, baseline: fa[field] ?? null, current: fb[field] ?? null }));
}

const times = (c: CellSummary) => c.runs.map((r) => r.computeMs);
const fmtCI = (ci: RatioCI) => `${ci.ratio.toFixed(2)}× [${ci.low.toFixed(2)}, ${ci.high.toFixed(2)}]`;

/**
 * "slower" only when the whole CI lies above the threshold; "inconclusive" when it straddles the
 * threshold and the point estimate is slower than the baseline at all (a ratio ≤ 1 is no sign of a
 * slowdown however wide its CI: a folder compared with itself has ratio 1 exactly).
 */
function speedFinding(cell: string, measure: string, ci: RatioCI | null, threshold: number): CompareFinding | null {
  if (!ci) return null;
  const evidence = { measure, ...ci, threshold };
  if (ci.low > threshold) return { kind: 'slower', severity: 'regression', cell, text: `${cell}: ${measure} is ${fmtCI(ci)} the baseline's, above the ${threshold}× threshold`, evidence };
  if (ci.high > threshold && ci.ratio > 1) return { kind: 'inconclusive', severity: 'inconclusive', cell, text: `${cell}: ${measure} ratio ${fmtCI(ci)} straddles the ${threshold}× threshold: more repeats needed`, evidence };
  if (ci.high < 1 / threshold) return { kind: 'faster', severity: 'info', cell, text: `${cell}: ${measure} is ${fmtCI(ci)} the baseline's`, evidence };
  return null;
}

export function compare(baselineDir: string, currentDir: string, slowdownThreshold = 1.25): Comparison {
  if (!(slowdownThreshold > 0)) throw new UsageError(message.slowdownThreshold(slowdownThreshold));
  const base = loadSide(baselineDir);
  const cur = loadSide(currentDir);
  const changes = fingerprintChanges(base.manifest, cur.manifest);
  const findings: CompareFinding[] = [];
  const curCells = new Map(cur.summary.cells.map((c) => [c.cell, c]));
  const baseCells = new Map(base.summary.cells.map((c) => [c.cell, c]));
  const hasData = (c: CellSummary) => c.distinctDigests > 0;

  for (const b of base.summary.cells) {
    const c = curCells.get(b.cell);
    if (!c) {
      if (hasData(b)) findings.push({ kind: 'missing-cell', severity: 'regression', cell: b.cell, text: `${b.cell} ran in the baseline but not now`, evidence: {} });
      continue;
    }
    if (hasData(b) && (c.verdict === 'unsupported' || c.verdict === 'unavailable')) {
      findings.push({ kind: 'newly-unsupported', severity: 'regression', cell: b.cell, text: `${b.cell} is now ${c.verdict}: ${c.message ?? ''}`, evidence: { message: c.message } });
      continue;
    }
    if (c.verdict === 'failed' && b.verdict !== 'failed') {
      findings.push({ kind: 'newly-failing', severity: 'regression', cell: b.cell, text: `${b.cell} now fails: ${c.message ?? ''}`, evidence: { statuses: c.statuses, message: c.message } });
      continue;
    }
    if (!hasData(b) || !hasData(c)) continue;
    if (b.mode === 'det' && b.verdict === 'bitwise-stable' && c.verdict !== 'bitwise-stable') {
      findings.push({
        kind: 'determinism-regression', severity: 'regression', cell: b.cell,
        text: `${b.cell} was bitwise stable with determinism on and now gives ${c.distinctDigests} distinct results (up to ${c.maxUlp} ULP apart)`,
        evidence: { baselineDistinct: b.distinctDigests, currentDistinct: c.distinctDigests, maxUlp: c.maxUlp },
      });
    }
    if (b.mode === 'det' && b.modalDigest && c.modalDigest && b.modalDigest !== c.modalDigest) {
      const diff = artifactDiff(base.dir, b.modalDigest, cur.dir, c.modalDigest);
      const why = changes.length ? `; changed: ${changes.slice(0, 6).map((x) => x.field).join(', ')}${changes.length > 6 ? ` and ${changes.length - 6} more` : ''}` : '; no environment field changed';
      findings.push({
        kind: 'results-changed', severity: 'regression', cell: b.cell,
        text: `${b.cell}: the deterministic result changed${diff ? ` (max ${diff.maxUlp} ULP, relL2 ${diff.relL2?.toExponential(2)})` : ''}${why}`,
        evidence: { baselineDigest: b.modalDigest, currentDigest: c.modalDigest, diff, fingerprintChanges: changes.map((x) => x.field) },
      });
    }
    const speed = speedFinding(b.cell, `${b.mode} compute time`, ratioOfMediansCI(times(c), times(b)), slowdownThreshold);
    if (speed) findings.push(speed);
  }
  for (const c of cur.summary.cells) {
    if (!baseCells.has(c.cell) && hasData(c)) findings.push({ kind: 'new-cell', severity: 'info', cell: c.cell, text: `${c.cell} is new (not in the baseline)`, evidence: {} });
  }
  // The cost of determinism: median paired det/nondet ratios now against the baseline's.
  for (const m of cur.summary.modes) {
    const key = groupId(m);
    const bm = base.summary.modes.find((x) => x.workload === m.workload && x.backend === m.backend && x.device === m.device && x.threads === m.threads);
    if (!bm) continue;
    const ratios = (s: Summary) => pairedRatios(s, m.workload, m.backend, m.device, m.threads);
    const speed = speedFinding(key, 'det/nondet slowdown', ratioOfMediansCI(ratios(cur.summary), ratios(base.summary)), slowdownThreshold);
    if (speed) findings.push(speed);
  }

  const exitCode = findings.some((f) => f.severity === 'regression') ? EXIT.findings : findings.some((f) => f.severity === 'inconclusive') ? EXIT.incomplete : EXIT.ok;
  return {
    baseline: { dir: base.dir, runId: base.manifest.runId },
    current: { dir: cur.dir, runId: cur.manifest.runId },
    slowdownThreshold,
    fingerprintChanges: changes,
    findings,
    exitCode,
  };
}

function pairedRatios(s: Summary, workload: string, backend: string, device: string, threads: number): number[] {
  const cell = (mode: string) => s.cells.find((c) => c.workload === workload && c.backend === backend && c.device === device && c.threads === threads && c.mode === mode);
  const det = cell('det'), nondet = cell('nondet');
  if (!det || !nondet) return [];
  const nondetByRepeat = new Map(nondet.runs.map((r) => [r.repeat, r.computeMs]));
  return det.runs.filter((r) => nondetByRepeat.has(r.repeat)).map((r) => r.computeMs / nondetByRepeat.get(r.repeat)!);
}

function artifactDiff(dirA: string, a: string, dirB: string, b: string): DiffSummary | null {
  try {
    const x = readArtifact(dirA, a), y = readArtifact(dirB, b);
    return x.length === y.length ? diffFloat32(x, y) : null;
  } catch {
    // A baseline saved without this artifact (or a different artifact size) has no element-wise diff.
    return null;
  }
}
