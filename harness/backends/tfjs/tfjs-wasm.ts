import type { WorkloadSpec } from '../../../workloads/types.js';
import { loadTfCore, packageVersion, requireTfjs, tfjsSession, type Tf } from './tfjs-common.js';
import type { Availability, Backend, Session, SessionOptions, Support } from '../types.js';

async function loadTf(): Promise<{ tf: Tf; wasm: typeof import('@tensorflow/tfjs-backend-wasm') }> {
  const tf = await loadTfCore();
  const wasm = requireTfjs<typeof import('@tensorflow/tfjs-backend-wasm')>('@tensorflow/tfjs-backend-wasm');
  return { tf, wasm };
}

export const tfjsWasm: Backend = {
  info: {
    id: 'tfjs-wasm',
    description: 'TensorFlow.js, @tensorflow/tfjs-backend-wasm (XNNPACK compiled to WebAssembly, SIMD where available)',
    deviceKinds: ['cpu'],
    // Node.js gets the single-threaded build (WASM_HAS_MULTITHREAD_SUPPORT is false there), so the
    // threads axis changes nothing; the probe records it.
    processPerMode: false,
    threadControl: false,
    capabilities:
      'train and infer with the same primitives as tfjs-cpu; kernels missing from the wasm backend (e.g. Conv2DBackpropFilter, UnsortedSegmentSum) make a run unsupported',
  },
  async probe(): Promise<Availability> {
    try {
      const { tf } = await loadTf();
      await tf.setBackend('wasm');
      await tf.ready();
      const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      return {
        available: true,
        version: packageVersion('@tensorflow/tfjs-backend-wasm'),
        devices: ['cpu'],
        notes: [`SIMD ${simd ? 'on' : 'off'}`, threads ? 'multithreaded build' : 'single-threaded build (no multithread support on this platform)'],
      };
    } catch (err) {
      return { available: false, reason: `@tensorflow/tfjs-backend-wasm failed to initialise: ${(err as Error).message}` };
    }
  },
  supports(_spec: WorkloadSpec): Support {
    return { ok: true };
  },
  async open(options: SessionOptions): Promise<Session> {
    const { tf } = await loadTf();
    return tfjsSession(tf, 'wasm', async () => {
      const multithread = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
      return {
        mode: options.mode,
        control: 'uncontrolled',
        switches: [],
        summary: `tfjs-backend-wasm has no determinism switch; this platform runs its ${multithread ? 'multithreaded' : 'single-threaded'} build`,
      };
    });
  },
};
