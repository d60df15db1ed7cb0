/**
 * detbench — is your training reproducible on this machine and stack, and what does it cost?
 *
 * The command line: commander wiring and printing. Each command reads as its pipeline:
 *
 *   run       flags ─► resolveRunOptions ─► runSession (probe ─► plan ─► run ─► record ─► [locate] ─► analyze ─► report) ─► print
 *   analyze   folder ─► loadResults ─► analyze ─► print
 *   locate    folder ─► locatePhase (re-run disagreeing pairs, ops captured) ─► analyze ─► report ─► print
 *   report    folder ─► renderReport (HTML, Markdown, SVG/PNG charts)
 *   compare   baseline + current ─► compare ─► confirm (re-run flagged cells) ─► expectations ─► print (--save, --junit)
 *   merge     folders ─► mergeResults ─► analyze ─► print
 *   history   folders ─► loadNights ─► buildHistory (step detection) ─► expectations ─► print
 *   publish   folders ─► loadNights ─► buildHistory ─► the site's pages (only those whose inputs changed)
 *
 * --junit writes a JUnit XML report; with GITHUB_ACTIONS=true, run and compare also append their
 * Markdown to $GITHUB_STEP_SUMMARY and print ::error/::warning annotations.
 *
 * Exit codes (errors.ts EXIT): 0 every det cell bitwise stable and every negative control seen;
 * 1 findings; 2 bad input; 3 incomplete (interrupted, killed) or inconclusive; 4 internal error.
 */
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { analyze } from './analysis/analyze.js';
import { cellSubject, exitCodeFor } from './analysis/findings.js';
import { DEFAULT_SLOWDOWN_THRESHOLD, type Finding, type Summary } from './analysis/summary.js';
import { describeTolerance } from './analysis/tolerance.js';
import { hardwareKey, latestBaseline, listBaselines, saveBaseline } from './baselines.js';
import { compare, withFindings, type Comparison } from './analysis/compare.js';
import { buildHistory } from './analysis/history.js';
import { BACKENDS, loadPlugins } from './backends/index.js';
import type { Availability } from './backends/types.js';
import { PRESETS, resolveConfirm, resolveLocateOptions, resolveOutputFile, resolveRunOptions, resolveSlowdownThreshold, type LocateFlags, type RunFlags } from './config.js';
import { fingerprint, PROJECT_DIR } from './env.js';
import { EXIT, UsageError, internalErrorReport, isUsageError, message } from './errors.js';
import { doctor } from './doctor.js';
import { applyExpectations, loadExpectations, type Expectation } from './expectations.js';
import { mergeResults } from './merge.js';
import { loadNights } from './nights.js';
import { CELL_KEY_FIELDS, cellKey, type Mode, type RunRecord } from './protocol.js';
import { AXES, AXIS_IDS } from './axes.js';
import { Runner } from './run/runner.js';
import { checkConfirmDir, confirmComparison } from './run/confirm.js';
import { runSession } from './run/session.js';
import type { EarlySignal } from './run/signals.js';
import { isOwnFolder, loadResults, prepareFolder, readManifest, TOOL_VERSION, writeAtomic } from './store.js';
import { inGitHubActions, writeGitHubOutput } from '../reports/github.js';
import { junitXml } from '../reports/junit.js';
import { comparisonMarkdown, renderMarkdown } from '../reports/markdown.js';
import { locatedText, summaryTable } from '../reports/table.js';
import { comparisonText, doctorText, historyText, locateCostText, precisionText } from '../reports/text.js';
import { locatePhase } from './run/locate.js';
import { WORKLOADS } from '../workloads/index.js';
import { flopsPerRun, formatFlops } from '../workloads/flops.js';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
/** Numbers stay numbers; anything else is passed through so the validator can quote it. */
const num = (s: string): number => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : (s as unknown as number));
const log = (line: string) => process.stderr.write(line + '\n');

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
  return exitCodeFor(summary.findings);
}

