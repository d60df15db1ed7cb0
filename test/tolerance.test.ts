/**
 * Cross-backend tolerance: relative to the output, or, for sums that may cancel, to the magnitudes of
 * their terms. The reduce-sum tests run every CPU backend's own summation order
 * (test/fixtures/summation-orders.ts) on the workload's real inputs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { analyze } from '../harness/analysis/analyze.ts';
import { diffFloat32 } from '../harness/analysis/diff.ts';
import { describeTolerance, judge, relativeDistance, termMagnitudes } from '../harness/analysis/tolerance.ts';
import { cellId } from '../harness/protocol.ts';
import { loadResults, ResultsWriter, SCHEMA_VERSION, type Manifest } from '../harness/store.ts';
import { UsageError } from '../harness/errors.ts';
import { findingText } from '../reports/findings.ts';
import { findWorkload, resolveWorkload, WORKLOADS } from '../workloads/index.ts';
import { workloadInputs } from '../workloads/inputs.ts';
import type { ResolvedWorkload, Tolerance } from '../workloads/types.ts';
import { BACKEND_SUMS, sequentialFloat64 } from './fixtures/summation-orders.ts';

const reduceSum = (preset: 'quick' | 'standard') => resolveWorkload(findWorkload('reduce-sum')!, preset);
const input = (w: ResolvedWorkload, seed: number) => workloadInputs(w, seed)[0].data as Float32Array;
const one = (x: number) => Float32Array.of(x);
const judgeSums = (tolerance: Tolerance, a: number, b: number, sumAbs: number) => judge(tolerance, one(a), one(b), diffFloat32(one(a), one(b)), () => Float64Array.of(sumAbs));

test('relative to the output, judge is the relative L2 norm of the difference; NaN never passes', () => {
  const t: Tolerance = { relL2: 1e-3 };
  const a = Float32Array.of(3, 4), b = Float32Array.of(3, 4.004), c = Float32Array.of(3, 4.01);
  const never = () => assert.fail('magnitudes are not needed relative to the output');
  assert.deepEqual(judge(t, a, a, diffFloat32(a, a), never), { distance: 0, within: true });
  const near = judge(t, a, b, diffFloat32(a, b), never);
  assert.ok(near.within && Math.abs(near.distance! - 0.004 / 5) < 1e-7, JSON.stringify(near)); // ‖(0, .004)‖ / ‖(3, 4)‖ (4.004 in float32)
  assert.equal(judge(t, a, c, diffFloat32(a, c), never).within, false);
  const nan = Float32Array.of(3, NaN);
  assert.deepEqual(judge(t, a, nan, diffFloat32(a, nan), never), { distance: null, within: false });
});

test('relative to magnitudes, a near-zero sum is judged against Σ|x|; ‖a − b‖ / ‖s‖ on exact inputs', () => {
  const t: Tolerance = { relL2: 1e-6, relativeTo: 'magnitudes' };
  // Σx = 0.001 of Σ|x| = 1000: a difference of 1e-4 is 10% of the sum but 1e-7 of the magnitudes.
  assert.equal(judgeSums(t, 1, 1.0001, 1000).within, true);
  assert.equal(judgeSums({ relL2: 1e-6 }, 1, 1.0001, 1000).within, false);
  assert.equal(judgeSums(t, 1, 1.01, 1000).within, false);
  assert.equal(relativeDistance(Float32Array.of(1, 2), Float32Array.of(1, 5), Float64Array.of(3, 4)), 3 / 5);
  assert.equal(describeTolerance(t), '‖a − b‖ ≤ 0.000001·Σ|terms|');
  assert.equal(describeTolerance({ relL2: 1e-5 }), 'relL2 ≤ 0.00001');
});

test('term magnitudes: Σ|x| for a sum, per bucket for a scatter-add, on tiny workloads checked by hand', () => {
  const sum = resolveWorkload(findWorkload('reduce-sum')!, 'quick', { length: 5 });
  const x = input(sum, 3);
  assert.deepEqual(termMagnitudes(sum, 3), Float64Array.of(x.reduce((s, v) => s + Math.abs(v), 0)));
  const scatter = resolveWorkload(findWorkload('index-add')!, 'quick', { length: 40, buckets: 3, skew: 1 });
  const [src, index] = workloadInputs(scatter, 0).map((t) => t.data);
  const expected = new Float64Array(3);
  src.forEach((v, i) => (expected[index[i]] += Math.abs(v)));
  assert.deepEqual(termMagnitudes(scatter, 0), expected);
  assert.throws(() => termMagnitudes(resolveWorkload(findWorkload('matmul')!, 'quick'), 0), /not plain sums/);
});

test('term magnitudes take the inputs from the source they are given (a run hands over the draws its oracle made)', () => {
  const sum = resolveWorkload(findWorkload('reduce-sum')!, 'quick', { length: 5 });
  const asked: number[] = [];
  const given = workloadInputs(sum, 3).map((t) => ({ ...t, data: Float32Array.from(t.data as Float32Array, (v) => v * 2) }));
  const doubled = termMagnitudes(sum, 3, (w, seed) => (asked.push(seed), given));
  assert.deepEqual(asked, [3]);
  assert.deepEqual(doubled, Float64Array.of(termMagnitudes(sum, 3)[0] * 2));
});

test('every workload whose tolerance is relative to magnitudes has a rule for them', () => {
  const declaring = WORKLOADS.filter((w) => w.tolerance.relativeTo === 'magnitudes');
  assert.ok(declaring.some((w) => w.id === 'reduce-sum'));
  for (const w of declaring) assert.ok(termMagnitudes(resolveWorkload(w, 'quick'), 0).length > 0, w.id);
});

// 4,096 terms (a sixteenth of the quick preset) keep 1,000 seeds to about a second; for zero-mean
// terms the rounding error of every order, relative to Σ|x|, does not depend on the length (the
// standard preset below, 4M terms, lands in the same range).
test('reduce-sum, 1,000 seeds: every CPU backend’s order agrees with every other within tolerance; a dropped term fails', () => {
  const workload = resolveWorkload(findWorkload('reduce-sum')!, 'quick', { length: 1 << 12 });
  const tolerance = findWorkload('reduce-sum')!.tolerance;
  const orders = Object.entries(BACKEND_SUMS);
  let flaggedRelativeToOutput = 0, worst = 0;
  for (let seed = 0; seed < 1000; seed++) {
    const x = input(workload, seed);
    const sumAbs = x.reduce((s, v) => s + Math.abs(v), 0);
    const sums = orders.map(([, f]) => f(x));
    for (let i = 0; i < sums.length; i++) {
      for (let j = i + 1; j < sums.length; j++) {
        const v = judgeSums(tolerance, sums[i], sums[j], sumAbs);
        assert.ok(v.within, `seed ${seed}: ${orders[i][0]} ${sums[i]} vs ${orders[j][0]} ${sums[j]}: ${v.distance} of Σ|x| ${sumAbs}`);
        worst = Math.max(worst, v.distance!);
        if (!judgeSums({ relL2: 1e-4 }, sums[i], sums[j], sumAbs).within) flaggedRelativeToOutput++;
      }
    }
    // A wrong sum: the first term of magnitude ≥ 0.02 left out (Σ|x| ≈ 3,300 here, so 0.02 ≈ 6e-6 of it).
    const k = x.findIndex((v) => Math.abs(v) >= 0.02);
    const wrong = sequentialFloat64(x.subarray(k + 1)) + sequentialFloat64(x.subarray(0, k));
    for (let i = 0; i < sums.length; i++) assert.equal(judgeSums(tolerance, sums[i], wrong, sumAbs).within, false, `seed ${seed}: dropping x[${k}] = ${x[k]} passed against ${orders[i][0]}`);
  }
  // The old bound, relative to |Σx|, flagged correct sums; the new one keeps a margin above the worst pair.
  assert.ok(flaggedRelativeToOutput > 0, 'relative to the output, no correct sum was flagged: the test no longer shows the problem');
  assert.ok(worst < tolerance.relL2 / 2, `worst pair ${worst}`);
});

test('reduce-sum, standard preset (4M terms) at seed 18: every order within tolerance, a dropped 2σ term fails', () => {
  const x = input(reduceSum('standard'), 18);
  const tolerance = findWorkload('reduce-sum')!.tolerance;
  const sumAbs = x.reduce((s, v) => s + Math.abs(v), 0);
  const sums = Object.entries(BACKEND_SUMS).map(([name, f]) => [name, f(x)] as const);
  for (const [name, s] of sums) for (const [other, t] of sums) assert.ok(judgeSums(tolerance, s, t, sumAbs).within, `${name} ${s} vs ${other} ${t}`);
  const k = x.findIndex((v) => Math.abs(v) >= 2);
  const wrong = sequentialFloat64(x.subarray(k + 1)) + sequentialFloat64(x.subarray(0, k));
  for (const [name, s] of sums) assert.equal(judgeSums(tolerance, s, wrong, sumAbs).within, false, `dropping x[${k}] = ${x[k]} passed against ${name}`);
});

/** A results folder of reduce-sum on the quick preset: each backend's det artifact is the given sum. */
function reduceSumResults(seed: number, sums: Record<string, number>, params: Record<string, unknown> = { length: 1 << 16 }): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-tolerance-')), 'results');
  const backends = Object.keys(sums);
  const cells = backends.map((backend) => {
    const key = { workload: 'reduce-sum', backend, device: 'cpu', mode: 'det' as const, threads: 1 };
    return { ...key, id: cellId(key), status: 'planned' as const };
  });
  const manifest: Manifest = {
    schemaVersion: SCHEMA_VERSION, tool: { name: 'detbench', version: 'test' }, runId: 'tolerance', createdAt: 'now',
    suite: {
      name: 'quick', source: 'builtin:quick', preset: 'quick', workloads: [{ id: 'reduce-sum', params: params as { length: number } }], backends, backendsExplicit: true,
      modes: ['det'], threads: [1], repeats: 2, seed, timeoutMs: 1000, trace: false, kind: 'determinism', devices: 'all', soakMs: 0, allowSlow: false,
    },
    plannedRuns: cells.length * 2, cells,
    backends: Object.fromEntries(backends.map((b) => [b, { available: true, version: 'test', devices: ['cpu'], notes: [] }])),
    environment: {
      node: 'test', npm: 'test', packages: {}, os: { platform: 'linux', release: 'test', arch: 'x64', type: 'Linux' },
      cpu: { model: 'test', cores: 2 }, memoryBytes: 2 ** 30, hostname: 'test', env: {}, git: { commit: 'test', dirty: false },
    },
    warnings: [],
  };
  const writer = ResultsWriter.create(dir, manifest);
  let runIndex = 0;
  for (let repeat = 0; repeat < 2; repeat++) {
    for (const cell of cells) {
      const bytes = new Uint8Array(one(sums[cell.backend]).buffer);
      writer.append({
        workload: cell.workload, backend: cell.backend, device: 'cpu', mode: 'det', threads: 1, runIndex: runIndex++, repeat, warmup: false, seed,
        preset: 'quick', params: { length: 1 << 16 }, cell: cell.id, startedAt: 'now', wallMs: 1,
        determinism: { mode: 'det', control: 'uncontrolled', switches: [], summary: 'test' }, warnings: [],
        status: 'ok', setupMs: 1, computeMs: 1, loss: null, outputL2: Math.abs(sums[cell.backend]),
        artifact: { sha256: writer.writeArtifact(bytes), bytes: 4, tensors: [{ name: 'out', shape: [1], offset: 0 }] },
      });
    }
  }
  writer.finish({ finishedAt: 'now', runs: writer.written, interrupted: false });
  return dir;
}

