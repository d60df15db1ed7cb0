/**
 * The float64 oracle as the analysis sees it (oracle.json in a results folder, validated as untrusted
 * input) and what a run writes when no oracle can be made. The oracle computing for real (torch in
 * float64) is a system test: test/system/models.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { analyze } from '../harness/analysis/analyze.ts';
import { ORACLE_FILE, type OracleFile } from '../harness/analysis/oracle.ts';
import { resolveSuite } from '../harness/config.ts';
import { message } from '../harness/errors.ts';
import { mergeResults } from '../harness/merge.ts';
import { noAnswerReason, torchPython } from '../harness/backends/torch/torch.ts';
import { runOracle, warmUpOracle } from '../harness/run/oracle.ts';
import { ResultsWriter, SCHEMA_VERSION, loadResults, readJson, sha256, type Manifest } from '../harness/store.ts';
import { findingText } from '../reports/findings.ts';
import { makeResults } from './fixtures/results.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { workloadInputs } from '../workloads/inputs.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-oracle-test-'));
const fixture = () => makeResults(root, { workloads: ['matmul'], backends: ['a', 'b', 'c'], repeats: 3 });

/** Writes an oracle artifact (the fixture's det values times `scale`) and oracle.json. */
function writeOracle(dir: string, scale: number, extra: Partial<OracleFile> = {}): void {
  const values = new Float32Array(64).map((_, i) => Math.sin(i + 1) * scale);
  const bytes = new Uint8Array(values.buffer);
  const digest = sha256(bytes);
  fs.writeFileSync(path.join(dir, 'artifacts', `${digest}.f32`), bytes);
  const file: OracleFile = {
    oracleVersion: 1, made: true, python: 'python3', torch: '1.13',
    workloads: [{ workload: 'matmul', status: 'ok', loss: null, computeMs: 1, artifact: { sha256: digest, bytes: bytes.byteLength, tensors: [] } }],
    ...extra,
  };
  fs.writeFileSync(path.join(dir, ORACLE_FILE), JSON.stringify(file));
}

test('no oracle.json: the summary says no comparison was made and why, as a warning, not a finding', () => {
  const summary = analyze(loadResults(fixture()));
  assert.equal(summary.oracle.made, false);
  assert.match(summary.oracle.reason ?? '', /no oracle\.json/);
  assert.ok(summary.warnings.some((w) => /^float64 oracle: no comparison was made/.test(w)));
  assert.ok(!summary.findings.some((f) => f.kind === 'oracle-outside-tolerance'));
});

test('an oracle that was not made carries its reason into the summary', () => {
  const dir = fixture();
  writeOracle(dir, 1, { made: false, reason: 'torch is missing here', workloads: [] });
  const summary = analyze(loadResults(dir));
  assert.equal(summary.oracle.reason, 'torch is missing here');
  assert.ok(summary.warnings.includes('float64 oracle: no comparison was made — torch is missing here'));
});

test('each det cell against the oracle: within the workload tolerance, or a finding when beyond it', () => {
  const close = fixture();
  writeOracle(close, 1 + 1e-7);
  const ok = analyze(loadResults(close)).oracle;
  assert.equal(ok.made, true);
  // the fixture's last backend (c) fails every run: no det data, no comparison
  assert.deepEqual(ok.cells.map((c) => [c.backend, c.status]), [['a', 'within-tolerance'], ['b', 'within-tolerance']]);
  assert.ok(ok.cells[0].diff!.relL2! > 0 && ok.cells[0].diff!.relL2! < 1e-6);

  const far = fixture();
  writeOracle(far, 1 + 1e-3);
  const summary = analyze(loadResults(far));
  assert.equal(summary.oracle.cells[0].status, 'outside-tolerance');
  const beyond = summary.findings.filter((f) => f.kind === 'oracle-outside-tolerance');
  assert.deepEqual(beyond.map((f) => [f.cell?.workload, f.cell?.backend, f.cell?.mode]), [['matmul', 'a', 'det'], ['matmul', 'b', 'det']]);
  const distance = (beyond[0].evidence as { distance: number }).distance;
  assert.ok(Math.abs(distance - 1e-3) < 2e-6, `distance ${distance}`);
  assert.match(findingText(beyond[0]), /float64 oracle/);
});

test('a workload the oracle could not compute is named with its reason', () => {
  const dir = fixture();
  writeOracle(dir, 1, { workloads: [{ workload: 'matmul', status: 'timeout', message: 'no result within 60000 ms' }] });
  const summary = analyze(loadResults(dir));
  assert.deepEqual(summary.oracle.cells, []);
  assert.ok(summary.warnings.some((w) => w === 'float64 oracle: matmul was not computed (timeout: no result within 60000 ms); its cells are not compared with it'));
});

