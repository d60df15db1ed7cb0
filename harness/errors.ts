/**
 * Every message a user can get for bad input lives here and says the fix. Tests import these
 * functions instead of copying their text.
 */

/** Bad input: the CLI prints the message on one line and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Whether `err` is a UsageError, by its name: a plugin outside the project may throw one from its own
 * copy of this module (the sources through tsx, while detbench runs compiled: run/compiled.mjs).
 */
export const isUsageError = (err: unknown): err is UsageError => err instanceof Error && err.name === 'UsageError';

/**
 * 0 clean · 1 findings · 2 bad input · 3 incomplete or inconclusive · 4 internal error (a bug in
 * detbench or in a plugin: never a verdict, so a nightly job must not read it as a regression).
 */
export const EXIT = { ok: 0, findings: 1, usage: 2, incomplete: 3, internal: 4 } as const;

/**
 * What the CLI prints for an exception nobody expected (exit 4): one line, and the stack only when
 * DETBENCH_DEBUG=1, so a user sees what to report instead of a wall of frames.
 */
export function internalErrorReport(err: unknown, debug = process.env.DETBENCH_DEBUG === '1'): string {
  const what = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  const stack = debug && err instanceof Error && err.stack ? `${err.stack}\n` : '';
  return `detbench: ${message.internalError(what)}\n${stack}`;
}

