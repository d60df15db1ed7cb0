/** The Markdown summary for a PR comment or a nightly log: a pure function of summary.json. */
import type { Comparison } from '../harness/analysis/compare.js';
import { INVARIANCE_AXES, type CellSummary, type Summary } from '../harness/analysis/summary.js';
import { agreementRows, nondetRows } from './text.js';
import { groupBy } from '../harness/analysis/group.js';
import { groupId } from '../harness/protocol.js';
import { axisValue } from '../harness/axes.js';
import type { Manifest } from '../harness/store.js';
import { AXIS_WORDS, bySeverity, findingText, NO_FINDINGS, SEVERITY_TITLE, tableAxes } from './findings.js';
import { verdictLines } from './html.js';
import { comparisonOutcome, confirmationLines } from './text.js';
import { matrixStatus } from './specs.js';

/** Names from a results folder cannot break the table or smuggle HTML into a rendered comment. */
export function escapeMarkdown(value: unknown): string {
  return String(value ?? '').replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!).replace(/([|\\`*_[\]])/g, '\\$1').replace(/\n/g, ' ');
}

const cellText = (c: CellSummary | undefined) => (!c ? '–' : c.verdict === 'unstable' ? `${matrixStatus(c)} (${c.distinctDigests} distinct)` : matrixStatus(c));

export function renderMarkdown(manifest: Manifest, summary: Summary, threshold: number): string {
  const e = escapeMarkdown;
  const v = verdictLines(summary, threshold);
  const out: string[] = [];
  out.push(`## detbench: ${summary.verdict.detStableCells} of ${summary.verdict.detCells} deterministic cells bit-for-bit reproducible`);
  out.push('');
  if (!summary.complete) out.push(`> **INCOMPLETE**: ${summary.recordedRuns} of ${summary.plannedRuns} planned runs recorded.`, '');
  const gpus = manifest.environment.gpus?.map((g) => `${e(g.name)} (driver ${e(g.driver)})`).join(', ');
  out.push(`Run \`${e(manifest.runId)}\`, suite ${e(manifest.suite.name)}, ${e(manifest.environment.cpu.model)} × ${manifest.environment.cpu.cores}${gpus ? `, ${gpus}` : ''}, Node ${e(manifest.environment.node)}.`, '');
  const section = (title: string, items: string[]) => {
    if (!items.length) return;
    out.push(`**${title}**`, '', ...items.map((i) => `- ${e(i)}`), '');
  };
  // where runs part has its own section, below
  const groups = bySeverity(summary.findings.filter((f) => f.kind !== 'divergence-located'));
  if (!groups.some((g) => g.severity === 'fail')) out.push(`**${SEVERITY_TITLE.fail}**: ${NO_FINDINGS}`, '');
  for (const g of groups) section(g.title, g.findings.map(findingText));
  section('Reproducible here', v.reproducible);
  section('Varies without determinism', v.variesWithoutDeterminism);
  section('What determinism costs', v.cost);
  section('Where runs part', summary.findings.filter((f) => f.kind === 'divergence-located').map(findingText));
  const axes = tableAxes(summary.cells);
  const head = ['workload', 'backend', ...axes.map((a) => AXIS_WORDS[a].heading), 'det', 'nondet', 'det/nondet time [95% CI]'];
  out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const group of groupBy(summary.cells, groupId).values()) {
    const [first] = group;
    const m = summary.modes.find((x) => groupId(x) === groupId(first));
    const s = m?.slowdown;
    const axisCells = axes.map((a) => e(axisValue(first, a)));
    out.push(`| ${e(first.workload)} | ${e(first.backend)} | ${axisCells.map((c) => `${c} | `).join('')}${e(cellText(group.find((c) => c.mode === 'det')))} | ${e(cellText(group.find((c) => c.mode === 'nondet')))} | ${s ? `${s.ratio.toFixed(2)}× [${s.low.toFixed(2)}, ${s.high.toFixed(2)}]` : '–'} |`);
  }
  out.push('');
  // which values of each invariance axis give the same det bits (thread counts, numerics, batch sizes)
  for (const axis of INVARIANCE_AXES) section(`${AXIS_WORDS[axis].title} (det bits; = same, ≠ different)`, agreementRows(summary, axis));
  for (const axis of INVARIANCE_AXES) section(`${AXIS_WORDS[axis].title} without determinism (≠: every run differs from the base value)`, nondetRows(summary, axis));
  section('Warnings', summary.warnings);
  section('Doctor (this host, at the start of the run)', (manifest.doctor?.checks ?? []).filter((c) => c.status === 'warn' || c.status === 'fail').map((c) => `${c.id} (${c.status}): ${c.found}${c.fix ? ` — fix: ${c.fix}` : ''}`));
  return out.join('\n');
}

/** compare's outcome as Markdown (a CI step summary): what changed, the findings, what was confirmed. */
export function comparisonMarkdown(c: Comparison): string {
  const e = escapeMarkdown;
  const out = [`## detbench compare: ${e(comparisonOutcome(c))}`, '', `Baseline \`${e(c.baseline.runId)}\` → current \`${e(c.current.runId)}\`, slowdown threshold ${c.slowdownThreshold}×.`, ''];
  if (c.fingerprintChanges.length) {
    out.push('| environment field | baseline | current |', '|---|---|---|');
    for (const x of c.fingerprintChanges) out.push(`| ${e(x.field)} | ${e(JSON.stringify(x.baseline))} | ${e(JSON.stringify(x.current))} |`);
    out.push('');
  }
  for (const g of bySeverity(c.findings)) out.push(`**${g.title}**`, '', ...g.findings.map((f) => `- \`${f.kind}\` ${e(findingText(f))}`), '');
  const confirmation = confirmationLines(c);
  if (confirmation.length) out.push(`**${e(confirmation[0])}**`, '', ...confirmation.slice(1).map((l) => `- ${e(l.trim().replace(/^- /, ''))}`), '');
  return out.join('\n');
}
