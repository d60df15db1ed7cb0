/**
 * report: a results folder → report.html, report.md, summary.json and every chart as SVG and PNG.
 * Reads the folder and nothing else (never a backend).
 */
import fs from 'node:fs';
import path from 'node:path';
import { analyze } from '../harness/analysis/analyze.js';
import { DEFAULT_SLOWDOWN_THRESHOLD, type Summary } from '../harness/analysis/summary.js';
import { UsageError, message } from '../harness/errors.js';
import { hasFile, loadResults, ownFolder, writeAtomic, type LoadedResults } from '../harness/store.js';
import { renderHtml, type RenderedChart } from './html.js';
import { renderMarkdown } from './markdown.js';
import { toPng, toSvg } from './render.js';
import { charts } from './specs.js';

export const REPORT_FORMATS = ['html', 'md', 'json', 'png'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const isReportFormat = (x: string): x is ReportFormat => (REPORT_FORMATS as readonly string[]).includes(x);

export interface ReportOptions {
  /** Folder for the report files; the results folder itself by default. */
  out?: string;
  formats?: readonly ReportFormat[];
  /** det/nondet time ratio above which determinism counts as "slower" (default 1.25). */
  slowdownThreshold?: number;
}

export interface ReportResult {
  summary: Summary;
  files: string[];
}

/** Whether two paths name one folder (through another spelling or a link the user gave). */
function sameFolder(a: string, b: string): boolean {
  const x = fs.statSync(a, { throwIfNoEntry: false });
  const y = fs.statSync(b, { throwIfNoEntry: false });
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino;
}

export function parseFormats(list: string[]): ReportFormat[] {
  for (const f of list) if (!isReportFormat(f)) throw new UsageError(message.reportFormat(f, REPORT_FORMATS));
  return list as ReportFormat[];
}

/**
 * `analysed`: the folder already loaded and analysed by the caller (`detbench run` has just done
 * both), so neither is done twice.
 */
export async function renderReport(resultsDir: string, options: ReportOptions = {}, analysed?: { results: LoadedResults; summary: Summary }): Promise<ReportResult> {
  // validated where the flag is read (config.resolveSlowdownThreshold)
  const threshold = options.slowdownThreshold ?? DEFAULT_SLOWDOWN_THRESHOLD;
  const formats = new Set(options.formats ?? REPORT_FORMATS);
  const results = analysed?.results ?? loadResults(resultsDir);
  const summary = analysed?.summary ?? analyze(results);
  const out = path.resolve(options.out ?? resultsDir);
  // another results folder (or saved baseline) would have its own summary.json and report replaced by this run's
  if (hasFile(out, 'manifest.json') && !sameFolder(out, resultsDir)) throw new UsageError(message.reportOutIsResults(out, resultsDir));
  // a results folder from elsewhere may hold `charts` as a link to a folder outside it
  ownFolder(path.join(out, 'charts'));
  const files: string[] = [];
  const emit = (name: string, data: string | Uint8Array) => {
    // reports are derived data: a newer report replaces an older one
    writeAtomic(path.join(out, name), data);
    files.push(path.join(out, name));
  };

  const rendered: RenderedChart[] = [];
  if (formats.has('html') || formats.has('png')) {
    for (const chart of charts(summary, threshold)) {
      const svg = await toSvg(chart.spec);
      const chartFiles = [`charts/${chart.id}.svg`];
      emit(chartFiles[0], svg);
      if (formats.has('png')) {
        chartFiles.push(`charts/${chart.id}.png`);
        emit(chartFiles[1], await toPng(svg));
      }
      rendered.push({ ...chart, svg, files: chartFiles });
    }
  }
  if (formats.has('html')) emit('report.html', renderHtml(results.manifest, summary, rendered, threshold));
  if (formats.has('md')) emit('report.md', renderMarkdown(results.manifest, summary, threshold) + '\n');
  if (formats.has('json')) emit('summary.json', JSON.stringify(summary, null, 2) + '\n');
  return { summary, files };
}