test('analyze judges reduce-sum relative to Σ|x| of the suite’s inputs: the near-zero sum of a seed passes, a dropped term is a finding', () => {
  // Quick seed 127: Σx = 2.35 of Σ|x| ≈ 52,000, so relative to |Σx| tfjs-wasm is 1.6e-4 off and ort-cpu 4.1e-4.
  const seed = 127;
  const x = input(reduceSum('quick'), seed);
  const sums = { 'tfjs-cpu': BACKEND_SUMS['tfjs-cpu'](x), 'tfjs-wasm': BACKEND_SUMS['tfjs-wasm'](x), 'ort-cpu': BACKEND_SUMS['ort-cpu'](x) };
  for (const b of ['tfjs-wasm', 'ort-cpu'] as const) assert.ok(Math.abs(sums[b] - sums['tfjs-cpu']) / Math.abs(sums['tfjs-cpu']) > 1e-4, `seed ${seed} no longer cancels enough on ${b} to show anything (inputs changed?): pick another`);
  const summary = analyze(loadResults(reduceSumResults(seed, sums)));
  assert.deepEqual(summary.crossBackend.map((c) => [c.backend, c.status]), [['tfjs-wasm', 'within-tolerance'], ['ort-cpu', 'within-tolerance']]);
  assert.ok(summary.crossBackend.every((c) => c.distance! < 5e-7 && c.tolerance.relativeTo === 'magnitudes'));
  assert.deepEqual(summary.findings, []);

  const k = x.findIndex((v) => Math.abs(v) >= 0.1);
  const wrong = { ...sums, 'ort-cpu': sequentialFloat64(x.subarray(k + 1)) + sequentialFloat64(x.subarray(0, k)) };
  const broken = analyze(loadResults(reduceSumResults(seed, wrong)));
  assert.equal(broken.crossBackend.find((c) => c.backend === 'ort-cpu')!.status, 'outside-tolerance');
  const outside = broken.findings.filter((f) => f.kind === 'outside-tolerance');
  assert.equal(outside.length, 1);
  const evidence = outside[0].evidence as { distance: number; tolerance: Tolerance };
  assert.ok(evidence.distance > 5e-7 && evidence.tolerance.relativeTo === 'magnitudes');
  assert.ok(findingText(outside[0]).includes(describeTolerance(evidence.tolerance)), 'the words say what the bound is relative to');
});

test('a results folder whose reduce-sum size or seed could not have been run is refused in one line before any input is generated', () => {
  for (const [params, seed, field] of [[{ length: 1e15 }, 0, /reduce-sum's length is 1000000000000000/], [{ length: '65536' }, 0, /`suite\.workloads\[0\]\.params\.length` must be number/], [{ length: 1 << 16 }, -1, /`suite\.seed` must be >= 0, got -1/]] as const) {
    const dir = reduceSumResults(seed, { 'tfjs-cpu': 1, 'tfjs-wasm': 1.5 }, params);
    assert.throws(() => analyze(loadResults(dir)), (err: Error) => err instanceof UsageError && err.message.startsWith(path.join(dir, 'manifest.json')) && field.test(err.message), String(field));
  }
});