test('a hostile oracle.json is refused with one message naming the field (never a path outside the folder)', () => {
  const dir = fixture();
  writeOracle(dir, 1);
  const file = path.join(dir, ORACLE_FILE);
  const good = JSON.parse(fs.readFileSync(file, 'utf8')) as OracleFile;
  const cases: Array<[unknown, string]> = [
    [{ ...good, workloads: [{ ...good.workloads[0], artifact: { ...good.workloads[0].artifact, sha256: '../../../etc/passwd' } }] }, 'workloads[0].artifact.sha256'],
    [{ ...good, made: 'yes' }, 'made'],
    [{ ...good, oracleVersion: 99 }, 'oracleVersion'],
    [{ ...good, workloads: [{ ...good.workloads[0], status: 'fine' }] }, 'workloads[0].status'],
  ];
  for (const [content, field] of cases) {
    fs.writeFileSync(file, JSON.stringify(content));
    assert.throws(() => loadResults(dir), (err: Error) => err.name === 'UsageError' && err.message.startsWith(`${file}: \`${field}\` `) && err.message.split('\n').length === 1, field);
  }
  fs.writeFileSync(file, '{"oracleVersion": 1,');
  assert.throws(() => loadResults(dir), (err: Error) => err.name === 'UsageError' && err.message.startsWith(`${file} cannot be read: `));
});

function writerFor(): ResultsWriter {
  const dir = path.join(fs.mkdtempSync(path.join(root, 'run-')), 'results');
  return ResultsWriter.create(dir, { schemaVersion: SCHEMA_VERSION, plannedRuns: 0, cells: [], warnings: [] } as unknown as Manifest);
}

/** `fn` with DETBENCH_PYTHON set to `python`, restored afterwards. */
async function withPython(python: string, fn: () => Promise<void>): Promise<void> {
  const saved = process.env.DETBENCH_PYTHON;
  process.env.DETBENCH_PYTHON = python;
  try {
    await fn();
  } finally {
    if (saved === undefined) delete process.env.DETBENCH_PYTHON;
    else process.env.DETBENCH_PYTHON = saved;
  }
}

test('without a Python that has torch, the run writes oracle.json saying why and how to fix it', async () => {
  await withPython(path.join(root, 'no-such-python'), async () => {
    const writer = writerFor();
    const suite = resolveSuite({}, { workloads: ['matmul'] }, 'x');
    const file = await runOracle(suite, ['matmul'], writer, { interrupted: false, log: () => {} });
    assert.equal(file.made, false);
    assert.match(file.reason!, /no-such-python cannot run torch \(.*cannot be started.*\): pass --python PATH/);
    assert.deepEqual(readJson(path.join(writer.dir, ORACLE_FILE), 'oracle'), file);
  });
});

test('started early (before the runs), the oracle fails as it would have after them without a Python that has torch', async () => {
  await withPython(path.join(root, 'no-such-python'), async () => {
    const suite = resolveSuite({}, { workloads: ['matmul'] }, 'x');
    const warmup = warmUpOracle(suite, ['matmul']);
    assert.ok(warmup);
    await warmup.settle();
    const file = await runOracle(suite, ['matmul'], writerFor(), { interrupted: false, log: () => {}, warmup });
    assert.equal(file.made, false);
    assert.match(file.reason!, /no-such-python cannot run torch \(.*cannot be started.*\): pass --python PATH/);
  });
});

test('the inputs an early-started oracle drew are handed to the analysis as the same draws; others are drawn anew', async () => {
  await withPython(path.join(root, 'no-such-python'), async () => {
    const suite = resolveSuite({}, { workloads: ['matmul', 'reduce-sum'] }, 'x');
    const warmup = warmUpOracle(suite, ['matmul', 'reduce-sum'])!;
    const sum = resolveWorkload(findWorkload('reduce-sum')!, suite.preset, suite.workloads[1].params);
    const fresh = workloadInputs(sum, suite.seed);
    // drawn in the background, one workload per turn of the event loop
    while (warmup.inputsOf(sum, suite.seed) !== warmup.inputsOf(sum, suite.seed)) await new Promise((r) => setImmediate(r));
    assert.deepEqual(warmup.inputsOf(sum, suite.seed), fresh);
    // another seed, or other sizes, are not the draws it holds
    assert.notEqual(warmup.inputsOf(sum, suite.seed + 1), warmup.inputsOf(sum, suite.seed + 1));
    const smaller = resolveWorkload(findWorkload('reduce-sum')!, suite.preset, { length: 8 });
    assert.deepEqual(warmup.inputsOf(smaller, suite.seed), workloadInputs(smaller, suite.seed));
    warmup.stop();
  });
});

