/**
 * GitHub Actions output, when GITHUB_ACTIONS=true: the Markdown report appended to the file
 * $GITHUB_STEP_SUMMARY names (shown on the run's summary page), and one workflow command per finding
 * that changes the exit code — `::error` for a failing one, `::warning` for an incomplete or
 * inconclusive one — which GitHub shows as annotations.
 *
 * Workflow commands are escaped as actions/toolkit's command.ts does (escapeData: % \r \n;
 * escapeProperty: also : and ,), so no text from a results folder can end a command early or start
 * another one. Pure functions, except `writeGitHubOutput`.
 */
import fs from 'node:fs';
import type { Finding } from '../harness/analysis/summary.js';
import { findingText, subjectText } from './findings.js';

export const inGitHubActions = (env: NodeJS.ProcessEnv = process.env) => env.GITHUB_ACTIONS === 'true';

const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** One `::error` or `::warning` line per finding that is not a note, titled by its kind and cell. */
export function annotations(findings: readonly Finding[]): string[] {
  return findings
    .filter((f) => f.severity !== 'info')
    .map((f) => `::${f.severity === 'fail' ? 'error' : 'warning'} title=${escapeProperty(`detbench ${f.kind}: ${subjectText(f.cell)}`)}::${escapeData(findingText(f))}`);
}

/**
 * Appends `markdown` to $GITHUB_STEP_SUMMARY (when set) and writes the annotations to `out` (stdout
 * by default: the runner reads workflow commands there; a command printing JSON on stdout passes
 * stderr, which the runner reads too).
 */
export function writeGitHubOutput(markdown: string, findings: readonly Finding[], out: NodeJS.WritableStream = process.stdout, env: NodeJS.ProcessEnv = process.env): void {
  if (env.GITHUB_STEP_SUMMARY) fs.appendFileSync(env.GITHUB_STEP_SUMMARY, markdown.endsWith('\n') ? `${markdown}\n` : `${markdown}\n\n`);
  for (const line of annotations(findings)) out.write(`${line}\n`);
}
