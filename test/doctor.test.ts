/** `detbench doctor`: each check on exact inputs, and the command itself without torch. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { diagnose, doctor, MANY_CORES, type Check, type TorchFacts } from '../harness/doctor.ts';
import type { Fingerprint } from '../harness/env.ts';
import { EXIT } from '../harness/errors.ts';

const fingerprint = (git: Fingerprint['git'], packages: Record<string, string | null> = {}) => ({ git, packages }) as unknown as Fingerprint;
const clean = fingerprint({ commit: 'a'.repeat(40), dirty: false });
const torch = (o: Partial<TorchFacts> = {}): TorchFacts => ({ python: 'python3', torch: '2.11.0', cuda: '13.0', cudnn: 91900, cudnnBenchmark: false, ...o });
const byId = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.id, c]));

test('a host set up for reproducible training passes every check', () => {
  const env = { PYTHONHASHSEED: '0', CUBLAS_WORKSPACE_CONFIG: ':4096:8', TF_DETERMINISTIC_OPS: '1', OMP_NUM_THREADS: '8', MKL_NUM_THREADS: '8' };
  const report = diagnose({ env, cores: 64, fingerprint: clean, torch: torch() });
  assert.equal(report.ok, true);
  assert.deepEqual(report.checks.filter((c) => c.status !== 'pass' && c.status !== 'info'), []);
});

test('each known cause is caught, with its fix', () => {
  const report = diagnose({ env: {}, cores: MANY_CORES * 2, fingerprint: fingerprint({ commit: 'b'.repeat(40), dirty: true }), torch: torch({ cudnnBenchmark: true }) });
  const c = byId(report.checks);
  assert.equal(c.PYTHONHASHSEED.status, 'warn');
  assert.equal(c.CUBLAS_WORKSPACE_CONFIG.status, 'fail', 'with CUDA, an unset cuBLAS workspace makes det runs fail');
  assert.equal(c.TF_DETERMINISTIC_OPS.status, 'warn');
  assert.equal(c['thread-count'].status, 'warn', 'unset thread counts on a many-core host');
  assert.equal(c['code-version'].status, 'warn');
  assert.equal(c['cudnn.benchmark'].status, 'fail');
  for (const check of report.checks.filter((x) => x.status === 'warn' || x.status === 'fail')) assert.ok(check.fix, `${check.id} says how to fix it`);
  assert.equal(report.ok, false);
});

test('without CUDA an unset cuBLAS workspace is a warning; a small host gets a note on threads, not a warning', () => {
  const c = byId(diagnose({ env: {}, cores: 2, fingerprint: clean, torch: torch({ cuda: null, cudnn: null }) }).checks);
  assert.equal(c.CUBLAS_WORKSPACE_CONFIG.status, 'warn');
  assert.equal(c['thread-count'].status, 'info');
  assert.equal(c.torch.status, 'info');
});

test('without torch the torch items say why, and nothing fails for it', () => {
  const report = diagnose({ env: { CUBLAS_WORKSPACE_CONFIG: ':16:8' }, cores: 2, fingerprint: clean, torch: torch({ torch: null, error: "ModuleNotFoundError('torch')" }) });
  assert.match(byId(report.checks).torch.found, /not importable by python3 \(ModuleNotFoundError/);
  assert.equal(byId(report.checks)['cudnn.benchmark'], undefined);
  assert.equal(report.ok, true);
});

test('detbench doctor --json: every check, exit 0 or 1 by whether one failed', () => {
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'doctor', '--json', '--python', '/nonexistent/python'], { encoding: 'utf8', env: { ...process.env, CUBLAS_WORKSPACE_CONFIG: ':4096:8' } });
  const report = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  assert.equal(r.status, report.ok ? EXIT.ok : EXIT.findings, r.stderr);
  assert.deepEqual(report.checks.map((c) => c.id), ['PYTHONHASHSEED', 'CUBLAS_WORKSPACE_CONFIG', 'TF_DETERMINISTIC_OPS', 'thread-count', 'code-version', 'tfjs-node', 'torch']);
  assert.match(byId(report.checks).torch.found, /not importable by \/nonexistent\/python/);
});

test('with the torch probe of the same Python at hand, the torch items come from it (torch or why not) and no Python of its own is started', async () => {
  // a Python that cannot start: had the doctor asked it, torch would be "not importable"
  const stack = { cuda: '12.1', cudnn: 8902, cudnnBenchmark: true };
  const report = await doctor({ fingerprint: clean, python: '/nonexistent/python', probed: { available: true, version: '2.1.0', devices: ['cuda:0'], notes: [], stack } });
  const c = byId(report.checks);
  assert.equal(c.torch.found, 'torch 2.1.0 (/nonexistent/python), CUDA 12.1, cuDNN 8902');
  assert.equal(c['cudnn.benchmark'].status, 'fail');
  // a probe that found no torch: its reason, and still no Python of the doctor's own
  const reason = 'python3 did not answer within 120 s (importing torch or starting CUDA hangs there): pass --python PATH to another Python';
  const without = await doctor({ fingerprint: clean, python: '/nonexistent/python', probed: { available: false, reason } });
  assert.equal(byId(without.checks).torch.found, reason);
});
