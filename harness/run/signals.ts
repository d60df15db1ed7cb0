/**
 * SIGINT and SIGTERM during `detbench run`.
 *
 * A terminal's Ctrl-C and a scheduler's SIGTERM (Slurm, Kubernetes, `timeout`) go to the whole
 * process group, and npm, when it started detbench, forwards the same signal to its child: one
 * interruption often arrives twice within milliseconds. Signals within SAME_SIGNAL_MS of the first
 * therefore count as one. The first asks the run to stop — the run in flight is given a grace period,
 * then abandoned, and the folder is finished (complete.json marked interrupted, summary, report; exit
 * 3). A later one makes the folder readable synchronously and exits 3 at once.
 *
 * The processes detbench starts (own-process backends, the torch worker, GPU probes) run in process
 * groups of their own, so a group signal reaches detbench alone and the run in flight is detbench's to
 * finish or abandon; they leave when their pipe or IPC channel to detbench closes.
 */
import { EXIT } from '../errors.js';

export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** Two deliveries of one interruption (the group's and npm's forward) arrive this close together. */
export const SAME_SIGNAL_MS = 500;
/**
 * How long the run in flight may go on after the first signal before it is abandoned: 10 s, well
 * inside the 30 s Slurm (KillWait) and Kubernetes (terminationGracePeriodSeconds) give by default;
 * DETBENCH_GRACE_SEC sets another (config.ts validates it).
 */
export const DEFAULT_GRACE_SEC = 10;

/** A signal that arrived before the handlers below were installed (see bin/detbench.mjs). */
export interface EarlySignal {
  signal: InterruptSignal;
  /** performance.now() when it arrived */
  at: number;
}

export class Interrupts {
  private firstAt: number | null = null;
  private listeners: Array<(signal: InterruptSignal) => void> = [];
  private emergency: () => void = () => {};
  /** The folder whose runs are all recorded (complete.json written, not interrupted), once it is. */
  private finishedDir: string | null = null;
  private readonly handler = (signal: InterruptSignal) => this.receive(signal, performance.now());

  constructor(
    private readonly log: (line: string) => void,
    private readonly graceMs: number,
  ) {}

  /** Starts listening; signals that came earlier are handled now, in order. */
  install(early: readonly EarlySignal[] = []): this {
    for (const s of INTERRUPT_SIGNALS) process.on(s, this.handler);
    for (const e of early) this.receive(e.signal, e.at);
    return this;
  }

  uninstall(): void {
    for (const s of INTERRUPT_SIGNALS) process.off(s, this.handler);
  }

  get requested(): boolean {
    return this.firstAt !== null;
  }

  /** Called once, at the first signal. */
  onFirst(listener: (signal: InterruptSignal) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Every run is recorded and the folder finished: a signal from here on stops nothing the results
   * need, and says so (the summary and the report follow, or `detbench report` writes them later).
   */
  runsFinished(dir: string): void {
    this.finishedDir = dir;
  }

  /** What a second signal must do before the process exits: make the folder readable, synchronously. */
  setEmergency(fn: () => void): void {
    this.emergency = fn;
  }

  private receive(signal: InterruptSignal, at: number): void {
    if (this.firstAt === null) {
      this.firstAt = at;
      this.log(this.finishedDir
        ? `${signal}: every run is already recorded and the results folder finished; writing its summary and report (again to quit at once)`
        : `${signal}: stopping — the run in flight may finish within ${this.graceMs / 1000} s, then the results folder is completed as interrupted (again to quit at once)`);
      for (const l of this.listeners) l(signal);
      return;
    }
    if (at - this.firstAt < SAME_SIGNAL_MS) return;
    this.log(this.finishedDir
      ? `${signal} again: quitting now; the results folder is complete (\`detbench report ${this.finishedDir}\` writes its summary and report)`
      : `${signal} again: quitting now; the results folder stays readable and is marked interrupted`);
    try {
      this.emergency();
    } finally {
      process.exit(EXIT.incomplete);
    }
  }
}
