/**
 * onnxruntime-node's CUDA execution provider, used when the user has installed it (its binaries are
 * not on npm: onnxruntime-node's install script downloads them, which this project skips). det sets
 * `session.use_deterministic_compute` (deterministic cuDNN algorithms where onnxruntime has them);
 * nondet keeps onnxruntime's defaults. Each GPU of the host is its own device.
 *
 * The autotune axis (harness/axes.ts) maps to the provider option `cudnn_conv_algo_search`
 * (OrtCUDAProviderOptions; `EXHAUSTIVE` is onnxruntime's default, `DEFAULT` a fixed algorithm,
 * IMPLICIT_PRECOMP_GEMM): off asks for DEFAULT, on for EXHAUSTIVE. onnxruntime-node up to 1.30 (the
 * one installed here) passes only `deviceId` to the CUDA provider (its typings'
 * CudaExecutionProviderOption, and js/node/src/session_options_helper.cc, which builds
 * OrtCUDAProviderOptionsV2 from device_id alone): the option is in the session options but does not
 * reach cuDNN, every session searches EXHAUSTIVE, and the record says so. Until a binding passes it,
 * autotuning `on` is planned unsupported here: an on/off pair of identical sessions would read as
 * evidence that autotuning does not move the bits.
 *
 * Not yet run on a GPU by this project's CI (no GPU there); see the README.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { WorkloadSpec } from '../../../workloads/types.js';
import { axisValue, type Autotune } from '../../axes.js';
import { GPU_EP_CAPABILITIES, loadOrt, ortLoadFailure, ortSession, ortSupports, ortVersion, probeExecutionProvider } from './ort-common.js';
import type { InferenceSession } from 'onnxruntime-node';
import type { DeterminismRecord } from '../../protocol.js';
import type { Availability, Backend, Session, SessionOptions, Support } from '../types.js';

// package.json's allowScripts keeps onnxruntime-node's install script (a download) from running by default
const INSTALL = 'on a host with network access, set "onnxruntime-node": true under allowScripts in package.json and run ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (needs CUDA 12 and cuDNN 9)';

/** The CUDA provider library next to onnxruntime-node's binding, if it was installed. */
function cudaProviderInstalled(): boolean {
  const root = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const dir = path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
  return fs.existsSync(path.join(dir, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));
}

/** cuda:0 … cuda:N−1 from nvidia-smi (respecting CUDA_VISIBLE_DEVICES when it lists indices). */
/**
 * How many devices CUDA_VISIBLE_DEVICES lets CUDA see (undefined when it is unset): its entries up to
 * the first that is neither an index nor a GPU or MIG UUID, as the CUDA runtime reads it (an empty
 * value, or one starting with -1, hides every device).
 */
export function visibleCudaDevices(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const entries = value.split(',').map((x) => x.trim());
  const invalid = entries.findIndex((x) => !/^(\d+|(GPU|MIG)-[0-9A-Za-z/-]+)$/.test(x));
  return invalid === -1 ? entries.length : invalid;
}

function cudaDevices(): { devices: string[]; names: string[]; deviceNames?: Record<string, string> } {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 20_000 });
  const names = r.status === 0 ? r.stdout.trim().split('\n').filter(Boolean) : [];
  const visible = visibleCudaDevices(process.env.CUDA_VISIBLE_DEVICES);
  const count = visible ?? Math.max(1, names.length);
  const devices = Array.from({ length: count }, (_, i) => `cuda:${i}`);
  // nvidia-smi numbers every GPU; with CUDA_VISIBLE_DEVICES set, cuda:i is not nvidia-smi's i
  return { devices, names, ...(visible === undefined && names.length === count ? { deviceNames: Object.fromEntries(devices.map((d, i) => [d, names[i]])) } : {}) };
}

/** cuDNN's convolution algorithm search (OrtCudnnConvAlgoSearch) for each autotuning value. */
export const CONV_ALGO_SEARCH: { readonly [A in Autotune]: 'DEFAULT' | 'EXHAUSTIVE' } = { off: 'DEFAULT', on: 'EXHAUSTIVE' };

/**
 * Whether the installed onnxruntime-node hands CUDA provider options other than deviceId to
 * onnxruntime (none up to 1.30: see the header). Turn on once a binding does, after checking on a GPU.
 */
