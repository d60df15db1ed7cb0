/**
 * The site's pages as HTML: pure functions of their models and their charts' SVG. Self-contained like
 * report.html: the same CSP (nothing loaded, no script), inline SVG, every string from a results
 * folder escaped here with escapeHtml; links only between the site's own pages.
 */
import type { FieldChange, HistoryStep, MachineHistory, SeriesHistory } from '../../harness/analysis/history.js';
import type { CellVerdict, Finding } from '../../harness/analysis/summary.js';
import type { NightTime } from '../../harness/nights.js';
import { bySeverity, findingText } from '../findings.js';
import { CSP, escapeHtml } from '../html.js';
import { stepText } from '../text.js';
import { VERDICT_COLORS, verdictLabel, type SiteChart } from './specs.js';

export interface RenderedSiteChart extends SiteChart {
  svg: string;
}

export interface IndexModel {
  nights: number;
  slowdownThreshold: number;
  machines: Array<{ label: string; href: string; nights: number; first: string; last: string; changes: number }>;
  grids: Array<{ machine: string; href: string; workloads: string[]; columns: string[]; cells: Array<{ workload: string; column: string; verdict: CellVerdict; href: string; steps: number; failing: number }> }>;
  findings: Finding[];
}

export interface CellModel {
  machine: { label: string; href: string; nights: number };
  series: SeriesHistory;
  slowdownThreshold: number;
  findings: Finding[];
}

export interface MachineModel {
  history: MachineHistory;
  /** The latest night's fingerprint fields. */
  fingerprint: Record<string, string>;
  series: Array<{ title: string; href: string; verdict: CellVerdict | null; steps: number }>;
}

const STYLE = `body { font-family: system-ui, 'DejaVu Sans', sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .muted { color: #666; } nav { margin-bottom: 1rem; }
figure.chart { margin: 1.5rem 0; } figure .svg { overflow-x: auto; } figcaption { color: #444; max-width: 60rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1.5rem; } th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: #eee; } td.v { text-align: center; } td.v a { display: block; color: #111; text-decoration: none; }
section.findings { background: #f7f7f7; padding: 0.4rem 1rem; border-radius: 6px; margin: 1rem 0; }
${VERDICT_COLORS.map(([v, , color]) => `td.verdict-${v} { background: ${color}; }`).join(' ')}
td.verdict-bitwise-stable a, td.verdict-unstable a, td.verdict-failed a { color: #fff; }`;

function page(title: string, nav: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
${STYLE}
</style>
</head>
<body>
<nav>${nav}</nav>
${body}
</body>
</html>
`;
}

const figures = (charts: RenderedSiteChart[]) =>
  charts.map((c) => `<figure id="chart-${escapeHtml(c.id)}" class="chart"><h2>${escapeHtml(c.title)}</h2><div class="svg">${c.svg}</div><figcaption>${escapeHtml(c.caption)}</figcaption></figure>`).join('\n');

function findingsSection(findings: readonly Finding[], none: string): string {
  const groups = bySeverity(findings);
  if (groups.length === 0) return `<section class="findings" id="findings"><h2>Findings</h2><p class="muted">${escapeHtml(none)}</p></section>`;
  return `<section class="findings" id="findings">${groups.map((g) => `<h2>${escapeHtml(g.title)}</h2><ul>${g.findings.map((f) => `<li>${escapeHtml(findingText(f))}</li>`).join('')}</ul>`).join('')}</section>`;
}

/** A link to another page of the site: the only table cell that is not plain text. */
interface Link {
  href: string;
  text: string;
}
const isLink = (v: unknown): v is Link => typeof v === 'object' && v !== null && 'href' in v;
const cellHtml = (v: unknown) => (isLink(v) ? `<a href="${escapeHtml(v.href)}">${escapeHtml(v.text)}</a>` : escapeHtml(v));

function table(head: string[], rows: unknown[][], id?: string): string {
  return `<table${id ? ` id="${id}"` : ''}><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v) => `<td>${cellHtml(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const day = (iso: string) => iso.replace('T', ' ').slice(0, 16);

export function indexPage(m: IndexModel, charts: RenderedSiteChart[]): string {
  const machines = table(['machine', 'nights', 'first', 'latest', 'fingerprint changed on'], m.machines.map((x) => [{ href: x.href, text: x.label }, x.nights, day(x.first), day(x.last), `${x.changes} night(s)`]), 'machines');
  const grids = m.grids
    .map((g) => {
      const rows = g.workloads.map((w) => {
        const cells = g.columns.map((col) => {
          const c = g.cells.find((x) => x.workload === w && x.column === col);
          if (!c) return '<td class="v">–</td>';
          const mark = c.failing ? ` ▲${c.failing}` : c.steps ? ` ·${c.steps}` : '';
          return `<td class="v verdict-${escapeHtml(c.verdict)}"><a href="${escapeHtml(c.href)}" title="${escapeHtml(`${verdictLabel(c.verdict)}; ${c.steps} step(s)`)}">${escapeHtml(verdictLabel(c.verdict))}${escapeHtml(mark)}</a></td>`;
        });
        return `<tr><th>${escapeHtml(w)}</th>${cells.join('')}</tr>`;
      });
      return `<h3><a href="${escapeHtml(g.href)}">${escapeHtml(g.machine)}</a></h3><table class="grid"><thead><tr><th>workload</th>${g.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
    })
    .join('\n');
  return page(
    'detbench history',
    '<strong>detbench history</strong>',
    `<h1>detbench history</h1>
<p class="muted">${escapeHtml(m.nights)} night(s) of ${escapeHtml(m.machines.length)} machine(s); a timing step slower than ${escapeHtml(m.slowdownThreshold)}× fails.</p>
${findingsSection(m.findings, 'none: no series’ latest nights are past a step that fails')}
<h2 id="latest">Latest verdict per machine, backend and workload</h2>
<p class="muted">Each cell links to its history. ▲n: n failing steps the latest nights are past; ·n: n earlier or smaller steps.</p>
${grids}
${figures(charts)}
<h2>Machines</h2>
${machines}`,
  );
}

