/**
 * The unit tests (test/unit/: pure functions and in-process checks), in this one process instead of
 * one process each: a test process takes 0.2 s (compiled) to 0.4 s (tsx) of CPU to start, more than
 * most of these files take to run, and they share the modules they load. One file alone:
 * `node --import tsx --test test/unit/keys.test.ts`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import './unit/analyze.test.ts';
import './unit/autotune.test.ts';
import './unit/axes.test.ts';
import './unit/batching.test.ts';
import './unit/ci-output.test.ts';
import './unit/compiled.test.ts';
import './unit/config.test.ts';
import './unit/confirm.test.ts';
import './unit/cuda-devices.test.ts';
import './unit/diff.test.ts';
import './unit/evaluation.test.ts';
import './unit/expectations.test.ts';
import './unit/gpu-preset.test.ts';
import './unit/history.test.ts';
import './unit/keys.test.ts';
import './unit/merge.test.ts';
import './unit/numerics.test.ts';
import './unit/onnx-layers.test.ts';
import './unit/onnx-rules.test.ts';
import './unit/plan.test.ts';
import './unit/primitives.test.ts';
import './unit/ratio-ci.test.ts';
import './unit/rng.test.ts';
import './unit/stats.test.ts';
import './unit/steps.test.ts';
import './unit/store.test.ts';
import './unit/summary-version.test.ts';
import './unit/summation-orders.test.ts';
import './unit/workloads.test.ts';

test('every file in test/unit/ is imported above (a file left out would never run in npm test)', () => {
  const imported = [...fs.readFileSync(new URL(import.meta.url), 'utf8').matchAll(/^import '\.\/unit\/(.+)';$/gm)].map((m) => m[1]);
  const present = fs.readdirSync(new URL('./unit/', import.meta.url)).filter((f) => f.endsWith('.test.ts')).sort();
  assert.deepEqual(imported, present);
});
