/**
 * The numerics axis (`--numerics fp32,tf32,bf16`): its own cells where a backend has the mode, an
 * `unsupported` cell saying why where it has not, the value in the key, record and manifest, and
 * det bits compared across it like any axis (but never against the float64 oracle's float32 tolerance).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Availability } from '../../harness/backends/types.ts';
import { numericsUnsupported } from '../../harness/backends/types.ts';
import { resolveSuite } from '../../harness/config.ts';
import { message, UsageError } from '../../harness/errors.ts';
import { makePlan } from '../../harness/plan.ts';
import { cellId } from '../../harness/protocol.ts';
import { problemOf } from '../../harness/schema.ts';
import { compareInvariance } from '../../harness/analysis/agreement.ts';
import { deriveFindings } from '../../harness/analysis/findings.ts';
import { compareWithOracle } from '../../harness/analysis/oracle.ts';
import type { CellSummary } from '../../harness/analysis/summary.ts';
import { findingText } from '../../reports/findings.ts';
import { AXES } from '../../harness/axes.ts';

const cpu: Availability = { available: true, version: 'x', devices: ['cpu'], notes: [] };

test('--numerics: deduplicated in fp32, tf32, bf16 order; fp32 alone is the default and leaves the suite as it was', () => {
  assert.deepEqual(resolveSuite({}, { numerics: ['bf16', 'fp32', 'bf16'] }, 'x').numerics, ['fp32', 'bf16']);
  assert.equal('numerics' in resolveSuite({}, { numerics: ['fp32'] }, 'x'), false);
  assert.equal('numerics' in resolveSuite({}, {}, 'x'), false);
  for (const bad of [['fp16'], [], 'bf16']) {
    assert.throws(() => resolveSuite({}, { numerics: bad as never }, 'x'), (e: unknown) => e instanceof UsageError && e.message === message.axisValues('numerics', AXES.numerics.expected, bad));
  }
});

test('the key writes tf32 and bf16 after the thread count, never fp32 (cell ids from before the axis stay as they were)', () => {
  const key = { workload: 'matmul', backend: 'torch', device: 'cpu', mode: 'det' as const, threads: 1 };
  assert.equal(cellId(key), 'matmul|torch|cpu|det|t1');
  assert.equal(cellId({ ...key, numerics: 'fp32' }), 'matmul|torch|cpu|det|t1');
  assert.equal(cellId({ ...key, numerics: 'bf16' }), 'matmul|torch|cpu|det|t1|bf16');
  assert.equal(cellId({ ...key, numerics: 'tf32', arm: 'ulp' }), 'matmul|torch|cpu|det|t1|tf32|ulp');
});

test('plan: torch computes bf16 on the CPU where autocast covers the op; tf32 on a CPU and bf16 elsewhere are unsupported, saying why', () => {
  const suite = resolveSuite({}, { backends: ['torch', 'tfjs-cpu'], workloads: ['matmul', 'reduce-sum'], numerics: ['fp32', 'tf32', 'bf16'], threads: [1], repeats: 2 }, 'x');
  const plan = makePlan(suite, { torch: cpu, 'tfjs-cpu': cpu });
  const status = (backend: string, workload: string, numerics: string) =>
    plan.cells.filter((c) => c.backend === backend && c.workload === workload && (c.numerics ?? 'fp32') === numerics).map((c) => [c.mode, c.status, c.reason ?? '']);
  assert.deepEqual(status('torch', 'matmul', 'bf16'), [['det', 'planned', ''], ['nondet', 'planned', '']]);
  assert.deepEqual(status('torch', 'matmul', 'fp32').map((x) => x[1]), ['planned', 'planned']);
  const tf32 = status('torch', 'matmul', 'tf32');
  assert.ok(tf32.every(([, s, reason]) => s === 'unsupported' && reason === numericsUnsupported('torch', 'tf32', 'cpu')), JSON.stringify(tf32));
  assert.match(tf32[0][2], /TF32 is a GPU tensor-core mode .*on the CPU/);
  assert.match(status('torch', 'reduce-sum', 'bf16')[0][2], /autocast has no bfloat16 rule for sum/);
  assert.match(status('tfjs-cpu', 'matmul', 'bf16')[0][2], /tfjs-cpu has no bfloat16 mode/);
  // runs: fp32 and bf16 of torch matmul, fp32 of the rest; each run carries its numerics where not fp32
  const runs = (n: string) => plan.runs.filter((r) => (r.numerics ?? 'fp32') === n).map((r) => `${r.backend}/${r.workload}`);
  assert.deepEqual([...new Set(runs('bf16'))], ['torch/matmul']);
  assert.deepEqual(runs('tf32'), []);
  assert.deepEqual([...new Set(runs('fp32'))], ['torch/matmul', 'torch/reduce-sum', 'tfjs-cpu/matmul', 'tfjs-cpu/reduce-sum']);
  assert.ok(plan.runs.every((r) => !('numerics' in r) || r.numerics !== 'fp32'), 'fp32 is never written');
});

test('a record or manifest cell with numerics outside the set is refused', () => {
  const record = {
    workload: 'matmul', backend: 'torch', device: 'cpu', mode: 'det', threads: 1, numerics: 'bf16', runIndex: 0, repeat: 0, warmup: false, seed: 0, preset: 'quick', params: {},
    cell: 'matmul|torch|cpu|det|t1|bf16', startedAt: '', wallMs: 1, determinism: null, warnings: [], status: 'unsupported', message: 'x',
  };
  assert.equal(problemOf('record', record), null);
  assert.deepEqual(problemOf('record', { ...record, numerics: 'fp16' }), { field: 'numerics', problem: 'must be one of fp32, tf32, bf16, got "fp16"' });
});

const artifacts: Record<string, Float32Array> = { f: new Float32Array([1, 2]), b: new Float32Array([1, 2.0078125]), o: new Float32Array([1, 2]) };
const cell = (numerics: 'fp32' | 'bf16', modalDigest: string) => {
  const key = { workload: 'matmul', backend: 'torch', device: 'cpu', mode: 'det' as const, threads: 1, ...(numerics === 'fp32' ? {} : { numerics }) };
  return { ...key, cell: cellId(key), modalDigest, distinctDigests: 1, verdict: 'bitwise-stable', runs: [] } as unknown as CellSummary;
};

test('fp32 against bf16 is an invariance row and a note in words; the float64 oracle judges the fp32 cell only', () => {
  const cells = [cell('bf16', 'b'), cell('fp32', 'f')];
  const rows = compareInvariance(cells, (d) => artifacts[d]);
  assert.deepEqual(rows.map((r) => [r.axis, r.base, r.value, r.bitwiseEqual]), [['numerics', 'fp32', 'bf16', false]]);
  const oracleFile = { oracleVersion: 1, made: true, python: 'p', workloads: [{ workload: 'matmul', status: 'ok' as const, artifact: { sha256: 'o', bytes: 8, tensors: [] } }] };
  const { oracle } = compareWithOracle(oracleFile, cells, [], (d) => artifacts[d], () => ({ within: true, distance: 0, tolerance: { relL2: 1e-5 } }));
  assert.deepEqual(oracle.cells.map((c) => c.cell), ['matmul|torch|cpu|det|t1']);
  const findings = deriveFindings({ cells, crossBackend: [], oracle, invariance: rows, negativeControls: [], fleet: [], devices: [], soak: [], locate: [], complete: true, recordedRuns: 0, plannedRuns: 0 }, cells);
  assert.deepEqual(findings.map((f) => [f.kind, f.severity]), [['invariance-broken', 'info']]);
  assert.match(findingText(findings[0]), /^matmul on torch \(cpu, det, 1 thread, bf16\): fp32 and bf16 give different det bits/);
});
