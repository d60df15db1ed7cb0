/**
 * The CLI as a user meets it: bad input is one line and exit 2; a real run writes a complete
 * results folder; a run killed with SIGKILL leaves every finished run readable and is reported
 * as incomplete.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backendIds } from '../harness/backends/index.ts';
import { message } from '../harness/errors.ts';
import { WORKLOAD_IDS } from '../workloads/index.ts';

const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-cli-'));
const detbench = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });

test('bad input: one clear line each, exit 2', () => {
  const malformed = path.join(out, 'bad.yaml');
  fs.writeFileSync(malformed, 'workloads: [matmul\n');
  const truncated = path.join(out, 'truncated');
  fs.mkdirSync(truncated);
  fs.writeFileSync(path.join(truncated, 'manifest.json'), '{"schemaVersion": 1, "runId": "x", "sui');
  const cases: Array<[string[], string | RegExp]> = [
    [['run', '--backends', 'nope'], message.unknownBackend('nope', backendIds())],
    [['run', '--workloads', 'resnet'], message.unknownWorkload('resnet', WORKLOAD_IDS)],
    [['run', '--repeats', '0'], message.repeats(0)],
    [['run', '--suite', malformed], new RegExp(`^suite file ${malformed} is not valid YAML or JSON: `)],
    [['run', '--suite', path.join(out, 'missing.yaml')], message.suiteNotFound(path.join(out, 'missing.yaml'))],
    [['analyze', path.join(out, 'nothing-here')], message.resultsMissing(path.join(out, 'nothing-here'))],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['report', path.join(out, 'nothing-here')], message.resultsMissing(path.join(out, 'nothing-here'))],
    [['report', truncated], new RegExp(`^${path.join(truncated, 'manifest.json')} cannot be read: `)],
    [['report', truncated, '--format', 'pdf'], message.reportFormat('pdf', ['html', 'md', 'json', 'png'])],
  ];
  for (const [args, expected] of cases) {
    const r = detbench(...args, ...(args[0] === 'run' ? ['--out', out] : []));
    assert.equal(r.status, 2, `${args.join(' ')} → exit ${r.status}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')} printed ${lines.length} lines: ${r.stderr}`);
    const text = lines[0].replace(/^detbench: /, '');
    if (typeof expected === 'string') assert.equal(text, expected);
    else assert.match(text, expected);
  }
});

test('backends lists every backend with its availability', () => {
  const r = detbench('backends', '--json');
  assert.equal(r.status, 0);
  const list = JSON.parse(r.stdout) as Array<{ id: string; availability: { available: boolean; reason?: string } }>;
  assert.deepEqual(list.map((b) => b.id), backendIds());
  assert.ok(list.find((b) => b.id === 'tfjs-cpu')!.availability.available);
});

test('a real run writes manifest, runs and artifacts and a summary; det is bitwise stable; the negative control is seen', () => {
  // 5 nondet runs of the negative control: measured 60 of 60 distinct on 2 cores for each backend,
  // so all 5 agreeing would need a collision never seen in 1,770 pairs, four times over.
  const r = detbench('run', '--backends', 'tfjs-cpu,ort-cpu', '--workloads', 'matmul,dataparallel-train', '--repeats', '5', '--trace', '--out', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const { resultsDir, summary } = JSON.parse(r.stdout);
  for (const f of ['manifest.json', 'runs.jsonl', 'complete.json', 'summary.json', 'report.html', 'report.md', 'charts/determinism-matrix.svg', 'charts/determinism-matrix.png']) {
    assert.ok(fs.existsSync(path.join(resultsDir, f)), f);
  }
  assert.ok(fs.readdirSync(path.join(resultsDir, 'artifacts')).length > 0);
  assert.equal(summary.complete, true);
  assert.equal(summary.verdict.reproducible, true);
  for (const c of summary.cells.filter((c: { mode: string }) => c.mode === 'det')) assert.equal(c.verdict, 'bitwise-stable', c.cell);
  assert.equal(summary.negativeControls.length, 3); // tfjs-cpu at 1 thread, ort-cpu at 1 and 2
  for (const n of summary.negativeControls) assert.ok(n.seen && n.distinctDigests >= 2, JSON.stringify(n));
  // --trace: det never diverges; the negative control's first divergent step is found and its drift recorded per step
  for (const c of summary.cells.filter((c: { workload: string }) => c.workload === 'dataparallel-train')) {
    assert.equal(c.divergence.steps, 12);
    if (c.mode === 'det') assert.equal(c.divergence.firstDivergentStep, null);
    else {
      assert.equal(typeof c.divergence.firstDivergentStep, 'number');
      assert.ok(c.divergence.relL2ByStep.at(-1) > 0);
    }
  }
  assert.equal(summary.cells.find((c: { workload: string }) => c.workload === 'matmul').divergence, null);
  const cross = summary.crossBackend.find((x: { workload: string }) => x.workload === 'matmul');
  assert.ok(cross && typeof cross.diff?.maxUlp === 'number');
  const manifest = JSON.parse(fs.readFileSync(path.join(resultsDir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.environment.node, process.version);
  assert.ok(manifest.environment.packages['onnxruntime-node']);
});

test('SIGKILL part-way: finished runs stay readable and the folder is reported incomplete (exit 3)', async () => {
  const killDir = fs.mkdtempSync(path.join(out, 'kill-'));
  const child = spawn(process.execPath, [bin, 'run', '--backends', 'tfjs-cpu', '--workloads', 'mlp-train', '--repeats', '200', '--out', killDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  // Wait until a few runs are recorded, then kill the whole tree without warning.
  const runsFile = () => {
    const [dir] = fs.readdirSync(killDir);
    return dir ? path.join(killDir, dir, 'runs.jsonl') : null;
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const f = runsFile();
    if (f && fs.existsSync(f) && fs.readFileSync(f, 'utf8').split('\n').length > 6) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // bin/detbench.mjs runs the CLI as its child: kill both, as `kill -9` on a process group would.
  const grandchildren = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  for (const pid of grandchildren) process.kill(Number(pid), 'SIGKILL');
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));

  const resultsDir = path.join(killDir, fs.readdirSync(killDir)[0]);
  const recorded = fs.readFileSync(path.join(resultsDir, 'runs.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  assert.ok(recorded >= 5, `only ${recorded} runs recorded before the kill: ${err}`);
  assert.ok(!fs.existsSync(path.join(resultsDir, 'complete.json')));
  const r = detbench('analyze', resultsDir, '--json');
  assert.equal(r.status, 3, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.complete, false);
  assert.ok(summary.recordedRuns >= recorded - 1);
  assert.ok(summary.findings.some((f: string) => /incomplete results/.test(f)));
});

test('compare: a folder with itself exits 0; another ORT thread setting or a perturbed input exits 1 with the right finding', () => {
  const run = (...args: string[]) => {
    const r = detbench('run', '--backends', 'ort-cpu', '--workloads', 'matmul,mlp-train', '--repeats', '3', '--no-report', '--out', out, '--json', ...args);
    assert.ok(r.status === 0, r.stderr);
    return JSON.parse(r.stdout).resultsDir as string;
  };
  const a = run('--threads', '1');
  const b = run('--threads', '2');
  const c = run('--threads', '1', '--seed', '1');
  const cmp = (x: string, y: string) => {
    const r = detbench('compare', x, y, '--json');
    return { status: r.status, result: JSON.parse(r.stdout) as { findings: Array<{ kind: string; severity: string }>; fingerprintChanges: Array<{ field: string }> } };
  };
  assert.equal(cmp(a, a).status, 0);
  const threads = cmp(a, b);
  assert.equal(threads.status, 1);
  assert.ok(threads.result.findings.some((f) => f.kind === 'missing-cell'));
  const seed = cmp(a, c);
  assert.equal(seed.status, 1);
  assert.ok(seed.result.findings.some((f) => f.kind === 'results-changed'));
  assert.ok(seed.result.fingerprintChanges.some((f) => f.field === 'suite.seed'));
});

test('--precision 0.02 adds det/nondet pairs until the slowdown CI half-width is within ±2%, and prints it', () => {
  const r = detbench('run', '--backends', 'tfjs-cpu', '--workloads', 'mlp-train', '--precision', '0.02', '--budget', '120', '--no-report', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const m = /mlp-train\|tfjs-cpu\|cpu\|t1: ([\d.]+)× \[([\d.]+), ([\d.]+)\], half-width ±([\d.]+)% after (\d+) pairs — precision reached/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[4]) <= 2, `half-width ${m[4]}%`);
  assert.ok(Number(m[5]) >= 5);
  const dir = /Results: (.+)/.exec(r.stdout)![1].trim();
  const precision = JSON.parse(fs.readFileSync(path.join(dir, 'precision.json'), 'utf8'));
  assert.equal(precision.outcomes[0].stoppedBecause, 'precision reached');
  // every pair is in runs.jsonl, so the analysis sees the same CI
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  assert.equal(summary.modes[0].slowdown.pairs, Number(m[5]));
});

test('--suite noise: three spreads with CIs and Brown–Forsythe tests against seed noise', () => {
  const r = detbench('run', '--suite', 'noise', '--backends', 'ort-cpu', '--repeats', '8', '--no-report', '--out', out, '--json');
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

test('an unavailable backend asked for by name: one line with its reason, exit 2, nothing hangs', () => {
  const list = JSON.parse(detbench('backends', '--json').stdout) as Array<{ id: string; availability: { available: boolean; reason?: string } }>;
  const unavailable = list.filter((b) => !b.availability.available);
  assert.ok(unavailable.length > 0, 'this test expects a machine without GPUs or libtensorflow');
  for (const b of unavailable) {
    const r = detbench('run', '--backends', b.id, '--workloads', 'matmul', '--out', out);
    assert.equal(r.status, 2, `${b.id}: exit ${r.status}`);
    assert.equal(r.stderr.trim(), `detbench: ${message.noBackendsAvailable([`${b.id}: ${b.availability.reason}`])}`);
  }
});

test('--suite acceptance on a host without a usable GPU: one line naming every GPU backend and why, exit 2', () => {
  // GPUs hidden, so this holds on a GPU host too: no CUDA devices, no Vulkan drivers; torch (if any) on the CPU only
  const env = { ...process.env, CUDA_VISIBLE_DEVICES: '', VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' };
  const r = spawnSync(process.execPath, [bin, 'run', '--suite', 'acceptance', '--out', out], { encoding: 'utf8', timeout: 120_000, env });
  assert.equal(r.status, 2, r.stderr);
  const line = r.stderr.trim();
  assert.equal(line.split('\n').length, 1);
  assert.match(line, /^detbench: this suite runs on GPUs, and no GPU backend is available here: /);
  for (const id of ['tfjs-node-gpu', 'tfjs-webgpu', 'ort-webgpu', 'ort-cuda', 'torch']) assert.match(line, new RegExp(`${id}: `));
  assert.doesNotMatch(line, /tfjs-cpu|ort-cpu/);
});

test('--duration soaks det cells after the suite: unchanged bits pass; bits that change are caught with when', () => {
  const steady = detbench('run', '--backends', 'tfjs-cpu', '--workloads', 'matmul', '--repeats', '2', '--duration', '2s', '--no-report', '--json', '--out', out);
  assert.equal(steady.status, 0, steady.stderr);
  const a = JSON.parse(steady.stdout).summary;
  assert.equal(a.soak.length, 1);
  assert.ok(a.soak[0].runs >= 2 && a.soak[0].firstChange === null && a.soak[0].distinctDigests === 1);

  const plugin = fileURLToPath(new URL('./fixtures/fake-backends.ts', import.meta.url));
  const drift = spawnSync(process.execPath, [bin, 'run', '--backends', 'fake-drift', '--workloads', 'matmul', '--repeats', '2', '--duration', '1s', '--no-report', '--json', '--out', out], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, DETBENCH_PLUGINS: plugin },
  });
  assert.equal(drift.status, 1, drift.stderr);
  const b = JSON.parse(drift.stdout).summary;
  assert.equal(b.soak[0].firstChange.repeat, 2, 'the first soak run (after warm-up and two repeats of each mode) is the first with new bits');
  assert.ok(b.findings.some((f: string) => f.startsWith('soak: matmul on fake-drift (cpu) changed its det bits')));
  const det = b.cells.find((c: { mode: string }) => c.mode === 'det');
  assert.equal(det.verdict, 'unstable');
});
