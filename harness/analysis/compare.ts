/**
 * compare: a baseline and a current results folder (or saved baseline) → regressions and an exit
 * code for nightly jobs. Cells are matched by (workload, backend, device, mode, threads).
 *
 *   0 no regression · 1 regression · 2 bad input · 3 inconclusive (timing CI straddles the threshold)
 */
import path from 'node:path';
import { analyze, type CellSummary, type Summary } from './analyze.js';
import { diffFloat32, type DiffSummary } from './diff.js';
import { EXIT, UsageError, message } from '../errors.js';
import { ratioOfMediansCI, type RatioCI } from './stats.js';
import { hasFile, loadResults, readArtifact, readArtifactBytes, readJson, readManifest, type ArtifactClaim, type Manifest } from '../store.js';
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
  /** The artifacts this side may be asked for (by modal digest), with what is known of each. */
  artifacts: Map<string, ArtifactClaim>;
}

/** A results folder (analysed now) or a saved baseline (summary.json + modal artifacts), validated. */
export function loadSide(dir: string): Side {
  if (hasFile(dir, 'runs.jsonl') || !hasFile(dir, 'summary.json')) {
    const results = loadResults(dir);
    return { dir, manifest: results.manifest, summary: analyze(results), artifacts: results.artifacts };
  }
  const manifest = readManifest(dir);
  const summaryFile = path.join(dir, 'summary.json');
  // validated as far as compare reads it (harness/schema.ts: savedSummarySchema); the rest is not used
  const summary = readJson(summaryFile, 'summary', { notJson: message.baselineCorrupt, invalid: message.baselineInvalid }) as unknown as Summary;
  const artifacts = new Map<string, ArtifactClaim>();
  // what `baseline save` stores and compare diffs: the modal artifact of each det cell
  summary.cells.forEach((c, i) => {
    if (c.mode === 'det' && c.modalDigest) artifacts.set(c.modalDigest, { bytes: null, by: `${summaryFile} cells[${i}].modalDigest` });
  });
  for (const [digest, claim] of artifacts) readArtifactBytes(dir, digest, claim);
  return { dir, manifest, summary, artifacts };
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
      const diff = artifactDiff(base, b.modalDigest, cur, c.modalDigest);
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

function artifactDiff(a: Side, digestA: string, b: Side, digestB: string): DiffSummary | null {
  const x = readArtifact(a.dir, digestA, a.artifacts.get(digestA)!), y = readArtifact(b.dir, digestB, b.artifacts.get(digestB)!);
  // another shape (other sizes or preset) has no element-wise diff
  return x.length === y.length ? diffFloat32(x, y) : null;
}

export function comparisonText(c: Comparison): string {
  const lines = [`compare ${c.baseline.runId} (baseline) → ${c.current.runId} (current), slowdown threshold ${c.slowdownThreshold}×`];
  if (c.fingerprintChanges.length) {
    lines.push('Environment changes:');
    for (const x of c.fingerprintChanges) lines.push(`  ${x.field}: ${JSON.stringify(x.baseline)} → ${JSON.stringify(x.current)}`);
  }
  const bySeverity = (s: Severity) => c.findings.filter((f) => f.severity === s);
  for (const [title, severity] of [['Regressions', 'regression'], ['Inconclusive', 'inconclusive'], ['Notes', 'info']] as const) {
    const list = bySeverity(severity);
    if (list.length) lines.push(`${title}:`, ...list.map((f) => `  - [${f.kind}] ${f.text}`));
  }
  lines.push(c.exitCode === EXIT.ok ? 'No regression.' : c.exitCode === EXIT.findings ? `${bySeverity('regression').length} regression(s).` : 'No regression found, but some timings are inconclusive.');
  return lines.join('\n');
}
