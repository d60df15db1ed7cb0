/**
 * The environment fingerprint stored in every manifest: what would explain a changed result
 * (library versions, hardware, thread settings, the code's own commit).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from './run/compiled.mjs';

/** The detbench checkout (or the bundle's app folder) this code runs from, compiled or not. */
export const PROJECT_DIR = PROJECT_ROOT;

/** Packages whose versions can change numbers; absent ones are recorded as null. */
export const TRACKED_PACKAGES = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgpu',
  'webgpu',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  'onnxruntime-node',
  'onnxruntime-common',
  'piscina',
  'simple-statistics',
] as const;

/** Variables that change threading or determinism in some library detbench may load. */
export const DETERMINISM_ENV_PATTERN =
  /^(OMP_|MKL_|OPENBLAS_|TF_|CUBLAS_|CUDA_|CUDNN_|NVIDIA_|ORT_|PYTORCH_|TORCH_ALLOW_TF32_CUBLAS_OVERRIDE$|PYTHONHASHSEED$|UV_THREADPOOL_SIZE$|NODE_OPTIONS$|XNNPACK_|KMP_|DETBENCH_|VK_|LP_NUM_THREADS$)/;

export interface Fingerprint {
  node: string;
  npm: string | null;
  packages: Record<string, string | null>;
  os: { platform: string; release: string; arch: string; type: string };
  cpu: { model: string; cores: number };
  memoryBytes: number;
  hostname: string;
  env: Record<string, string>;
  git: { commit: string | null; dirty: boolean | null };
  /**
   * NVIDIA GPUs as nvidia-smi lists them (absent where it is not installed or fails): their names
   * join the hardware key, and a driver upgrade shows among a comparison's fingerprint changes.
   */
  gpus?: Gpu[];
}

export interface Gpu {
  name: string;
  driver: string;
}

/** The GPUs of `nvidia-smi --query-gpu=name,driver_version --format=csv,noheader`, or undefined. */
export function parseNvidiaSmi(text: string | null): Gpu[] | undefined {
  if (!text) return undefined;
  const gpus = text.split('\n').map((line) => line.split(',').map((f) => f.trim())).filter((f) => f.length === 2 && f[0] && f[1]);
  return gpus.length ? gpus.map(([name, driver]) => ({ name, driver })) : undefined;
}

function run(cmd: string, args: string[], cwd?: string): string | null {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

export function packageVersions(): Record<string, string | null> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string | null> = {};
  for (const name of TRACKED_PACKAGES) {
    try {
      out[name] = (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      out[name] = null;
    }
  }
  return out;
}

/** A bundle (npm run bundle) is no git checkout: it records the commit it was built from. */
function buildInfo(projectDir: string): { commit: string | null; dirty: boolean | null } | null {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(projectDir, 'BUILD_INFO.json'), 'utf8')) as { commit: string; dirty: boolean };
    return { commit: info.commit, dirty: info.dirty };
  } catch {
    return null;
  }
}

/**
 * The version of the npm on PATH, read from its package.json (its `npm` is a link to
 * …/npm/bin/npm-cli.js): `npm --version` starts another Node.js, ≈ 0.3 s of CPU a command.
 */
function npmOnPath(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    try {
      const cli = fs.realpathSync(path.join(dir, 'npm'));
      const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(cli), '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
      return pkg.name === 'npm' && typeof pkg.version === 'string' ? pkg.version : null;
    } catch {
      // not in this folder (or not the usual layout): the next one, then `npm --version`
    }
  }
  return null;
}

export function fingerprint(projectDir: string): Fingerprint {
  const cpus = os.cpus();
  const gpus = parseNvidiaSmi(run('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader']));
  const built = buildInfo(projectDir);
  const status = built ? null : run('git', ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=no'], projectDir);
  const userAgent = process.env.npm_config_user_agent?.match(/npm\/(\S+)/)?.[1];
  return {
    node: process.version,
    npm: userAgent ?? npmOnPath() ?? run('npm', ['--version']),
    packages: packageVersions(),
    os: { platform: process.platform, release: os.release(), arch: process.arch, type: os.type() },
    cpu: { model: cpus[0]?.model ?? 'unknown', cores: cpus.length },
    memoryBytes: os.totalmem(),
    hostname: os.hostname(),
    env: Object.fromEntries(Object.entries(process.env).filter(([k, v]) => DETERMINISM_ENV_PATTERN.test(k) && v !== undefined)) as Record<string, string>,
    git: built ?? { commit: run('git', ['rev-parse', 'HEAD'], projectDir), dirty: status === null ? null : status.length > 0 },
    ...(gpus && { gpus }),
  };
}

/** Warnings a fingerprint carries into the manifest and the summary. */
export function fingerprintWarnings(f: Fingerprint): string[] {
  const warnings: string[] = [];
  if (f.git.dirty) warnings.push('the detbench checkout has uncommitted changes (git tree dirty): these results may not be reproducible from its commit');
  if (f.git.commit === null) warnings.push('not run from a git checkout: the code version is known only by package version');
  return warnings;
}
