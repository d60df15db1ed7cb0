/**
 * onnxruntime-node's bundled WebGPU execution provider (Dawn; Vulkan on Linux). WebGPU has no
 * determinism switch, so both modes are "uncontrolled"; det still sets onnxruntime's session-level
 * switches, which are recorded as unverified. CPU fallback is disabled: an op the provider cannot
 * run is an `unsupported` run with onnxruntime's message, never a silent CPU run.
 *
 * CI runs it on Mesa's lavapipe, a software adapter (README: Software WebGPU); it has not yet been
 * run on a GPU by this project.
 */
import type { WorkloadSpec } from '../../../workloads/types.js';
import { GPU_EP_CAPABILITIES, loadOrt, ortLoadFailure, ortSession, ortSupports, ortVersion, probeExecutionProvider } from './ort-common.js';
import type { Availability, Backend, Session, SessionOptions, Support } from '../types.js';
import { VULKAN_HINT, webgpuHost } from '../webgpu/webgpu-host.js';

export const ortWebgpu: Backend = {
  info: {
    id: 'ort-webgpu',
    description: 'onnxruntime-node, bundled WebGPU execution provider (Dawn: Vulkan on Linux, Metal on macOS, D3D12 on Windows)',
    deviceKinds: ['gpu'],
    processPerMode: false,
    threadControl: false,
    capabilities: GPU_EP_CAPABILITIES,
  },
  async probe(): Promise<Availability> {
    const loadFailure = await ortLoadFailure();
    if (loadFailure) return { available: false, reason: loadFailure };
    // onnxruntime bundles its own Dawn; ours says which adapter the host offers (GPU or software)
    const host = await webgpuHost('adapter');
    if (!host.ok) return { available: false, reason: `onnxruntime's WebGPU provider has no GPU to run on: ${host.reason}` };
    const error = await probeExecutionProvider('webgpu');
    if (error) return { available: false, reason: `onnxruntime's WebGPU provider found no usable GPU: ${error}. ${VULKAN_HINT}` };
    return { available: true, version: ortVersion(), devices: host.devices, notes: host.notes };
  },
  supports(spec: WorkloadSpec): Support {
    return ortSupports('ort-webgpu', spec);
  },
  async open(options: SessionOptions): Promise<Session> {
    const det = options.mode === 'det';
    return ortSession(
      await loadOrt(),
      {
        executionProviders: ['webgpu'],
        logSeverityLevel: 3,
        ...(det ? { executionMode: 'sequential' as const } : {}),
        extra: { session: { disable_cpu_ep_fallback: '1', ...(det ? { use_deterministic_compute: '1' } : {}) } },
      },
      {
        mode: options.mode,
        control: 'uncontrolled',
        switches: det
          ? [
              { name: 'session.use_deterministic_compute', value: '1', verified: false, note: 'WebGPU kernels are not documented to honour it' },
              { name: 'executionMode', value: 'sequential', verified: false },
            ]
          : [],
        summary: 'WebGPU has no determinism switch: uncontrolled' + (det ? ' (onnxruntime session switches set anyway)' : ''),
      },
    );
  },
};
