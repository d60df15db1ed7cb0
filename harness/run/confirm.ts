/**
 * `compare --confirm N`: a finding stands only if it repeats. The cells a comparison flags run again,
 * N times, each time in fresh processes (`detbench run`, one per backend, restricted to the flagged
 * workloads and thread counts, with the current folder's preset, sizes, seed and repeats), into a
 * folder of their own — never the baseline's. Each re-run is compared with the baseline like the
 * current folder was; a flagged finding is confirmed when a finding of its family (slower or slower-
 * inconclusive; a det cell not stable; other bits; failing runs) comes back for the same cell in most
 * re-runs, and becomes a `not-confirmed` note otherwise. A one-night hiccup of a busy machine is not
 * confirmed; a real regression is.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { compare, loadSide, withFindings, type Comparison, type Confirmation, type ConfirmationOutcome } from '../analysis/compare.js';
import { finding } from '../analysis/findings.js';
import type { Finding, FindingKind } from '../analysis/summary.js';
import { PROJECT_DIR } from '../env.js';
import { UsageError, message } from '../errors.js';
import type { SuiteInput } from '../config.js';
import { writeAtomic } from '../store.js';

/** Findings a re-run can repeat, by family: a re-run repeats a finding with a finding of its family. */
export const CONFIRMABLE: { readonly [K in FindingKind]?: string } = {
  slower: 'slower',
  'slower-inconclusive': 'slower',
  'determinism-regression': 'unstable',
  'still-unstable': 'unstable',
  'results-changed': 'results',
  'newly-failing': 'failing',
};

/** Runs a suite file in a fresh process into `outRoot` and returns the results folder it wrote. */
export type Rerun = (suiteFile: string, outRoot: string) => Promise<string>;

/** `detbench run --suite FILE --out DIR` in a process of its own (its exit code 0 or 1: it ran). */
export const rerunInProcess: Rerun = (suiteFile, outRoot) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PROJECT_DIR, 'bin', 'detbench.mjs'), 'run', '--suite', suiteFile, '--out', outRoot, '--json', '--no-report'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || code === 1) {
        try {
          resolve((JSON.parse(stdout) as { resultsDir: string }).resultsDir);
          return;
        } catch (err) {
          reject(new Error(`detbench run printed no summary: ${(err as Error).message}`));
          return;
        }
      }
      reject(new Error(`detbench run exited ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}`));
    });
  });

const familyOf = (f: Finding) => CONFIRMABLE[f.kind];

/** The flagged findings: confirmable, about a cell or a group of cells with a workload and a backend. */
export const flagged = (c: Comparison) => c.findings.filter((f) => familyOf(f) && f.cell?.workload !== undefined && f.cell.backend !== undefined);

export interface ConfirmOptions {
  reruns: number;
  /** The folder the re-runs write into (prepared by the caller; never inside the baseline). */
  dir: string;
  slowdownThreshold: number;
  allowHardwareChange: boolean;
  rerun?: Rerun;
  log?: (line: string) => void;
}

/** Refuses a confirm folder inside the baseline: a baseline is never written to. */
export function checkConfirmDir(baselineDir: string, dir: string): void {
  const rel = path.relative(path.resolve(baselineDir), path.resolve(dir));
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) throw new UsageError(message.confirmInBaseline(dir, baselineDir));
}

export async function confirmComparison(c: Comparison, baselineDir: string, currentDir: string, o: ConfirmOptions): Promise<Comparison> {
  const targets = flagged(c);
  const confirmation: Confirmation = { dir: o.dir, reruns: o.reruns, resultsDirs: [], failures: [], outcomes: [] };
  if (targets.length === 0) return { ...c, confirmation };
  const suite = loadSide(currentDir).manifest.suite;
  const rerun = o.rerun ?? rerunInProcess;
  const backends = [...new Set(targets.map((f) => f.cell!.backend!))];
  // repeats[backend] per flagged finding index: how many re-runs found it again
  const repeated = new Map<Finding, number>(targets.map((f) => [f, 0]));
  const rerunOk = new Map<string, number>(backends.map((b) => [b, 0]));
  for (const backend of backends) {
    const mine = targets.filter((f) => f.cell!.backend === backend);
    const workloads = [...new Set(mine.map((f) => f.cell!.workload!))];
    const threads = [...new Set(mine.map((f) => f.cell!.threads).filter((t): t is number => t !== undefined))];
    const input: SuiteInput = {
      name: `confirm-${backend}`,
      preset: suite.preset,
      workloads,
      backends: [backend],
      modes: suite.modes,
      threads: threads.length ? threads : suite.threads,
      repeats: suite.repeats,
      seed: suite.seed,
      timeoutSec: suite.timeoutMs / 1000,
      params: Object.fromEntries(suite.workloads.filter((w) => workloads.includes(w.id)).map((w) => [w.id, w.params])),
    };
    const suiteFile = path.join(o.dir, `suite-${backend.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
    // replaces a link planted under that name instead of writing through it
    writeAtomic(suiteFile, JSON.stringify(input, null, 2) + '\n');
    for (let i = 1; i <= o.reruns; i++) {
      o.log?.(`confirm: re-run ${i} of ${o.reruns}: ${workloads.join(', ')} on ${backend}`);
      let resultsDir: string;
      try {
        resultsDir = await rerun(suiteFile, o.dir);
      } catch (err) {
        confirmation.failures.push(`re-run ${i} on ${backend}: ${(err as Error).message}`);
        continue;
      }
      confirmation.resultsDirs.push(resultsDir);
      rerunOk.set(backend, rerunOk.get(backend)! + 1);
      const again = compare(baselineDir, resultsDir, o.slowdownThreshold, { allowHardwareChange: o.allowHardwareChange }).findings;
      for (const f of mine) {
        if (again.some((g) => familyOf(g) === familyOf(f) && g.cell?.id === f.cell!.id)) repeated.set(f, repeated.get(f)! + 1);
      }
    }
  }
  const findings = c.findings.map((f): Finding => {
    if (!repeated.has(f)) return f;
    const reruns = rerunOk.get(f.cell!.backend!)!;
    const n = repeated.get(f)!;
    // re-runs that gave no results are no evidence either way: the finding stands as found
    const status: ConfirmationOutcome['status'] = reruns < o.reruns ? 'not-rerun' : n * 2 > reruns ? 'confirmed' : 'not-confirmed';
    confirmation.outcomes.push({ kind: f.kind, cell: f.cell!.id, status, repeated: n, reruns });
    return status === 'not-confirmed' ? finding('not-confirmed', f.cell, { finding: f, repeated: n, reruns }) : f;
  });
  return { ...withFindings(c, findings), confirmation };
}
