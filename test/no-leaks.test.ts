/**
 * A run writes into its results folder and nowhere else: not the home folder (onnxruntime's
 * telemetry, Mesa's shader cache), not the temporary folder (onnxruntime's mat-debug log, the torch
 * scratch files), not the checkout (.git/index.lock).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));

test('a run with onnxruntime leaves HOME and TMPDIR as they were (but for tsx’s compile cache)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-leaks-'));
  const home = path.join(root, 'home'), tmp = path.join(root, 'tmp'), out = path.join(root, 'out');
  fs.mkdirSync(home);
  fs.mkdirSync(tmp);
  const r = spawnSync(process.execPath, [bin, 'run', '--backends', 'ort-cpu', '--workloads', 'matmul', '--repeats', '2', '--out', out, '--no-report'], {
    encoding: 'utf8',
    env: { ...process.env, HOME: home, TMPDIR: tmp },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(home, { recursive: true }), [], 'nothing in HOME');
  // tsx caches detbench's own compiled TypeScript there (tsx-UID): that is the tool, not data
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => !/^tsx-\d+$/.test(f)), [], 'nothing in TMPDIR');
});
