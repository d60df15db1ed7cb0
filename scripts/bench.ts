/**
 * npm run bench — prints (never asserts) the numbers the core issue sets targets for:
 *   1. harness overhead on the standard suite: (wall − backend work) / wall, target ≤ 5%, and where
 *      it goes, phase by phase (the CLI's timeline marks, harness/run/timeline.ts). Backend work is what
 *      the backends computed, each timing its own: the runs' compute, their held-out evaluation (a
 *      forward pass, recorded apart as evalMs) and the float64 oracle's runs;
 *   2. diff throughput on two 100M-element float32 artifacts, target ≥ 3 GB/s of input (≥ 2 GB/s when
 *      every element differs);
 *   3. sha256 hashing of artifacts, target ≥ 1.5 GB/s;
 *   4. rendering the report of a 2,000-run results folder, target ≤ 10 s;
 *   5. harness overhead on torch: the same runs through detbench vs a plain Python loop in one
 *      process (scripts/torch-plain-loop.py), target ratio ≤ 1.10 on a GPU (skipped without torch);
 *   6. the det run time of transformer-train (standard) through detbench vs the same computation in
 *      a plain loop of that library, per CPU backend (tfjs: the compiled program executed in a loop in
 *      one process; ort-cpu: the same step graph in a plain loop of onnxruntime-node calls,
 *      scripts/bench-ort.ts; torch: scripts/torch-plain-loop.py), target ≤ 1.10.
 *   7. publishing the site of 1,000 nights × 50 cells (synthetic nights, test/fixtures/history.ts),
 *      target ≤ 30 s; then again with nothing changed, and with one more night (incremental).
 * Timings on a shared 2-core machine are noisy: each figure is the median of several repetitions.
 *
 * Flags: --skip-suite (no 1), --suite-args "…" (extra `detbench run` flags, e.g. "--repeats 3"),
 * --torch-workload ID (default mlp-train), --torch-preset quick|standard (default standard),
 * --torch-repeats N (default 20), --torch-only (only 5), --suite-only (only 1), --models-only (only 6), --ort-only (only
 * ort-cpu's part of 6), --model-repeats N (default 10); the Python is $DETBENCH_PYTHON or python3.
 * --publish-only (only 7), --publish-nights N (default 1000), --diff-only (only 2 and 3).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffFloat32 } from '../harness/analysis/diff.ts';
import { isOk } from '../harness/protocol.ts';
import { normalStream, tensorKey } from '../harness/rng.ts';
import { loadResults, sha256 } from '../harness/store.ts';
import { TIMELINE_PREFIX } from '../harness/run/timeline.ts';
import { renderReport } from '../reports/index.ts';
import { torchEnv, writeTensor } from '../harness/backends/torch/torch.ts';
import { modelLayout } from '../workloads/params.ts';
import { findBackend } from '../harness/backends/index.ts';
import { supportOf } from '../harness/backends/types.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { workloadInputs } from '../workloads/inputs.ts';
import { makeResults } from '../test/fixtures/results.ts';
import { ortOverhead } from './bench-ort.ts';
import { makeHistory } from '../test/fixtures/history.ts';
import { publishSite } from '../reports/publish/site.ts';

const argv = process.argv.slice(2);
const skipSuite = argv.includes('--skip-suite');
const suiteArgs = argv.includes('--suite-args') ? argv[argv.indexOf('--suite-args') + 1].split(' ').filter(Boolean) : [];
const flag = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const GB = 1e9;

function timeIt(fn: () => void, repeats: number): number {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

function suiteOverhead(): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-'));
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  console.log(`1. harness overhead: detbench run --suite standard ${suiteArgs.join(' ')} (this takes minutes)…`);
  const launched = performance.timeOrigin + performance.now();
  const t0 = performance.now();
  // --no-report: rendering the report is a later phase, not part of running the suite
  const r = spawnSync(process.execPath, [bin, 'run', '--suite', 'standard', '--out', out, '--json', '--no-report', ...suiteArgs], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, DETBENCH_TIMELINE: '1' },
  });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) {
    console.log(`   the suite failed (exit ${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
    return;
  }
  const { resultsDir } = JSON.parse(r.stdout) as { resultsDir: string };
  const { runs, oracle } = loadResults(resultsDir);
  const ok = runs.filter(isOk);
  const sumS = (ms: Array<number | undefined>) => ms.reduce<number>((s, x) => s + (x ?? 0), 0) / 1000;
  // backend work: what the backends computed, as each timed it — the runs' steps, their held-out
  // evaluation (a forward pass, timed apart from compute) and the float64 oracle's runs (steps and evaluation)
  const computeS = sumS(ok.map((x) => x.computeMs));
  const evalS = sumS(ok.map((x) => x.evalMs));
  const oracleS = sumS(oracle?.workloads.flatMap((w) => [w.computeMs, w.evalMs]) ?? []);
  const backendS = computeS + evalS + oracleS;
  const runWallS = sumS(runs.map((x) => x.wallMs));
  const setupS = sumS(ok.map((x) => x.setupMs));
  console.log(`   ${runs.length} runs (${ok.length} ok), whole command ${wallS.toFixed(1)} s, Σ setup ${setupS.toFixed(1)} s`);
  console.log(`   backend work ${backendS.toFixed(1)} s: Σ compute ${computeS.toFixed(1)} s, Σ held-out evaluation ${evalS.toFixed(1)} s, float64 oracle ${oracleS.toFixed(1)} s (each as the backend timed it)`);
  console.log(`   overhead, whole command (Node start-up, probes, worker and shard-pool start, analysis included): ${(((wallS - backendS) / wallS) * 100).toFixed(1)} %  (target ≤ 5 %)`);
  console.log(`   overhead counting only Σ compute as backend work: ${(((wallS - computeS) / wallS) * 100).toFixed(1)} %`);
  console.log(`   overhead, per run (Σ run wall − Σ compute − Σ evaluation) / Σ run wall: ${(((runWallS - computeS - evalS) / runWallS) * 100).toFixed(1)} %`);
  overheadBreakdown(timeline(r.stderr, launched), wallS, runWallS, { computeS, evalS, oracleS });
  console.log(`   results: ${resultsDir}`);
}

interface Mark {
  /** seconds since launch */
  at: number;
  /** CPU seconds used by the detbench process so far, all threads (not its child processes) */
  cpu: number;
}

