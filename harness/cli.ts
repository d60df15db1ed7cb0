/**
 * detbench — is your training reproducible on this machine and stack, and what does it cost?
 *
 *   suite file / flags ──► plan ──► run ──► record ──► analyze ──► summary (and exit code)
 *
 * Exit codes: 0 every det cell bitwise stable and every negative control seen; 1 findings
 * (instability, a silent negative control, failed runs, cross-backend drift beyond tolerance);
 * 2 bad input; 3 incomplete results (interrupted or killed).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { analyze, type Summary } from './analysis/analyze.js';
import { hardwareKey, latestBaseline, listBaselines, saveBaseline } from './baselines.js';
import { compare, comparisonText } from './analysis/compare.js';
import { BACKENDS, loadPlugins } from './backends/index.js';
import type { Availability } from './backends/types.js';
import { loadSuite, resolveSuite, type ResolvedSuite, type SuiteInput } from './config.js';
import { fingerprint, fingerprintWarnings } from './env.js';
import { EXIT, UsageError, message } from './errors.js';
import { mergeResults } from './merge.js';
import { precisionText, runPaired } from './run/precision.js';
import { parseDuration, runSoak } from './run/soak.js';
import { makePlan, parseShard, restrictToGpus, shardPlan } from './plan.js';
import type { Mode, RunRecord } from './protocol.js';
import { Runner } from './run/runner.js';
import { mark } from './run/timeline.js';
import { warmAnalysisLibraries } from './run/warm.js';
import { ResultsWriter, SCHEMA_VERSION, loadResults, newRunId, writeAtomic, type Manifest } from './store.js';
import { summaryTable } from '../reports/table.js';
import { WORKLOADS } from '../workloads/index.js';

const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = '0.1.0';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
/** Numbers stay numbers; anything else is passed through so the validator can quote it. */
const num = (s: string): number => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : (s as unknown as number));

/** Probes in a worker thread of a short-lived runner (backends' libraries never load in this thread). */
async function probeAll(ids: string[]): Promise<Record<string, Availability>> {
  const runner = new Runner(1);
  try {
    return await runner.probe(ids);
  } finally {
    await runner.close();
  }
}

function exitCodeOf(summary: Summary): number {
  if (!summary.complete) return EXIT.incomplete;
  return summary.findings.length ? EXIT.findings : EXIT.ok;
}

interface RunFlags {
  suite: string;
  backends?: string[];
  workloads?: string[];
  repeats?: number;
  threads?: number[];
  modes?: Mode[];
  seed?: number;
  timeout?: number;
  out: string;
  json?: boolean;
  checkOnly?: boolean;
  concurrency?: number;
  /** commander's negation of --no-report */
  report: boolean;
  shard?: string;
  trace?: boolean;
  precision?: number;
  budget?: number;
  python?: string;
  duration?: string;
}

async function runCommand(flags: RunFlags): Promise<number> {
  // before any worker starts: workers and the torch backend's subprocesses inherit it
  if (flags.python) process.env.DETBENCH_PYTHON = flags.python;
  // plan
  const { input, source } = loadSuite(flags.suite);
  const overrides: SuiteInput = {
    backends: flags.backends, workloads: flags.workloads, repeats: flags.repeats,
    threads: flags.threads, modes: flags.modes, seed: flags.seed, timeoutSec: flags.timeout, trace: flags.trace,
    soakSec: flags.duration === undefined ? undefined : parseDuration(flags.duration),
  };
  const suite = resolveSuite(input, overrides, source);
  if (flags.precision !== undefined && !(typeof flags.precision === 'number' && flags.precision > 0 && flags.precision < 1)) throw new UsageError(message.precision(flags.precision));
  if (flags.budget !== undefined && !(typeof flags.budget === 'number' && flags.budget > 0)) throw new UsageError(message.budget(flags.budget));
  const concurrency = flags.concurrency ?? (flags.checkOnly ? Math.max(1, (await import('node:os')).availableParallelism()) : 1);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(message.concurrency(flags.concurrency));
  const log = (line: string) => process.stderr.write(line + '\n');

  const runner = new Runner(concurrency);
  try {
    return await runSuite(runner, suite, flags, concurrency, log);
  } finally {
    await runner.close();
  }
}

