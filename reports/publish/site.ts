/**
 * publish: results folders and baseline stores → a static site (`detbench publish DIR… --out SITE`):
 *
 *   index.html              the latest det verdict per machine × backend × workload, the findings of
 *                           the latest nights, every machine
 *   cells/<cell>.html       one det/nondet pair on one machine, night by night: stability, compute
 *                           times and the det/nondet slowdown with their 95% CIs, steps, what changed
 *   machines/<host>.html    one machine: its nights and its fingerprint history
 *
 * Rebuilding is incremental: SITE/.detbench-site.json keeps each page's input hash (a page whose
 * model did not change is not rendered again) and each night as read (a folder whose files did not
 * change is not read again). Pages a publish no longer produces are removed; nothing else in SITE is
 * touched, and a folder that holds files but no state file is refused (it is not a site).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildHistory, type History, type SeriesHistory } from '../../harness/analysis/history.js';
import type { Finding } from '../../harness/analysis/summary.js';
import { UsageError, message } from '../../harness/errors.js';
import { isNight, loadNights, type Night, type NightCache } from '../../harness/nights.js';
import { parseUntrustedJson, writeAtomic } from '../../harness/store.js';
import { toSvg } from '../render.js';
import { cellPage, indexPage, machinePage, type CellModel, type IndexModel, type MachineModel, type RenderedSiteChart } from './pages.js';
import { cellCharts, latestChart, machineChart, type SiteChart } from './specs.js';

/** Bumped when a page's HTML or charts change for the same inputs: every page is rendered again. */
export const SITE_RENDER_VERSION = 1;
export const STATE_FILE = '.detbench-site.json';

interface SiteState {
  version: number;
  /** Page path (relative, `/`-separated) → the hash of what it was rendered from. */
  pages: Record<string, string>;
  nights: Array<[string, { stamp: string; night: Night }]>;
}

export interface PublishResult {
  site: string;
  nights: number;
  machines: number;
  pages: number;
  /** Pages rendered and written this time (paths relative to the site). */
  written: string[];
  /** Pages of an earlier publish that no longer exist. */
  removed: string[];
  /** Nights read from their folders (the rest came from the state file). */
  nightsRead: number;
  /** A state file that could not be used (everything is rebuilt), and why. */
  stateNote: string | null;
  history: History;
  seconds: { read: number; history: number; render: number };
}

/** Paths the site writes: nothing a state file names outside these is ever removed. */
const PAGE_PATH = /^(index\.html|(cells|machines)\/[a-z0-9-]+\.html)$/;

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'x';
const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 10);
const hashOf = (model: unknown) => createHash('sha256').update(JSON.stringify([SITE_RENDER_VERSION, model])).digest('hex');

export const cellPath = (s: Pick<SeriesHistory, 'machine' | 'group'>, hostname: string) => `cells/${slug(`${hostname}-${s.group}`)}-${shortHash(`${s.machine}\u0000${s.group}`)}.html`;
export const machinePath = (key: string, hostname: string) => `machines/${slug(hostname)}-${shortHash(key)}.html`;

/** Enough of a state file's shape to use it; anything else is rebuilt from the folders. */
function isState(s: SiteState): boolean {
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  return isObject(s.pages) && Object.values(s.pages).every((h) => typeof h === 'string') && Array.isArray(s.nights) && s.nights.every((e) =>
    Array.isArray(e) && typeof e[0] === 'string' && isObject(e[1]) && typeof e[1].stamp === 'string' && isObject(e[1].night)
    && isNight(e[1].night));
}

function readState(site: string): { state: SiteState | null; note: string | null } {
  const file = path.join(site, STATE_FILE);
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st) return { state: null, note: null };
  // a pipe would block the read for ever, a link would be read from elsewhere: neither is one publish wrote
  if (!st.isFile()) return { state: null, note: `${STATE_FILE} is not a plain file: every page is rendered again` };
  try {
    const state = parseUntrustedJson(file) as SiteState;
    if (state?.version !== SITE_RENDER_VERSION) return { state: null, note: `${STATE_FILE} is of another version: every page is rendered again` };
    if (!isState(state)) return { state: null, note: `${STATE_FILE} is damaged: every page is rendered again` };
    return { state, note: null };
  } catch (err) {
    return { state: null, note: `${STATE_FILE} cannot be read (${(err as Error).message}): every page is rendered again` };
  }
}

/** The site folder: empty, new, or an earlier publish (it has a state file). */
function checkSite(site: string): void {
  const entries = fs.readdirSync(site);
  if (entries.length > 0 && !entries.includes(STATE_FILE)) throw new UsageError(message.siteNotEmpty(site));
  for (const sub of ['cells', 'machines']) {
    const dir = path.join(site, sub);
    // pages are written into it: a link to a folder elsewhere would put them there
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) throw new UsageError(message.siteEntry(dir, st.isSymbolicLink() ? 'a symbolic link' : 'not a folder'));
    if (st) continue;
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      throw new UsageError(message.cannotWrite(dir, (err as Error).message));
    }
  }
}

interface PageJob {
  path: string;
  hash: string;
  charts: () => SiteChart[];
  html: (charts: RenderedSiteChart[]) => string;
}

const column = (s: SeriesHistory, devices: boolean, threads: boolean) => `${s.backend}${devices ? ` ${s.device}` : ''}${threads ? ` ×${s.threads}` : ''}`;
const latestVerdict = (s: SeriesHistory) => [...s.points].reverse().find((p) => p.det)?.det?.verdict ?? null;
const about = (f: Finding, s: SeriesHistory) => f.cell?.workload === s.workload && f.cell.backend === s.backend && f.cell.device === s.device && f.cell.threads === s.threads;