/** `--expect FILE`, read and checked before anything runs. */
const expectationsOf = (file: string | undefined): Expectation[] | null => (file === undefined ? null : loadExpectations(file));
const withExpectations = (findings: Finding[], expectations: Expectation[] | null) => (expectations ? applyExpectations(findings, expectations) : findings);

async function runCommand(flags: RunFlags, early: readonly EarlySignal[]): Promise<number> {
  const expectations = expectationsOf(flags.expect);
  const junit = flags.junit === undefined ? null : resolveOutputFile(flags.junit, '--junit');
  const options = resolveRunOptions(flags, os.availableParallelism());
  const progress = progressReporter(!options.json && process.stderr.isTTY === true);
  const outcome = await runSession(options, early, {
    log,
    onRecord: progress.update,
    onSoakRecord: (r, n) => {
      if (!options.json) log(`[soak ${n}] ${r.workload} ${r.backend} ${r.device}: ${r.status}${r.status === 'ok' ? ` ${r.artifact.sha256.slice(0, 12)}` : ''}`);
    },
    onRunsDone: progress.stop,
  });
  const { dir } = outcome;
  // expectations change what is said and the exit code, not summary.json: the analysis stays as it was
  const summary: Summary = { ...outcome.summary, findings: withExpectations(outcome.summary.findings, expectations) };
  if (junit) {
    const cells = summary.cells.map((c) => ({ ...cellSubject(c), verdict: c.verdict, message: c.message, seconds: c.runs.reduce((s, r) => s + r.computeMs, 0) / 1000 }));
    writeAtomic(junit, junitXml(`detbench run ${summary.runId}`, cells, summary.findings, { timestamp: outcome.results.manifest.createdAt, hostname: outcome.results.manifest.environment.hostname }));
  }
  if (inGitHubActions()) writeGitHubOutput(renderMarkdown(outcome.results.manifest, summary, DEFAULT_SLOWDOWN_THRESHOLD), summary.findings, options.json ? process.stderr : process.stdout);
  const html = outcome.reportFiles.find((f) => f.endsWith('report.html'));
  const precisionNote = outcome.precision && options.paired ? '\n' + precisionText(outcome.precision, options.paired.precision) : '';
  const locateNote = outcome.locate ? '\n' + locateCostText(outcome.locate) : '';
  process.stdout.write(
    options.json
      ? JSON.stringify({ resultsDir: dir, report: html ?? null, summary, ...(outcome.locate ? { locateCost: outcome.locate } : {}) }, null, 2) + '\n'
      : summaryTable(summary, dir) + precisionNote + locateNote + (html ? `\nReport: ${html}` : '') + '\n',
  );
  return exitCodeOf(summary);
}

/** One line per run, or a progress bar with ETA on a terminal (started by the first record). */
/** A run in a progress line: workload, backend, mode and its axis values as the cell key writes them (`matmul tfjs-cpu det t1`). */
const runName = (r: RunRecord) => cellKey(r, CELL_KEY_FIELDS.filter((f) => f !== 'device' && f !== 'arm')).replaceAll('|', ' ');

