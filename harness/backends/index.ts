import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UsageError, message } from '../errors.js';
import { pathToFileURL } from 'node:url';
import { isCompiled, mirrorCopy } from '../run/compiled.mjs';
import { importModule, registerTsxCjs } from '../run/tsx.mjs';
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

/** Whether Node.js loads `file` as an ES module: .mts/.mjs, or no .cts/.cjs and a nearest package.json with "type": "module". */
function inModuleScope(file: string): boolean {
  if (/\.m[jt]s$/.test(file)) return true;
  if (/\.c[jt]s$/.test(file)) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
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
    const absolute = path.resolve(file);
    if (loaded.has(absolute)) continue;
    loaded.add(absolute);
    if (!fs.existsSync(file)) throw new UsageError(message.pluginMissing(file));
    // A plugin of the compiled folders (the tests') loads from the tree this module runs from, so that
    // it shares its modules (run/compiled.mjs) — from the mirror even if a source changed since this
    // thread started from it. Others load through tsx: a plugin in a CommonJS
    // package scope (a user's plugin folder usually has no package.json) is required through tsx's
    // CJS hooks (see tsx.mjs), an ES module imported through its ESM hooks.
    const source = pathToFileURL(absolute);
    const url = (isCompiled(import.meta.url) && mirrorCopy(source)) || source;
    let mod: { backends?: unknown };
    try {
      if (!isCompiled(url) && !inModuleScope(absolute)) {
        registerTsxCjs();
        mod = createRequire(import.meta.url)(absolute) as { backends?: unknown };
      } else mod = (await importModule(url)) as { backends?: unknown };
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