const time = (t: NightTime | null | undefined) => (t ? `${t.median.toPrecision(3)} ms${t.low !== null ? ` [${t.low.toPrecision(3)}, ${t.high!.toPrecision(3)}]` : ''}` : '–');
const changeRows = (night: string, fields: FieldChange[]) => fields.map((f) => [night, f.field, f.before ?? '(absent)', f.after ?? '(absent)']);

/** The nights shown in a cell page's table: the latest, newest first. */
export const NIGHTS_IN_TABLE = 60;

export function cellPage(m: CellModel, charts: RenderedSiteChart[]): string {
  const s = m.series;
  const title = `${s.workload} on ${s.backend} (${s.device}, ${s.threads} thread(s))`;
  const stepRows = s.steps.map((st: HistoryStep) => [st.kind, s.points[st.at].night + 1, day(s.points[st.at].createdAt), s.points[st.at].runId, stepText(s, st) + (st.last ? '' : ' (an earlier step)')]);
  const results = s.steps.filter((st) => st.kind === 'results').flatMap((st) => (st.kind === 'results' ? changeRows(`night ${s.points[st.at].night + 1}`, st.fingerprintChanges) : []));
  const nights = [...s.points].reverse().slice(0, NIGHTS_IN_TABLE).map((p) => [
    p.night + 1, day(p.createdAt), p.runId,
    p.det ? `${verdictLabel(p.det.verdict)}${p.det.distinctDigests > 1 ? ` (${p.det.distinctDigests} distinct)` : ''}` : '–',
    time(p.det?.time), time(p.nondet?.time),
    p.slowdown ? `${p.slowdown.value.toFixed(2)}× [${p.slowdown.low.toFixed(2)}, ${p.slowdown.high.toFixed(2)}]` : '–',
  ]);
  return page(
    `detbench: ${title} on ${m.machine.label}`,
    `<a href="../index.html">index</a> · <a href="${escapeHtml(m.machine.href)}">${escapeHtml(m.machine.label)}</a>`,
    `<h1>${escapeHtml(title)}</h1>
<p class="muted">on ${escapeHtml(m.machine.label)} · ${escapeHtml(s.points.length)} of its ${escapeHtml(m.machine.nights)} night(s)</p>
${findingsSection(m.findings, 'none: the latest nights are past no step that fails')}
${figures(charts)}
<h2 id="steps">Steps</h2>
${stepRows.length ? table(['kind', 'night', 'date', 'run', 'what'], stepRows, 'steps-table') : '<p class="muted">No step: every series of this cell stayed where it was.</p>'}
${results.length ? `<h2 id="results-changed">What changed with the results</h2>${table(['at', 'field', 'before', 'after'], results, 'results-table')}` : ''}
<h2 id="nights">Nights</h2>
<p class="muted">The latest ${escapeHtml(Math.min(NIGHTS_IN_TABLE, s.points.length))}, newest first; times are medians with their 95% CI.</p>
${table(['night', 'date', 'run', 'det', 'det time', 'nondet time', 'det/nondet'], nights, 'nights-table')}`,
  );
}

export function machinePage(m: MachineModel, charts: RenderedSiteChart[]): string {
  const h = m.history;
  const changes = h.changes.flatMap((c) => changeRows(`night ${c.night + 1} (${day(h.nights[c.night].createdAt)})`, c.fields));
  const series = m.series.map((x) => `<li><a href="${escapeHtml(x.href)}">${escapeHtml(x.title)}</a> — ${escapeHtml(x.verdict ? verdictLabel(x.verdict) : 'no det data')}${x.steps ? escapeHtml(`, ${x.steps} step(s)`) : ''}</li>`).join('');
  return page(
    `detbench: ${h.machine.label}`,
    '<a href="../index.html">index</a>',
    `<h1>${escapeHtml(h.machine.label)}</h1>
<p class="muted">hardware key ${escapeHtml(h.machine.hardware)} · ${escapeHtml(h.nights.length)} night(s), ${escapeHtml(day(h.nights[0].createdAt))} to ${escapeHtml(day(h.nights[h.nights.length - 1].createdAt))}</p>
${figures(charts)}
<h2 id="cells">Cells</h2><ul>${series}</ul>
<h2 id="fingerprint-history">Fingerprint history</h2>
<p class="muted">Each field of the environment (library, runtime, driver and OS versions, hardware, settings) that differs from the night before.</p>
${changes.length ? table(['night', 'field', 'before', 'after'], changes, 'fingerprint-changes') : '<p class="muted">The fingerprint never changed.</p>'}
<h2 id="fingerprint">Latest fingerprint</h2>
${table(['field', 'value'], Object.entries(m.fingerprint), 'fingerprint-table')}
<h2 id="nights">Nights</h2>
${table(['night', 'date', 'run', 'det cells stable', 'complete', 'baseline'], [...h.nights].map((n, i) => [i + 1, day(n.createdAt), n.runId, `${n.detStable} of ${n.detCells}`, n.complete ? 'yes' : 'no (interrupted)', n.baseline ? 'saved' : '']).reverse(), 'nights-table')}`,
  );
}
