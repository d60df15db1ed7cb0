/**
 * The self-contained HTML report: inline SVG charts, no script, no network at view time (the CSP
 * allows nothing external and no script at all). Every string that comes from a results folder is
 * escaped here, in one place.
 */
import { expectedToVary } from '../harness/analysis/cells.js';
import { INVARIANCE_AXES, type Summary } from '../harness/analysis/summary.js';
import { agreementRows, formatInterval, nondetRows } from './text.js';
import type { Manifest } from '../harness/store.js';
import { AXIS_WORDS, bySeverity, budgetText, findingText, NO_FINDINGS, SEVERITY_TITLE, subjectText, tableAxes } from './findings.js';
import { cellSubject } from '../harness/analysis/findings.js';
import { axisValue } from '../harness/axes.js';
import type { Chart } from './specs.js';
import { BACKEND_ONLY, locatedLabel, matrixStatus, slowdownRows } from './specs.js';

export const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '–' : Number.isInteger(x) ? String(x) : x.toPrecision(digits));

export interface RenderedChart extends Chart {
  svg: string;
  files: string[];
}

/**
 * The verdict besides the findings: what is reproducible here, what varies without determinism (as
 * it may), and what determinism costs. Findings are said by the catalogue (findings.ts), not here.
 */
export function verdictLines(summary: Summary, threshold: number): { reproducible: string[]; variesWithoutDeterminism: string[]; cost: string[] } {
  const backends = [...new Set(summary.cells.map((c) => c.backend))];
  const reproducible: string[] = [];
  const variesWithoutDeterminism: string[] = [];
  for (const b of backends) {
    const det = summary.cells.filter((c) => c.backend === b && c.mode === 'det' && c.distinctDigests > 0 && !expectedToVary(c));
    const stable = det.filter((c) => c.verdict === 'bitwise-stable');
    if (det.length) reproducible.push(`${b}: ${stable.length} of ${det.length} workload cells bit-for-bit identical across repeats with determinism on`);
    const varies = summary.cells.filter((c) => c.backend === b && c.mode === 'nondet' && c.verdict === 'unstable');
    for (const c of varies) variesWithoutDeterminism.push(`${subjectText(cellSubject(c))} gave ${c.distinctDigests} distinct results in ${c.runs.length} runs${c.withinTolerance ? ', all within tolerance' : ''}`);
  }
  const agreeing = summary.devices.filter((x) => x.agree);
  if (agreeing.length) reproducible.push(`${agreeing.length} workload cell(s) give the same det bits on every device of this host (${[...new Set(agreeing.flatMap((d) => d.devices.map((x) => x.device)))].join(', ')})`);
  const steady = summary.soak.filter((c) => !c.firstChange);
  if (steady.length) reproducible.push(`soak: ${steady.length} det cell(s) kept their bits over ${steady.reduce((n, c) => n + c.runs, 0)} repeated runs (up to ${Math.max(...steady.map((c) => c.seconds)).toFixed(0)} s each)`);
  const rows = slowdownRows(summary, threshold, BACKEND_ONLY);
  const cost: string[] = [];
  for (const b of backends) {
    const mine = rows.filter((r) => r.backend === b);
    if (!mine.length) continue;
    const ratios = mine.map((r) => r.ratio).sort((x, y) => x - y);
    const slower = mine.filter((r) => r.verdict === 'slower than threshold').map((r) => r.workload);
    const unsure = mine.filter((r) => r.verdict === 'inconclusive').length;
    cost.push(
      `${b}: det/nondet time ${fmt(ratios[0], 2)}× to ${fmt(ratios[ratios.length - 1], 2)}× (median ${fmt(ratios[Math.floor(ratios.length / 2)], 2)}×)` +
        (slower.length ? `; slower than ${threshold}× for ${slower.join(', ')}` : '') +
        (unsure ? `; ${unsure} cell(s) inconclusive at this many repeats` : ''),
    );
  }
  return { reproducible, variesWithoutDeterminism, cost };
}

const list = (items: string[], empty: string) => (items.length ? `<ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>` : `<p class="muted">${escapeHtml(empty)}</p>`);

/** One section per severity, findings in the catalogue's words; "none" when nothing fails. */
function findingSections(summary: Summary): string {
  // where runs part has its own section (locateSection)
  const groups = bySeverity(summary.findings.filter((f) => f.kind !== 'divergence-located'));
  const none = groups.some((g) => g.severity === 'fail') ? '' : `<section class="findings" id="findings-fail"><h3>${SEVERITY_TITLE.fail}</h3>${list([], NO_FINDINGS)}</section>`;
  return none + groups.map((g) => `<section class="findings" id="findings-${g.severity}"><h3>${escapeHtml(g.title)}</h3>${list(g.findings.map(findingText), '')}</section>`).join('');
}

