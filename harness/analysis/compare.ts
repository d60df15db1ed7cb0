/**
 * compare: a baseline and a current results folder (or saved baseline) → typed findings and an exit
 * code for nightly jobs. Cells are matched by id (workload, backend, device, mode and axis values).
 *
 *   0 no regression · 1 a regression, or a det cell unstable in both · 2 bad input
 *   3 incomplete (either side), nothing to compare, or a timing CI that straddles the threshold
 */
import path from 'node:path';
import { analyze } from './analyze.js';
import { expectedToVary } from './cells.js';
import { diffFloat32, type DiffSummary } from './diff.js';
import { hardwareKey } from '../baselines.js';
import { UsageError, message } from '../errors.js';
import { cellSubject, exitCodeFor, finding, subjectOf } from './findings.js';
import { GROUP_FIELDS, groupId } from '../protocol.js';
import { ratioOfMediansCI, type RatioCI } from './stats.js';
import { hasFile, loadResults, readArtifact, readArtifactBytes, readJson, readManifest, type ArtifactClaim, type Manifest } from '../store.js';
import { DEFAULT_SLOWDOWN_THRESHOLD, SUMMARY_VERSION, type CellSummary, type ComparedSide, type Finding, type FindingKind, type FindingSubject, type SpeedMeasure, type Summary } from './summary.js';

export interface Comparison {
  baseline: { dir: string; runId: string };
  current: { dir: string; runId: string };
  slowdownThreshold: number;
  /** Environment fields that differ: what may explain changed numbers. */
  fingerprintChanges: Array<{ field: string; baseline: unknown; current: unknown }>;
  /** Every cell compared, of either side (a JUnit testcase each). */
  cells: FindingSubject[];
  findings: Finding[];
  /** `--confirm N`: the flagged cells run again, and which findings repeated (harness/run/confirm.ts). */
  confirmation: Confirmation | null;
  exitCode: number;
}

/** What became of one flagged finding when its cells ran again. */
export interface ConfirmationOutcome {
  kind: FindingKind;
  cell: string;
  /** confirmed: it repeated in most re-runs; not-confirmed: it did not; not-rerun: the re-runs gave no results. */
  status: 'confirmed' | 'not-confirmed' | 'not-rerun';
  repeated: number;
  reruns: number;
}

export interface Confirmation {
  /** The folder the re-runs wrote into (never the baseline). */
  dir: string;
  reruns: number;
  /** Every re-run's results folder. */
  resultsDirs: string[];
  /** Re-runs that gave no results, and why. */
  failures: string[];
  outcomes: ConfirmationOutcome[];
}

export interface CompareOptions {
  /** Compare with a baseline of other hardware (a different hardware key) instead of refusing it. */
  allowHardwareChange?: boolean;
}

/** The comparison with other findings (confirmed, expected): its exit code follows them. */
export const withFindings = (c: Comparison, findings: Finding[]): Comparison => ({ ...c, findings, exitCode: exitCodeFor(findings) });

/** The hardware fields that make up hardwareKey, where two manifests differ. */
function hardwareDifference(a: Manifest, b: Manifest): string[] {
  const fields: Array<[string, (m: Manifest) => unknown]> = [
    ['cpu.model', (m) => m.environment.cpu.model], ['cpu.cores', (m) => m.environment.cpu.cores],
    ['os.platform', (m) => m.environment.os.platform], ['os.arch', (m) => m.environment.os.arch],
    ['gpus', (m) => (m.environment.gpus ?? []).map((g) => g.name)],
  ];
  return fields.filter(([, get]) => JSON.stringify(get(a)) !== JSON.stringify(get(b))).map(([name, get]) => `${name} ${JSON.stringify(get(a))} → ${JSON.stringify(get(b))}`);
}

interface Side {
  dir: string;
  manifest: Manifest;
  summary: Summary;
  /** The artifacts this side may be asked for (by modal digest), with what is known of each. */
  artifacts: Map<string, ArtifactClaim>;
}

/**
 * A results folder (analysed now, so a summary.json of any version in it is never read) or a saved
 * baseline (summary.json + modal artifacts, no runs): its summary must be of this version, since
 * there are no runs to analyse again.
 */
