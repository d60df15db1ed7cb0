/**
 * Where backends may put temporary files (the torch worker's tensor files): a folder the runner
 * creates for one command and removes when it closes, so nothing is left in the system's temporary
 * folder (a killed detbench leaves its scratch folder, named detbench-scratch-PID-…, to be removed).
 */
import os from 'node:os';

let root: string | null = null;

/** Set in each worker thread from the runner's workerData. */
export function setScratchRoot(dir: string): void {
  root = dir;
}

/** The runner's scratch folder, or the system's temporary folder outside a runner (tests). */
export function scratchRoot(): string {
  return root ?? os.tmpdir();
}