export const CUDA_PROVIDER_OPTIONS_APPLIED = false;

const NOT_APPLIED = 'onnxruntime-node passes only deviceId to the CUDA provider (js/node/src/session_options_helper.cc)';

/** A CUDA execution provider entry, with cuDNN's algorithm search the cell's autotuning asks for. */
interface CudaProvider extends InferenceSession.ExecutionProviderOption {
  readonly name: 'cuda';
  deviceId: number;
  cudnn_conv_algo_search: (typeof CONV_ALGO_SEARCH)[Autotune];
}

/** The session options and determinism record of an ort-cuda session (a pure function of the cell). */
export function cudaSession(options: SessionOptions): { sessionOptions: InferenceSession.SessionOptions; determinism: DeterminismRecord } {
  const deviceId = Number(/^cuda:(\d+)$/.exec(options.device)?.[1] ?? 0);
  const det = options.mode === 'det';
  const search = CONV_ALGO_SEARCH[axisValue(options, 'autotune')];
  const provider: CudaProvider = { name: 'cuda', deviceId, cudnn_conv_algo_search: search };
  return {
    sessionOptions: {
      executionProviders: [provider],
      logSeverityLevel: 3,
      extra: { session: { disable_cpu_ep_fallback: '1', ...(det ? { use_deterministic_compute: '1' } : {}) } },
    },
    determinism: {
      mode: options.mode,
      control: 'controlled',
      switches: [
        { name: 'deviceId', value: String(deviceId), verified: false },
        ...(det ? [{ name: 'session.use_deterministic_compute', value: '1', verified: false, note: 'onnxruntime-node cannot read session options back' }] : []),
        CUDA_PROVIDER_OPTIONS_APPLIED
          ? { name: 'cudnn_conv_algo_search', value: search, verified: false, note: 'onnxruntime-node cannot read provider options back' }
          : { name: 'cudnn_conv_algo_search', value: 'EXHAUSTIVE (default)', verified: null, note: `${search} asked for, not applied: ${NOT_APPLIED}` },
      ],
      summary: det ? 'onnxruntime CUDA with deterministic compute' : 'onnxruntime CUDA defaults',
    },
  };
}

export const ortCuda: Backend = {
  info: {
    id: 'ort-cuda',
    description: 'onnxruntime-node, CUDA execution provider (installed separately)',
    deviceKinds: ['gpu'],
    processPerMode: false,
    threadControl: false,
    capabilities: GPU_EP_CAPABILITIES,
  },
  async probe(): Promise<Availability> {
    const loadFailure = await ortLoadFailure();
    if (loadFailure) return { available: false, reason: loadFailure };
    if (!cudaProviderInstalled()) return { available: false, reason: `onnxruntime-node's CUDA execution provider is not installed: ${INSTALL}` };
    const error = await probeExecutionProvider('cuda');
    if (error) return { available: false, reason: `onnxruntime's CUDA provider does not run here: ${error}` };
    const { devices, names, deviceNames } = cudaDevices();
    if (!devices.length) return { available: false, reason: `CUDA_VISIBLE_DEVICES=${JSON.stringify(process.env.CUDA_VISIBLE_DEVICES)} hides every GPU from CUDA: unset it, or list GPU indices or UUIDs` };
    return { available: true, version: ortVersion(), devices, notes: names.length ? [`GPUs: ${names.join('; ')}`] : [], ...(deviceNames ? { deviceNames } : {}) };
  },
  supports(spec: WorkloadSpec): Support {
    return ortSupports('ort-cuda', spec);
  },
  supportsAxis(axis): Support | null {
    if (axis !== 'autotune') return null;
    return CUDA_PROVIDER_OPTIONS_APPLIED ? { ok: true } : { ok: false, reason: `ort-cuda cannot set cuDNN's algorithm search: ${NOT_APPLIED}, so every session searches EXHAUSTIVE (onnxruntime's default) and an autotune-on cell would repeat the off one` };
  },
  async open(options: SessionOptions): Promise<Session> {
    const { sessionOptions, determinism } = cudaSession(options);
    return ortSession(await loadOrt(), sessionOptions, determinism);
  },
};
