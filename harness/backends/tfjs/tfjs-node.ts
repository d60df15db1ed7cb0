/**
 * @tensorflow/tfjs-node and @tensorflow/tfjs-node-gpu: libtensorflow through N-API. Optional
 * dependencies, used when a user has them. `det` sets TF_DETERMINISTIC_OPS=1 and
 * TF_CUDNN_DETERMINISTIC=1, which libtensorflow reads once when it loads, so each mode runs in a
 * process of its own (the runner sets the environment before the child starts).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { DeterminismRecord, Mode } from '../../protocol.js';
import type { WorkloadSpec } from '../../../workloads/types.js';
import { compileTfjs, tfjsGradients, type Tf } from './tfjs-common.js';
import type { Availability, Backend, Session, SessionOptions, Support } from '../types.js';

/** Environment a child process for this mode must start with. */
export function tfDeterminismEnv(mode: Mode): Record<string, string | undefined> {
  return mode === 'det'
    ? { TF_DETERMINISTIC_OPS: '1', TF_CUDNN_DETERMINISTIC: '1' }
    : { TF_DETERMINISTIC_OPS: undefined, TF_CUDNN_DETERMINISTIC: undefined };
}

function makeTfjsNode(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu', id: string, deviceKind: 'cpu' | 'gpu', needs: string): Backend {
  const require = createRequire(import.meta.url);
  const installHint = `npm install ${pkg} (${needs}; its install script downloads libtensorflow, so it needs network access and install scripts allowed)`;
  return {
    info: {
      id,
      description: `TensorFlow.js on libtensorflow, ${pkg}${deviceKind === 'gpu' ? ' (CUDA)' : ''}`,
      deviceKinds: [deviceKind],
      processPerMode: true,
      threadControl: false,
      capabilities: 'train and infer with the same primitives as tfjs-cpu',
    },
    async probe(): Promise<Availability> {
      let version: string;
      try {
        version = (require(`${pkg}/package.json`) as { version: string }).version;
      } catch {
        return { available: false, reason: `${pkg} is not installed: ${installHint}` };
      }
      // Loading libtensorflow can abort the process (missing CUDA libraries), so try it in a child.
      const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkg)})`], { encoding: 'utf8', timeout: 60_000 });
      if (check.status !== 0) {
        const why = (check.stderr || check.error?.message || 'unknown error').trim().split('\n').filter(Boolean).slice(-1)[0];
        return { available: false, reason: `${pkg} ${version} is installed but libtensorflow does not load: ${why}. Reinstall with ${installHint}` };
      }
      return { available: true, version, devices: [deviceKind], notes: [] };
    },
    processEnv: tfDeterminismEnv,
    supports(_spec: WorkloadSpec): Support {
      return { ok: true };
    },
    async open(options: SessionOptions): Promise<Session> {
      const expected = tfDeterminismEnv(options.mode).TF_DETERMINISTIC_OPS;
      const seen = process.env.TF_DETERMINISTIC_OPS;
      const tf = require(pkg) as Tf;
      const determinism: DeterminismRecord = {
        mode: options.mode,
        control: 'controlled',
        switches: [
          // The variables are read by libtensorflow at load; the child's environment is what it saw.
          { name: 'TF_DETERMINISTIC_OPS', value: seen ?? '(unset)', verified: seen === expected },
          { name: 'TF_CUDNN_DETERMINISTIC', value: process.env.TF_CUDNN_DETERMINISTIC ?? '(unset)', verified: process.env.TF_CUDNN_DETERMINISTIC === tfDeterminismEnv(options.mode).TF_CUDNN_DETERMINISTIC },
        ],
        summary: options.mode === 'det' ? 'TF_DETERMINISTIC_OPS=1 and TF_CUDNN_DETERMINISTIC=1 set before libtensorflow loaded' : 'libtensorflow defaults',
      };
      await tf.setBackend('tensorflow');
      return {
        determinism,
        warnings: [],
        prepare: async (workload, inputs) => compileTfjs(tf, workload, inputs),
        gradients: async (spec) => tfjsGradients(tf, spec),
        async close() {},
      };
    },
  };
}

export const tfjsNode = makeTfjsNode('@tensorflow/tfjs-node', 'tfjs-node', 'cpu', 'libtensorflow 2.x for x86-64 Linux, macOS or Windows');
export const tfjsNodeGpu = makeTfjsNode('@tensorflow/tfjs-node-gpu', 'tfjs-node-gpu', 'gpu', 'needs CUDA 11.2 + cuDNN 8.1');
