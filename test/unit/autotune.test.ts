/**
 * The autotune axis (`--autotune off,on`): det with cuDNN's algorithm search on against det with it
 * off, on GPU devices only. The flag and suite field, the key (`off` never written), the plan on CPU
 * and GPU devices, torch's hello request and the switches it must read back, ort-cuda's session
 * options, and det compared across the values like any axis (nondet left alone).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AXES } from '../../harness/axes.ts';
import { autotuneUnsupported, type Availability } from '../../harness/backends/types.ts';
import { expectedSwitches, helloRequest } from '../../harness/backends/torch/torch.ts';
import { CONV_ALGO_SEARCH, CUDA_PROVIDER_OPTIONS_APPLIED, cudaSession } from '../../harness/backends/ort/ort-cuda.ts';
import { resolveSuite } from '../../harness/config.ts';
import { message, UsageError } from '../../harness/errors.ts';
import { makePlan } from '../../harness/plan.ts';
import { cellId, groupId } from '../../harness/protocol.ts';
import { problemOf } from '../../harness/schema.ts';
import { compareInvariance } from '../../harness/analysis/agreement.ts';
import { deriveFindings } from '../../harness/analysis/findings.ts';
import type { CellSummary } from '../../harness/analysis/summary.ts';
import { findingText } from '../../reports/findings.ts';
import { detbenchHere } from '../fixtures/cli.ts';

const available = (...devices: string[]): Availability => ({ available: true, version: 'x', devices, notes: [] });

test('--autotune and the suite field: off, on deduplicated in that order; off alone is the default and leaves the suite as it was; a bad value is refused', () => {
  assert.deepEqual(resolveSuite({}, { autotune: ['on', 'off', 'on'] }, 'x').autotune, ['off', 'on']);
  assert.equal('autotune' in resolveSuite({}, { autotune: ['off'] }, 'x'), false);
  assert.equal('autotune' in resolveSuite({}, {}, 'x'), false);
  assert.deepEqual(resolveSuite({ autotune: ['on'] }, {}, 'x').autotune, ['on']);
  for (const bad of [['true'], [], 'on', [1]]) {
    assert.throws(() => resolveSuite({}, { autotune: bad as never }, 'x'), (e: unknown) => e instanceof UsageError && e.message === message.axisValues('autotune', AXES.autotune.expected, bad));
    assert.throws(() => resolveSuite({ autotune: bad as never }, {}, 'x'), (e: unknown) => e instanceof UsageError && e.message === message.axisValues('autotune', AXES.autotune.expected, bad));
  }
});

test('detbench run --autotune maybe: one line naming the field and its values, exit 2', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-autotune-'));
  const r = await detbenchHere(['run', '--autotune', 'off,maybe', '--out', out]);
  assert.equal(r.status, 2, r.stderr);
  assert.deepEqual(r.stderr.trim().split('\n'), [`detbench: ${message.axisValues('autotune', AXES.autotune.expected, ['off', 'maybe'])}`]);
  assert.deepEqual(fs.readdirSync(out), [], 'nothing written');
});

test('the key writes autotune-on after the other axes, never off: cell ids from before the axis stay as they were', () => {
  const key = { workload: 'conv-train', backend: 'torch', device: 'cuda:0', mode: 'det' as const, threads: 1 };
  assert.equal(cellId(key), 'conv-train|torch|cuda:0|det|t1');
  assert.equal(cellId({ ...key, autotune: 'off' }), 'conv-train|torch|cuda:0|det|t1');
  assert.equal(cellId({ ...key, autotune: 'on' }), 'conv-train|torch|cuda:0|det|t1|autotune-on');
  assert.equal(cellId({ ...key, numerics: 'bf16', autotune: 'on', arm: 'ulp' }), 'conv-train|torch|cuda:0|det|t1|bf16|autotune-on|ulp');
  // det and nondet at a value pair up; the values are groups of their own
  assert.equal(groupId({ ...key, autotune: 'on' }), groupId({ ...key, mode: 'nondet', autotune: 'on' } as never));
  assert.notEqual(groupId({ ...key, autotune: 'on' }), groupId(key));
});

test('a record with autotune outside off, on is refused; a manifest suite lists its values', () => {
  const record = {
    workload: 'conv-train', backend: 'torch', device: 'cuda:0', mode: 'det', threads: 1, autotune: 'on', runIndex: 0, repeat: 0, warmup: false, seed: 0, preset: 'quick', params: {},
    cell: 'conv-train|torch|cuda:0|det|t1|autotune-on', startedAt: '', wallMs: 1, determinism: null, warnings: [], status: 'unsupported', message: 'x',
  };
  assert.equal(problemOf('record', record), null);
  assert.deepEqual(problemOf('record', { ...record, autotune: 'yes' }), { field: 'autotune', problem: 'must be one of off, on, got "yes"' });
});

test('plan on a CPU device: autotuning on is not planned, with a note; the off cells are the ones of a run without the axis', () => {
  const suite = resolveSuite({}, { backends: ['torch', 'tfjs-cpu'], workloads: ['conv-train'], autotune: ['off', 'on'], threads: [1], repeats: 2 }, 'x');
  const plan = makePlan(suite, { torch: available('cpu'), 'tfjs-cpu': available('cpu') });
  assert.deepEqual(plan.cells.map((c) => c.id), ['conv-train|torch|cpu|det|t1', 'conv-train|torch|cpu|nondet|t1', 'conv-train|tfjs-cpu|cpu|det|t1', 'conv-train|tfjs-cpu|cpu|nondet|t1']);
  assert.ok(plan.cells.every((c) => c.status === 'planned' && !('autotune' in c)));
  assert.ok(plan.runs.every((r) => !('autotune' in r)), 'off is never written');
  assert.deepEqual(plan.notes.filter((n) => /autotuning/.test(n)).sort(), [
    'tfjs-cpu on cpu: algorithm autotuning applies to GPU devices only, run with autotuning off only',
    'torch on cpu: algorithm autotuning applies to GPU devices only, run with autotuning off only',
  ]);
});

test('plan on GPU devices: torch runs autotuning on (a session per value); tfjs-webgpu, ort-webgpu and ort-cuda plan it unsupported, saying why', () => {
  const suite = resolveSuite({}, { backends: ['torch', 'tfjs-webgpu', 'ort-webgpu', 'ort-cuda'], workloads: ['conv-train'], autotune: ['off', 'on'], threads: [1], repeats: 2 }, 'x');
  const plan = makePlan(suite, { torch: available('cuda:0', 'cpu'), 'tfjs-webgpu': available('webgpu'), 'ort-webgpu': available('webgpu'), 'ort-cuda': available('cuda:0') });
  const status = (backend: string, device: string, autotune: 'off' | 'on') =>
    plan.cells.filter((c) => c.backend === backend && c.device === device && (c.autotune ?? 'off') === autotune).map((c) => [c.mode, c.status, c.reason ?? '']);
  assert.deepEqual(status('torch', 'cuda:0', 'on'), [['det', 'planned', ''], ['nondet', 'planned', '']]);
  assert.deepEqual(status('torch', 'cuda:0', 'off'), [['det', 'planned', ''], ['nondet', 'planned', '']]);
  assert.deepEqual(status('torch', 'cpu', 'on'), [], 'not planned on the CPU');
  for (const backend of ['tfjs-webgpu', 'ort-webgpu']) {
    const device = 'webgpu';
    assert.deepEqual(status(backend, device, 'off').map((c) => c[1]), ['planned', 'planned']);
    assert.deepEqual(status(backend, device, 'on'), [['det', 'unsupported', autotuneUnsupported(backend, device)], ['nondet', 'unsupported', autotuneUnsupported(backend, device)]]);
  }
  assert.match(autotuneUnsupported('tfjs-webgpu', 'webgpu'), /^tfjs-webgpu has no algorithm-autotuning switch in detbench/);
  // onnxruntime-node hands the CUDA provider its deviceId only: until it hands on cudnn_conv_algo_search, on is unsupported
  const cuda = status('ort-cuda', 'cuda:0', 'on');
  assert.equal(CUDA_PROVIDER_OPTIONS_APPLIED, false);
  assert.deepEqual(cuda.map((c) => c[1]), ['unsupported', 'unsupported']);
  assert.match(cuda[0][2], /^ort-cuda cannot set cuDNN's algorithm search: onnxruntime-node passes only deviceId to the CUDA provider/);
  // runs: torch on cuda:0 at both values, each run at on saying so
  const on = plan.runs.filter((r) => r.autotune === 'on');
  assert.ok(on.length > 0 && on.every((r) => r.backend === 'torch' && r.device === 'cuda:0'));
  assert.ok(plan.runs.every((r) => r.autotune !== 'off'), 'off is never written');
  assert.equal(AXES.autotune.perSession, true);
});

test('torch: the hello request carries the autotuning value; det expects cudnn.benchmark read back on only at on, nondet at either', () => {
  const gpu = { device: 'cuda:0', threads: 1 };
  assert.deepEqual(helloRequest({ ...gpu, autotune: 'on' }), { op: 'hello', numerics: 'fp32', autotune: 'on', device: 'cuda:0' });
  assert.deepEqual(helloRequest(gpu), { op: 'hello', numerics: 'fp32', autotune: 'off', device: 'cuda:0' });
  assert.deepEqual(helloRequest({ device: 'cpu', threads: 2 }), { op: 'hello', numerics: 'fp32', autotune: 'off', device: 'cpu', threads: 2 });
  const benchmark = (mode: 'det' | 'nondet', autotune?: 'on') => expectedSwitches({ ...gpu, mode, ...(autotune ? { autotune } : {}) });
  assert.equal(benchmark('det')['cudnn.benchmark'], false);
  assert.equal(benchmark('det', 'on')['cudnn.benchmark'], true);
  // det keeps deterministic algorithms at on: the algorithm search runs among them
  assert.equal(benchmark('det', 'on').use_deterministic_algorithms, true);
  assert.equal(benchmark('det', 'on')['cudnn.deterministic'], true);
  assert.equal(benchmark('nondet')['cudnn.benchmark'], true);
  assert.equal(benchmark('nondet', 'on')['cudnn.benchmark'], true);
});

test('ort-cuda: the session options carry cudnn_conv_algo_search DEFAULT at off and EXHAUSTIVE at on; the record says it is not applied', () => {
  for (const [autotune, search] of [[undefined, 'DEFAULT'], ['on', 'EXHAUSTIVE']] as const) {
    const { sessionOptions, determinism } = cudaSession({ mode: 'det', device: 'cuda:1', threads: 1, ...(autotune ? { autotune } : {}) });
    assert.deepEqual(sessionOptions.executionProviders, [{ name: 'cuda', deviceId: 1, cudnn_conv_algo_search: search }]);
    assert.equal(CONV_ALGO_SEARCH[autotune ?? 'off'], search);
    assert.deepEqual(sessionOptions.extra, { session: { disable_cpu_ep_fallback: '1', use_deterministic_compute: '1' } });
    const sw = determinism.switches.find((s) => s.name === 'cudnn_conv_algo_search')!;
    assert.deepEqual([sw.value, sw.verified], ['EXHAUSTIVE (default)', null]);
    assert.match(sw.note!, new RegExp(`^${search} asked for, not applied: onnxruntime-node passes only deviceId`));
  }
});

test('det at off against det at on is an invariance row and a note in words; nondet is not compared across the values', () => {
  const artifacts: Record<string, Float32Array> = { a: new Float32Array([1, 2]), b: new Float32Array([1, 2.5]) };
  const cell = (mode: 'det' | 'nondet', autotune: 'off' | 'on', modalDigest: string) => {
    const key = { workload: 'conv-train', backend: 'torch', device: 'cuda:0', mode, threads: 1, ...(autotune === 'on' ? { autotune } : {}) };
    return { ...key, cell: cellId(key), modalDigest, distinctDigests: 1, verdict: 'bitwise-stable', runs: [] } as unknown as CellSummary;
  };
  const cells = [cell('det', 'on', 'b'), cell('det', 'off', 'a'), cell('nondet', 'on', 'a'), cell('nondet', 'off', 'b')];
  const rows = compareInvariance(cells, (d) => artifacts[d]);
  assert.deepEqual(rows.map((r) => [r.axis, r.base, r.value, r.bitwiseEqual, r.cell]), [['autotune', 'off', 'on', false, 'conv-train|torch|cuda:0|det|t1|autotune-on']]);
  assert.notEqual(AXES.autotune.nondetCompared, true);
  const findings = deriveFindings({ cells, crossBackend: [], oracle: { cells: [], workloads: [] } as never, invariance: rows, negativeControls: [], fleet: [], devices: [], soak: [], locate: [], complete: true, recordedRuns: 0, plannedRuns: 0 }, cells.filter((c) => c.mode === 'det'));
  const broken = findings.filter((f) => f.kind === 'invariance-broken');
  assert.equal(broken.length, 1);
  assert.match(findingText(broken[0]), /^conv-train on torch \(cuda:0, det, 1 thread, autotuning on\): autotuning off and autotuning on give different det bits/);
});
