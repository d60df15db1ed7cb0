/**
 * The plain-text summary printed at the end of `detbench run` and by `detbench analyze`: a pure
 * function of summary.json (never imports a backend).
 */
import { INVARIANCE_AXES, type CellSummary, type Finding, type Summary } from '../harness/analysis/summary.js';
import { axisValue } from '../harness/axes.js';
import { groupBy } from '../harness/analysis/group.js';
import { AXIS_WORDS, bySeverity, findingText, tableAxes } from './findings.js';
import { agreementRows, nondetRows, noiseText } from './text.js';
import { groupId } from '../harness/protocol.js';

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function cellText(c: CellSummary | undefined): string {
  if (!c) return '-';
  switch (c.verdict) {
    case 'bitwise-stable':
      return `stable (1/${c.runs.length})`;
    case 'unstable':
      return `${c.distinctDigests} distinct/${c.runs.length}, ≤${c.maxUlp} ULP`;
    default:
      return c.verdict;
  }
}

/** Det cells against the float64 oracle: how many are within tolerance, and the worst distance. */
function oracleLines(summary: Summary): string[] {
  const o = summary.oracle;
  if (!o) return [];
  if (!o.made) return []; // the reason is among the warnings
  const within = o.cells.filter((c) => c.status === 'within-tolerance').length;
  const worst = [...o.cells].sort((a, b) => (b.diff?.relL2 ?? Infinity) - (a.diff?.relL2 ?? Infinity))[0];
  return ['', `Float64 oracle (torch ${o.torch ?? '?'} on the CPU): ${within} of ${o.cells.length} det cells within tolerance${worst ? `; farthest ${worst.workload} on ${worst.backend} (relL2 ${worst.diff?.relL2?.toExponential(1) ?? '∞'}, tolerance ${worst.tolerance.relL2})` : ''}`];
}

/** Training cells whose runs predict differently on the held-out set (prediction churn). */
function churnLines(summary: Summary): string[] {
  const evaluated = (summary.evaluation ?? []).filter((e) => !e.arm);
  if (!evaluated.length) return [];
  const churned = evaluated.filter((e) => e.churnVsModal.max > 0);
  if (!churned.length) return ['', `Prediction churn (held-out set): none — every run of each of ${evaluated.length} evaluated cells predicts the same classes`];
  return ['', 'Prediction churn (held-out set, share of predictions that differ from the modal run):', ...churned.map((e) => `  ${e.workload} on ${e.backend} ${e.mode} (${e.threads} thread(s)): max ${(e.churnVsModal.max * 100).toFixed(2)} %, mean ${(e.churnVsModal.mean * 100).toFixed(2)} % of ${e.units}`)];
}

