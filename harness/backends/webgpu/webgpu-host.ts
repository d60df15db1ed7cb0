/**
 * What the WebGPU backends (tfjs-webgpu, ort-webgpu) may run on here. A GPU adapter is device
 * `webgpu:0`. A software adapter (Mesa's llvmpipe, say) is real WebGPU computed on the CPU: it is
 * never passed off as a GPU — unavailable by default, and with DETBENCH_WEBGPU_SOFTWARE=1 it runs as
 * device `cpu`, so GPU-only suites and GPU negative controls leave it out.
 */
import { probeInChild, type ProbeOutcome } from '../../run/child-probe.js';
import { describeAdapter, type AdapterSummary } from './dawn.js';

export const VULKAN_HINT = 'It needs a GPU with a Vulkan driver and the Vulkan loader (Debian: libvulkan1; the offline bundle ships the loader)';

export type WebgpuHost = { ok: true; devices: string[]; notes: string[] } | { ok: false; reason: string };

type HostProbe = { ok: boolean; error?: string; adapter?: AdapterSummary; tfjsError?: string };

/**
 * One child process per process answers both WebGPU backends' probes (they run side by side), per
 * value of DETBENCH_WEBGPU_SOFTWARE: without it, the child does not try tfjs on a software adapter.
 */
const probed = new Map<boolean, Promise<ProbeOutcome<HostProbe>>>();

/** `check`: `adapter` (Dawn finds one) or `tfjs` (tfjs-backend-webgpu also computes right on it). */
export async function webgpuHost(check: 'adapter' | 'tfjs'): Promise<WebgpuHost> {
  const software = process.env.DETBENCH_WEBGPU_SOFTWARE === '1';
  if (!probed.has(software)) probed.set(software, probeInChild<HostProbe>(new URL('./webgpu-probe.ts', import.meta.url)));
  const outcome = await probed.get(software)!;
  // Dawn explains on stderr why it rejected each adapter it saw (e.g. an old software Vulkan driver)
  const dawnSays = outcome.stderr
    .split('\n')
    .find((l) => /warning|error/i.test(l) && !/XDG_RUNTIME_DIR|artificially reduced/.test(l))
    ?.trim()
    .replace(/^(warning|error):\s*/i, '')
    .replace(/\.$/, '');
  const failed = (error: string): WebgpuHost => ({ ok: false, reason: `${error}${dawnSays ? ` (Dawn: ${dawnSays})` : ''}. ${VULKAN_HINT}` });
  if (!outcome.ok) return failed(outcome.error);
  const { adapter, tfjsError } = outcome.result;
  if (check === 'tfjs' && tfjsError) return failed(tfjsError);
  if (!adapter!.fallback) return { ok: true, devices: ['webgpu:0'], notes: [`adapter: ${describeAdapter(adapter!)}`, 'WebGPU uses the default adapter: other GPUs of this host are not addressed'] };
  if (software) {
    return { ok: true, devices: ['cpu'], notes: [`software adapter: ${describeAdapter(adapter!)} — real WebGPU computed on the CPU (DETBENCH_WEBGPU_SOFTWARE=1), device cpu`] };
  }
  return {
    ok: false,
    reason: `Dawn's only adapter is a software one (${describeAdapter(adapter!)}), not a GPU. ${VULKAN_HINT}; to run WebGPU on it anyway, as device cpu, set DETBENCH_WEBGPU_SOFTWARE=1`,
  };
}
