import type { InferenceSession as OrtSession } from 'onnxruntime-node';
import type { Switch } from '../../protocol.js';
import type { WorkloadSpec } from '../../../workloads/types.js';
import { loadOrt, ORT_CAPABILITIES, ortLoadFailure, ortSession, ortSupports, ortVersion } from './ort-common.js';
import type { Availability, Backend, Session, SessionOptions, Support } from '../types.js';

/**
 * `det`: intra-op threads = the cell's thread count, inter-op threads 1, sequential execution and
 * the session config `session.use_deterministic_compute`. `nondet`: the cell's thread count and
 * onnxruntime's defaults for everything else. onnxruntime-node cannot read options back, so the
 * switches are recorded as set but unverified.
 */
function sessionOptions(options: SessionOptions): { ort: OrtSession.SessionOptions; switches: Switch[] } {
  // logSeverityLevel 3: errors only, so onnxruntime's graph-optimizer notes do not interleave with progress.
  const base: OrtSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: options.threads, logSeverityLevel: 3 };
  const threads: Switch = { name: 'intraOpNumThreads', value: String(options.threads), verified: false };
  if (options.mode === 'nondet') return { ort: base, switches: [threads] };
  return {
    ort: { ...base, interOpNumThreads: 1, executionMode: 'sequential', extra: { session: { use_deterministic_compute: '1' } } },
    switches: [
      threads,
      { name: 'interOpNumThreads', value: '1', verified: false },
      { name: 'executionMode', value: 'sequential', verified: false },
      { name: 'session.use_deterministic_compute', value: '1', verified: false, note: 'onnxruntime-node cannot read session options back' },
    ],
  };
}

export const ortCpu: Backend = {
  info: {
    id: 'ort-cpu',
    description: 'onnxruntime-node, CPU execution provider, ONNX graphs built by detbench',
    deviceKinds: ['cpu'],
    processPerMode: false,
    resumes: true,
    threadControl: true,
    capabilities: ORT_CAPABILITIES,
  },
  async probe(): Promise<Availability> {
    const loadFailure = await ortLoadFailure();
    if (loadFailure) return { available: false, reason: loadFailure };
    const ort = await loadOrt();
    const providers = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends?.() ?? [];
    return { available: true, version: ortVersion(), devices: ['cpu'], notes: [`execution providers: ${providers.map((p) => p.name + (p.bundled ? '' : ' (not bundled)')).join(', ')}`] };
  },
  supports(spec: WorkloadSpec): Support {
    return ortSupports('ort-cpu', spec);
  },
  async open(options: SessionOptions): Promise<Session> {
    const { ort: ortOptions, switches } = sessionOptions(options);
    return ortSession(await loadOrt(), ortOptions, {
      mode: options.mode,
      control: 'controlled',
      switches,
      summary:
        options.mode === 'det'
          ? `onnxruntime CPU: ${options.threads} intra-op thread(s), 1 inter-op thread, sequential execution, deterministic compute`
          : `onnxruntime CPU defaults with ${options.threads} intra-op thread(s)`,
    });
  },
};