const list = (xs: readonly string[]) => xs.join(', ');
/** A value as the user wrote it: JSON, but Infinity and NaN (a suite's `.inf`, a flag's 1e999) as themselves, not as null. */
const shown = (x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : JSON.stringify(x));
/** Every message is one line, whatever a damaged file put into it. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
const BASELINE_FIX = 'remove this baseline folder and save it again with `detbench baseline save RESULTS_DIR`';
const DAMAGED = 'the folder was damaged or edited after detbench wrote it: use an intact copy, or run the suite again';

export const message = {
  unknownBackend: (id: string, known: readonly string[]) => `unknown backend ${JSON.stringify(id)}: choose from ${list(known)} (see \`detbench backends\`)`,
  unknownWorkload: (id: string, known: readonly string[]) => `unknown workload ${JSON.stringify(id)}: choose from ${list(known)} (see \`detbench workloads\`)`,
  repeats: (got: unknown, max: number) => `\`repeats\` must be a whole number from 2 to ${max} (to check one cell for longer, soak with --duration), got ${shown(got)}`,
  /** An invariance axis's suite field or flag (harness/axes.ts says what its values look like). */
  axisValues: (field: string, expected: string, got: unknown) => `\`${field}\` must be a non-empty list of ${expected}, got ${JSON.stringify(got)}`,
  seed: (got: unknown) => `\`seed\` must be a whole number from 0 to 9007199254740991 (2^53 − 1, the largest a JSON number holds exactly), got ${JSON.stringify(got)}`,
  suiteName: (got: unknown) => `suite field \`name\` must be a non-empty string, got ${JSON.stringify(got)}`,
  suiteParams: (got: unknown) => `suite field \`params\` must map workload ids to their size parameters (e.g. params: { matmul: { m: 512 } }), got ${JSON.stringify(got)}`,
  suiteParamsOf: (id: string, got: unknown) => `suite field \`params.${id}\` must map parameter names to whole numbers (e.g. { m: 512 }), got ${JSON.stringify(got)}`,
  emptyList: (field: string, known: readonly string[]) => `\`${field}\` names nothing: give at least one of ${list(known)}`,
  timeout: (got: unknown, min: number, max: number) =>
    `\`timeoutSec\` (--timeout) must be a number of seconds per run from ${min} to ${max} (24.8 days, the longest timer Node.js keeps), got ${shown(got)}`,
  modes: (got: unknown) => `\`modes\` must be a non-empty list of det and nondet, got ${JSON.stringify(got)}`,
  preset: (got: unknown) => `\`preset\` must be quick, standard or gpu, got ${JSON.stringify(got)}`,
  suiteNotFound: (path: string) => `suite file ${path} does not exist: pass quick, standard, noise, acceptance or the path of a YAML or JSON suite file`,
  suiteParse: (path: string, why: string) => `suite file ${path} is not valid YAML or JSON: ${why}`,
  suiteShape: (path: string) => `suite file ${path} must hold a mapping of fields (name, workloads, backends, repeats, …)`,
  suiteUnknownField: (field: string, known: readonly string[]) => `suite field \`${field}\` is not known: use ${list(known)}`,
  suiteList: (field: string) => `suite field \`${field}\` must be a list of names`,
  workloadParam: (workload: string, param: string, known: readonly string[]) =>
    `suite field \`params.${workload}.${param}\` is not a parameter of ${workload}: use ${list(known)}`,
  workloadParamValue: (workload: string, param: string, got: unknown) =>
    `suite field \`params.${workload}.${param}\` must be a whole number ≥ 1, got ${JSON.stringify(got)}`,
  noBackendsAvailable: (reasons: string[]) => `no requested backend is available here: ${reasons.join('; ')}`,
  noGpuBackendsAvailable: (reasons: string[]) =>
    `this suite runs on GPUs, and no GPU backend is available here: ${reasons.join('; ')}. On a GPU host, check the driver (nvidia-smi) and the reasons above; to test the CPU backends, run --suite quick`,
  devices: (got: unknown) => `suite field \`devices\` must be all or gpu, got ${JSON.stringify(got)}`,
  soak: (got: unknown) => `\`--duration\` must be a length of time such as 90s, 10m or 1h (or suite field \`soakSec\`, seconds ≥ 0), got ${shown(got)}`,
  outExists: (dir: string) => `results folder ${dir} already exists: choose another --out or remove it (results are never overwritten)`,
  resultsMissing: (dir: string) => `${dir} is not a detbench results folder: it has no manifest.json (pass a folder written by \`detbench run\`)`,
  resultsSchema: (dir: string, got: unknown, want: number) =>
    `${dir} has results schema version ${JSON.stringify(got)}, this detbench reads version ${want}: use the detbench version that wrote it`,
  summaryVersion: (file: string, got: unknown, want: number) =>
    `${file} has summary version ${JSON.stringify(got) ?? 'none'} and this detbench reads version ${want}; the folder has no runs to analyse again (a saved baseline keeps only its summary): save it again from its results folder (\`source\` in its baseline.json) with \`detbench baseline save RESULTS_DIR\`, or compare with the detbench version that saved it`,
  resultsCorrupt: (file: string, why: string) => `${file} cannot be read: ${oneLine(why)}; ${DAMAGED}`,
  resultsInvalid: (file: string, field: string, problem: string) => `${file}: ${field ? `\`${field}\` ` : ''}${problem}; ${DAMAGED}`,
  resultsInconsistent: (file: string, what: string) => `${file}: ${what}; ${DAMAGED}`,
  notRegularFile: (file: string, kind: string) =>
    `${file} is ${kind}: a results folder holds plain files and folders only, never links to files elsewhere; copy the folder with the files themselves (cp -rL), or run the suite again`,
  cannotWrite: (file: string, why: string) => `cannot write ${file}: ${oneLine(why)}; choose a folder you can write to (or remove what is in the way)`,
  artifactMissing: (file: string, by: string) => `${file} is missing (${by} refers to it): copy the results folder together with its artifacts/ folder, or run the suite again`,
  artifactSize: (file: string, got: number, want: number) => `${file} is ${got} bytes, but its record says ${want}: the artifact was truncated or replaced; ${DAMAGED}`,
  artifactCorrupt: (file: string) => `${file} does not match its name (the sha256 of its content differs): the artifact is damaged; ${DAMAGED}`,
  baselineCorrupt: (file: string, why: string) => `${file} cannot be read: ${oneLine(why)}; ${BASELINE_FIX}`,
  baselineInvalid: (file: string, field: string, problem: string) => `${file}: ${field ? `\`${field}\` ` : ''}${problem}; ${BASELINE_FIX}`,
  nonFinite: (field: string, value: number) =>
    `the run's \`${field}\` is ${value}, which a results file cannot hold (JSON has no NaN or Infinity): the workload diverged or the backend returned garbage`,
  reportOutIsResults: (out: string, dir: string) =>
    `${out} (--out) is another results folder or saved baseline: its summary.json and report would be replaced by those of ${dir}; pass --out a new or empty folder, or leave it out to write into ${dir}`,
  reportFormat: (got: string, known: readonly string[]) => `unknown report format ${JSON.stringify(got)}: choose from ${list(known)}`,
  slowdownThreshold: (got: unknown) => `\`--slowdown-threshold\` must be a number > 0 (e.g. 1.25), got ${JSON.stringify(got)}`,
  baselineIncomplete: (dir: string) => `${dir} is incomplete (interrupted or killed): a baseline must come from a finished run; run the suite again`,
  savedBaselineNotResults: (dir: string) =>
    `${dir} is a saved baseline: it keeps a summary, not the runs, and is never rewritten; compare with it (\`detbench compare ${dir} CURRENT\`), or pass its results folder (\`source\` in its baseline.json)`,
  baselinesNotFolder: (root: string) => `${root} (--dir) is not a folder: pass --dir the baselines folder that \`detbench baseline save\` writes (default results/baselines)`,
  noBaseline: (root: string, hardware: string) => `no baseline for this hardware (${hardware}) under ${root}: save one with \`detbench baseline save RESULTS_DIR\``,
  shard: (got: string) => `\`--shard\` must be I/N with 1 ≤ I ≤ N (e.g. 1/4), got ${JSON.stringify(got)}`,
  mergeNothing: () => 'merge needs at least one results folder',
  mergeSuites: (a: string, b: string) => `cannot merge ${b} into ${a}: they ran different suites (workloads, sizes, seed or repeats differ); merge runs of one suite only`,
  trace: (got: unknown) => `\`trace\` must be true or false, got ${JSON.stringify(got)}`,
  allowSlow: (got: unknown) => `\`allowSlow\` must be true or false, got ${JSON.stringify(got)}`,
  precision: (got: unknown) => `\`--precision\` must be a fraction between 0 and 1 (e.g. 0.02 for ±2%), got ${JSON.stringify(got)}`,
  budget: (got: unknown) => `\`--budget\` must be a number of seconds > 0, got ${JSON.stringify(got)}`,
  suiteKind: (got: unknown) => `suite field \`kind\` must be determinism or noise, got ${JSON.stringify(got)}`,
  noiseNeedsTraining: (id: string) => `the noise suite decomposes training noise: ${id} is not a training workload (use mlp-train, conv-train, embedding-train, transformer-train, resnet-train or dataparallel-train)`,
  budgetWithoutPrecision: () => '`--budget` is the time budget of `--precision`: give --precision too (e.g. --precision 0.02 --budget 600)',
  python: (got: unknown) => `\`--python\` must be the path of a Python executable, got ${JSON.stringify(got)}`,
  folder: (flag: string, dir: string, why: string) => `cannot use ${dir} (${flag}) as a folder to write to: ${why}; pass ${flag} a folder you can create and write`,
  pluginMissing: (file: string) => `DETBENCH_PLUGINS names ${file}, which does not exist: fix the path or unset DETBENCH_PLUGINS`,
  pluginLoad: (file: string, why: string) => `DETBENCH_PLUGINS: ${file} cannot be loaded (${why}): fix the module or unset DETBENCH_PLUGINS`,
  pluginShape: (file: string) => `DETBENCH_PLUGINS: ${file} must export \`backends\`, an array of Backend objects (see harness/backends/types.ts)`,
  pluginDuplicate: (file: string, id: string) => `DETBENCH_PLUGINS: ${file} defines backend "${id}", which already exists: give it another id`,
  grace: (got: string) => `DETBENCH_GRACE_SEC must be a number of seconds from 0 to 3600 (how long a run in flight may go on after Ctrl-C or SIGTERM), got ${JSON.stringify(got)}`,
  internalError: (what: string) => `internal error: ${what} — please report it, with DETBENCH_DEBUG=1 for the stack`,
  historyMissing: (dir: string) => `${dir} is not a folder: pass results folders, folders that hold them (e.g. results/) or a baselines store (results/baselines)`,
  historyEmpty: (dirs: readonly string[]) => `no results folder or saved baseline under ${dirs.join(', ')}: pass folders written by \`detbench run\` or \`detbench baseline save\``,
  resultsField: (file: string, where: string, why: string) => `${file}: ${where} ${why}: the file is damaged or was not written by detbench; run it again, or leave the folder out`,
  expectMissing: (file: string) => `expectations file ${file} does not exist: pass --expect the path of a YAML or JSON file (see README, Expected nondeterminism)`,
  expectParse: (file: string, why: string) => `expectations file ${file} is not valid YAML or JSON: ${why}`,
  expectShape: (file: string) => `expectations file ${file} must hold one field, \`expectations\`: a list of { cell, expect, reason, expires? }`,
  expectEntry: (at: string) => `${at} must be a mapping of cell, expect, reason and optionally expires`,
  expectField: (at: string, field: string, known: readonly string[]) => `${at}: field \`${field}\` is not known: use ${list(known)}`,
  expectValue: (at: string, field: string, want: string, got: unknown) => `${at}: \`${field}\` must be ${want}, got ${JSON.stringify(got) ?? 'nothing'}`,
  hardwareChanged: (baseline: string, current: string, fields: string[]) =>
    `${baseline} is a baseline of other hardware than ${current} (${fields.join(', ')}): its timings and bits are no baseline for this machine; compare with a baseline of this hardware (\`detbench baseline latest\`), or pass --allow-hardware-change to compare anyway`,
  confirmInBaseline: (dir: string, baseline: string) => `--confirm-dir ${dir} lies inside the baseline ${baseline}: a baseline is never written to; choose a folder outside it (the default is CURRENT/confirm)`,
  confirmCount: (got: unknown) => `\`--confirm\` must be a whole number of re-runs from 1 to 20 (e.g. 3), got ${JSON.stringify(got)}`,
  outputFile: (flag: string, file: string, why: string) => `cannot write ${file} (${flag}): ${why}; pass ${flag} the path of a file in a folder you can write`,
  siteNotEmpty: (dir: string) => `${dir} (--out) holds files and is not a site detbench published (it has no .detbench-site.json): publish into an empty or new folder, or the folder of an earlier publish`,
  siteEntry: (file: string, kind: string) => `${file} is ${kind}: a site's pages go into folders of its own; remove it, or publish into a new folder`,
  concurrency: (got: unknown, max: number) => `\`--concurrency\` must be a whole number from 1 to ${max} (runs in flight at once, each in a thread of its own), got ${shown(got)}`,
  locateBudget: (got: unknown) =>
    `\`--locate-budget\` must be a whole number of ULPs (e.g. 4ulp) or a relative L2 distance ≥ 0 (e.g. 1e-6; 0 means any bit), got ${JSON.stringify(got)}`,
  locateBudgetWithoutLocate: () => '`--locate-budget` is the budget of `--locate`: give --locate too (e.g. --locate --locate-budget 4ulp)',
  locateCell: (got: string, cells: readonly string[]) =>
    `\`--cell\` ${JSON.stringify(got)} is not a cell of this results folder: choose one of ${cells.slice(0, 8).join(', ')}${cells.length > 8 ? `, … (${cells.length} in all; see \`detbench analyze DIR --json\`)` : ''}`,
  locateNothing: (cell: string) =>
    `${cell} has nothing to locate: its runs agree bit for bit, and so does every cell it is compared with (choose a cell whose runs, thread counts or backend disagree)`,
};
