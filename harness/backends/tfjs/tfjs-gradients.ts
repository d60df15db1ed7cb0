/**
 * tfjs-core's gradients, loaded fast. Its node bundle ships none; its ESM `register_all_gradients`
 * is about 460 modules whose extensionless imports Node's loaders refuse, so it used to be required
 * through tsx, which transpiles every one of them in every thread that trains: ≈ 2 s per thread on
 * this loaded 2-core host, in five threads per `detbench run` (the run worker and four data-parallel
 * shard workers). Instead, it is bundled once into one CommonJS file, with the esbuild that tsx
 * itself runs on, and cached under node_modules/.cache/detbench, keyed by the tfjs-core and esbuild
 * versions; requiring that file takes ≈ 30 ms. The code is the same: like the transpiled modules,
 * the bundle is a second copy of tfjs-core's ESM tree that registers into the node bundle's
 * registries, shared through globalThis.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { registerTsxCjs } from '../../run/tsx.mjs';

const require = createRequire(import.meta.url);
const ENTRY = '@tensorflow/tfjs-core/dist/register_all_gradients.js';
/** Next to the project's node_modules, where build tools keep their caches. */
const CACHE_DIR = path.join(path.dirname(require.resolve('@tensorflow/tfjs-core/package.json')), '..', '..', '.cache', 'detbench');

/** Registers every tfjs-core gradient in this thread (once per thread: the caller keeps track). */
export function registerTfjsGradients(): void {
  const bundle = bundledGradients();
  if (bundle) return void require(bundle);
  // without a bundle (esbuild missing, a read-only install), the slow way: tsx transpiles each module
  registerTsxCjs();
  require(ENTRY);
}

/** The cached bundle's path, built first if need be (npm's postinstall builds it: scripts/warm-caches.ts); null when it cannot be built or written. */
export function bundledGradients(): string | null {
  try {
    // esbuild is tsx's own dependency, resolved from tsx so that it is the one tsx installed
    const esbuild = createRequire(require.resolve('tsx/package.json'))('esbuild') as typeof import('esbuild');
    const tfjsVersion = (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;
    const file = path.join(CACHE_DIR, `tfjs-core-${tfjsVersion}-gradients-esbuild-${esbuild.version}.cjs`);
    if (fs.existsSync(file)) return file;
    const built = esbuild.buildSync({ entryPoints: [require.resolve(ENTRY)], bundle: true, format: 'cjs', platform: 'node', write: false, logLevel: 'silent' });
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    // threads and processes may build it at once on a first run: each renames a complete file into place
    const partial = `${file}.${process.pid}-${threadId}.tmp`;
    fs.writeFileSync(partial, built.outputFiles[0].contents);
    fs.renameSync(partial, file);
    return file;
  } catch {
    return null;
  }
}