/** Each timeline event (harness/run/timeline.ts), first occurrence; probe and shard details apart. */
function timeline(stderr: string, launchedEpochMs: number): { marks: Map<string, Mark>; details: string[] } {
  const marks = new Map<string, Mark>();
  const details: string[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith(TIMELINE_PREFIX)) continue;
    const [epochMs, cpuMs, event, ...rest] = line.slice(TIMELINE_PREFIX.length).split(' ');
    if (rest.length) details.push(`${event} ${rest.join(' ')}`);
    else if (!marks.has(event)) marks.set(event, { at: (Number(epochMs) - launchedEpochMs) / 1000, cpu: Number(cpuMs) / 1000 });
  }
  return { marks, details };
}

/**
 * The whole-command overhead (wall − Σ compute), split at the timeline marks into phases that add
 * up to it exactly: what comes before the first run, what the runs phase spends beyond compute,
 * what comes after the last run. Beside each, the CPU time the detbench process used in it (all
 * threads; child processes such as GPU probes not counted): on a shared machine wall-clock time
 * depends on the neighbours, CPU time much less.
 */
function overheadBreakdown({ marks, details }: ReturnType<typeof timeline>, wallS: number, runWallS: number, work: { computeS: number; evalS: number; oracleS: number }): void {
  const { computeS, evalS, oracleS } = work;
  const needed = ['runner', 'probe:start', 'probe:end', 'prewarm:start', 'prewarm:end', 'runs:start', 'runs:end', 'oracle', 'analyzed'];
  const missing = needed.filter((e) => !marks.has(e));
  if (missing.length) {
    console.log(`   (no overhead breakdown: timeline marks missing: ${missing.join(', ')})`);
    return;
  }
  const at = (e: string) => marks.get(e)!.at;
  const cpu = (from: string, to: string) => marks.get(to)!.cpu - (marks.get(from)?.cpu ?? 0);
  const phases: Array<[string, number, number | null]> = [
    ['start: launch → runner (Node, CLI modules, suite)', at('runner'), cpu('', 'runner')],
    ['probes: all backends at once; shard pools warm up meanwhile', at('probe:end') - at('runner'), cpu('runner', 'probe:end')],
    ['plan, results folder', at('prewarm:start') - at('probe:end'), cpu('probe:end', 'prewarm:start')],
    ['pool: warm-up the probes had not finished', at('prewarm:end') - at('prewarm:start'), cpu('prewarm:start', 'prewarm:end')],
    ['before the first run', at('runs:start') - at('prewarm:end'), cpu('prewarm:end', 'runs:start')],
    ['runs: Σ (run wall − compute − evaluation): inputs, setup, IPC', runWallS - computeS - evalS, null],
    ['runs: between runs (progress, scheduling, records)', at('runs:end') - at('runs:start') - runWallS, null],
    ['oracle: its Python\'s work beside the float64 runs', at('oracle') - at('runs:end') - oracleS, null],
    ['analysis: loading the results, summary.json', at('analyzed') - at('oracle'), cpu('oracle', 'analyzed')],
    ['report: printing, exit', wallS - at('analyzed'), null],
  ];
  console.log(`   where the overhead goes (${(wallS - computeS - evalS - oracleS).toFixed(2)} s in all; CPU: the detbench process's, all threads):`);
  for (const [label, s, cpuS] of phases) {
    console.log(`     ${label.padEnd(60)} ${s.toFixed(2).padStart(6)} s  ${((s / wallS) * 100).toFixed(1).padStart(4)} %${cpuS === null ? '' : `   CPU ${cpuS.toFixed(2).padStart(5)} s`}`);
  }
  const probes = details.filter((d) => d.startsWith('probe:')).map((d) => d.replace(/^probe:/, '')).join(', ');
  const shards = details.filter((d) => d.startsWith('shards:')).map((d) => d.replace(/^shards:/, '')).join(', ');
  if (probes) console.log(`     each probe: ${probes}`);
  if (shards) console.log(`     shard sessions ready after: ${shards}`);
}

