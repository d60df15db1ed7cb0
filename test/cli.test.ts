/**
 * The CLI as a user meets it, with the real CPU backends: bad input is one line and exit 2; a real
 * run writes a complete results folder, det bitwise stable and the negative control seen; a backend
 * that is not here is named with its reason. The run strategies (a kill part-way, compare,
 * --precision, soak) are in cli-fake.test.ts, on fake backends whose bits and times are exact.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { backendIds } from '../harness/backends/index.ts';
import { BUILTIN_SUITES, MAX_REPEATS, resolveSuite } from '../harness/config.ts';
import { message } from '../harness/errors.ts';
import { WORKLOAD_IDS } from '../workloads/index.ts';
import { detbench, detbenchHere } from './fixtures/cli.ts';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-cli-'));
/** No CUDA device, no Vulkan driver: the GPU backends are unavailable on any host, GPU hosts included. */
const noGpus = { ...process.env, CUDA_VISIBLE_DEVICES: '', VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' };
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('bad input: one clear line each, exit 2', async () => {
  const malformed = path.join(out, 'bad.yaml');
  fs.writeFileSync(malformed, 'workloads: [matmul\n');
  const truncated = path.join(out, 'truncated');
  fs.mkdirSync(truncated);
  fs.writeFileSync(path.join(truncated, 'manifest.json'), '{"schemaVersion": 1, "runId": "x", "sui');
  const cases: Array<[string[], string | RegExp]> = [
    [['run', '--backends', 'nope'], message.unknownBackend('nope', backendIds())],
    [['run', '--workloads', 'resnet'], message.unknownWorkload('resnet', WORKLOAD_IDS)],
    [['run', '--repeats', '0'], message.repeats(0, MAX_REPEATS)],
    [['run', '--suite', malformed], new RegExp(`^suite file ${malformed} is not valid YAML or JSON: `)],
    [['run', '--suite', path.join(out, 'missing.yaml')], message.suiteNotFound(path.join(out, 'missing.yaml'))],
    [['analyze', path.join(out, 'nothing-here')], message.resultsMissing(path.join(out, 'nothing-here'))],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['report', path.join(out, 'nothing-here')], message.resultsMissing(path.join(out, 'nothing-here'))],
    [['report', truncated], new RegExp(`^${path.join(truncated, 'manifest.json')} cannot be read: `)],
    [['report', truncated, '--format', 'pdf'], message.reportFormat('pdf', ['html', 'md', 'json', 'png'])],
  ];
  // in this process: each case stops before a run starts (the spawned cases below show the same line and exit code from the process)
  for (const [args, expected] of cases) {
    const r = await detbenchHere([...args, ...(args[0] === 'run' ? ['--out', out] : [])]);
    assert.equal(r.status, 2, `${args.join(' ')} → exit ${r.status}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')} printed ${lines.length} lines: ${r.stderr}`);
    const text = lines[0].replace(/^detbench: /, '');
    if (typeof expected === 'string') assert.equal(text, expected);
    else assert.match(text, expected);
  }
});

test('backends lists every backend with its availability; those not here, asked for by name, get one line with every reason, exit 2, and nothing hangs', async () => {
  const listed = await detbench(['backends', '--json'], noGpus);
  assert.equal(listed.status, 0, listed.stderr);
  const list = JSON.parse(listed.stdout) as Array<{ id: string; availability: { available: boolean; reason?: string } }>;
  assert.deepEqual(list.map((b) => b.id), backendIds());
  assert.ok(list.find((b) => b.id === 'tfjs-cpu')!.availability.available);
  const unavailable = list.filter((b) => !b.availability.available);
  assert.ok(unavailable.length > 0, 'with the GPUs hidden, the GPU backends are not available');
  const r = await detbench(['run', '--backends', unavailable.map((b) => b.id).join(','), '--workloads', 'matmul', '--out', out], noGpus);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim(), `detbench: ${message.noBackendsAvailable(unavailable.map((b) => `${b.id}: ${b.availability.reason}`))}`);
});

test('--suite acceptance on a host without a usable GPU: one line naming every GPU backend and why, exit 2', async () => {
  // GPUs hidden, so this holds on a GPU host too; torch (if any) on the CPU only
  const r = await detbench(['run', '--suite', 'acceptance', '--out', out], noGpus);
  assert.equal(r.status, 2, r.stderr);
  const line = r.stderr.trim();
  assert.equal(line.split('\n').length, 1);
  assert.match(line, /^detbench: this suite runs on GPUs, and no GPU backend is available here: /);
  const gpuBackends = resolveSuite(BUILTIN_SUITES.acceptance, {}, 'builtin:acceptance').backends;
  for (const id of backendIds()) {
    const named = new RegExp(`(: |; )${escape(id)}: `);
    if (gpuBackends.includes(id)) assert.match(line, named);
    else assert.doesNotMatch(line, named);
  }
});

