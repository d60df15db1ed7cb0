import type { WorkloadSpec } from '../../../workloads/types.js';
import { loadTfCore, packageVersion, requireTfjs, tfjsSession, type Tf } from './tfjs-common.js';
import type { Availability, Backend, Session, SessionOptions, Support } from '../types.js';

async function loadTf(): Promise<Tf> {
  const tf = await loadTfCore();
  requireTfjs('@tensorflow/tfjs-backend-cpu');
  return tf;
}

export const tfjsCpu: Backend = {
  info: {
    id: 'tfjs-cpu',
    description: 'TensorFlow.js, @tensorflow/tfjs-backend-cpu (plain JavaScript kernels)',
    deviceKinds: ['cpu'],
    processPerMode: false,
    resumes: true,
    threadControl: false,
    capabilities: 'train and infer: every training primitive (dense, conv2d, max/avg/global pooling, embedding, position embedding, mean pooling, layer and batch norm, relu, GELU, dropout masks, causal self-attention, residual, softmax-xent, SGD, momentum SGD, AdamW, global-norm clipping) with tfjs autograd, evaluation; attention, reduce-sum, matmul, index-add (unsortedSegmentSum)',
  },
  async probe(): Promise<Availability> {
    try {
      await loadTf();
      return { available: true, version: packageVersion('@tensorflow/tfjs-backend-cpu'), devices: ['cpu'], notes: [] };
    } catch (err) {
      return { available: false, reason: `@tensorflow/tfjs-backend-cpu failed to load: ${(err as Error).message} (run npm install)` };
    }
  },
  supports(_spec: WorkloadSpec): Support {
    return { ok: true };
  },
  async open(options: SessionOptions): Promise<Session> {
    return tfjsSession(await loadTf(), 'cpu', async () => ({
      mode: options.mode,
      control: 'uncontrolled',
      switches: [],
      summary: 'tfjs-backend-cpu has no determinism switch; its kernels are single-threaded JavaScript, so det and nondet run the same code',
    }));
  },
};
