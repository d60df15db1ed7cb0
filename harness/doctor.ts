/**
 * `detbench doctor`: a pre-flight check of this host and stack against the known causes of
 * irreproducible training — each a check with a status and, when it fails, the fix. A failed check
 * is something that will make runs differ (exit 1); a warning is something that may; `info` records
 * what a report should mention. `detbench run` stores the same checklist in its manifest.
 *
 * Sources for the checks: PyTorch's "Reproducibility" notes (use_deterministic_algorithms,
 * CUBLAS_WORKSPACE_CONFIG, cudnn.benchmark), NVIDIA's framework-reproducibility notes
 * (TF_DETERMINISTIC_OPS, TF_CUDNN_DETERMINISTIC), Python's hash randomisation (PYTHONHASHSEED changes
 * the order of sets and dict-of-set iteration, and with it any shuffle that walks one).
 */
import os from 'node:os';
import { capture } from './run/child-probe.js';
import type { Fingerprint } from './env.js';
import type { TorchAlerts } from './backends/torch/alerts.js';
import type { Availability } from './backends/types.js';
import { isGpuDevice } from '../workloads/types.js';

export const CHECK_STATUSES = ['pass', 'warn', 'fail', 'info'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export interface Check {
  id: string;
  status: CheckStatus;
  /** What was found, in one sentence. */
  found: string;
  /** What to do about it (absent when nothing needs doing). */
  fix?: string;
}

export interface DoctorReport {
  checks: Check[];
  /** Failed checks decide `detbench doctor`'s exit code. */
  ok: boolean;
}

/** Hosts with at least this many cores get the "thread count unset" warning: results there depend on it. */
export const MANY_CORES = 8;

/** What `torch` reports about itself, or why it could not (tested with Debian's python3-torch). */
export interface TorchFacts {
  python: string;
  torch: string | null;
  cuda: string | null;
  cudnn: number | null;
  /** torch.backends.cudnn.benchmark as a fresh process sees it. */
  cudnnBenchmark: boolean | null;
  /** torch.cuda.is_available(): the warn-only run (TorchAlerts) runs on cuda then. */
  gpu?: boolean;
  error?: string;
  /** Where the torch backend's probe of this Python found no torch: its reason, a sentence of its own. */
  probeReason?: string;
}

const PROBE = `import json
try:
    import torch
except Exception as e:
    print(json.dumps({"error": repr(e)})); raise SystemExit(0)
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None, "benchmark": bool(torch.backends.cudnn.benchmark), "gpu": torch.cuda.is_available()}))`;

export async function torchFacts(python: string): Promise<TorchFacts> {
  const r = await capture(python, ['-c', PROBE], 60_000);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    const j = JSON.parse(line) as { error?: string; torch?: string; cuda?: string | null; cudnn?: number | null; benchmark?: boolean; gpu?: boolean };
    if (j.error) return { python, torch: null, cuda: null, cudnn: null, cudnnBenchmark: null, error: j.error };
    return { python, torch: j.torch ?? null, cuda: j.cuda ?? null, cudnn: j.cudnn ?? null, cudnnBenchmark: j.benchmark ?? null, gpu: j.gpu === true };
  } catch {
    return { python, torch: null, cuda: null, cudnn: null, cudnnBenchmark: null, error: r.error ?? (r.stderr.trim().split('\n').at(-1) || `exit ${r.status}`) };
  }
}

/**
 * The checklist, from the environment and what was found. Pure: the caller gathers the facts (so the
 * checks are tested on exact inputs).
 */
