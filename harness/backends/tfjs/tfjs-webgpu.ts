/// <reference types="@webgpu/types" />
/**
 * TensorFlow.js on WebGPU: @tensorflow/tfjs-backend-webgpu on Dawn (harness/backends/webgpu/dawn.ts).
 * WebGPU has no determinism switch, so det and nondet run the same kernels ("uncontrolled");
 * WEBGPU_CPU_FORWARD is turned off so small ops run on the GPU too, never on the CPU in silence.
 * The WGSL negative control (atomic-sum) runs on the GPUDevice tfjs uses.
 *
 * Runs in a process of its own (Dawn stays on that process's main thread, and a driver crash takes
 * down only that process). CI runs it on Mesa's lavapipe, a software adapter (README: Software
 * WebGPU); it has not yet been run on a GPU by this project.
 */
import { createRequire } from 'node:module';
import type { WorkloadSpec } from '../../../workloads/types.js';
import { byName } from '../../../workloads/inputs.js';
import { dawn, defaultAdapter, describeAdapter } from '../webgpu/dawn.js';
import { webgpuHost } from '../webgpu/webgpu-host.js';
import { loadTfCore, packageVersion, tfjsSession, type Tf } from './tfjs-common.js';
import type { Availability, Backend, Session, SessionOptions, Support } from '../types.js';
import { atomicSumProgram } from '../webgpu/wgsl-atomic-sum.js';

/** tfjs-core with the webgpu backend registered (its CommonJS build: the ESM one uses extensionless imports). */
export async function loadTfWebgpu(): Promise<Tf> {
  const tf = await loadTfCore();
  await dawn();
  createRequire(import.meta.url)('@tensorflow/tfjs-backend-webgpu');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  return tf;
}

export const tfjsWebgpu: Backend = {
  info: {
    id: 'tfjs-webgpu',
    description: 'TensorFlow.js, @tensorflow/tfjs-backend-webgpu on Dawn (the webgpu package: Vulkan on Linux, Metal on macOS, D3D12 on Windows)',
    deviceKinds: ['gpu'],
    processPerMode: true,
    threadControl: false,
    wgsl: true,
    capabilities: 'train and infer with the same primitives as tfjs-cpu, plus the WGSL atomic-sum negative control; kernels missing from the webgpu backend make a run unsupported',
  },
  async probe(): Promise<Availability> {
    let version: string;
    try {
      version = packageVersion('@tensorflow/tfjs-backend-webgpu');
      packageVersion('webgpu');
    } catch (err) {
      return { available: false, reason: `@tensorflow/tfjs-backend-webgpu or webgpu is not installed (${(err as Error).message.split('\n')[0]}): run npm install` };
    }
    const host = await webgpuHost('tfjs');
    return host.ok ? { available: true, version, devices: host.devices, notes: host.notes } : { available: false, reason: host.reason };
  },
  supports(_spec: WorkloadSpec): Support {
    return { ok: true };
  },
  processEnv: () => ({}),
  async open(options: SessionOptions): Promise<Session> {
    const tf = await loadTfWebgpu();
    const adapter = await defaultAdapter();
    const session = await tfjsSession(tf, 'webgpu', async () => ({
      mode: options.mode,
      control: 'uncontrolled',
      switches: [{ name: 'WEBGPU_CPU_FORWARD', value: String(tf.env().getBool('WEBGPU_CPU_FORWARD')), verified: tf.env().getBool('WEBGPU_CPU_FORWARD') === false }],
      summary: `WebGPU has no determinism switch: det and nondet run the same kernels (uncontrolled) on ${adapter ? describeAdapter(adapter) : 'an unknown adapter'}`,
    }));
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    return {
      ...session,
      async prepare(workload, inputs) {
        if (workload.spec.kind === 'infer' && workload.spec.op === 'atomicSum') return atomicSumProgram(device, byName(inputs, 'x').data as Float32Array);
        return session.prepare(workload, inputs);
      },
    };
  },
};
