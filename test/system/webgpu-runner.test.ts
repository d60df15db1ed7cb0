/**
 * The WebGPU backends through the CLI and its runner on a software adapter (Mesa ≥ 24's lavapipe):
 * tfjs-webgpu in processes of its own, real records, and no process left behind afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemTest } from './components.ts';

const bin = fileURLToPath(new URL('../../bin/detbench.mjs', import.meta.url));

systemTest('WebGPU backends through the runner on a software adapter: tfjs-webgpu in its own processes, real records, no process left behind', 'lavapipe', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-webgpu-runner-'));
  // every process the run starts inherits this variable: afterwards, none may be left
  const mark = `webgpu-${process.pid}-${Date.now()}`;
  const marked = () =>
    fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`DETBENCH_TEST_MARK=${mark}`);
      } catch {
        return false; // ended meanwhile, or not ours to read
      }
    });
  const r = spawnSync(process.execPath, [bin, 'run', '--backends', 'tfjs-webgpu,ort-webgpu', '--workloads', 'matmul,atomic-sum', '--repeats', '2', '--no-report', '--json', '--out', out], {
    encoding: 'utf8', timeout: 300_000, env: { ...process.env, DETBENCH_WEBGPU_SOFTWARE: '1', DETBENCH_TEST_MARK: mark },
  });
  assert.ok(r.status === 0 || r.status === 1, r.stderr.slice(-2000));
  const { summary } = JSON.parse(r.stdout);
  assert.equal(summary.complete, true);
  const cell = (backend: string, workload: string, mode: string) => summary.cells.find((c: { backend: string; workload: string; mode: string }) => c.backend === backend && c.workload === workload && c.mode === mode);
  assert.equal(cell('tfjs-webgpu', 'matmul', 'det').device, 'cpu');
  assert.equal(cell('tfjs-webgpu', 'matmul', 'det').statuses.ok, 2);
  assert.equal(cell('tfjs-webgpu', 'atomic-sum', 'nondet').statuses.ok, 2);
  assert.equal(cell('ort-webgpu', 'matmul', 'det').determinism.control, 'uncontrolled');
  assert.equal(cell('ort-webgpu', 'atomic-sum', 'det').verdict, 'unsupported');
  // the runner signals its children as it closes; give them a moment to be gone
  const deadline = Date.now() + 10_000;
  while (marked().length > 0 && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  assert.deepEqual(marked(), [], 'every process the run started has ended');
});