async function runSuite(runner: Runner, suite: ResolvedSuite, flags: RunFlags, concurrency: number, log: (line: string) => void): Promise<number> {
  const probing = runner.probe(suite.backends, suite);
  // while the worker probes, this thread is idle: git and npm for the fingerprint, the analysis's libraries
  const environment = fingerprint(PROJECT_DIR);
  warmAnalysisLibraries();
  const probed = await probing;
  const availability = suite.devices === 'gpu' ? restrictToGpus(probed) : probed;
  const available = suite.backends.filter((id) => availability[id].available);
  if (available.length === 0) {
    const reasons = suite.backends.map((id) => { const a = availability[id]; return a.available ? id : `${id}: ${a.reason}`; });
    throw new UsageError(suite.devices === 'gpu' ? message.noGpuBackendsAvailable(reasons) : message.noBackendsAvailable(reasons));
  }
  for (const id of suite.backends) {
    const a = availability[id];
    log(a.available ? `backend ${id} ${a.version}: available${a.notes.length ? ` (${a.notes.join('; ')})` : ''}` : `backend ${id}: unavailable — ${a.reason}`);
  }
  const shard = flags.shard ? parseShard(flags.shard) : null;
  const plan = shard ? shardPlan(makePlan(suite, availability), shard) : makePlan(suite, availability);
  plan.notes.forEach((n) => log(`note: ${n}`));

  // record: the folder exists before the first run, so a crash leaves a readable partial result
  const dir = path.resolve(flags.out, newRunId());
  const manifest: Manifest = {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'detbench', version: VERSION },
    runId: path.basename(dir),
    createdAt: new Date().toISOString(),
    suite,
    shard,
    plannedRuns: plan.runs.length,
    cells: plan.cells,
    backends: availability,
    environment,
    warnings: [...fingerprintWarnings(environment), ...plan.notes, ...(concurrency > 1 ? [`concurrency ${concurrency}: timings are not comparable (determinism check only)`] : [])],
  };
  const writer = ResultsWriter.create(dir, manifest);
  log(`${plan.runs.length} runs (${suite.repeats} repeats + 1 warm-up per cell) → ${dir}`);

  // run
  await runner.prewarm(plan.runs);
  let stop = false;
  const onSignal = () => {
    if (stop) process.exit(EXIT.incomplete);
    stop = true;
    log('interrupt: finishing the current run, then stopping (again to quit at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = progressReporter(plan.runs.length, !flags.json && process.stderr.isTTY === true);
  let stopped: boolean;
  let precisionNote = '';
  if (flags.precision !== undefined) {
    let done = 0;
    const paired = await runPaired(runner, plan, writer, {
      precision: flags.precision,
      budgetMs: (flags.budget ?? 300) * 1000,
      timeoutMs: suite.timeoutMs,
      shouldStop: () => stop,
      onRecord: (r) => progress.update(r, ++done, Math.max(done, plan.runs.length)),
    });
    stopped = paired.stopped;
    writer.writeJson('precision.json', { target: flags.precision, budgetSec: flags.budget ?? 300, outcomes: paired.outcomes });
    precisionNote = '\n' + precisionText(paired.outcomes, flags.precision);
  } else {
    const okDetCells = new Set<string>();
    const onRecord = (r: RunRecord, done: number, all: number) => {
      if (r.status === 'ok' && r.mode === 'det') okDetCells.add(r.cell);
      progress.update(r, done, all);
    };
    stopped = (await runner.run(plan.runs, writer, { timeoutMs: suite.timeoutMs, onRecord, shouldStop: () => stop })).stopped;
    if (!stopped && suite.soakMs > 0) {
      progress.stop();
      log(`soak: repeating det runs of ${okDetCells.size} cells for ${(suite.soakMs / 1000).toFixed(0)} s`);
      let soakRuns = 0;
      const soaked = await runSoak(runner, plan, writer, {
        soakMs: suite.soakMs, timeoutMs: suite.timeoutMs, okCells: okDetCells, shouldStop: () => stop,
        onRecord: (r) => { soakRuns++; if (!flags.json) log(`[soak ${soakRuns}] ${r.workload} ${r.backend} ${r.device}: ${r.status}${r.status === 'ok' ? ` ${r.artifact.sha256.slice(0, 12)}` : ''}`); },
      });
      stopped = soaked.stopped;
      log(`soak: ${soaked.runs} det runs`);
    }
  }
  progress.stop();
  writer.finish({ finishedAt: new Date().toISOString(), runs: writer.written, interrupted: stopped });

  // analyze, report
  const results = loadResults(dir);
  const summary = analyze(results);
  writer.writeJson('summary.json', summary);
  mark('analyzed');
  let reportFiles: string[] = [];
  if (flags.report) {
    log('rendering the report…');
    const { renderReport } = await import('../reports/index.js');
    reportFiles = (await renderReport(dir, {}, { results, summary })).files;
  }
  const html = reportFiles.find((f) => f.endsWith('report.html'));
  process.stdout.write(
    flags.json
      ? JSON.stringify({ resultsDir: dir, report: html ?? null, summary }, null, 2) + '\n'
      : summaryTable(summary, dir) + precisionNote + (html ? `\nReport: ${html}` : '') + '\n',
  );
  return exitCodeOf(summary);
}

function progressReporter(total: number, tty: boolean) {
  if (tty) {
    const bar = new cliProgress.SingleBar(
      { format: 'running |{bar}| {value}/{total} runs | ETA {eta_formatted} | {last}', hideCursor: true, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { last: '' });
    return {
      update: (r: RunRecord, done: number) => bar.update(done, { last: `${r.workload} ${r.backend} ${r.mode} t${r.threads}: ${r.status}` }),
      stop: () => bar.stop(),
    };
  }
  return {
    update: (r: RunRecord, done: number, all: number) => {
      const time = r.status === 'ok' ? ` ${r.computeMs.toFixed(1)} ms` : '';
      process.stderr.write(`[${done}/${all}] ${r.workload} ${r.backend} ${r.mode} t${r.threads}${r.warmup ? ' warm-up' : ` #${r.repeat}`}: ${r.status}${time}\n`);
    },
    stop: () => {},
  };
}

async function backendsCommand(json: boolean): Promise<number> {
  const availability = await probeAll(BACKENDS.map((b) => b.info.id));
  if (json) {
    process.stdout.write(JSON.stringify(BACKENDS.map((b) => ({ ...b.info, availability: availability[b.info.id] })), null, 2) + '\n');
    return EXIT.ok;
  }
  for (const b of BACKENDS) {
    const a = availability[b.info.id];
    process.stdout.write(`${b.info.id.padEnd(14)} ${a.available ? `available  ${a.version}  devices: ${a.devices.join(', ')}${a.notes.length ? `  (${a.notes.join('; ')})` : ''}` : `unavailable  ${a.reason}`}\n`);
    process.stdout.write(`${''.padEnd(14)} ${b.info.description}; ${b.info.capabilities}${b.info.ownProcess ? '; runs in a process of its own per mode' : ''}\n`);
  }
  return EXIT.ok;
}

function workloadsCommand(json: boolean): number {
  if (json) {
    process.stdout.write(JSON.stringify(WORKLOADS.map((w) => ({ id: w.id, probes: w.probes, tolerance: w.tolerance, presets: w.presets, negativeControl: w.negativeControl ?? false, gpuOnly: w.gpuOnly ?? false })), null, 2) + '\n');
    return EXIT.ok;
  }
  for (const w of WORKLOADS) {
    const params = Object.entries(w.presets.quick).map(([k, v]) => `${k}=${v}`).join(' ');
    process.stdout.write(`${w.id.padEnd(20)} ${w.probes}\n${''.padEnd(20)} quick: ${params}; tolerance relL2 ≤ ${w.tolerance.relL2}${w.negativeControl === 'always' ? '; negative control' : w.negativeControl === 'gpu' ? '; negative control on GPUs' : ''}${w.gpuOnly ? '; left out of suites unless named' : ''}\n`);
  }
  return EXIT.ok;
}

function analyzeCommand(dir: string, json: boolean): number {
  const results = loadResults(path.resolve(dir));
  const summary = analyze(results);
  process.stdout.write(json ? JSON.stringify(summary, null, 2) + '\n' : summaryTable(summary, results.dir) + '\n');
  return exitCodeOf(summary);
}

export async function main(argv: string[]): Promise<number> {
  await loadPlugins();
  let code: number = EXIT.ok;
  const program = new Command('detbench')
    .description('Runs identical seeded workloads repeatedly on every available backend, with determinism on and off, and compares the results bitwise.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'detbench: ')) });

  program
    .command('run')
    .description('run a suite and write results/<run-id>/')
    .option('--suite <quick|standard|noise|acceptance|FILE>', 'built-in suite or a YAML/JSON suite file', 'quick')
    .option('--backends <list>', 'comma-separated backend ids (default: every known backend)', list)
    .option('--workloads <list>', 'comma-separated workload ids (default: all)', list)
    .option('--repeats <n>', 'counted runs per cell (≥ 2)', num)
    .option('--threads <list>', 'thread counts, e.g. 1,2', (s: string) => list(s).map(num))
    .addOption(new Option('--modes <list>', 'det, nondet or both').argParser((s: string) => list(s) as Mode[]))
    .option('--seed <n>', 'seed of every generated input', num)
    .option('--timeout <sec>', 'per-run timeout in seconds', num)
    .option('--out <dir>', 'folder that receives the results folder', 'results')
    .option('--check-only', 'determinism checks only: run on every core at once (timings not comparable)')
    .option('--concurrency <n>', 'runs in flight at once (default 1, or the core count with --check-only)', num)
    .option('--json', 'print the summary as JSON on stdout')
    .option('--no-report', 'skip rendering report.html, report.md and the charts')
    .option('--precision <fraction>', 'paired det/nondet pairs until the slowdown CI half-width is within this fraction (e.g. 0.02), or the budget is spent', num)
    .option('--budget <sec>', 'time budget for --precision, all cells together (default 300)', num)
    .option('--python <path>', 'the Python (with torch) for the torch backend (default $DETBENCH_PYTHON or python3)')
    .option('--duration <time>', 'soak: after the suite, repeat det runs of every det cell for this long (e.g. 10m) and flag any change of bits')
    .option('--trace', 'record the weights after every training step: first divergent step and divergence growth')
    .option('--shard <I/N>', 'run only the I-th of N deterministic slices of the plan (fleet runs; merge them with `detbench merge`)')
    .action(async (flags: RunFlags) => {
      code = await runCommand(flags);
    });

  program.command('backends').description('list backends, whether each is available here and why not').option('--json').option('--python <path>', 'the Python (with torch) for the torch backend').action(async (o: { json?: boolean; python?: string }) => {
    if (o.python) process.env.DETBENCH_PYTHON = o.python;
    code = await backendsCommand(!!o.json);
  });
  program.command('workloads').description('list workloads and what nondeterminism each probes').option('--json').action((o: { json?: boolean }) => {
    code = workloadsCommand(!!o.json);
  });
  program.command('analyze <dir>').description('analyse a results folder again (complete or not) and print its summary').option('--json').action((dir: string, o: { json?: boolean }) => {
    code = analyzeCommand(dir, !!o.json);
  });

  program
    .command('report <dir>')
    .description('render report.html, report.md, summary.json and the charts (SVG, PNG) of a results folder')
    .option('--out <dir>', 'where to write the report (default: the results folder)')
    .option('--format <list>', 'comma-separated: html, md, json, png (default all)', list)
    .option('--slowdown-threshold <ratio>', 'det/nondet time ratio counted as "slower" (default 1.25)', num)
    .action(async (dir: string, o: { out?: string; format?: string[]; slowdownThreshold?: number }) => {
      // vega, vega-lite and resvg load only for the commands that draw
      const { parseFormats, renderReport } = await import('../reports/index.js');
      const formats = o.format ? parseFormats(o.format) : undefined;
      const { summary, files } = await renderReport(path.resolve(dir), { out: o.out, formats, slowdownThreshold: o.slowdownThreshold });
      files.forEach((f) => process.stdout.write(`${f}\n`));
      code = summary.complete ? EXIT.ok : EXIT.incomplete;
    });

  program
    .command('compare <baseline> <current>')
    .description('compare a results folder (or saved baseline) with another: exit 0 no regression, 1 regression, 2 bad input, 3 inconclusive')
    .option('--slowdown-threshold <ratio>', 'a time ratio counts as slower only when its whole 95% CI is above this (default 1.25)', num)
    .option('--json', 'print the comparison as JSON')
    .option('--save <dir>', 'also write compare.json and compare.txt into this folder')
    .action((baseline: string, current: string, o: { slowdownThreshold?: number; json?: boolean; save?: string }) => {
      const result = compare(path.resolve(baseline), path.resolve(current), o.slowdownThreshold ?? 1.25);
      const json = JSON.stringify(result, null, 2) + '\n';
      const text = comparisonText(result) + '\n';
      if (o.save) {
        writeAtomic(path.join(o.save, 'compare.json'), json);
        writeAtomic(path.join(o.save, 'compare.txt'), text);
      }
      process.stdout.write(o.json ? json : text);
      code = result.exitCode;
    });

  program
    .command('merge <dirs...>')
    .description('merge results folders from several machines or shards into one new folder, then analyse it')
    .option('--out <dir>', 'folder that receives the merged results folder', 'results')
    .option('--json', 'print the summary as JSON')
    .action((dirs: string[], o: { out: string; json?: boolean }) => {
      const merged = mergeResults(dirs.map((d) => path.resolve(d)), o.out);
      const summary = analyze(loadResults(merged));
      writeAtomic(path.join(merged, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
      process.stdout.write(o.json ? JSON.stringify({ resultsDir: merged, summary }, null, 2) + '\n' : summaryTable(summary, merged) + '\n');
      code = exitCodeOf(summary);
    });

  const baseline = program.command('baseline').description('save and find baselines (by summary hash, per hardware) for nightly comparisons');
  const baselineDir = (o: { dir?: string }) => path.resolve(o.dir ?? path.join('results', 'baselines'));
  baseline
    .command('save <results>')
    .description('store a finished run as a baseline of this hardware')
    .option('--dir <dir>', 'baselines folder (default results/baselines)')
    .action((results: string, o: { dir?: string }) => {
      const { entry, created } = saveBaseline(path.resolve(results), baselineDir(o));
      process.stdout.write(`${created ? 'saved' : 'already saved'}: ${entry.dir}\n`);
    });
  baseline
    .command('list')
    .description('list saved baselines, oldest first')
    .option('--dir <dir>', 'baselines folder (default results/baselines)')
    .option('--json')
    .action((o: { dir?: string; json?: boolean }) => {
      const entries = listBaselines(baselineDir(o));
      if (o.json) process.stdout.write(JSON.stringify(entries, null, 2) + '\n');
      else for (const e of entries) process.stdout.write(`${e.savedAt}  ${e.hardware}  ${e.hash}  run ${e.runId}  git ${e.gitCommit ?? '-'}\n    ${e.dir}\n`);
    });
  baseline
    .command('latest')
    .description("print the path of this machine's newest baseline (exit 2 when there is none)")
    .option('--dir <dir>', 'baselines folder (default results/baselines)')
    .action((o: { dir?: string }) => {
      const hardware = hardwareKey(fingerprint(PROJECT_DIR));
      const entry = latestBaseline(baselineDir(o), hardware);
      if (!entry) throw new UsageError(message.noBaseline(baselineDir(o), hardware));
      process.stdout.write(`${entry.dir}\n`);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof UsageError) {
      process.stderr.write(`detbench: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
  return code;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`detbench: internal error: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
