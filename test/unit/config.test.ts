import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { backendIds, findBackend } from '../../harness/backends/index.ts';
import { BUILTIN_SUITES, loadSuite, MAX_REPEATS, parseDuration, resolveSuite, SUITE_FIELDS } from '../../harness/config.ts';
import { THREADS_EXPECTED } from '../../harness/axes.ts';
import { message, UsageError } from '../../harness/errors.ts';
import { WORKLOAD_IDS } from '../../workloads/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-config-'));
const file = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};
const fails = (fn: () => unknown, expected: string) =>
  assert.throws(fn, (err: unknown) => err instanceof UsageError && err.message === expected);

test('the quick suite resolves to every workload but the GPU-only ones, on every backend', () => {
  const s = resolveSuite(BUILTIN_SUITES.quick, {}, 'builtin:quick');
  assert.deepEqual(s.workloads.map((w) => w.id), WORKLOAD_IDS.filter((id) => id !== 'atomic-sum'));
  assert.deepEqual(s.backends, backendIds());
  assert.deepEqual(s.modes, ['det', 'nondet']);
  assert.equal(s.repeats, 3);
  assert.equal(s.devices, 'all');
  assert.equal(s.soakMs, 0);
});

test('the acceptance suite: GPU backends only, both GPU negative controls, larger sizes; a soak from --duration', () => {
  const s = resolveSuite(BUILTIN_SUITES.acceptance, { soakSec: parseDuration('10m') }, 'builtin:acceptance');
  // every backend that can run on a GPU, in registry order, and no other
  assert.deepEqual(s.backends, backendIds().filter((id) => findBackend(id)!.info.deviceKinds.includes('gpu')));
  assert.ok(s.backends.length > 0 && !s.backends.includes('tfjs-cpu') && !s.backends.includes('ort-cpu'));
  assert.ok(['index-add', 'atomic-sum', 'embedding-train', 'transformer-train', 'resnet-train'].every((id) => s.workloads.some((w) => w.id === id)));
  assert.equal(s.preset, 'gpu');
  assert.equal(s.workloads.find((w) => w.id === 'index-add')!.params.length, 1 << 24, 'GPU-sized scatter-add');
  assert.equal(s.soakMs, 600_000);
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration('1.5h'), 5400);
  for (const bad of ['600', '10 minutes', '-1m', '']) assert.throws(() => parseDuration(bad), { name: 'UsageError', message: message.soak(bad) });
  assert.throws(() => resolveSuite({ devices: 'tpu' as 'gpu' }, {}, 'x.yaml'), { message: message.devices('tpu') });
});

test('flags override the suite without touching it', () => {
  const base = { ...BUILTIN_SUITES.quick };
  const s = resolveSuite(base, { repeats: 5, workloads: ['matmul'], threads: [2, 1, 2] }, 'builtin:quick');
  assert.equal(s.repeats, 5);
  assert.deepEqual(s.threads, [1, 2]);
  assert.deepEqual(base, BUILTIN_SUITES.quick);
});

test('bad values get one message naming the field and the fix', () => {
  fails(() => resolveSuite({}, { repeats: 0 }, 'x'), message.repeats(0, MAX_REPEATS));
  fails(() => resolveSuite({}, { repeats: 'abc' as unknown as number }, 'x'), message.repeats('abc', MAX_REPEATS));
  fails(() => resolveSuite({}, { backends: ['tpu-magic'] }, 'x'), message.unknownBackend('tpu-magic', backendIds()));
  fails(() => resolveSuite({}, { workloads: ['resnet'] }, 'x'), message.unknownWorkload('resnet', WORKLOAD_IDS));
  fails(() => resolveSuite({}, { threads: [0] }, 'x'), message.axisValues('threads', THREADS_EXPECTED, [0]));
  fails(() => resolveSuite({}, { seed: -1 }, 'x'), message.seed(-1));
  fails(() => resolveSuite({ params: { matmul: { q: 3 } } }, {}, 'x'), message.workloadParam('matmul', 'q', ['m', 'k', 'n']));
  fails(() => resolveSuite({ params: { matmul: { m: 0.5 } } }, {}, 'x'), message.workloadParamValue('matmul', 'm', 0.5));
  fails(() => resolveSuite(BUILTIN_SUITES.noise, { workloads: ['matmul'] }, 'builtin:noise'), message.noiseNeedsTraining('matmul'));
  fails(() => resolveSuite({ kind: 'chaos' as 'noise' }, {}, 'x'), message.suiteKind('chaos'));
});

test('suite files: YAML and JSON load; malformed, unknown fields and missing files are refused', () => {
  const yaml = file('s.yaml', 'name: mine\nworkloads: [matmul]\nrepeats: 4\nparams:\n  matmul: { m: 8 }\n');
  const s = resolveSuite(loadSuite(yaml).input, {}, yaml);
  assert.equal(s.name, 'mine');
  assert.deepEqual(s.workloads, [{ id: 'matmul', params: { m: 8, k: 128, n: 64 } }]);
  const json = file('s.json', JSON.stringify({ workloads: ['reduce-sum'], repeats: 2 }));
  assert.equal(resolveSuite(loadSuite(json).input, {}, json).repeats, 2);

  const bad = file('bad.yaml', 'workloads: [matmul\nrepeats: 3\n');
  assert.throws(() => loadSuite(bad), (err: unknown) => err instanceof UsageError && err.message.startsWith(`suite file ${bad} is not valid YAML or JSON:`));
  fails(() => loadSuite(file('list.yaml', '- a\n- b\n')), message.suiteShape(path.join(tmp, 'list.yaml')));
  fails(() => loadSuite(file('typo.yaml', 'repeat: 3\n')), message.suiteUnknownField('repeat', SUITE_FIELDS));
  fails(() => loadSuite(path.join(tmp, 'nope.yaml')), message.suiteNotFound(path.join(tmp, 'nope.yaml')));
});