function diffAndHash(): void {
  const n = 100_000_000;
  console.log(`2. diff throughput on two ${n / 1e6}M-element float32 artifacts (${((2 * n * 4) / GB).toFixed(1)} GB of input per diff)`);
  const a = new Float32Array(n);
  const seedBlock = normalStream(tensorKey('bench', 0, 'a'), 1 << 20);
  for (let i = 0; i < n; i += seedBlock.length) a.set(seedBlock.subarray(0, Math.min(seedBlock.length, n - i)), i);
  const cases: Array<[string, (b: Int32Array) => void, number]> = [
    ['bitwise identical', () => {}, 3],
    ['1 % of elements 1–3 ULP apart', (b) => { for (let i = 0; i < n; i += 100) b[i] += 1 + (i % 3); }, 3],
    ['every element 1 ULP apart', (b) => { for (let i = 0; i < n; i++) b[i] += 1; }, 2],
  ];
  for (const [label, perturb, targetGBs] of cases) {
    const b = Float32Array.from(a);
    perturb(new Int32Array(b.buffer));
    let differing = 0;
    const s = timeIt(() => (differing = diffFloat32(a, b).differing), 3);
    console.log(`   ${label.padEnd(32)} ${((2 * n * 4) / GB / s).toFixed(2)} GB/s  (${s.toFixed(3)} s, ${differing} differing; target ≥ ${targetGBs} GB/s)`);
  }
  const bytes = new Uint8Array(a.buffer);
  const s = timeIt(() => sha256(bytes), 3);
  console.log(`3. sha256 of a ${(bytes.byteLength / GB).toFixed(1)} GB artifact: ${(bytes.byteLength / GB / s).toFixed(2)} GB/s (${s.toFixed(3)} s; target ≥ 1.5 GB/s)`);
}

async function reportRendering(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-report-'));
  const workloads = ['mlp-train', 'conv-train', 'embedding-train', 'attention-infer', 'reduce-sum', 'matmul', 'dataparallel-train'];
  // 7 workloads × 4 backends × 2 modes × 36 repeats = 2,016 runs of 10,000-element artifacts
  const dir = makeResults(root, { workloads, backends: ['tfjs-cpu', 'tfjs-wasm', 'ort-cpu', 'tfjs-node'], repeats: 36, elements: 10_000 });
  const runs = fs.readFileSync(path.join(dir, 'runs.jsonl'), 'utf8').trim().split('\n').length;
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await renderReport(dir);
    times.push((performance.now() - t0) / 1000);
  }
  console.log(`4. report (analysis + 6 charts as SVG and PNG + HTML + Markdown) of a ${runs}-run results folder: ${median(times).toFixed(2)} s median of 3 (target ≤ 10 s)`);
}

