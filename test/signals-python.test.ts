/**
 * A Python that never answers (importing torch hangs there: a broken CUDA driver, a stuck network
 * file system) must neither hold `detbench run` past Ctrl-C nor outlive it. The run's float64 oracle
 * starts its Python before the first run (run/oracle.ts), and the run used to wait for its hello
 * with no end: one SIGTERM to the group did nothing, and what the Python had started stayed behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../harness/errors.ts';
import { loadResults } from '../harness/store.ts';

const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-signals-python-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a Python that never says hello: SIGTERM to the group ends the run (exit 3, folder interrupted), and the Python and what it started are gone', { timeout: 120_000 }, async () => {
  // it starts a child of its own (as torch's DataLoader does), says where, and never reads its stdin;
  // the oracle is on whatever npm test says (DETBENCH_ORACLE=off): its Python is the one that hangs
  const pids = path.join(root, 'pids');
  const python = path.join(root, 'python');
  fs.writeFileSync(python, `#!/bin/sh\nsleep 1000 &\necho "$$ $!" >> ${pids}\nwait\n`, { mode: 0o755 });
  const out = fs.mkdtempSync(path.join(root, 'out-'));
  const child = spawn(process.execPath, [bin, 'run', '--backends', 'tfjs-cpu', '--workloads', 'matmul', '--repeats', '2', '--threads', '1', '--no-report', '--python', python, '--out', out], {
    detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DETBENCH_GRACE_SEC: '2', DETBENCH_ORACLE: 'on' },
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // the oracle's Python has started (before the first run), and the results folder exists
    const deadline = Date.now() + 60_000;
    while (!(fs.existsSync(pids) && fs.readdirSync(out).length > 0)) {
      assert.ok(Date.now() < deadline, `the oracle's Python never started: ${stderr}`);
      await sleep(50);
    }
    process.kill(-child.pid!, 'SIGTERM');
    // one signal: the orderly finish (a second one would quit at once, and prove nothing)
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running'), 30_000)))]);
    clearTimeout(timer);
    assert.equal(code, EXIT.incomplete, `after one SIGTERM: ${String(code)}: ${stderr}`);
    const results = loadResults(path.join(out, fs.readdirSync(out)[0]));
    assert.equal(results.completion?.interrupted, true);
    const started = fs.readFileSync(pids, 'utf8').trim().split(/\s+/).map(Number);
    for (let i = 0; i < 50 && started.some(alive); i++) await sleep(100);
    assert.deepEqual(started.filter(alive), [], 'the Python and its child are gone');
  } finally {
    if (alive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
    if (fs.existsSync(pids)) for (const pid of fs.readFileSync(pids, 'utf8').trim().split(/\s+/).map(Number)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
});
