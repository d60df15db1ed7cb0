/**
 * Paired slowdown measurement with automatic stopping (`detbench run --precision 0.02`): per cell
 * group, det and nondet runs alternate in pairs — ABBA order (det-nondet, nondet-det, …) so that
 * neither arm always runs second — and pairs are added until the bootstrap 95% CI of the median
 * det/nondet ratio has a half-width within the target (relative to the ratio), or the group's
 * share of the time budget is spent.
 */
import type { Plan } from '../plan.js';
import { groupId, isOk, type Mode, type RunRecord, type RunRequest } from '../protocol.js';
import type { Runner } from './runner.js';
import { pairedRatioCI, type RatioCI } from '../analysis/stats.js';
import type { ResultsWriter } from '../store.js';

export interface PrecisionOptions {
  /** Target CI half-width as a fraction of the ratio, e.g. 0.02. */
  precision: number;
  /** Time budget for all groups together. */
  budgetMs: number;
  minPairs?: number;
  maxPairs?: number;
  timeoutMs: number;
  shouldStop?: () => boolean;
  onRecord?: (record: RunRecord) => void;
}

export interface PrecisionOutcome {
  group: string;
  pairs: number;
  slowdown: RatioCI | null;
  /** (high − low) / 2 / ratio */
  relativeHalfWidth: number | null;
  stoppedBecause: 'precision reached' | 'time budget spent' | 'pair limit reached' | 'runs failed' | 'interrupted';
}

export async function runPaired(runner: Runner, plan: Plan, writer: ResultsWriter, o: PrecisionOptions): Promise<{ outcomes: PrecisionOutcome[]; stopped: boolean }> {
  const minPairs = o.minPairs ?? 5;
  const maxPairs = o.maxPairs ?? 500;
  const templates = new Map<string, RunRequest>();
  for (const r of plan.runs) if (!templates.has(groupId(r))) templates.set(groupId(r), r);
  const groupBudgetMs = o.budgetMs / Math.max(1, templates.size);
  let runIndex = 0;
  const outcomes: PrecisionOutcome[] = [];

  for (const [group, template] of templates) {
    const start = performance.now();
    const run = async (mode: Mode, repeat: number, warmup: boolean) => {
      const record = await runner.runOne({ ...template, mode, repeat, warmup, runIndex: runIndex++ }, writer, o.timeoutMs);
      if (record) o.onRecord?.(record);
      return record;
    };
    const det: number[] = [], nondet: number[] = [];
    let outcome: PrecisionOutcome['stoppedBecause'] | null = null;
    if (!(await run('det', -1, true)) || !(await run('nondet', -1, true))) outcome = 'interrupted';
    let ci: RatioCI | null = null;
    for (let pair = 0; outcome === null; pair++) {
      if (o.shouldStop?.()) {
        outcome = 'interrupted';
        break;
      }
      const order: Mode[] = pair % 2 === 0 ? ['det', 'nondet'] : ['nondet', 'det'];
      const records = new Map<Mode, RunRecord | null>();
      for (const mode of order) records.set(mode, await run(mode, pair, false));
      const d = records.get('det')!, n = records.get('nondet')!;
      if (!d || !n) {
        // abandoned by an interruption
        outcome = 'interrupted';
        break;
      }
      if (!isOk(d) || !isOk(n)) {
        outcome = 'runs failed';
        break;
      }
      det.push(d.computeMs);
      nondet.push(n.computeMs);
      if (det.length >= minPairs) {
        ci = pairedRatioCI(det, nondet);
        if (ci && (ci.high - ci.low) / 2 / ci.ratio <= o.precision) outcome = 'precision reached';
      }
      if (outcome === null && performance.now() - start >= groupBudgetMs) outcome = 'time budget spent';
      if (outcome === null && det.length >= maxPairs) outcome = 'pair limit reached';
    }
    ci = det.length >= 2 ? pairedRatioCI(det, nondet) : null;
    outcomes.push({
      group,
      pairs: det.length,
      slowdown: ci,
      relativeHalfWidth: ci ? (ci.high - ci.low) / 2 / ci.ratio : null,
      stoppedBecause: outcome!,
    });
    if (outcome === 'interrupted') return { outcomes, stopped: true };
  }
  return { outcomes, stopped: false };
}