/** Every page of the site with its model's hash; rendering is deferred to the pages that changed. */
function pageJobs(h: History, nights: Night[]): PageJob[] {
  const jobs: PageJob[] = [];
  const hostOf = new Map(h.machines.map((m) => [m.machine.key, m.machine.hostname]));
  const cellHref = (s: SeriesHistory) => cellPath(s, hostOf.get(s.machine)!);
  const grids: IndexModel['grids'] = [];
  const latestRows: Array<{ machine: string; workload: string; backend: string; verdict: NonNullable<ReturnType<typeof latestVerdict>> }> = [];
  for (const m of h.machines) {
    const series = h.series.filter((s) => s.machine === m.machine.key);
    const devices = new Set(series.map((s) => `${s.backend}|${s.device}`)).size > new Set(series.map((s) => s.backend)).size;
    const threads = new Set(series.map((s) => s.threads)).size > 1;
    const href = machinePath(m.machine.key, m.machine.hostname);
    grids.push({
      machine: m.machine.label, href, workloads: [...new Set(series.map((s) => s.workload))].sort(), columns: [...new Set(series.map((s) => column(s, devices, threads)))].sort(),
      cells: series.map((s) => ({
        workload: s.workload, column: column(s, devices, threads), verdict: latestVerdict(s) ?? 'no-data', href: cellHref(s), steps: s.steps.length,
        failing: h.findings.filter((f) => f.severity === 'fail' && about(f, s) && 'machine' in f.evidence && f.evidence.machine === m.machine.label).length,
      })),
    });
    for (const s of series) {
      const v = latestVerdict(s);
      if (v) latestRows.push({ machine: m.machine.label, workload: s.workload, backend: column(s, devices, threads), verdict: v });
    }
    const latest = nights.filter((n) => n.machine.key === m.machine.key).at(-1)!;
    const model: MachineModel = {
      history: m, fingerprint: latest.fingerprint,
      series: series.map((s) => ({ title: `${s.workload} on ${column(s, true, true)}`, href: `../${cellHref(s)}`, verdict: latestVerdict(s), steps: s.steps.length })),
    };
    const nightCounts = m.nights.map((n, i) => ({ night: i + 1, detStable: n.detStable, detCells: n.detCells }));
    jobs.push({ path: href, hash: hashOf(model), charts: () => [machineChart(nightCounts)], html: (c) => machinePage(model, c) });
    for (const s of series) {
      const cell: CellModel = {
        machine: { label: m.machine.label, href: `../${href}`, nights: m.nights.length }, series: s, slowdownThreshold: h.slowdownThreshold,
        findings: h.findings.filter((f) => about(f, s) && 'machine' in f.evidence && f.evidence.machine === m.machine.label),
      };
      jobs.push({ path: cellHref(s), hash: hashOf(cell), charts: () => cellCharts(s, m.nights.length, h.slowdownThreshold), html: (c) => cellPage(cell, c) });
    }
  }
  const index: IndexModel = {
    nights: h.machines.reduce((n, m) => n + m.nights.length, 0), slowdownThreshold: h.slowdownThreshold,
    machines: h.machines.map((m) => ({ label: m.machine.label, href: machinePath(m.machine.key, m.machine.hostname), nights: m.nights.length, first: m.nights[0].createdAt, last: m.nights.at(-1)!.createdAt, changes: m.changes.length })),
    grids, findings: h.findings,
  };
  jobs.unshift({ path: 'index.html', hash: hashOf({ index, latestRows }), charts: () => [latestChart(latestRows)], html: (c) => indexPage(index, c) });
  return jobs;
}

export async function publishSite(roots: readonly string[], site: string, slowdownThreshold: number, log: (line: string) => void = () => {}): Promise<PublishResult> {
  checkSite(site);
  const { state, note } = readState(site);
  const t0 = performance.now();
  const cache: NightCache = new Map(state?.nights ?? []);
  const before = new Map(cache);
  const nights = loadNights(roots, cache);
  const nightsRead = [...cache].filter(([dir, entry]) => before.get(dir) !== entry).length;
  const t1 = performance.now();
  const history = buildHistory(nights, slowdownThreshold);
  const jobs = pageJobs(history, nights);
  const t2 = performance.now();
  const written: string[] = [];
  for (const job of jobs) {
    const file = path.join(site, ...job.path.split('/'));
    if (state?.pages[job.path] === job.hash && fs.existsSync(file)) continue;
    const charts: RenderedSiteChart[] = [];
    for (const chart of job.charts()) charts.push({ ...chart, svg: await toSvg(chart.spec) });
    writeAtomic(file, job.html(charts));
    written.push(job.path);
  }
  const produced = new Set(jobs.map((j) => j.path));
  const removed: string[] = [];
  for (const old of Object.keys(state?.pages ?? {})) {
    if (produced.has(old) || !PAGE_PATH.test(old)) continue;
    fs.rmSync(path.join(site, ...old.split('/')), { force: true });
    removed.push(old);
  }
  const next: SiteState = { version: SITE_RENDER_VERSION, pages: Object.fromEntries(jobs.map((j) => [j.path, j.hash])), nights: [...cache] };
  writeAtomic(path.join(site, STATE_FILE), JSON.stringify(next));
  const t3 = performance.now();
  if (note) log(`publish: ${note}`);
  return {
    site, nights: nights.length, machines: history.machines.length, pages: jobs.length, written, removed, nightsRead, stateNote: note, history,
    seconds: { read: (t1 - t0) / 1000, history: (t2 - t1) / 1000, render: (t3 - t2) / 1000 },
  };
}