export function loadSide(dir: string): Side {
  if (hasFile(dir, 'runs.jsonl') || !hasFile(dir, 'summary.json')) {
    const results = loadResults(dir);
    return { dir, manifest: results.manifest, summary: analyze(results), artifacts: results.artifacts };
  }
  const manifest = readManifest(dir);
  const summaryFile = path.join(dir, 'summary.json');
  // validated as far as compare reads it (harness/schema.ts: savedSummarySchema); the rest is not used
  const checkVersion = (value: unknown) => {
    const version = (value as Partial<Summary> | null)?.summaryVersion;
    if (version !== SUMMARY_VERSION) throw new UsageError(message.summaryVersion(summaryFile, version, SUMMARY_VERSION));
  };
  const summary = readJson(summaryFile, 'summary', { notJson: message.baselineCorrupt, invalid: message.baselineInvalid }, checkVersion) as unknown as Summary;
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

/**
 * "slower" only when the whole CI lies above the threshold; "slower-inconclusive" when it straddles
 * the threshold and the point estimate is slower than the baseline at all (a ratio ≤ 1 is no sign of
 * a slowdown however wide its CI: a folder compared with itself has ratio 1 exactly).
 */
function speedFinding(cell: FindingSubject, measure: SpeedMeasure, ci: RatioCI | null, threshold: number): Finding | null {
  if (!ci) return null;
  const evidence = { measure, ...ci, threshold };
  if (ci.low > threshold) return finding('slower', cell, evidence);
  if (ci.high > threshold && ci.ratio > 1) return finding('slower-inconclusive', cell, evidence);
  if (ci.high < 1 / threshold) return finding('faster', cell, evidence);
  return null;
}

/** A side whose suite did not finish, or a current side with no result at all: nothing it lacks can be judged. */
function completeness(side: ComparedSide, s: Summary): Finding[] {
  const counts = { side, recordedRuns: s.recordedRuns, plannedRuns: s.plannedRuns };
  if (!s.complete) return [finding('incomplete-results', undefined, counts)];
  if (side === 'current' && !s.cells.some(hasData)) return [finding('no-data', undefined, counts)];
  return [];
}

const hasData = (c: CellSummary) => c.distinctDigests > 0;

/** `slowdownThreshold` is validated where the flag is read (config.resolveSlowdownThreshold). */
export function compare(baselineDir: string, currentDir: string, slowdownThreshold = DEFAULT_SLOWDOWN_THRESHOLD, options: CompareOptions = {}): Comparison {
  const base = loadSide(baselineDir);
  const cur = loadSide(currentDir);
  // timings and bits of other hardware are no regression of this one: refuse, unless asked
  if (!options.allowHardwareChange && hardwareKey(base.manifest.environment) !== hardwareKey(cur.manifest.environment)) {
    throw new UsageError(message.hardwareChanged(baselineDir, currentDir, hardwareDifference(base.manifest, cur.manifest)));
  }
  const changes = fingerprintChanges(base.manifest, cur.manifest);
  const findings: Finding[] = [...completeness('baseline', base.summary), ...completeness('current', cur.summary)];
  const curCells = new Map(cur.summary.cells.map((c) => [c.cell, c]));
  const baseCells = new Map(base.summary.cells.map((c) => [c.cell, c]));

  for (const b of base.summary.cells) {
    const c = curCells.get(b.cell);
    const at = cellSubject(b);
    if (!c) {
      if (hasData(b)) findings.push(finding('missing-cell', at, {}));
      continue;
    }
    if (hasData(b) && (c.verdict === 'unsupported' || c.verdict === 'unavailable')) {
      findings.push(finding('newly-unsupported', at, { verdict: c.verdict, message: c.message }));
      continue;
    }
    if (c.verdict === 'failed' && b.verdict !== 'failed') {
      findings.push(finding('newly-failing', at, { statuses: c.statuses, message: c.message }));
      continue;
    }
    if (!hasData(b) || !hasData(c)) continue;
    if (b.mode === 'det' && c.verdict !== 'bitwise-stable' && !expectedToVary(c)) {
      const evidence = { baselineDistinct: b.distinctDigests, currentDistinct: c.distinctDigests, maxUlp: c.maxUlp };
      if (b.verdict === 'bitwise-stable') findings.push(finding('determinism-regression', at, evidence));
      else if (b.verdict === 'unstable') findings.push(finding('still-unstable', at, evidence));
    }
    if (b.mode === 'det' && b.modalDigest && c.modalDigest && b.modalDigest !== c.modalDigest) {
      findings.push(finding('results-changed', at, {
        baselineDigest: b.modalDigest, currentDigest: c.modalDigest, diff: artifactDiff(base, b.modalDigest, cur, c.modalDigest), fingerprintChanges: changes.map((x) => x.field),
      }));
    }
    const speed = speedFinding(at, 'computeMs', ratioOfMediansCI(times(c), times(b)), slowdownThreshold);
    if (speed) findings.push(speed);
  }
  for (const c of cur.summary.cells) {
    if (!baseCells.has(c.cell) && hasData(c)) findings.push(finding('new-cell', cellSubject(c), {}));
  }
  // The cost of determinism: median paired det/nondet ratios now against the baseline's.
  for (const m of cur.summary.modes) {
    const bm = base.summary.modes.find((x) => groupId(x) === groupId(m));
    if (!bm) continue;
    const ratios = (s: Summary) => pairedRatios(s, groupId(m));
    const group = subjectOf(m, GROUP_FIELDS);
    const speed = speedFinding(group, 'slowdownRatio', ratioOfMediansCI(ratios(cur.summary), ratios(base.summary)), slowdownThreshold);
    if (speed) findings.push(speed);
  }

  return {
    baseline: { dir: base.dir, runId: base.manifest.runId },
    current: { dir: cur.dir, runId: cur.manifest.runId },
    slowdownThreshold,
    fingerprintChanges: changes,
    cells: [...new Map([...base.summary.cells, ...cur.summary.cells].filter((c) => !c.arm).map((c) => [c.cell, cellSubject(c)])).values()],
    findings,
    confirmation: null,
    exitCode: exitCodeFor(findings),
  };
}

/** det/nondet compute-time ratios of a cell group, paired by repeat. */
function pairedRatios(s: Summary, group: string): number[] {
  const cell = (mode: string) => s.cells.find((c) => !c.arm && groupId(c) === group && c.mode === mode);
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
