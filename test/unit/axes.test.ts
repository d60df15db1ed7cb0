/**
 * Invariance axes (harness/axes.ts): one declaration per axis, and every axis keyed, planned,
 * supported, validated and compared the same way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AXES, AXIS_IDS, axisFields, axisKeyPart, axisValue } from '../../harness/axes.ts';
import { axisAgreement, compareInvariance } from '../../harness/analysis/agreement.ts';
import type { CellSummary, Summary } from '../../harness/analysis/summary.ts';
import { agreementRows } from '../../reports/text.ts';
import { supportOf, type Backend } from '../../harness/backends/types.ts';
import { findBackend } from '../../harness/backends/index.ts';
import { CELL_KEY_FIELDS, GROUP_FIELDS, cellId, groupId, type CellKey } from '../../harness/protocol.ts';
import { problemOf } from '../../harness/schema.ts';

const artifacts: Record<string, Float32Array> = { a: new Float32Array([1, 2]), b: new Float32Array([1, 2.0000002]), c: new Float32Array([1, 3]) };
const detCell = (key: Omit<CellKey, 'mode' | 'workload' | 'backend' | 'device'> & Partial<CellKey>, modalDigest: string) => {
  const full: CellKey = { workload: 'matmul', backend: 'ort-cpu', device: 'cpu', mode: 'det', ...key };
  return { ...full, cell: cellId(full), modalDigest, distinctDigests: 1, verdict: 'bitwise-stable', runs: [] } as unknown as CellSummary;
};

test('every axis is a key field, between the mode and the noise arm, in AXIS_IDS order; groups leave out mode and arm only', () => {
  assert.deepEqual(CELL_KEY_FIELDS, ['workload', 'backend', 'device', 'mode', ...AXIS_IDS, 'arm']);
  assert.deepEqual(GROUP_FIELDS, ['workload', 'backend', 'device', ...AXIS_IDS]);
  // commander hands `--batch-sizes` over as `batchSizes`: the flag must be the suite field's kebab-case form
  for (const axis of AXIS_IDS) assert.equal(AXES[axis].flag, `--${AXES[axis].suiteField.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
});

test('a required axis is always written; axisFields keeps what a record stores', () => {
  assert.equal(axisKeyPart('threads', 4), 't4');
  assert.deepEqual(axisFields({ threads: 2 }), { threads: 2 });
  assert.equal(axisValue({ threads: 3 }, 'threads'), 3);
  assert.equal(groupId({ workload: 'matmul', backend: 'ort-cpu', device: 'cpu', threads: 2 }), 'matmul|ort-cpu|cpu|t2');
});

test('an axis compared the same way: each value against the group base, and the values in classes of equal bits', () => {
  // 1 and 4 threads agree, 2 differs; the other device is its own group of one (nothing to compare)
  const cells = [detCell({ threads: 2 }, 'b'), detCell({ threads: 1 }, 'a'), detCell({ threads: 4 }, 'a'), detCell({ threads: 8 }, 'c'), detCell({ device: 'other', threads: 2 }, 'b')];
  const rows = compareInvariance(cells, (d) => artifacts[d]);
  assert.deepEqual(rows.map((r) => [r.axis, r.base, r.value, r.bitwiseEqual]), [['threads', 1, 2, false], ['threads', 1, 4, true], ['threads', 1, 8, false]]);
  const agreement = axisAgreement(cells);
  assert.equal(agreement.length, 1);
  assert.deepEqual(agreement[0].classes, [[1, 4], [2], [8]]);
  assert.equal(agreement[0].baseCell, 'matmul|ort-cpu|cpu|det|t1');
  assert.equal(agreement[0].group, 'matmul|ort-cpu|cpu');
  // the words the terminal summary, report.md and report.html use
  const summary = { cells, invariance: rows, agreement } as unknown as Summary;
  assert.deepEqual(agreementRows(summary, 'threads'), ['matmul on ort-cpu: 1 thread = 4 threads ≠ 2 threads ≠ 8 threads (up to 4194304 ULP from 1 thread)']);
});

test('supportOf asks the backend about each axis value, and says nothing about values it does not ask', () => {
  const base = findBackend('tfjs-cpu')!;
  const refusing: Backend = { ...base, supportsAxis: (axis, value) => (axis === 'threads' && value === 3 ? { ok: false, reason: 'three is a crowd' } : null) };
  const spec = { kind: 'infer', op: 'matmul', m: 2, k: 2, n: 2 } as const;
  assert.deepEqual(supportOf(refusing, spec, { device: 'cpu', threads: 3 }), { ok: false, reason: 'three is a crowd' });
  assert.deepEqual(supportOf(refusing, spec, { device: 'cpu', threads: 2 }), { ok: true });
  assert.deepEqual(supportOf(refusing, spec), { ok: true }, 'without a point only the workload is judged');
});

test('records: axis fields are validated like any field', () => {
  const record = {
    workload: 'matmul', backend: 'tfjs-cpu', device: 'cpu', mode: 'det', threads: 1, runIndex: 0, repeat: 0, warmup: false, seed: 0, preset: 'quick', params: {},
    cell: 'matmul|tfjs-cpu|cpu|det|t1', startedAt: '', wallMs: 1, determinism: null, warnings: [], status: 'error', message: 'x',
  };
  assert.equal(problemOf('record', record), null);
  assert.equal(problemOf('record', { ...record, threads: 0 })?.field, 'threads');
  assert.equal(problemOf('record', { ...record, loaderWorkers: -1 })?.field, 'loaderWorkers');
  assert.equal(problemOf('record', { ...record, loaderWorkers: 2, resumeAt: 3 }), null);
  assert.equal(problemOf('record', { ...record, microBatches: 2 })?.problem, 'is not a field this version of detbench writes');
});