test('real runs write manifest, runs, artifacts, a summary and the report; det is bitwise stable; the negative control is seen', async () => {
  // tfjs-cpu, tfjs-wasm and ort-cpu computing through the CLI, with the report; and the CPU negative
  // control on ort-cpu at 1 and 2 threads. 5 nondet runs of it: measured 60 of 60 distinct on
  // 2 cores, so all 5 agreeing would need a collision never seen in 1,770 pairs, four times over.
  // (tfjs-cpu's control runs in the bundle's quick suite, npm run test:system: it takes ten times longer.)
  const [backends, control] = await Promise.all([
    detbench(['run', '--backends', 'tfjs-cpu,tfjs-wasm,ort-cpu', '--workloads', 'matmul', '--repeats', '2', '--out', out, '--json']),
    detbench(['run', '--backends', 'ort-cpu', '--workloads', 'matmul,dataparallel-train', '--repeats', '5', '--trace', '--no-report', '--out', out, '--json']),
  ]);
  assert.equal(backends.status, 0, backends.stderr);
  const { resultsDir, summary } = JSON.parse(backends.stdout);
  for (const f of ['manifest.json', 'runs.jsonl', 'complete.json', 'summary.json', 'report.html', 'report.md', 'charts/determinism-matrix.svg', 'charts/determinism-matrix.png']) {
    assert.ok(fs.existsSync(path.join(resultsDir, f)), f);
  }
  assert.ok(fs.readdirSync(path.join(resultsDir, 'artifacts')).length > 0);
  assert.equal(summary.complete, true);
  assert.equal(summary.verdict.reproducible, true);
  const det = summary.cells.filter((c: { mode: string }) => c.mode === 'det');
  assert.deepEqual([...new Set(det.map((c: { backend: string }) => c.backend))], ['tfjs-cpu', 'tfjs-wasm', 'ort-cpu']);
  for (const c of det) assert.equal(c.verdict, 'bitwise-stable', c.cell);
  const cross = summary.crossBackend.find((x: { workload: string }) => x.workload === 'matmul');
  assert.ok(cross && typeof cross.diff?.maxUlp === 'number');
  const manifest = JSON.parse(fs.readFileSync(path.join(resultsDir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.environment.node, process.version);
  assert.ok(manifest.environment.packages['onnxruntime-node']);

  assert.equal(control.status, 0, control.stderr);
  const traced = JSON.parse(control.stdout).summary;
  assert.equal(traced.complete, true);
  for (const c of traced.cells.filter((c: { mode: string }) => c.mode === 'det')) assert.equal(c.verdict, 'bitwise-stable', c.cell);
  assert.equal(traced.negativeControls.length, 2); // ort-cpu at 1 and 2 threads
  for (const n of traced.negativeControls) assert.ok(n.seen && n.distinctDigests >= 2, JSON.stringify(n));
  // --trace: det never diverges; the negative control's first divergent step is found and its drift recorded per step
  for (const c of traced.cells.filter((c: { workload: string }) => c.workload === 'dataparallel-train')) {
    assert.equal(c.divergence.steps, 12);
    if (c.mode === 'det') assert.equal(c.divergence.firstDivergentStep, null);
    else {
      assert.equal(typeof c.divergence.firstDivergentStep, 'number');
      assert.ok(c.divergence.relL2ByStep.at(-1) > 0);
    }
  }
  assert.equal(traced.cells.find((c: { workload: string }) => c.workload === 'matmul').divergence, null, 'an inference workload has no steps');
});

test('--suite noise: three spreads with CIs and Brown–Forsythe tests against seed noise', async () => {
  const r = await detbench(['run', '--suite', 'noise', '--backends', 'ort-cpu', '--repeats', '8', '--no-report', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const { summary } = JSON.parse(r.stdout);
  assert.equal(summary.noise.length, 1);
  const [d] = summary.noise;
  assert.deepEqual(d.arms.map((a: { arm: string }) => a.arm), ['seeds', 'implementation', 'ulp']);
  for (const a of d.arms) {
    assert.equal(a.runs, 8);
    assert.ok(a.lossSd && a.lossSd.low <= a.lossSd.value && a.lossSd.value <= a.lossSd.high + 1e-12, JSON.stringify(a.lossSd));
    assert.ok(a.weightSpread);
  }
  // different seeds move the result far more than the all-reduce order or one ULP does
  const [seeds, implementation, ulp] = d.arms;
  assert.ok(seeds.lossSd.value > 1000 * implementation.lossSd.value);
  assert.ok(seeds.lossSd.value > 1000 * ulp.lossSd.value);
  assert.ok(d.versusSeeds.implementation && d.versusSeeds.ulp);
  // the noise arms are not determinism cells: no false instability verdicts
  assert.deepEqual(summary.findings, []);
});