export function summaryTable(summary: Summary, resultsDir: string): string {
  const lines: string[] = [];
  if (summary.cells.length > 0 && summary.cells.every((c) => c.arm)) {
    // the noise suite: its decomposition is the whole answer
    lines.push(noiseText(summary.noise));
    lines.push(...findingLines(summary.findings));
    if (summary.warnings.length) lines.push('Warnings:', ...summary.warnings.map((w) => `  - ${w}`));
    lines.push(`Results: ${resultsDir}`);
    return lines.join('\n');
  }
  const axes = tableAxes(summary.cells);
  const rows: string[][] = [['workload', 'backend', ...axes.map((a) => AXIS_WORDS[a].column), 'det', 'nondet', 'det/nondet time [95% CI]', 'vs reference']];
  for (const group of groupBy(summary.cells, groupId).values()) {
    const [first] = group;
    const det = group.find((c) => c.mode === 'det');
    const nondet = group.find((c) => c.mode === 'nondet');
    const mode = summary.modes.find((m) => groupId(m) === groupId(first));
    const s = mode?.slowdown;
    const cross = det && summary.crossBackend.find((x) => x.cell === det.cell);
    const crossText = cross
      ? cross.status === 'bitwise-equal' ? `= ${cross.reference}`
        : cross.diff ? `${cross.status === 'within-tolerance' ? 'ok' : 'OUT'}: max ${cross.diff.maxUlp} ULP, relL2 ${cross.diff.relL2?.toExponential(1)}`
        : cross.status
      : det && summary.crossBackend.some((x) => x.referenceCell === det.cell) ? '(reference)' : '';
    const unsupportedNote = first.verdict === 'unsupported' || first.verdict === 'unavailable' || first.verdict === 'failed' ? `  ${(first.message ?? '').slice(0, 90)}` : '';
    rows.push([
      first.workload, first.backend, ...axes.map((a) => String(axisValue(first, a))), cellText(det), cellText(nondet),
      s ? `${s.ratio.toFixed(2)}× [${s.low.toFixed(2)}, ${s.high.toFixed(2)}]` : '-',
      crossText + unsupportedNote,
    ]);
  }
  lines.push(table(rows));

  for (const axis of INVARIANCE_AXES) {
    const rows = agreementRows(summary, axis);
    if (rows.length) lines.push('', `${AXIS_WORDS[axis].title} (det bits; = same, ≠ different):`, ...rows.map((r) => `  ${r}`));
    const nondet = nondetRows(summary, axis);
    if (nondet.length) lines.push('', `${AXIS_WORDS[axis].title} without determinism (≠: every run differs from the base value):`, ...nondet.map((r) => `  ${r}`));
  }
  if (summary.negativeControls.length) {
    lines.push('', 'Negative controls (must differ without determinism):');
    for (const n of summary.negativeControls) lines.push(`  ${n.workload} on ${n.backend} (${n.threads} thread(s)): ${n.distinctDigests} distinct results in ${n.runs} nondet runs — ${n.seen ? 'seen' : 'NOT SEEN'}`);
  }
  if (summary.devices?.length) {
    lines.push('', 'Devices of this host (det bits must match across identical devices):');
    for (const d of summary.devices) {
      const suspects = d.devices.filter((x) => d.suspects.includes(x.device)).map((x) => `${x.device} (${x.name})`);
      lines.push(`  ${d.workload} on ${d.backend}: ${d.devices.map((x) => x.device).join(', ')} ${d.agree ? 'agree' : `DIFFER${suspects.length ? ` (suspect: ${suspects.join(', ')})` : ''}`}`);
    }
  }
  if (summary.soak?.length) {
    lines.push('', 'Soak (det runs repeated after the suite):');
    for (const c of summary.soak) lines.push(`  ${c.workload} on ${c.backend} (${c.device}, ${c.threads} thread(s)): ${c.runs} runs over ${c.seconds.toFixed(0)} s — ${c.firstChange ? `CHANGED ${c.firstChange.afterSec.toFixed(0)} s in (${c.distinctDigests} distinct)` : 'bits unchanged'}`);
  }
  if (summary.noise.length) lines.push('', noiseText(summary.noise));
  lines.push(...oracleLines(summary), ...churnLines(summary));
  if (summary.locate.length) lines.push('', locatedText(summary));
  const v = summary.verdict;
  lines.push('', `Verdict: ${v.detStableCells} of ${v.detCells} det cells bitwise stable${summary.complete ? '' : ' (INCOMPLETE results)'}.`);
  lines.push(...findingLines(summary.findings));
  if (summary.warnings.length) lines.push('Warnings:', ...summary.warnings.map((w) => `  - ${w}`));
  lines.push(`Results: ${resultsDir}`);
  return lines.join('\n');
}

/** Where located pairs of runs part (`--locate`), in the catalogue's words: one line per pair. */
export function locatedText(summary: Summary): string {
  const located = summary.findings.filter((f) => f.kind === 'divergence-located');
  return located.length ? ['Where runs part (--locate):', ...located.map((f) => `  - ${findingText(f)}`)].join('\n') : 'Where runs part: nothing was located.';
}

/** Findings under their severity's heading, in the catalogue's words (where runs part has its own section). */
function findingLines(findings: readonly Finding[]): string[] {
  return bySeverity(findings.filter((f) => f.kind !== 'divergence-located')).flatMap((g) => [`${g.title}:`, ...g.findings.map((f) => `  - ${findingText(f)}`)]);
}