test('an oracle started early and then not run (interrupted) has its Python process ended; none is started where no oracle will run', async () => {
  // a stand-in Python that records its pid and waits on its stdin (never answering hello)
  const dir = fs.mkdtempSync(path.join(root, 'python-'));
  const python = path.join(dir, 'python');
  fs.writeFileSync(python, `#!/bin/sh\necho $$ > ${path.join(dir, 'pid')}\nexec cat > /dev/null\n`, { mode: 0o755 });
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  await withPython(python, async () => {
    assert.equal(warmUpOracle(resolveSuite({ kind: 'noise', workloads: ['mlp-train'] }, {}, 'x'), ['mlp-train']), null);
    assert.equal(warmUpOracle(resolveSuite({}, { workloads: ['matmul'] }, 'x'), ['matmul'], false), null);
    const suite = resolveSuite({}, { workloads: ['matmul'] }, 'x');
    const warmup = warmUpOracle(suite, ['matmul'])!;
    const pidFile = path.join(dir, 'pid');
    while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, 'utf8').trim() === '') await new Promise((r) => setTimeout(r, 20));
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.ok(alive(pid));
    const file = await runOracle(suite, ['matmul'], writerFor(), { interrupted: true, log: () => {}, warmup });
    assert.match(file.reason!, /interrupted before the float64 oracle ran/);
    while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
  });
});

test('the noise suite and an interrupted run get no oracle, and say so', async () => {
  const noise = await runOracle(resolveSuite({ kind: 'noise', workloads: ['mlp-train'] }, {}, 'x'), ['mlp-train'], writerFor(), { interrupted: false, log: () => {} });
  assert.match(noise.reason!, /noise suite compares runs with each other/);
  const stopped = await runOracle(resolveSuite({}, { workloads: ['matmul'] }, 'x'), ['matmul'], writerFor(), { interrupted: true, log: () => {} });
  const off = await runOracle(resolveSuite({}, { workloads: ['matmul'] }, 'x'), ['matmul'], writerFor(), { interrupted: false, enabled: false, log: () => {} });
  assert.match(off.reason!, /turned off \(--no-oracle, or DETBENCH_ORACLE=off\)/);
  assert.match(stopped.reason!, /interrupted before the float64 oracle ran/);
});

test('a suite at the gpu preset gets no oracle (it computes on the CPU) unless it allows slow runs', async () => {
  const gpu = await runOracle(resolveSuite({ preset: 'gpu' }, { workloads: ['matmul'] }, 'x'), ['matmul'], writerFor(), { interrupted: false, log: () => {} });
  assert.equal(gpu.made, false);
  assert.match(gpu.reason!, /gpu preset .* runs on the CPU, where it would take too long: pass --allow-slow/);
  assert.equal(warmUpOracle(resolveSuite({ preset: 'gpu' }, { workloads: ['matmul'] }, 'x'), ['matmul']), null, 'no Python is started for it either');
  const slow = resolveSuite({ preset: 'gpu', allowSlow: true }, { workloads: ['matmul'] }, 'x');
  const warm = warmUpOracle(slow, ['matmul']);
  assert.notEqual(warm, null);
  warm!.stop();
});

test('a Python that did not answer the torch probe is not waited for a second time by the oracle; other probe failures do not skip it', async () => {
  const suite = resolveSuite({}, { workloads: ['matmul'] }, 'x');
  const hung = { available: false as const, reason: noAnswerReason(torchPython()) };
  assert.equal(warmUpOracle(suite, ['matmul'], true, hung), null, 'no Python is started');
  const file = await runOracle(suite, ['matmul'], writerFor(), { interrupted: false, log: () => {}, torchProbe: hung });
  assert.equal(file.made, false);
  assert.equal(file.reason, `the torch probe's ${hung.reason}; the oracle, which runs on the same Python, did not wait for it again`);
  // torch missing is no hang: the oracle says so itself, at once
  const warm = warmUpOracle(suite, ['matmul'], true, { available: false, reason: 'torch is not importable by python3' });
  assert.notEqual(warm, null);
  warm!.stop();
});

test('merge keeps the oracle and every artifact a record points to (held-out predictions included)', () => {
  const a = fixture(), b = fixture();
  writeOracle(a, 1 + 1e-7);
  // give every ok record of b an evaluation whose predictions live only in b's artifacts
  const predictions = new Uint8Array(new Float32Array([0, 1, 1, 0]).buffer);
  const digest = sha256(predictions);
  fs.writeFileSync(path.join(b, 'artifacts', `${digest}.f32`), predictions);
  const runsFile = path.join(b, 'runs.jsonl');
  const lines = fs.readFileSync(runsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  fs.writeFileSync(runsFile, lines.map((r) => JSON.stringify(r.status === 'ok' ? { ...r, evaluation: { loss: 1, accuracy: 0.5, units: 4, predictions: digest } } : r)).join('\n') + '\n');
  const out = path.join(root, 'merged');
  fs.mkdirSync(out); // the CLI prepares --out (prepareFolder) before it merges
  const merged = mergeResults([a, b], out);
  const summary = analyze(loadResults(merged));
  assert.equal(summary.oracle.made, true);
  assert.ok(summary.oracle.cells.length > 0 && summary.oracle.cells.every((c) => c.status === 'within-tolerance'));
  assert.ok(summary.evaluation.length > 0 && summary.evaluation.every((e) => e.churnPairwise.max === 0));
});
