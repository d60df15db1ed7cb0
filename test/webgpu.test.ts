/// <reference types="@webgpu/types" />
/**
 * tfjs-webgpu without a GPU: Dawn's null backend is a real WebGPU implementation (Tint compiles and
 * validates every shader, tfjs-backend-webgpu initialises and dispatches) that computes nothing.
 * So these tests check the wiring and the WGSL, never the numbers; the numbers need a GPU host.
 * This file runs in its own process, so choosing the null backend here touches nothing else.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { dawn } from '../harness/backends/webgpu/dawn.ts';
import { tfjsWebgpu } from '../harness/backends/tfjs/tfjs-webgpu.ts';
import { supportOf } from '../harness/backends/types.ts';
import { ATOMIC_SUM_WGSL, atomicSumProgram } from '../harness/backends/webgpu/wgsl-atomic-sum.ts';
import { artifactShapes } from '../workloads/params.ts';
import { DEFAULT_WORKLOAD_IDS, findWorkload, resolveWorkload } from '../workloads/index.ts';
import { workloadInputs } from '../workloads/inputs.ts';

await dawn(['backend=null']);

test('tfjs-webgpu compiles and dispatches every workload it supports on Dawn (null backend), tracing included', async () => {
  const session = await tfjsWebgpu.open({ mode: 'det', threads: 1, device: 'webgpu:0' });
  assert.equal(session.determinism.control, 'uncontrolled');
  assert.deepEqual(session.determinism.switches, [{ name: 'WEBGPU_CPU_FORWARD', value: 'false', verified: true }]);
  const ids = [...DEFAULT_WORKLOAD_IDS.filter((id) => id !== 'dataparallel-train'), 'atomic-sum'];
  // the device tfjs-backend-webgpu dispatches on: every shader and pipeline must pass Dawn's validation
  const device = (tf.engine().backend as unknown as { device: GPUDevice }).device;
  for (const id of ids) {
    const workload = resolveWorkload(findWorkload(id)!, 'quick');
    assert.ok(supportOf(tfjsWebgpu, workload.spec).ok, id);
    device.pushErrorScope('validation');
    const program = await session.prepare(workload, workloadInputs(workload, 0));
    const run = await program.execute({ trace: true });
    program.dispose();
    const invalid = await device.popErrorScope();
    assert.equal(invalid, null, `${id}: ${invalid?.message.split('\n')[0]}`);
    const spec = workload.spec;
    if (spec.kind === 'train') {
      const shapes = artifactShapes(spec);
      assert.deepEqual(run.outputs.map((o) => o.shape), shapes.map(([, s]) => s), id);
      const perStep = shapes.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
      assert.equal(run.trace?.length, spec.steps * perStep, `${id}: one weight snapshot per step`);
    } else {
      assert.equal(run.outputs.length, 1, id);
    }
    assert.ok(run.computeMs >= 0);
  }
  await session.close();
});

test('the WGSL atomic-sum kernel passes Dawn’s validation; a broken one does not', async () => {
  const gpu = await dawn();
  const device = await (await gpu.requestAdapter())!.requestDevice();
  device.pushErrorScope('validation');
  const program = atomicSumProgram(device, new Float32Array(10_000).fill(1));
  const run = await program.execute();
  program.dispose();
  assert.equal(await device.popErrorScope(), null);
  assert.deepEqual(run.outputs[0].shape, [1]);

  device.pushErrorScope('validation');
  const broken = device.createShaderModule({ code: ATOMIC_SUM_WGSL.replace('atomicCompareExchangeWeak', 'atomicCompareExchange') });
  device.createComputePipeline({ layout: 'auto', compute: { module: broken, entryPoint: 'main' } });
  const error = await device.popErrorScope();
  assert.match(error?.message ?? '', /atomicCompareExchange/);
  device.destroy();
});
