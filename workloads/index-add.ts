import type { WorkloadDef } from './types.js';

export const indexAdd: WorkloadDef<{ length: number; buckets: number; skew: number }> = {
  id: 'index-add',
  probes:
    'a scatter-add with many repeated indices (torch index_add_, tfjs unsortedSegmentSum, ONNX ScatterElements add): float atomics on GPUs, so the GPU negative control; the CPU backends add in a fixed order',
  tolerance: { relL2: 1e-5 },
  negativeControl: 'gpu',
  // small on the CPU: tfjs-cpu's unsortedSegmentSum costs length × buckets; gpu: 16M elements into 1,024 buckets (≈ 16,000 atomic adds per address)
  presets: { quick: { length: 1 << 14, buckets: 64, skew: 2 }, standard: { length: 1 << 16, buckets: 64, skew: 2 }, gpu: { length: 1 << 24, buckets: 1024, skew: 2 } },
  build: (p) => ({ kind: 'infer', op: 'indexAdd', length: p.length, buckets: p.buckets, skew: p.skew }),
};