function torchOverhead(workloadOverride?: string): void {
  const python = process.env.DETBENCH_PYTHON || 'python3';
  const check = spawnSync(python, ['-c', 'import torch; print(torch.__version__, torch.cuda.is_available())'], { encoding: 'utf8' });
  if (check.status !== 0) {
    console.log(`5. torch overhead: skipped, ${python} has no torch (set DETBENCH_PYTHON)`);
    return;
  }
  const workloadId = workloadOverride ?? flag('--torch-workload') ?? 'mlp-train';
  const preset = (flag('--torch-preset') ?? 'standard') as 'quick' | 'standard';
  const repeats = Number(flag('--torch-repeats') ?? 20);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-torch-'));
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  const [version, cuda] = check.stdout.trim().split(' ');
  console.log(`${workloadOverride ? '6.' : '5.'} torch overhead: ${workloadId} (${preset}), det, 1 CPU thread, ${repeats} runs, torch ${version} on ${cuda === 'True' ? 'CUDA' : 'the CPU'}…`);

  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, 'run', '--suite', preset, '--backends', 'torch', '--workloads', workloadId, '--modes', 'det', '--threads', '1', '--repeats', String(repeats), '--out', out, '--json', '--no-report'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const commandS = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) {
    console.log(`   detbench failed (exit ${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
    return;
  }
  const records = loadResults((JSON.parse(r.stdout) as { resultsDir: string }).resultsDir).runs.filter((x) => isOk(x) && !x.warmup);
  const device = records[0].device;

  // the same runs, by a plain loop: the same inputs (as files, loaded once), the same compute code
  const workload = resolveWorkload(findWorkload(workloadId)!, preset);
  const inputs = workloadInputs(workload, 0).map((t) => writeTensor(out, t));
  const layout = workload.spec.kind === 'train' ? modelLayout(workload.spec) : null;
  const names = { params: layout?.params.map(([n]) => n) ?? [], state: layout?.state.map(([n]) => n) ?? [], dropout: layout?.dropout.map((d) => d.name) ?? [] };
  const requestFile = path.join(out, 'request.json');
  fs.writeFileSync(requestFile, JSON.stringify({ spec: workload.spec, device, threads: 1, inputs, ...names }));
  const plain = spawnSync(python, [fileURLToPath(new URL('./torch-plain-loop.py', import.meta.url)), requestFile, String(repeats)], {
    encoding: 'utf8', env: { ...process.env, ...torchEnv('det') },
  });
  if (plain.status !== 0) {
    console.log(`   the plain loop failed: ${plain.stderr.trim().split('\n').slice(-2).join(' ')}`);
    return;
  }
  const plainMs = (JSON.parse(plain.stdout.trim().split('\n').at(-1)!) as { iteration_ms: number[] }).iteration_ms;
  const detbenchMs = records.map((x) => x.wallMs);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  console.log(`   per run, median: detbench ${median(detbenchMs).toFixed(2)} ms (wall of each run: IPC, input and output files, sha256, record) vs plain loop ${median(plainMs).toFixed(2)} ms; compute inside detbench ${median(records.map((x) => (x as { computeMs: number }).computeMs)).toFixed(2)} ms`);
  console.log(`   ratio detbench / plain loop: ${(median(detbenchMs) / median(plainMs)).toFixed(3)} (medians), ${(sum(detbenchMs) / sum(plainMs)).toFixed(3)} (sums)  (target ≤ 1.10 on a GPU); whole detbench command ${commandS.toFixed(1)} s`);
}

/** det runs of one workload on one backend through `detbench run` (1 thread): the records. */
function detbenchRuns(backend: string, workloadId: string, preset: string, repeats: number): { runs: ReturnType<typeof loadResults>['runs']; error?: string } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-model-'));
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'run', '--suite', preset, '--backends', backend, '--workloads', workloadId, '--modes', 'det', '--threads', '1', '--repeats', String(repeats), '--out', out, '--json', '--no-report'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 1) return { runs: [], error: `detbench failed (exit ${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}` };
  return { runs: loadResults((JSON.parse(r.stdout) as { resultsDir: string }).resultsDir).runs.filter((x) => !x.warmup) };
}

/** 6: transformer-train (standard) per CPU backend, through detbench vs a plain loop of the library. */
async function modelOverhead(): Promise<void> {
  const workloadId = 'transformer-train';
  const preset = 'standard';
  const repeats = Number(flag('--model-repeats') ?? 10);
  const workload = resolveWorkload(findWorkload(workloadId)!, preset);
  console.log(`6. ${workloadId} (${preset}), det, 1 thread, ${repeats} runs: wall time of a run through detbench vs the same computation in a plain loop`);
  for (const backendId of ['tfjs-cpu', 'tfjs-wasm', 'ort-cpu', 'torch']) {
    const backend = findBackend(backendId)!;
    const support = supportOf(backend, workload.spec);
    if (!support.ok) {
      console.log(`   ${backendId.padEnd(9)} unsupported: ${support.reason}`);
      continue;
    }
    if (backendId === 'torch') {
      console.log(`   torch     (below, as in 5)`);
      continue;
    }
    if (backendId === 'ort-cpu') {
      // the plain loop is onnxruntime-node itself around the same step graph, not detbench's program
      await ortOverhead(workloadId, preset, repeats);
      continue;
    }
    const probe = await backend.probe();
    if (!probe.available) {
      console.log(`   ${backendId.padEnd(9)} unavailable: ${probe.reason}`);
      continue;
    }
    const { runs, error } = detbenchRuns(backendId, workloadId, preset, repeats);
    const ok = runs.filter(isOk);
    if (error || ok.length === 0) {
      console.log(`   ${backendId.padEnd(9)} ${error ?? `no ok run: ${runs.map((x) => ('message' in x ? x.message : x.status)).find(Boolean)}`}`);
      continue;
    }
    // the plain loop: the same compiled computation, prepared once, executed and read back per iteration
    const session = await backend.open({ mode: 'det', threads: 1, device: 'cpu' });
    const program = await session.prepare(workload, workloadInputs(workload, 0));
    const plainMs: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const t0 = performance.now();
      await program.execute();
      if (i > 0) plainMs.push(performance.now() - t0); // the first is a warm-up, as detbench's is
    }
    program.dispose();
    await session.close();
    const detbenchMs = ok.map((x) => x.wallMs);
    console.log(`   ${backendId.padEnd(9)} per run, median: detbench ${median(detbenchMs).toFixed(0)} ms (compute ${median(ok.map((x) => x.computeMs)).toFixed(0)} ms) vs plain loop ${median(plainMs).toFixed(0)} ms: ratio ${(median(detbenchMs) / median(plainMs)).toFixed(3)} (target ≤ 1.10)`);
  }
}

/** 7: publishing a site of many nights, from scratch and incrementally. */
async function publishing(): Promise<void> {
  const nights = Number(flag('--publish-nights') ?? 1000);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-history-'));
  // 5 workloads × 5 backends × det and nondet = 50 cells (25 det/nondet pairs, a page each), 3 runs a cell and night
  const shape = { workloads: ['w1', 'w2', 'w3', 'w4', 'w5'], backends: ['b1', 'b2', 'b3', 'b4', 'b5'], slower: { night: Math.floor(nights * 0.7), backend: 'b1', factor: 1.3 } };
  let t0 = performance.now();
  makeHistory(root, { ...shape, nights });
  console.log(`7. publish: ${nights} synthetic nights × 50 cells written in ${((performance.now() - t0) / 1000).toFixed(1)} s; publishing (a fresh site each time, median of 3)…`);
  const times: number[] = [];
  let last: Awaited<ReturnType<typeof publishSite>> | null = null;
  let site = '';
  for (let i = 0; i < 3; i++) {
    site = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-site-'));
    t0 = performance.now();
    last = await publishSite([root], site, 1.25);
    times.push((performance.now() - t0) / 1000);
  }
  const s = last!.seconds;
  console.log(`   from scratch: ${median(times).toFixed(1)} s (${times.map((t) => t.toFixed(1)).join(', ')}; the last: read ${s.read.toFixed(1)} s, history and step detection ${s.history.toFixed(1)} s, render ${s.render.toFixed(1)} s), ${last!.pages} pages (target ≤ 30 s)`);
  t0 = performance.now();
  const again = await publishSite([root], site, 1.25);
  console.log(`   again, nothing changed: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${again.written.length} pages written, ${again.nightsRead} nights read`);
  // one more night: another folder of the same shape, a day after the last
  const extra = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-night-'));
  makeHistory(extra, { ...shape, nights: 1, start: new Date(Date.parse('2026-01-01T02:00:00Z') + nights * 86_400_000).toISOString(), seed: 2 });
  t0 = performance.now();
  const more = await publishSite([root, extra], site, 1.25);
  console.log(`   one night more: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${more.written.length} of ${more.pages} pages written, ${more.nightsRead} night read`);
}

console.log(`detbench bench on ${os.cpus()[0]?.model} × ${os.cpus().length}, Node ${process.version}`);
if (argv.includes('--torch-only')) {
  torchOverhead();
} else if (argv.includes('--ort-only')) {
  console.log('6. transformer-train (standard), det, 1 thread: ort-cpu through detbench vs a plain loop of onnxruntime-node calls');
  await ortOverhead('transformer-train', 'standard', Number(flag('--model-repeats') ?? 10));
} else if (argv.includes('--models-only')) {
  await modelOverhead();
  torchOverhead('transformer-train');
} else if (argv.includes('--publish-only')) {
  await publishing();
} else if (argv.includes('--diff-only')) {
  diffAndHash();
} else if (argv.includes('--suite-only')) {
  suiteOverhead();
} else {
  if (!skipSuite) suiteOverhead();
  diffAndHash();
  await reportRendering();
  torchOverhead();
  await modelOverhead();
  torchOverhead('transformer-train');
  await publishing();
}
