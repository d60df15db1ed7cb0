/**
 * Several GPUs of one host are several devices in the plan: identical devices must give identical
 * det bits, and one that does not is named (with three or more, by majority).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { analyze } from '../../harness/analysis/analyze.ts';
import { loadResults } from '../../harness/store.ts';
import { charts } from '../../reports/specs.ts';
import { summaryTable } from '../../reports/table.ts';
import { makeResults } from '../fixtures/results.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-analyze-'));
const summarize = (devices: string[], oddDevice?: string) =>
  analyze(loadResults(makeResults(root, { workloads: ['matmul'], backends: ['torch'], repeats: 3, devices, oddDevice })));

test('identical GPUs that agree: one device row, no findings', () => {
  const s = summarize(['cuda:0', 'cuda:1', 'cuda:2']);
  assert.equal(s.devices.length, 1);
  assert.deepEqual(s.devices[0].devices.map((d) => [d.device, d.name]), [['cuda:0', 'Fixture GPU'], ['cuda:1', 'Fixture GPU'], ['cuda:2', 'Fixture GPU']]);
  assert.equal(s.devices[0].agree, true);
  assert.deepEqual(s.findings, []);
});

test('one of three identical GPUs gives other det bits: it is named as suspect', () => {
  const s = summarize(['cuda:0', 'cuda:1', 'cuda:2'], 'cuda:1');
  assert.equal(s.devices[0].agree, false);
  assert.deepEqual(s.devices[0].suspects, ['cuda:1']);
  assert.deepEqual(s.findings.map((f) => [f.kind, f.severity, f.cell?.workload, f.cell?.backend, f.evidence]), [['suspect-device', 'fail', 'matmul', 'torch', { device: 'cuda:1', name: 'Fixture GPU' }]]);
  assert.match(summaryTable(s, 'x'), /matmul on torch: cuda:0, cuda:1, cuda:2 DIFFER \(suspect: cuda:1 \(Fixture GPU\)\)/);
});

test('two identical GPUs that disagree: flagged, but neither can be named', () => {
  const s = summarize(['cuda:0', 'cuda:1'], 'cuda:0');
  assert.deepEqual(s.devices[0].suspects, []);
  assert.deepEqual(s.findings.map((f) => f.kind), ['devices-disagree']);
  assert.deepEqual(s.findings[0].kind === 'devices-disagree' && s.findings[0].evidence.devices.map((d) => d.device), ['cuda:0', 'cuda:1']);
});

test('charts tell the devices of one backend apart', () => {
  const matrix = charts(summarize(['cuda:0', 'cuda:1']), 1.25).find((c) => c.id === 'determinism-matrix')!;
  const labels = (matrix.spec as { data: { values: Array<{ backend: string }> } }).data.values.map((v) => v.backend);
  assert.deepEqual([...new Set(labels)].sort(), ['torch cuda:0', 'torch cuda:1']);
});

test('one device: nothing to compare', () => {
  assert.deepEqual(summarize(['cuda:0']).devices, []);
});

test('a GPU negative control varying in det: expected on a backend with no switch (a note), a finding on one with a switch', () => {
  const results = (control: 'controlled' | 'uncontrolled', devices: string[]) =>
    analyze(loadResults(makeResults(root, { workloads: ['index-add', 'matmul'], backends: ['b'], repeats: 3, devices, control, detUnstable: true })));
  const failing = (s: ReturnType<typeof results>) => s.findings.filter((f) => f.severity === 'fail').map((f) => `${f.kind} ${f.cell?.workload}`);
  const webgpu = results('uncontrolled', ['webgpu:0']);
  assert.deepEqual(failing(webgpu), ['det-unstable matmul'], 'matmul is a finding; index-add is not');
  assert.equal(webgpu.verdict.detCells, 1);
  assert.deepEqual(webgpu.findings.filter((f) => f.severity === 'info').map((f) => `${f.kind} ${f.cell?.workload}`), ['varies-as-expected index-add']);
  const torch = results('controlled', ['cuda:0']);
  assert.deepEqual(failing(torch), ['det-unstable index-add', 'det-unstable matmul'], 'with a switch, det must be stable for the control too');
  const cpu = results('uncontrolled', ['cpu']);
  assert.deepEqual(failing(cpu), ['det-unstable index-add', 'det-unstable matmul'], 'on a CPU index-add is no control: it must be stable');
});
