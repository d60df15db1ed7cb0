/**
 * Start-up work moved off the command's critical path. The analysis after the last run is one
 * thread's work while the other core idles, so a library it loads there adds its whole load time
 * to the command; loaded while the probes wait (this thread is idle then), it overlaps them.
 */
import { createRequire } from 'node:module';

/**
 * Loads mathjs (≈ 0.5 s of CPU), which harness/analysis/stats.ts requires on first use: the same
 * CommonJS entry, so its require finds it in the module cache. Call it only where the analysis
 * will run in this thread, and never during timed runs.
 */
export function warmAnalysisLibraries(): void {
  createRequire(import.meta.url)('mathjs');
}
