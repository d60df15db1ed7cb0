/**
 * Every message a user can get for bad input lives here and says the fix. Tests import these
 * functions instead of copying their text.
 */

/** Bad input: the CLI prints the message on one line and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT = { ok: 0, findings: 1, usage: 2, incomplete: 3 } as const;

const list = (xs: readonly string[]) => xs.join(', ');

export const message = {
  unknownBackend: (id: string, known: readonly string[]) => `unknown backend "${id}": choose from ${list(known)} (see \`detbench backends\`)`,
  unknownWorkload: (id: string, known: readonly string[]) => `unknown workload "${id}": choose from ${list(known)} (see \`detbench workloads\`)`,
  repeats: (got: unknown) => `\`repeats\` must be a whole number ≥ 2, got ${JSON.stringify(got)}`,
  threads: (got: unknown) => `\`threads\` must be a list of whole numbers ≥ 1 (e.g. 1,2), got ${JSON.stringify(got)}`,
  seed: (got: unknown) => `\`seed\` must be a whole number ≥ 0, got ${JSON.stringify(got)}`,
  timeout: (got: unknown) => `\`timeoutSec\` must be a number > 0 (seconds per run), got ${JSON.stringify(got)}`,
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
  soak: (got: unknown) => `\`--duration\` must be a length of time such as 90s, 10m or 1h (or suite field \`soakSec\`, seconds ≥ 0), got ${JSON.stringify(got)}`,
  outExists: (dir: string) => `results folder ${dir} already exists: choose another --out or remove it (results are never overwritten)`,
  resultsMissing: (dir: string) => `${dir} is not a detbench results folder: it has no manifest.json (pass a folder written by \`detbench run\`)`,
  resultsSchema: (dir: string, got: unknown, want: number) =>
    `${dir} has results schema version ${JSON.stringify(got)}, this detbench reads version ${want}: use the detbench version that wrote it`,
  resultsCorrupt: (file: string, why: string) => `${file} cannot be read: ${why}`,
  oracleField: (file: string, field: string, want: string) => `${file}: field \`${field}\` must be ${want}; this file is written by \`detbench run\` — restore it, or move it out of the folder to analyse the rest without the oracle`,
  reportFormat: (got: string, known: readonly string[]) => `unknown report format "${got}": choose from ${list(known)}`,
  slowdownThreshold: (got: unknown) => `\`--slowdown-threshold\` must be a number > 0 (e.g. 1.25), got ${JSON.stringify(got)}`,
  baselineIncomplete: (dir: string) => `${dir} is incomplete (interrupted or killed): a baseline must come from a finished run; run the suite again`,
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
  concurrency: (got: unknown) => `\`--concurrency\` must be a whole number ≥ 1, got ${JSON.stringify(got)}`,
};
