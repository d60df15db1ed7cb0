/**
 * Plain-text renderers for the terminal: the noise decomposition, the --precision outcome and the
 * comparison of two results folders. Pure functions of what harness/ computed.
 */
import { EXIT } from '../harness/errors.js';
import type { Comparison } from '../harness/analysis/compare.js';
import type { History, HistoryStep, SeriesHistory } from '../harness/analysis/history.js';
import type { NoiseDecomposition } from '../harness/analysis/noise.js';
import type { Interval } from '../harness/analysis/stats.js';
import type { NoiseArm } from '../harness/protocol.js';
import type { PrecisionOutcome } from '../harness/run/precision.js';
import { bySeverity, findingText, sayAxisValue } from './findings.js';
import { INVARIANCE_AXES, type InvarianceAxis, type Summary } from '../harness/analysis/summary.js';
import { axisValue, type AxisValue } from '../harness/axes.js';
import type { CheckStatus, DoctorReport } from '../harness/doctor.js';
import type { LocateCost } from '../harness/run/locate.js';

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
  lines.push(...confirmationLines(c));
  lines.push(comparisonOutcome(c));
  return lines.join('\n');
}

/** The last line of a comparison: what its exit code means here. */
const CONFIRMATION_STATUS = {
  confirmed: 'confirmed',
  'not-confirmed': 'not confirmed',
  'not-rerun': 'not judged (its re-runs gave no results), so it stands',
} as const;

/** `--confirm`: what was re-run, where, and what each flagged finding came to; nothing without --confirm. */
export function confirmationLines(c: Comparison): string[] {
  const x = c.confirmation;
  if (!x) return [];
  if (x.outcomes.length === 0 && x.failures.length === 0) return [`Confirmation: nothing to confirm (no finding a re-run could repeat)`];
  return [
    `Confirmation (${x.reruns} re-run${x.reruns === 1 ? '' : 's'} of the flagged cells, in ${x.dir}):`,
    ...x.outcomes.map((o) => `  - [${o.kind}] ${o.cell}: ${CONFIRMATION_STATUS[o.status]}, repeated in ${o.repeated} of ${o.reruns} re-run(s)`),
    ...x.failures.map((f) => `  - ${f}`),
  ];
}

export function comparisonOutcome(c: Comparison): string {
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

const STEP_MEASURE = { computeMs: 'compute time', slowdownRatio: 'det/nondet slowdown' } as const;

/** One step of a series in words: where (night number and date), what, how big, nights on each side. */
export function stepText(s: SeriesHistory, step: HistoryStep): string {
  const p = s.points[step.at];
  const where = `night ${p.night + 1} (${p.createdAt.replace('T', ' ').slice(0, 16)}, run ${p.runId})`;
  const sides = `${step.pointsBefore} night(s) before, ${step.pointsAfter} since`;
  switch (step.kind) {
    case 'timing':
      return `${step.mode ? `${step.mode} ` : ''}${STEP_MEASURE[step.measure]} stepped ${step.ratio.toFixed(2)}× at ${where}: ${step.before.toPrecision(3)} → ${step.after.toPrecision(3)}${step.measure === 'computeMs' ? ' ms' : ''}; ${sides}`;
    case 'stability':
      return `det ${step.stable ? 'bitwise stable again' : 'no longer bitwise stable'} at ${where}; ${sides}`;
    case 'results': {
      const fields = step.fingerprintChanges.map((f) => f.field);
      return `det results changed at ${where} (${step.beforeDigest.slice(0, 12)} → ${step.afterDigest.slice(0, 12)}); ${fields.length ? `changed with them: ${fields.slice(0, 8).join(', ')}${fields.length > 8 ? ` and ${fields.length - 8} more` : ''}` : 'no environment field changed'}; ${sides}`;
    }
  }
}

/** `detbench history`: per machine, the series that stepped and where; then the findings and the outcome. */
export function historyText(h: History): string {
  const lines = [`history of ${h.machines.length} machine(s), slowdown threshold ${h.slowdownThreshold}×`];
  for (const m of h.machines) {
    const first = m.nights[0], last = m.nights[m.nights.length - 1];
    lines.push(`${m.machine.label}: ${m.nights.length} night(s), ${first.createdAt.slice(0, 10)} to ${last.createdAt.slice(0, 10)}; the fingerprint changed on ${m.changes.length}`);
    const stepped = h.series.filter((s) => s.machine === m.machine.key && s.steps.length > 0);
    if (stepped.length === 0) lines.push('  no series stepped');
    for (const s of stepped) {
      lines.push(`  ${s.workload} on ${s.backend} (${s.device}, ${s.threads} thread(s)):`);
      for (const step of s.steps) lines.push(`    - ${stepText(s, step)}${step.last ? '' : ' (an earlier step)'}`);
    }
  }
  for (const group of bySeverity(h.findings)) lines.push(`${group.title}:`, ...group.findings.map((f) => `  - [${f.kind}] ${findingText(f)}`));
  lines.push(
    h.exitCode === EXIT.ok ? 'The latest nights are past no step that fails (exit 0).'
      : h.exitCode === EXIT.findings ? `${h.findings.filter((f) => f.severity === 'fail').length} step(s) the latest nights are past fail (exit 1).`
      : `exit ${h.exitCode}.`,
  );
  return lines.join('\n');
}

const bytesText = (n: number) => (n < 1024 ? `${n} B` : n < 2 ** 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 2 ** 20).toFixed(1)} MiB`);

/** What `--locate` (or `detbench locate`) cost: re-runs, time, and what it wrote. */
export function locateCostText(cost: LocateCost): string {
  if (cost.pairs === 0) return 'Locating: nothing to locate (no two compared runs disagree); it cost nothing.';
  return `Locating cost: ${cost.pairs} pair(s), ${cost.runs} re-runs with every op's output captured, ${(cost.wallMs / 1000).toFixed(1)} s; ${bytesText(cost.bytes)} written (the outputs of one step's ops per re-run, and locate.json).`;
}

/**
 * One axis's agreement table, a line per group of det cells: its values in classes of equal bits
 * ("1 thread = 2 threads", "batches of 1 ≠ batches of 7 = …"), and how far the other classes are
 * from the base. The terminal summary, report.md and report.html all say it in these words.
 */
/**
 * Per axis whose nondet mode is compared (loader workers), each nondet cell against its group's base
 * value: does every run at the value give other bits? Empty for other axes and older summaries.
 */
export function nondetRows(summary: Summary, axis: InvarianceAxis): string[] {
  const cells = new Map(summary.cells.map((c) => [c.cell, c]));
  const varying = INVARIANCE_AXES.filter((x) => x !== axis && new Set(summary.cells.map((c) => axisValue(c, x))).size > 1);
  return (summary.nondetDependence ?? []).filter((n) => n.axis === axis).map((n) => {
    const c = cells.get(n.cell);
    const details = [...(n.device === 'cpu' ? [] : [n.device]), ...(c ? varying.map((x) => sayAxisValue(x, axisValue(c, x))) : [])];
    const say = (v: AxisValue) => sayAxisValue(axis, v);
    return `${n.workload} on ${n.backend}${details.length ? ` (${details.join(', ')})` : ''}: ${say(n.base)} ${n.depends ? '≠' : '~'} ${say(n.value)}${n.depends ? ` in every run (up to ${n.diff?.maxUlp ?? '?'} ULP)` : ' (some runs agree)'}`;
  });
}

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
