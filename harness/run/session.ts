/**
 * `detbench run`, phase by phase:
 *
 *   options ─► probe ─► plan ─► results folder ─► runs (plain + soak, or paired) ─► oracle ─► locate ─► finish ─► analyze ─► report
 *
 * Options arrive validated (config.ts). From the first signal on (signals.ts) the session heads for a
 * readable folder: probing finishes (it is bounded), no new run starts, the run in flight gets a grace
 * period and is then abandoned, and the folder is finished as interrupted, analysed and reported.
 */
import path from 'node:path';
import { analyze } from '../analysis/analyze.js';
import type { Summary } from '../analysis/summary.js';
import type { Availability } from '../backends/types.js';
import type { RunOptions } from '../config.js';
import { doctor, type DoctorReport } from '../doctor.js';
import { fingerprint, fingerprintWarnings, PROJECT_DIR, type Fingerprint } from '../env.js';
import { UsageError, message } from '../errors.js';
import { makePlan, restrictToGpus, shardPlan, type Plan } from '../plan.js';
import type { RunRecord } from '../protocol.js';
import { loadResults, newManifest, newRunId, ResultsWriter, type LoadedResults } from '../store.js';
import { runPaired, type PrecisionOutcome } from './precision.js';
import { Runner } from './runner.js';
import { Interrupts, type EarlySignal } from './signals.js';
import { runOracle, warmUpOracle, type OracleWarmup } from './oracle.js';
import { mark } from './timeline.js';
import { runSoak } from './soak.js';
import { locatePhase, type LocateCost } from './locate.js';

export interface SessionHooks {
  log(line: string): void;
  /** Each planned run's record as it is written (`done` of `total`). */
  onRecord(record: RunRecord, done: number, total: number): void;
  /** Each soak run's record. */
  onSoakRecord(record: RunRecord, n: number): void;
  /** The planned runs are over (the progress display can go). */
  onRunsDone(): void;
}

export interface SessionOutcome {
  dir: string;
  results: LoadedResults;
  summary: Summary;
  reportFiles: string[];
  /** `--precision`: what the paired runs reached, per cell group. */
  precision: PrecisionOutcome[] | null;
  /** `--locate`: what locating cost (null when off, or interrupted before it). */
  locate: LocateCost | null;
}

