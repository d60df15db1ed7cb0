/// <reference types="@webgpu/types" />
/**
 * WebGPU in Node.js through Dawn (the `webgpu` package: Vulkan on Linux, Metal on macOS, D3D12 on
 * Windows). One GPU instance per process, kept alive for the life of the process (Dawn tears the
 * device down when it is collected). Node 20 has no `navigator`: tfjs-backend-webgpu looks for
 * `navigator.gpu`, so it is installed there.
 */
let instance: GPU | null = null;

/** `options` are Dawn's (e.g. `backend=vulkan`); only the first call in a process chooses them. */
export async function dawn(options: string[] = []): Promise<GPU> {
  if (instance) return instance;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, … as in a browser
  const gpu = create(options);
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  instance = gpu;
  return gpu;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  /** A software implementation (e.g. Mesa's llvmpipe through lavapipe): real WebGPU, computed on the CPU. */
  fallback: boolean;
}

/** The adapter tfjs-backend-webgpu will pick (high performance), or null when Dawn finds none. */
export async function defaultAdapter(): Promise<AdapterSummary | null> {
  const adapter = await (await dawn()).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const info = adapter.info;
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true || info.architecture === 'software';
  return { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, features: [...adapter.features].map(String).sort(), fallback };
}

export const describeAdapter = (a: AdapterSummary): string =>
  [a.description || a.device, a.vendor, a.architecture].filter(Boolean).join(', ') || 'an unnamed adapter';