export function diagnose(o: { env: NodeJS.ProcessEnv; cores: number; fingerprint: Fingerprint; torch: TorchFacts | null; alerts?: TorchAlerts | null }): DoctorReport {
  const { env } = o;
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);

  const hashSeed = env.PYTHONHASHSEED;
  add(
    hashSeed !== undefined && /^\d+$/.test(hashSeed)
      ? { id: 'PYTHONHASHSEED', status: 'pass', found: `PYTHONHASHSEED=${hashSeed}: Python's string hashes, and so set iteration order, are the same in every process` }
      : { id: 'PYTHONHASHSEED', status: 'warn', found: hashSeed === undefined ? 'PYTHONHASHSEED is unset: every Python process hashes strings differently, so code that iterates a set (or shuffles one) sees another order each run' : `PYTHONHASHSEED=${hashSeed} is not a fixed seed`, fix: 'export PYTHONHASHSEED=0 (any fixed integer) before starting Python training' },
  );

  const cublas = env.CUBLAS_WORKSPACE_CONFIG;
  add(
    cublas === ':4096:8' || cublas === ':16:8'
      ? { id: 'CUBLAS_WORKSPACE_CONFIG', status: 'pass', found: `CUBLAS_WORKSPACE_CONFIG=${cublas}: cuBLAS can be deterministic` }
      : { id: 'CUBLAS_WORKSPACE_CONFIG', status: o.torch?.cuda ? 'fail' : 'warn', found: cublas === undefined ? 'CUBLAS_WORKSPACE_CONFIG is unset: cuBLAS (CUDA ≥ 10.2) picks reduction buffers per stream, and torch.use_deterministic_algorithms(True) raises on CUDA matmuls' : `CUBLAS_WORKSPACE_CONFIG=${cublas} is neither :4096:8 nor :16:8`, fix: 'export CUBLAS_WORKSPACE_CONFIG=:4096:8 (detbench sets it for its own det runs)' },
  );

  const tfDet = env.TF_DETERMINISTIC_OPS;
  add(
    tfDet === '1' || tfDet === 'true'
      ? { id: 'TF_DETERMINISTIC_OPS', status: 'pass', found: `TF_DETERMINISTIC_OPS=${tfDet}: TensorFlow (and tfjs-node) use deterministic GPU kernels or raise` }
      : { id: 'TF_DETERMINISTIC_OPS', status: 'warn', found: `TF_DETERMINISTIC_OPS is ${tfDet === undefined ? 'unset' : `"${tfDet}"`}: TensorFlow and tfjs-node may use nondeterministic GPU kernels (atomics in reductions and scatters)`, fix: 'export TF_DETERMINISTIC_OPS=1 for TensorFlow training (detbench sets it for its own det runs of tfjs-node)' },
  );

  const threadVars = ['OMP_NUM_THREADS', 'MKL_NUM_THREADS'] as const;
  const unset = threadVars.filter((v) => env[v] === undefined);
  add(
    unset.length === 0
      ? { id: 'thread-count', status: 'pass', found: threadVars.map((v) => `${v}=${env[v]}`).join(', ') + ': CPU kernels split their work the same way on any machine' }
      : o.cores >= MANY_CORES
        ? { id: 'thread-count', status: 'warn', found: `${unset.join(' and ')} ${unset.length > 1 ? 'are' : 'is'} unset on a ${o.cores}-core host: OpenMP and MKL split reductions by the core count, so a machine with another core count computes other bits`, fix: `export ${unset.map((v) => `${v}=${Math.min(o.cores, 8)}`).join(' ')} (the same value on every machine that must agree)` }
        : { id: 'thread-count', status: 'info', found: `${unset.join(' and ')} unset; with ${o.cores} cores the default thread count is ${o.cores}: a machine with more cores will split reductions differently`, fix: `export ${unset.map((v) => `${v}=${o.cores}`).join(' ')} to pin it` },
  );

  const git = o.fingerprint.git;
  add(
    git.commit === null
      ? { id: 'code-version', status: 'info', found: 'not a git checkout: the code is known by its package version only' }
      : git.dirty
        ? { id: 'code-version', status: 'warn', found: `the checkout at ${git.commit.slice(0, 12)} has uncommitted changes: results cannot be tied to a commit`, fix: 'commit (or stash) before runs you will publish or compare' }
        : { id: 'code-version', status: 'pass', found: `clean checkout at ${git.commit.slice(0, 12)}` },
  );

  const tfjsNode = o.fingerprint.packages['@tensorflow/tfjs-node'] ?? null, tfjsNodeGpu = o.fingerprint.packages['@tensorflow/tfjs-node-gpu'] ?? null;
  add({
    id: 'tfjs-node',
    status: 'info',
    found: tfjsNode || tfjsNodeGpu ? `libtensorflow through ${[tfjsNode && `@tensorflow/tfjs-node ${tfjsNode}`, tfjsNodeGpu && `@tensorflow/tfjs-node-gpu ${tfjsNodeGpu}`].filter(Boolean).join(' and ')}` : '@tensorflow/tfjs-node(-gpu) is not installed (optional: its install script downloads libtensorflow)',
  });

  const t = o.torch;
  if (!t || t.torch === null) {
    add({ id: 'torch', status: 'info', found: t ? t.probeReason ?? `torch is not importable by ${t.python} (${t.error})` : 'torch was not checked', fix: 'install torch, or pass --python PATH to a Python that has it, to check the torch items' });
  } else {
    add({ id: 'torch', status: 'info', found: `torch ${t.torch} (${t.python}), CUDA ${t.cuda ?? 'none'}, cuDNN ${t.cudnn ?? 'none'}` });
    add(
      t.cudnnBenchmark
        ? { id: 'cudnn.benchmark', status: 'fail', found: 'torch.backends.cudnn.benchmark is True in a fresh process: cuDNN times several convolution algorithms and keeps the fastest, which can differ run to run', fix: 'set torch.backends.cudnn.benchmark = False (and cudnn.deterministic = True) in training code, or find what turns it on at import' }
        : { id: 'cudnn.benchmark', status: 'pass', found: 'torch.backends.cudnn.benchmark is False by default here; training code must not turn it on' },
    );
    if (o.alerts) checks.push(...alertChecks(o.alerts));
  }
  return { checks, ok: checks.every((c) => c.status !== 'fail') };
}