function progressReporter(tty: boolean) {
  if (tty) {
    let bar: cliProgress.SingleBar | null = null;
    return {
      update: (r: RunRecord, done: number, all: number) => {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: 'running |{bar}| {value}/{total} runs | ETA {eta_formatted} | {last}', hideCursor: true, etaBuffer: 20 },
            cliProgress.Presets.shades_classic,
          );
          bar.start(all, 0, { last: '' });
        }
        bar.setTotal(all);
        bar.update(done, { last: `${runName(r)}: ${r.status}` });
      },
      stop: () => {
        bar?.stop();
        bar = null;
      },
    };
  }
  return {
    update: (r: RunRecord, done: number, all: number) => {
      const time = r.status === 'ok' ? ` ${r.computeMs.toFixed(1)} ms` : '';
      process.stderr.write(`[${done}/${all}] ${runName(r)}${r.warmup ? ' warm-up' : ` #${r.repeat}`}: ${r.status}${time}\n`);
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
    process.stdout.write(`${''.padEnd(14)} ${b.info.description}; ${b.info.capabilities}${b.info.processPerMode ? '; runs in a process of its own per mode' : ''}\n`);
  }
  return EXIT.ok;
}

function workloadsCommand(json: boolean): number {
  if (json) {
    const flops = (w: (typeof WORKLOADS)[number]) => Object.fromEntries(PRESETS.map((p) => [p, flopsPerRun(w.build(w.presets[p]))]));
    process.stdout.write(JSON.stringify(WORKLOADS.map((w) => ({ id: w.id, probes: w.probes, tolerance: w.tolerance, presets: w.presets, flopsPerRun: flops(w), negativeControl: w.negativeControl ?? false, gpuOnly: w.gpuOnly ?? false })), null, 2) + '\n');
    return EXIT.ok;
  }
  for (const w of WORKLOADS) {
    const params = Object.entries(w.presets.quick).map(([k, v]) => `${k}=${v}`).join(' ');
    const sizes = PRESETS.map((p) => `${p} ${formatFlops(flopsPerRun(w.build(w.presets[p])))}`).join(', ');
    process.stdout.write(`${w.id.padEnd(20)} ${w.probes}\n${''.padEnd(20)} quick: ${params}; per run: ${sizes}; tolerance ${describeTolerance(w.tolerance)}${w.negativeControl === 'always' ? '; negative control' : w.negativeControl === 'gpu' ? '; negative control on GPUs' : ''}${w.gpuOnly ? '; left out of suites unless named' : ''}\n`);
  }
  return EXIT.ok;
}

interface CompareFlags {
  slowdownThreshold?: number;
  json?: boolean;
  save?: string;
  confirm?: number;
  confirmDir?: string;
  expect?: string;
  junit?: string;
  allowHardwareChange?: boolean;
}

/** compare: every flag checked before anything is read or run; then compare, confirm, expectations, outputs. */
async function compareCommand(baseline: string, current: string, o: CompareFlags): Promise<number> {
  const threshold = resolveSlowdownThreshold(o.slowdownThreshold);
  const reruns = resolveConfirm(o.confirm);
  const expectations = expectationsOf(o.expect);
  const save = o.save === undefined ? null : prepareFolder(o.save, '--save');
  const junit = o.junit === undefined ? null : resolveOutputFile(o.junit, '--junit');
  const allowHardwareChange = o.allowHardwareChange === true;
  let result: Comparison = compare(baseline, current, threshold, { allowHardwareChange });
  if (reruns !== null) {
    const dir = o.confirmDir ?? path.join(current, 'confirm');
    checkConfirmDir(baseline, dir);
    // the default lies inside the current results folder, which may hold a link there to a folder elsewhere
    if (o.confirmDir === undefined) isOwnFolder(dir);
    result = await confirmComparison(result, baseline, current, { reruns, dir: prepareFolder(dir, '--confirm-dir'), slowdownThreshold: threshold, allowHardwareChange, log });
  }
  if (expectations) result = withFindings(result, applyExpectations(result.findings, expectations));
  const json = JSON.stringify(result, null, 2) + '\n';
  const text = comparisonText(result) + '\n';
  if (save) {
    writeAtomic(path.join(save, 'compare.json'), json);
    writeAtomic(path.join(save, 'compare.txt'), text);
  }
  if (junit) writeAtomic(junit, junitXml(`detbench compare ${result.baseline.runId} → ${result.current.runId}`, result.cells, result.findings, { timestamp: new Date().toISOString(), hostname: os.hostname() }));
  if (inGitHubActions()) writeGitHubOutput(comparisonMarkdown(result), result.findings, o.json ? process.stderr : process.stdout);
  process.stdout.write(o.json ? json : text);
  return result.exitCode;
}

/** `detbench locate DIR`: re-runs the folder's disagreeing pairs with ops captured, then analyses and reports it again. */
async function locateCommand(dirArg: string, flags: LocateFlags): Promise<number> {
  const options = resolveLocateOptions(flags);
  const dir = path.resolve(dirArg);
  const timeoutMs = options.timeoutMs ?? readManifest(dir).suite.timeoutMs;
  const runner = new Runner(1);
  let cost;
  try {
    cost = await locatePhase(runner, dir, { budget: options.budget, cell: options.cell, timeoutMs, log, shouldStop: () => false });
  } finally {
    await runner.close();
  }
  const results = loadResults(dir);
  const summary = analyze(results);
  writeAtomic(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  let html: string | undefined;
  if (options.report) {
    const { renderReport } = await import('../reports/index.js');
    html = (await renderReport(dir, {}, { results, summary })).files.find((f) => f.endsWith('report.html'));
  }
  process.stdout.write(options.json ? JSON.stringify({ resultsDir: dir, report: html ?? null, locate: summary.locate, locateCost: cost }, null, 2) + '\n' : `${locatedText(summary)}\n${locateCostText(cost)}${html ? `\nReport: ${html}` : ''}\n`);
  return exitCodeOf(summary);
}

function analyzeCommand(dir: string, json: boolean): number {
  const results = loadResults(path.resolve(dir));
  const summary = analyze(results);
  process.stdout.write(json ? JSON.stringify(summary, null, 2) + '\n' : summaryTable(summary, results.dir) + '\n');
  return exitCodeOf(summary);
}

/**
 * Runs one command and returns its exit code. `early`: signals that reached the process before it was
 * ready to handle them (bin/detbench.mjs keeps them); `run` handles them as if they came now.
 */
export async function main(argv: string[], early: readonly EarlySignal[] = []): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('detbench')
    .description('Runs identical seeded workloads repeatedly on every available backend, with determinism on and off, and compares the results bitwise.')
    .version(TOOL_VERSION)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'detbench: ')) });

  const run = program
    .command('run')
    .description('run a suite and write results/<run-id>/')
    .option('--suite <quick|standard|noise|acceptance|FILE>', 'built-in suite or a YAML/JSON suite file', 'quick')
    .option('--backends <list>', 'comma-separated backend ids (default: every known backend)', list)
    .option('--workloads <list>', 'comma-separated workload ids (default: all)', list)
    .option('--repeats <n>', 'counted runs per cell (≥ 2)', num)
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
    .option('--allow-slow', 'run CPU cells of the gpu preset too (planned unsupported otherwise: TFLOPs per run)')
    .option('--no-oracle', 'skip the float64 oracle (torch in float64 after the suite; also DETBENCH_ORACLE=off)')
    .option('--shard <I/N>', 'run only the I-th of N deterministic slices of the plan (fleet runs; merge them with `detbench merge`)')
    .option('--junit <file>', 'also write a JUnit XML report: a testcase per cell, findings as failures')
    .option('--expect <file>', 'known findings (YAML: cell pattern, expected verdict, reason, expiry) become notes')
    .option('--locate', 'after the suite, re-run every pair of disagreeing runs with each op\'s output captured and name the first op where they part (costs two runs per pair)')
    .option('--locate-budget <budget>', 'pairs of backends: an op differs only beyond this (4ulp, or a relative L2 such as 1e-6; 0: any bit; default: the workload\'s tolerance)')
    .action(async (flags: RunFlags) => {
      code = await runCommand(flags, early);
    });
  // each invariance axis's values (harness/axes.ts): numbers where they read as numbers, validated by config.ts
  for (const axis of AXIS_IDS) run.option(`${AXES[axis].flag} <list>`, AXES[axis].help, (s: string) => list(s).map(num));

  program
    .command('locate <dir>')
    .description('where disagreeing runs of a results folder part: re-run each pair with every op\'s output captured, name the first op that differs, and write locate.json, summary.json and the report')
    .option('--cell <id>', 'only this cell (e.g. "mlp-train|tfjs-wasm|cpu|det|t1"), including a backend within tolerance of the reference')
    .option('--locate-budget <budget>', 'pairs of backends: an op differs only beyond this (4ulp, or a relative L2 such as 1e-6; 0: any bit; default: the workload\'s tolerance)')
    .option('--timeout <sec>', 'per-run timeout in seconds (default: the suite\'s; located runs get 4 times it)', num)
    .option('--no-report', 'skip rendering report.html, report.md and the charts')
    .option('--json', 'print the located pairs and the cost as JSON')
    .action(async (dir: string, flags: LocateFlags) => {
      code = await locateCommand(dir, flags);
    });

  program.command('backends').description('list backends, whether each is available here and why not').option('--json').option('--python <path>', 'the Python (with torch) for the torch backend').action(async (o: { json?: boolean; python?: string }) => {
    if (o.python) process.env.DETBENCH_PYTHON = o.python;
    code = await backendsCommand(!!o.json);
  });
  program
    .command('doctor')
    .description('check this host and stack against the known causes of irreproducible training (exit 1 when a check fails)')
    .option('--json')
    .option('--python <path>', 'the Python whose torch to check (default $DETBENCH_PYTHON or python3)')
    .action(async (o: { json?: boolean; python?: string }) => {
      const report = await doctor({ fingerprint: fingerprint(PROJECT_DIR), python: o.python ?? process.env.DETBENCH_PYTHON ?? 'python3', alerts: true });
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : doctorText(report) + '\n');
      code = report.ok ? EXIT.ok : EXIT.findings;
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
      const slowdownThreshold = resolveSlowdownThreshold(o.slowdownThreshold);
      // vega, vega-lite and resvg load only for the commands that draw
      const { parseFormats, renderReport } = await import('../reports/index.js');
      const formats = o.format ? parseFormats(o.format) : undefined;
      const out = o.out === undefined ? undefined : prepareFolder(o.out, '--out');
      const { summary, files } = await renderReport(path.resolve(dir), { out, formats, slowdownThreshold });
      files.forEach((f) => process.stdout.write(`${f}\n`));
      code = summary.complete ? EXIT.ok : EXIT.incomplete;
    });

  program
    .command('compare <baseline> <current>')
    .description('compare a results folder (or saved baseline) with another: exit 0 no regression, 1 regression, 2 bad input, 3 inconclusive')
    .option('--slowdown-threshold <ratio>', 'a time ratio counts as slower only when its whole 95% CI is above this (default 1.25)', num)
    .option('--json', 'print the comparison as JSON')
    .option('--save <dir>', 'also write compare.json and compare.txt into this folder')
    .option('--confirm <n>', 're-run the flagged cells N times in fresh processes; a finding stands only if it repeats', num)
    .option('--confirm-dir <dir>', 'where the re-runs write their results (default CURRENT/confirm; never the baseline)')
    .option('--expect <file>', 'known findings (YAML: cell pattern, expected verdict, reason, expiry) become notes')
    .option('--junit <file>', 'also write a JUnit XML report: a testcase per cell, findings as failures')
    .option('--allow-hardware-change', 'compare with a baseline of other hardware instead of refusing it')
    .action(async (baseline: string, current: string, o: CompareFlags) => {
      code = await compareCommand(path.resolve(baseline), path.resolve(current), o);
    });

  program
    .command('history <dirs...>')
    .description('the nights of results folders and baseline stores: where each timing, stability and result stepped (exit 1 when the latest night is past a failing step)')
    .option('--slowdown-threshold <ratio>', 'a step slower than this fails (default 1.25)', num)
    .option('--expect <file>', 'known findings (YAML: cell pattern, expected verdict, reason, expiry) become notes')
    .option('--json', 'print the history as JSON')
    .action((dirs: string[], o: { slowdownThreshold?: number; expect?: string; json?: boolean }) => {
      const threshold = resolveSlowdownThreshold(o.slowdownThreshold);
      const expectations = expectationsOf(o.expect);
      const built = buildHistory(loadNights(dirs.map((d) => path.resolve(d))), threshold);
      const findings = withExpectations(built.findings, expectations);
      const history = { ...built, findings, exitCode: exitCodeFor(findings) };
      process.stdout.write(o.json ? JSON.stringify(history, null, 2) + '\n' : historyText(history) + '\n');
      code = history.exitCode;
    });

  program
    .command('publish <dirs...>')
    .description('a static site of the history of results folders and baseline stores: latest verdicts, a page per cell and per machine (incremental)')
    .requiredOption('--out <dir>', 'the site folder (new, empty, or an earlier publish)')
    .option('--slowdown-threshold <ratio>', 'a step slower than this fails (default 1.25)', num)
    .option('--json', 'print what was published as JSON')
    .action(async (dirs: string[], o: { out: string; slowdownThreshold?: number; json?: boolean }) => {
      const threshold = resolveSlowdownThreshold(o.slowdownThreshold);
      const site = prepareFolder(o.out, '--out');
      // vega, vega-lite and resvg load only for the commands that draw
      const { publishSite } = await import('../reports/publish/site.js');
      const r = await publishSite(dirs.map((d) => path.resolve(d)), site, threshold, log);
      const { history: _history, ...outcome } = r;
      process.stdout.write(o.json
        ? JSON.stringify({ ...outcome, index: path.join(site, 'index.html') }, null, 2) + '\n'
        : `${path.join(site, 'index.html')}\n${r.nights} night(s) of ${r.machines} machine(s): ${r.written.length} of ${r.pages} page(s) written, ${r.removed.length} removed, ${r.nightsRead} night(s) read (${(r.seconds.read + r.seconds.history + r.seconds.render).toFixed(1)} s)\n`);
      code = EXIT.ok;
    });

  program
    .command('merge <dirs...>')
    .description('merge results folders from several machines or shards into one new folder, then analyse it')
    .option('--out <dir>', 'folder that receives the merged results folder', 'results')
    .option('--json', 'print the summary as JSON')
    .action((dirs: string[], o: { out: string; json?: boolean }) => {
      const merged = mergeResults(dirs.map((d) => path.resolve(d)), prepareFolder(o.out, '--out'));
      const summary = analyze(loadResults(merged));
      writeAtomic(path.join(merged, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
      process.stdout.write(o.json ? JSON.stringify({ resultsDir: merged, summary }, null, 2) + '\n' : summaryTable(summary, merged) + '\n');
      code = exitCodeOf(summary);
    });

  const baseline = program.command('baseline').description('save and find baselines (by summary hash, per hardware) for nightly comparisons');
  const baselineDir = (o: { dir?: string }) => path.resolve(o.dir ?? path.join('results', 'baselines'));
  const baselineDirToWrite = (o: { dir?: string }) => prepareFolder(o.dir ?? path.join('results', 'baselines'), '--dir');
  baseline
    .command('save <results>')
    .description('store a finished run as a baseline of this hardware')
    .option('--dir <dir>', 'baselines folder (default results/baselines)')
    .action((results: string, o: { dir?: string }) => {
      const { entry, created } = saveBaseline(path.resolve(results), baselineDirToWrite(o));
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
    // plugins first: a bad DETBENCH_PLUGINS is bad input for every command
    await loadPlugins();
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (isUsageError(err)) {
      // one line, whatever a path or name given to detbench holds: a line break is shown as \n
      process.stderr.write(`detbench: ${err.message.replace(/\r?\n|\r/g, '\\n')}\n`);
      return EXIT.usage;
    }
    process.stderr.write(internalErrorReport(err));
    return EXIT.internal;
  }
  return code;
}

/**
 * The process's end: main's exit code, or one line and exit 4 for a bug (the stack with
 * DETBENCH_DEBUG=1) — for anything that escapes main too (an error thrown in a callback).
 */
export async function run(argv: string[], early: readonly EarlySignal[] = []): Promise<never> {
  const crash = (err: unknown) => {
    process.stderr.write(internalErrorReport(err));
    process.exit(EXIT.internal);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  const code = await main(argv, early);
  // stdout may be a pipe still draining (--json): exit once it is written
  process.exitCode = code;
  await new Promise<void>((resolve) => (process.stdout.writableNeedDrain ? process.stdout.once('drain', resolve) : resolve()));
  process.exit(code);
}