function environment(manifest: Manifest): string {
  const env = manifest.environment;
  const rows: Array<[string, unknown]> = [
    ['run id', manifest.runId],
    ['created', manifest.createdAt],
    ['suite', `${manifest.suite.name} (${manifest.suite.source}), preset ${manifest.suite.preset}, ${manifest.suite.repeats} repeats, seed ${manifest.suite.seed}`],
    ['Node.js / npm', `${env.node} / ${env.npm ?? 'unknown'}`],
    ['OS', `${env.os.type} ${env.os.release} (${env.os.platform}/${env.os.arch})`],
    ['CPU', `${env.cpu.model} × ${env.cpu.cores}`],
    ...(env.gpus ? [['GPUs', env.gpus.map((g) => `${g.name} (driver ${g.driver})`).join('; ')] as [string, unknown]] : []),
    ['memory', `${(env.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ['git', `${env.git.commit ?? 'not a git checkout'}${env.git.dirty ? ' (dirty)' : ''}`],
    ...Object.entries(env.packages).map(([k, v]): [string, unknown] => [k, v ?? 'not installed']),
    ...Object.entries(env.env).map(([k, v]): [string, unknown] => [`$${k}`, v]),
    ...Object.entries(manifest.backends).map(([k, a]): [string, unknown] => [`backend ${k}`, a.available ? `available ${a.version}${a.notes.length ? ` — ${a.notes.join('; ')}` : ''}` : `unavailable — ${a.reason}`]),
    // the doctor's checklist at the start of the run: what needs doing (passes are not news)
    ...(manifest.doctor?.checks ?? []).filter((c) => c.status === 'warn' || c.status === 'fail').map((c): [string, unknown] => [`doctor: ${c.id} (${c.status})`, `${c.found}${c.fix ? ` — fix: ${c.fix}` : ''}`]),
  ];
  return `<table class="env">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
}

function cellTable(summary: Summary): string {
  const axes = tableAxes(summary.cells);
  const head = ['workload', 'backend', 'device', 'mode', ...axes.map((a) => AXIS_WORDS[a].heading), 'result', 'distinct', 'modal share', 'max ULP', 'max relL2', 'median compute ms', 'determinism', 'message'];
  const rows = summary.cells.map((c) => [
    c.workload, c.backend, c.device, c.mode, ...axes.map((a) => axisValue(c, a)), matrixStatus(c), c.distinctDigests, c.modalShare === null ? '–' : `${Math.round(c.modalShare * 100)}%`,
    c.maxUlp, fmt(c.maxRelL2), fmt(c.computeMs?.median), c.determinism?.summary ?? '', c.message ?? '',
  ]);
  return `<table class="cells"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** Per invariance axis, which values give the same det bits (the terminal's and report.md's words). */
function agreementSections(summary: Summary): string {
  return INVARIANCE_AXES.map((axis) => {
    const rows = agreementRows(summary, axis);
    const nondet = nondetRows(summary, axis);
    const det = rows.length ? `<h2 id="agreement-${escapeHtml(axis)}">${escapeHtml(AXIS_WORDS[axis].title)}</h2><p>Det bits of each group of cells across its values: = the same, ≠ different.</p>${list(rows, '')}` : '';
    return det + (nondet.length ? `<h3 id="nondet-${escapeHtml(axis)}">${escapeHtml(AXIS_WORDS[axis].title)} without determinism</h3><p>Nondet runs at each value against the base value: ≠ when every run differs.</p>${list(nondet, '')}` : '');
  }).join('\n');
}

function noiseSection(summary: Summary): string {
  if (!summary.noise.length) return '';
  const rows = summary.noise.flatMap((d) =>
    d.arms.map((a) => {
      const test = a.arm === 'seeds' ? null : d.versusSeeds[a.arm];
      return [d.workload, d.backend, a.arm, a.runs, a.distinctResults, formatInterval(a.lossSd), formatInterval(a.weightSpread), formatInterval(a.evalLossSd ?? null), formatInterval(a.churn ?? null), a.arm === 'seeds' ? '' : test ? `p = ${test.pValue.toPrecision(2)}` : 'no spread'];
    }),
  );
  const head = ['workload', 'backend', 'arm', 'runs', 'distinct', 'final-loss sd [95% CI]', 'weight distance [95% CI]', 'held-out loss sd [95% CI]', 'prediction churn [95% CI]', 'Brown–Forsythe vs seeds'];
  return `<h2 id="noise">Noise decomposition</h2><p>After Summers &amp; Dinneen (ICML 2021): the spread of final loss, weights, held-out loss and predictions (churn: the share of held-out predictions that differ between two runs) across different seeds (determinism on), one seed with determinism off, and one seed with one initial weight moved by 1 ULP. Does implementation noise matter as much as seed noise here?</p><table class="cells"><thead><tr>${head
    .map((h) => `<th>${escapeHtml(h)}</th>`)
    .join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function figure(c: RenderedChart): string {
  return `<figure id="chart-${escapeHtml(c.id)}" class="chart"><h2>${escapeHtml(c.title)}</h2><div class="svg">${c.svg}</div><figcaption>${escapeHtml(c.caption)}${
    c.files.length ? ` <span class="files">(${c.files.map((f) => `<a href="${escapeHtml(f)}">${escapeHtml(f)}</a>`).join(', ')})</span>` : ''
  }</figcaption></figure>`;
}

/** `--locate`: each located pair in the catalogue's words, a table of the answers, and the per-op profile. */
function locateSection(summary: Summary, chart: RenderedChart | undefined): string {
  if (!summary.locate.length) return '';
  const sentences = summary.findings.filter((f) => f.kind === 'divergence-located').map(findingText);
  const head = ['pair', 'status', 'budget', 'weights differ after step', 'step', 'first divergent op', 'differing elements', 'max ULP', 'median ULP', 'relL2', 'op before it', 'ops not exposed', 're-runs', 'seconds'];
  const rows = summary.locate.map((l) => [
    locatedLabel(l), l.status, budgetText(l.budget), l.firstDivergentStep ?? '–', l.step ?? '–', l.firstOp ?? '–',
    l.ulp ? `${l.ulp.differing} of ${l.ulp.elements}` : '–', l.ulp?.maxUlp ?? '–', l.ulp?.medianUlp ?? '–', fmt(l.ulp?.relL2),
    l.previousOp ? `${l.previousOp.op} (step ${l.previousOp.step})` : '–',
    l.notExposed.length ? `${l.notExposed.length}: ${l.notExposed.slice(0, 4).join(', ')}${l.notExposed.length > 4 ? ', …' : ''}` : 'none',
    l.runs, fmt(l.wallMs / 1000, 2),
  ]);
  return `<h2 id="locate">Where runs part</h2>${list(sentences, '')}<table class="cells"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>${chart ? figure(chart) : ''}`;
}

export function renderHtml(manifest: Manifest, summary: Summary, rendered: RenderedChart[], threshold: number): string {
  const v = verdictLines(summary, threshold);
  const banner = summary.complete
    ? ''
    : `<div class="banner" id="incomplete">INCOMPLETE: ${escapeHtml(summary.recordedRuns)} of ${escapeHtml(summary.plannedRuns)} planned runs were recorded (the run was interrupted or killed). Verdicts below cover only what finished.</div>`;
  const headline = `${summary.verdict.detStableCells} of ${summary.verdict.detCells} deterministic cells bit-for-bit reproducible`;
  const warnings = summary.warnings.length ? `<div class="warnings"><h3>Warnings</h3>${list(summary.warnings, '')}</div>` : '';
  const charts = rendered.filter((c) => c.id !== 'locate-profile').map(figure).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>detbench report ${escapeHtml(manifest.runId)}</title>
<style>
body { font-family: system-ui, 'DejaVu Sans', sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .muted { color: #666; }
.banner { background: #fdd; border: 2px solid #d73027; padding: 0.8rem; font-weight: bold; margin: 1rem 0; }
.verdict { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
.verdict section { background: #f7f7f7; padding: 0.6rem 1rem; border-radius: 6px; }
.warnings { background: #fff6d5; padding: 0.4rem 1rem; border-radius: 6px; margin: 1rem 0; }
figure.chart { margin: 2rem 0; } figure .svg { overflow-x: auto; } figcaption { color: #444; max-width: 60rem; }
table { border-collapse: collapse; font-size: 0.85rem; } th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
table.env th { background: #f3f3f3; white-space: nowrap; } table.cells { width: 100%; } table.cells thead th { background: #eee; position: sticky; top: 0; }
</style>
</head>
<body>
<h1>detbench report</h1>
<p class="muted">${escapeHtml(manifest.runId)} · ${escapeHtml(manifest.suite.name)} suite · ${escapeHtml(summary.recordedRuns)} runs</p>
${banner}
<h2 id="verdict">${escapeHtml(headline)}</h2>
<div class="verdict">
${findingSections(summary)}
<section><h3>Reproducible here</h3>${list(v.reproducible, 'nothing ran with determinism on')}</section>
<section><h3>Varies without determinism</h3>${list(v.variesWithoutDeterminism, 'nothing: every cell without determinism gave identical bits too')}</section>
<section><h3>What determinism costs</h3>${list(v.cost, 'no paired timings')}</section>
</div>
${warnings}
${agreementSections(summary)}
${charts}
${locateSection(summary, rendered.find((c) => c.id === 'locate-profile'))}
${noiseSection(summary)}
<h2>Every cell</h2>
${cellTable(summary)}
<h2>Environment</h2>
${environment(manifest)}
</body>
</html>
`;
}
