/**
 * The soak (`detbench run --duration 10m`): after the suite, det runs of every det cell that gave
 * a result, round robin, until the time is up. They are ordinary det records of those cells (marked
 * `soak`), so any change of bits makes the cell unstable; the analysis adds when the first change came.
 */
import type { Plan } from '../plan.js';
import { cellId, type RunRecord, type RunRequest } from '../protocol.js';
import type { Runner } from './runner.js';
import type { ResultsWriter } from '../store.js';

export interface SoakOptions {
  soakMs: number;
  timeoutMs: number;
  /** Cells (ids) that produced at least one ok det run in the suite: only those are soaked. */
  okCells: Set<string>;
  shouldStop: () => boolean;
  onRecord?: (record: RunRecord) => void;
}

export async function runSoak(runner: Runner, plan: Plan, writer: ResultsWriter, options: SoakOptions): Promise<{ stopped: boolean; runs: number }> {
  // one template per soaked cell: its last planned det run, whose repeat numbers the soak continues
  const templates = new Map<string, RunRequest>();
  for (const r of plan.runs) if (r.mode === 'det' && !r.warmup && !r.arm && options.okCells.has(cellId(r))) templates.set(cellId(r), r);
  const deadline = performance.now() + options.soakMs;
  let runIndex = plan.runs.length;
  let runs = 0;
  for (let round = 1; templates.size > 0 && performance.now() < deadline; round++) {
    for (const template of templates.values()) {
      if (options.shouldStop()) return { stopped: true, runs };
      if (performance.now() >= deadline) break;
      const request: RunRequest = { ...template, runIndex: runIndex++, repeat: template.repeat + round, soak: true };
      const record = await runner.runOne(request, writer, options.timeoutMs);
      if (!record) return { stopped: true, runs };
      options.onRecord?.(record);
      runs++;
    }
  }
  return { stopped: false, runs };
}
