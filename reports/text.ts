/**
 * Plain-text renderers for the terminal: the noise decomposition, the --precision outcome and the
 * comparison of two results folders. Pure functions of what harness/ computed.
 */
import { EXIT } from '../harness/errors.js';
import type { Comparison } from '../harness/analysis/compare.js';
import type { NoiseDecomposition } from '../harness/analysis/noise.js';
import type { Interval } from '../harness/analysis/stats.js';
import type { NoiseArm } from '../harness/protocol.js';
import type { PrecisionOutcome } from '../harness/run/precision.js';
import { bySeverity, findingText, sayAxisValue } from './findings.js';
import { INVARIANCE_AXES, type InvarianceAxis, type Summary } from '../harness/analysis/summary.js';
import { axisValue, type AxisValue } from '../harness/axes.js';
import type { CheckStatus, DoctorReport } from '../harness/doctor.js';

const ARM_LABELS: Record<NoiseArm, string> = {
  seeds: 'seeds (det on, different seeds)',
  implementation: 'implementation (det off, one seed)',
  ulp: '1 ULP (det on, one weight ±1 ULP)',
};

/** `value [low, high]` in exponent notation, or – when there is no interval. */
export const formatInterval = (i: Interval | null) => (i ? `${i.value.toExponential(2)} [${i.low.toExponential(2)}, ${i.high.toExponential(2)}]` : '–');

export function noiseText(decompositions: NoiseDecomposition[]): string {
  const lines: string[] = [];
  for (const d of decompositions) {
    lines.push(`Noise decomposition (Summers & Dinneen 2021): ${d.workload} on ${d.backend} (${d.device}), final-loss sd, mean pairwise relative weight distance, held-out loss sd and prediction churn, with 95% CIs:`);
    for (const a of d.arms) {
      const test = a.arm === 'seeds' ? null : d.versusSeeds[a.arm];
      const vs = a.arm === 'seeds' ? '' : test ? `  Brown–Forsythe vs seeds: p = ${test.pValue.toPrecision(2)} (${test.equalAt5Percent ? 'not distinguishable' : 'different spread'})` : '  Brown–Forsythe vs seeds: undefined (no spread)';
      lines.push(`  ${ARM_LABELS[a.arm].padEnd(36)} ${a.runs} runs, ${a.distinctResults} distinct  loss sd ${formatInterval(a.lossSd)}  weights ${formatInterval(a.weightSpread)}  eval loss sd ${formatInterval(a.evalLossSd ?? null)}  churn ${formatInterval(a.churn ?? null)}${vs}`);
    }
  }
  return lines.join('\n');
}

export function precisionText(outcomes: PrecisionOutcome[], target: number): string {
  const lines = [`Paired det/nondet slowdown (target CI half-width ±${(target * 100).toFixed(1)}%):`];
  for (const p of outcomes) {
    const s = p.slowdown;
    lines.push(
      `  ${p.group}: ${s ? `${s.ratio.toFixed(3)}× [${s.low.toFixed(3)}, ${s.high.toFixed(3)}], half-width ±${(p.relativeHalfWidth! * 100).toFixed(2)}%` : 'no ratio'} after ${p.pairs} pairs — ${p.stoppedBecause}`,
    );
  }
  return lines.join('\n');
}

export function comparisonText(c: Comparison): string {
  const lines = [`compare ${c.baseline.runId} (baseline) → ${c.current.runId} (current), slowdown threshold ${c.slowdownThreshold}×`];
  if (c.fingerprintChanges.length) {
    lines.push('Environment changes:');
    for (const x of c.fingerprintChanges) lines.push(`  ${x.field}: ${JSON.stringify(x.baseline)} → ${JSON.stringify(x.current)}`);
  }
  for (const group of bySeverity(c.findings)) lines.push(`${group.title}:`, ...group.findings.map((f) => `  - [${f.kind}] ${findingText(f)}`));
  lines.push(comparisonOutcome(c));
  return lines.join('\n');
}

/** The last line of a comparison: what its exit code means here. */
function comparisonOutcome(c: Comparison): string {
  const count = (severity: string) => c.findings.filter((f) => f.severity === severity).length;
  if (c.exitCode === EXIT.ok) return 'No regression.';
  if (c.exitCode === EXIT.findings) return `${count('fail')} finding(s): regressions, or problems the baseline had too (exit 1).`;
  if (count('incomplete')) return 'INCOMPLETE: a side did not finish, so this comparison is no verdict (exit 3).';
  return 'No regression found, but the comparison is inconclusive (exit 3).';
}

const MARK: Record<CheckStatus, string> = { pass: '✓', warn: '!', fail: '✗', info: '·' };

/** `detbench doctor`'s checklist: one line per check, its fix under it when something needs doing. */
export function doctorText(report: DoctorReport): string {
  const lines = ['detbench doctor — known causes of irreproducible training, on this host:'];
  for (const c of report.checks) {
    lines.push(`  ${MARK[c.status]} ${c.id}: ${c.found}`);
    if (c.fix && c.status !== 'pass') lines.push(`      fix: ${c.fix}`);
  }
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  lines.push(`${report.checks.length} checks: ${count('pass')} pass, ${count('warn')} warn, ${count('fail')} fail, ${count('info')} info.`);
  return lines.join('\n');
}

/**
 * One axis's agreement table, a line per group of det cells: its values in classes of equal bits
 * ("1 thread = 2 threads", "batches of 1 ≠ batches of 7 = …"), and how far the other classes are
 * from the base. The terminal summary, report.md and report.html all say it in these words.
 */
export function agreementRows(summary: Summary, axis: InvarianceAxis): string[] {
  const rows = (summary.agreement ?? []).filter((a) => a.axis === axis);
  const say = (v: AxisValue) => sayAxisValue(axis, v);
  // what tells the groups apart: the device where it is not the CPU, the other axes that vary
  const varying = INVARIANCE_AXES.filter((x) => x !== axis && new Set(summary.cells.map((c) => axisValue(c, x))).size > 1);
  const cells = new Map(summary.cells.map((c) => [c.cell, c]));
  return rows.map((a) => {
    const worst = Math.max(0, ...summary.invariance.filter((t) => t.axis === axis && t.baseCell === a.baseCell && !t.bitwiseEqual).map((t) => t.diff?.maxUlp ?? 0));
    const classes = (a.classes as AxisValue[][]).map((c) => c.map(say).join(' = ')).join(' ≠ ');
    const base = cells.get(a.baseCell);
    const details = [...(a.device === 'cpu' ? [] : [a.device]), ...(base ? varying.map((x) => sayAxisValue(x, axisValue(base, x))) : [])];
    return `${a.workload} on ${a.backend}${details.length ? ` (${details.join(', ')})` : ''}: ${classes}${a.classes.length > 1 ? ` (up to ${worst} ULP from ${say(a.classes[0][0])})` : ''}`;
  });
}
