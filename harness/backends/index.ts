import fs from 'node:fs';
import path from 'node:path';
import { UsageError, message } from '../errors.js';
import { pathToFileURL } from 'node:url';
import { ortCpu } from './ort/ort-cpu.js';
import { ortCuda } from './ort/ort-cuda.js';
import { ortWebgpu } from './ort/ort-webgpu.js';
import { tfjsCpu } from './tfjs/tfjs-cpu.js';
import { tfjsNode, tfjsNodeGpu } from './tfjs/tfjs-node.js';
import { tfjsWasm } from './tfjs/tfjs-wasm.js';
import { tfjsWebgpu } from './tfjs/tfjs-webgpu.js';
import { torchBackend } from './torch/torch.js';
import type { Backend } from './types.js';

const registry: Backend[] = [tfjsCpu, tfjsWasm, ortCpu, tfjsNode, tfjsNodeGpu, tfjsWebgpu, ortWebgpu, ortCuda, torchBackend];

/** Every adapter, in report order; the first available one is the cross-backend reference. */
export const BACKENDS: readonly Backend[] = registry;

export const backendIds = (): string[] => registry.map((b) => b.info.id);

export function findBackend(id: string): Backend | undefined {
  return registry.find((b) => b.info.id === id);
}

/** Plugin files already loaded in this thread (a worker may be asked twice). */
const loaded = new Set<string>();

/**
 * Extra adapters from modules named in DETBENCH_PLUGINS (separated by the platform's path
 * delimiter), each exporting `backends: Backend[]`. Workers and child processes inherit the
 * variable, so a plugin backend runs exactly like a built-in one. The tests' fake backends use this.
 */
export async function loadPlugins(list = process.env.DETBENCH_PLUGINS): Promise<void> {
  for (const file of (list ?? '').split(path.delimiter).filter(Boolean)) {
    if (loaded.has(path.resolve(file))) continue;
    loaded.add(path.resolve(file));
    if (!fs.existsSync(file)) throw new UsageError(message.pluginMissing(file));
    let mod: { backends?: unknown };
    try {
      mod = (await import(pathToFileURL(path.resolve(file)).href)) as { backends?: unknown };
    } catch (err) {
      throw new UsageError(message.pluginLoad(file, String((err as Error)?.message ?? err).split('\n')[0]));
    }
    const backends = mod.backends;
    if (!Array.isArray(backends) || !backends.every((b) => typeof b?.info?.id === 'string')) throw new UsageError(message.pluginShape(file));
    for (const b of backends as Backend[]) {
      if (findBackend(b.info.id)) throw new UsageError(message.pluginDuplicate(file, b.info.id));
      registry.push(b);
    }
  }
}