/**
 * The warn-only det run's items: one per op PyTorch warned has no deterministic implementation on the
 * device (a warning: det code that uses it raises, or with warn_only stays nondeterministic), or one
 * that says none did, naming what ran; a run that could not be made is a warning too.
 */
export function alertChecks(a: TorchAlerts): Check[] {
  if (a.error) {
    return [{ id: 'torch-deterministic-ops', status: 'warn', found: `the warn-only det run on ${a.device} did not finish: ${a.error}`, fix: 'run `detbench doctor` again with a working --python; the ops without a deterministic implementation are unchecked' }];
  }
  if (a.ops.length === 0) {
    return [{ id: 'torch-deterministic-ops', status: 'pass', found: `with use_deterministic_algorithms(True, warn_only=True) on ${a.device}, no op of ${a.workloads.length} workloads (${a.workloads.join(', ')}) warned that it has no deterministic implementation` }];
  }
  return a.ops.map((x) => ({
    id: `torch-nondeterministic-op:${x.op}`,
    status: 'warn' as const,
    found: `${x.op} has no deterministic implementation on ${a.device} (used by ${x.workloads.join(', ')}): "${x.message}"`,
    fix: `with torch.use_deterministic_algorithms(True) training code that calls ${x.op} raises; replace the op (e.g. a sort-based or one-hot formulation), or keep warn_only=True knowing these results may differ run to run`,
  }));
}

/**
 * torch's facts from the torch backend's probe of the same Python (`detbench run`: one Python
 * importing torch instead of two, and a Python that hangs is waited for once); null without a probe.
 */
function factsOfProbe(python: string, probed: Availability | undefined): TorchFacts | null {
  if (!probed) return null;
  if (!probed.available) return { python, torch: null, cuda: null, cudnn: null, cudnnBenchmark: null, probeReason: probed.reason };
  if (!probed.stack) return null;
  const { cuda, cudnn, cudnnBenchmark } = probed.stack;
  return { python, torch: probed.version, cuda, cudnn, cudnnBenchmark, gpu: probed.devices.some(isGpuDevice) };
}

/**
 * Gathers the facts (environment, cores, the fingerprint, torch when a Python is given) and diagnoses.
 * `alerts`: where torch is importable, also a det run of detbench's workloads in warn-only mode
 * (backends/torch/alerts.ts) naming each op without a deterministic implementation; loaded only then,
 * so a doctor without torch stays quick.
 */
export async function doctor(o: { fingerprint: Fingerprint; python: string | null; alerts?: boolean; probed?: Availability }): Promise<DoctorReport> {
  const torch = o.python ? factsOfProbe(o.python, o.probed) ?? (await torchFacts(o.python)) : null;
  let alerts: TorchAlerts | null = null;
  if (o.alerts && o.python && torch?.torch) {
    const [{ torchAlerts }, { WORKLOADS }] = await Promise.all([import('./backends/torch/alerts.js'), import('../workloads/index.js')]);
    alerts = await torchAlerts(o.python, torch.gpu ? 'cuda' : 'cpu', WORKLOADS.map((w) => w.id));
  }
  return diagnose({ env: process.env, cores: os.availableParallelism(), fingerprint: o.fingerprint, torch, alerts });
}