export async function runSession(options: RunOptions, early: readonly EarlySignal[], hooks: SessionHooks): Promise<SessionOutcome> {
  const { suite } = options;
  const interrupts = new Interrupts(hooks.log, options.graceMs).install(early);
  // before any worker starts: workers and the torch backend's subprocesses inherit it
  if (options.python) process.env.DETBENCH_PYTHON = options.python;
  const runner = new Runner(options.concurrency);
  let oracleWarmup: OracleWarmup | null = null;
  let writer: ResultsWriter | null = null;
  let folder: { dir: string; environment: Fingerprint; backends: Record<string, Availability> } | null = null;
  // what a second signal leaves behind: at least a manifest and complete.json marked interrupted
  interrupts.setEmergency(() => {
    runner.removeScratch();
    if (writer) writer.finishIfOpen({ finishedAt: new Date().toISOString(), runs: writer.written, interrupted: true });
    else if (folder) createFolder(folder.dir, { cells: [], runs: [], notes: [] }, folder.backends, folder.environment).finishIfOpen({ finishedAt: new Date().toISOString(), runs: 0, interrupted: true });
  });
  const createFolder = (dir: string, plan: Plan, backends: Record<string, Availability>, environment: Fingerprint, checklist?: DoctorReport) =>
    ResultsWriter.create(dir, newManifest({
      runId: path.basename(dir), suite, shard: options.shard, plan, backends, environment, doctor: checklist,
      warnings: [
        ...fingerprintWarnings(environment),
        ...plan.notes,
        ...(options.concurrency > 1 ? [`concurrency ${options.concurrency}: timings are not comparable (determinism check only)`] : []),
      ],
    }));

  interrupts.onFirst(() => setTimeout(() => runner.abandon(), options.graceMs).unref());
  // what the run waits for before its first run (sessions opening, the oracle's Python starting) is
  // not waited for past a signal: a Python that hangs there held a Ctrl-C until the second one
  const signalled = new Promise<void>((resolve) => interrupts.onFirst(() => resolve()));
  try {
    const dir = path.join(options.outRoot, newRunId());
    // probe; while the worker probes (and starts warming up for the suite), this thread is idle: git
    // and npm for the fingerprint
    const probing = runner.probe(suite.backends, suite);
    const environment = fingerprint(PROJECT_DIR);
    folder = { dir, environment, backends: {} };
    const probed = await probing;
    // torch's facts come from its probe where it found torch: no second Python importing it
    const checklist = await doctor({ fingerprint: environment, python: suite.backends.includes('torch') ? options.python ?? process.env.DETBENCH_PYTHON ?? 'python3' : null, probed: probed.torch });
    const availability = suite.devices === 'gpu' ? restrictToGpus(probed) : probed;
    folder.backends = availability;
    if (!suite.backends.some((id) => availability[id].available)) {
      const reasons = suite.backends.map((id) => { const a = availability[id]; return a.available ? id : `${id}: ${a.reason}`; });
      throw new UsageError(suite.devices === 'gpu' ? message.noGpuBackendsAvailable(reasons) : message.noBackendsAvailable(reasons));
    }
    for (const id of suite.backends) {
      const a = availability[id];
      hooks.log(a.available ? `backend ${id} ${a.version}: available${a.notes.length ? ` (${a.notes.join('; ')})` : ''}` : `backend ${id}: unavailable — ${a.reason}`);
    }

    // plan
    const whole = makePlan(suite, availability);
    const plan = options.shard ? shardPlan(whole, options.shard) : whole;
    plan.notes.forEach((n) => hooks.log(`note: ${n}`));

    // record: the folder exists before the first run, so a crash leaves a readable partial result
    writer = createFolder(dir, plan, availability, environment, checklist);
    hooks.log(`${plan.runs.length} runs (${suite.repeats} repeats + 1 warm-up per cell) → ${dir}`);

    // run
    let precision: PrecisionOutcome[] | null = null;
    let stopped = interrupts.requested;
    if (!stopped) {
      // the oracle's Python starts (and its inputs are drawn) while the runs' sessions open: it runs after the runs
      oracleWarmup = warmUpOracle(suite, [...new Set(plan.runs.map((r) => r.workload))], options.oracle, probed.torch);
      await Promise.race([Promise.all([runner.prewarm(plan.runs), oracleWarmup?.settle()]), signalled]);
      const shouldStop = () => interrupts.requested;
      if (options.paired) {
        let done = 0;
        const paired = await runPaired(runner, plan, writer, {
          precision: options.paired.precision, budgetMs: options.paired.budgetMs, timeoutMs: suite.timeoutMs, shouldStop,
          onRecord: (r) => hooks.onRecord(r, ++done, Math.max(done, plan.runs.length)),
        });
        stopped = paired.stopped;
        precision = paired.outcomes;
        writer.writeJson('precision.json', { target: options.paired.precision, budgetSec: options.paired.budgetMs / 1000, outcomes: paired.outcomes });
      } else {
        const okDetCells = new Set<string>();
        const onRecord = (r: RunRecord, done: number, all: number) => {
          if (r.status === 'ok' && r.mode === 'det') okDetCells.add(r.cell);
          hooks.onRecord(r, done, all);
        };
        stopped = (await runner.run(plan.runs, writer, { timeoutMs: suite.timeoutMs, onRecord, shouldStop })).stopped;
        if (!stopped && suite.soakMs > 0) {
          hooks.onRunsDone();
          hooks.log(`soak: repeating det runs of ${okDetCells.size} cells for ${(suite.soakMs / 1000).toFixed(0)} s`);
          let n = 0;
          const soaked = await runSoak(runner, plan, writer, { soakMs: suite.soakMs, timeoutMs: suite.timeoutMs, okCells: okDetCells, shouldStop, onRecord: (r) => hooks.onSoakRecord(r, ++n) });
          stopped = soaked.stopped;
          hooks.log(`soak: ${soaked.runs} det runs`);
        }
      }
    }
    hooks.onRunsDone();
    // the float64 oracle of every workload that ran (oracle.json says why when there is none)
    await runOracle(suite, [...new Set(plan.runs.map((r) => r.workload))], writer, { interrupted: stopped || interrupts.requested, enabled: options.oracle, scratch: runner.scratchDir, log: hooks.log, warmup: oracleWarmup, torchProbe: probed.torch });
    mark('oracle');
    // --locate: where disagreeing runs part, op by op (their pairs are run again, ops captured)
    let locate: LocateCost | null = null;
    if (options.locate && !stopped && !interrupts.requested) {
      locate = await locatePhase(runner, dir, { budget: options.locate.budget, cell: null, timeoutMs: suite.timeoutMs, log: hooks.log, shouldStop: () => interrupts.requested });
    }
    const interrupted = stopped || interrupts.requested;
    writer.finishIfOpen({ finishedAt: new Date().toISOString(), runs: writer.written, interrupted });
    if (!interrupted) interrupts.runsFinished(dir);

    // analyze, report
    const results = loadResults(dir);
    const summary = analyze(results, oracleWarmup?.inputsOf);
    writer.writeJson('summary.json', summary);
    mark('analyzed');
    let reportFiles: string[] = [];
    if (options.report) {
      hooks.log('rendering the report…');
      const { renderReport } = await import('../../reports/index.js');
      reportFiles = (await renderReport(dir, {}, { results, summary })).files;
    }
    return { dir, results, summary, reportFiles, precision, locate };
  } finally {
    folder = null; // past this point a second signal has nothing left to create
    oracleWarmup?.stop();
    await runner.close();
    interrupts.uninstall();
  }
}
