/**
 * plan: a resolved suite and what the probes found → cells and the ordered list of runs.
 * Within a (workload, backend, device, threads) group the modes are interleaved — det, nondet,
 * det, nondet… — after one warm-up run per mode, so drift of a noisy machine lands on both modes.
 */
import { findBackend } from './backends/index.js';
import { supportOf, type Availability, type Support } from './backends/types.js';
import type { ResolvedSuite } from './config.js';
import { cellId, groupId, type CellKey, type Mode, type NoiseArm, type RunRequest } from './protocol.js';
import { paramShapes } from '../workloads/params.js';
import { findWorkload, resolveWorkload } from '../workloads/index.js';
import { isGpuDevice, type WorkloadSpec } from '../workloads/types.js';
import { flopsPerRun, formatFlops } from '../workloads/flops.js';
import { UsageError, message } from './errors.js';

export interface PlannedCell extends CellKey {
  id: string;
  status: 'planned' | 'unsupported' | 'unavailable';
  reason?: string;
}

export interface Plan {
  cells: PlannedCell[];
  runs: RunRequest[];
  /** Plan-time notes (e.g. a thread axis collapsed for a backend that has no thread control). */
  notes: string[];
}

/**
 * For suites that run on GPUs only: each backend keeps its GPU devices; one that has none here (e.g.
 * torch without CUDA runs on the CPU) becomes unavailable, saying so.
 */
export function restrictToGpus(availability: Record<string, Availability>): Record<string, Availability> {
  return Object.fromEntries(
    Object.entries(availability).map(([id, a]) => {
      if (!a.available) return [id, a];
      const gpus = a.devices.filter(isGpuDevice);
      return [id, gpus.length ? { ...a, devices: gpus } : { available: false, reason: `${id} is installed (${a.version}) but has no GPU device here, only ${a.devices.join(', ')}` }];
    }),
  );
}

/**
 * The gpu preset is sized for GPUs (TFLOPs per run for the models): on a CPU device its cells are
 * planned unsupported, saying why, unless the suite allows slow runs (`--allow-slow`).
 */
function slowOnCpu(suite: ResolvedSuite, spec: WorkloadSpec, device: string): Support | null {
  if (suite.preset !== 'gpu' || isGpuDevice(device) || suite.allowSlow) return null;
  return { ok: false, reason: `the gpu preset is sized for GPUs (${formatFlops(flopsPerRun(spec))} per run) and would take too long on the CPU: pass --allow-slow to run it anyway` };
}

export function makePlan(suite: ResolvedSuite, availability: Record<string, Availability>): Plan {
  const cells: PlannedCell[] = [];
  const runs: RunRequest[] = [];
  const notes: string[] = [];
  for (const backendId of suite.backends) {
    const backend = findBackend(backendId)!;
    const probe = availability[backendId];
    if (!probe?.available) {
      if (suite.backendsExplicit) {
        for (const w of suite.workloads) for (const mode of suite.modes) {
          const key = { workload: w.id, backend: backendId, device: backend.info.deviceKind, mode, threads: suite.threads[0] };
          cells.push({ ...key, id: cellId(key), status: 'unavailable', reason: probe && !probe.available ? probe.reason : 'not probed' });
        }
      }
      continue;
    }
    if (!backend.info.threadControl && suite.threads.length > 1) notes.push(`${backendId} has no thread control here: run at threads=${suite.threads[0]} only`);
    for (const device of probe.devices) {
      // CPU thread counts matter on CPU devices only (a GPU backend's host threads do not sum its results)
      const threads = backend.info.threadControl && !isGpuDevice(device) ? suite.threads : [suite.threads[0]];
      if (backend.info.threadControl && threads.length < suite.threads.length) notes.push(`${backendId} on ${device}: CPU thread counts do not apply to a GPU device, run at threads=${threads[0]} only`);
      for (const w of suite.workloads) {
        const resolved = resolveWorkload(findWorkload(w.id)!, suite.preset, w.params);
        const support = slowOnCpu(suite, resolved.spec, device) ?? supportOf(backend, resolved.spec);
        if (suite.kind === 'noise') {
          planNoise(suite, resolved, backendId, device, support, threads[0], cells, runs);
          continue;
        }
        for (const t of threads) {
          for (const mode of suite.modes) {
            const key: CellKey = { workload: w.id, backend: backendId, device, mode, threads: t };
            cells.push(support.ok ? { ...key, id: cellId(key), status: 'planned' } : { ...key, id: cellId(key), status: 'unsupported', reason: support.reason });
          }
          if (!support.ok) continue;
          const request = (mode: (typeof suite.modes)[number], repeat: number, warmup: boolean): RunRequest => ({
            workload: w.id, backend: backendId, device, mode, threads: t,
            runIndex: runs.length, repeat, warmup, seed: suite.seed, preset: suite.preset, params: w.params,
            ...(suite.trace && resolved.spec.kind === 'train' ? { trace: true } : {}),
          });
          for (const mode of suite.modes) runs.push(request(mode, -1, true));
          for (let r = 0; r < suite.repeats; r++) for (const mode of suite.modes) runs.push(request(mode, r, false));
        }
      }
    }
  }
  return { cells, runs, notes };
}

/**
 * The noise decomposition (Summers & Dinneen, ICML 2021) for one training workload on one backend:
 * `repeats` runs in each arm, the arms interleaved run by run after one warm-up per mode.
 * - seeds: determinism on, seeds seed, seed + 1, …;
 * - implementation: determinism off, one seed;
 * - ulp: determinism on, one seed, run i moving one element of the first weight tensor by 1 ULP
 *   (elements spread evenly over the tensor).
 */
function planNoise(suite: ResolvedSuite, workload: ReturnType<typeof resolveWorkload>, backend: string, device: string, support: { ok: boolean; reason?: string }, threads: number, cells: PlannedCell[], runs: RunRequest[]): void {
  const arms: Array<[NoiseArm, Mode]> = [['seeds', 'det'], ['implementation', 'nondet'], ['ulp', 'det']];
  for (const [arm, mode] of arms) {
    const key: CellKey = { arm, workload: workload.id, backend, device, mode, threads };
    cells.push(support.ok ? { ...key, id: cellId(key), status: 'planned' } : { ...key, id: cellId(key), status: 'unsupported', reason: support.reason });
  }
  if (!support.ok || workload.spec.kind !== 'train') return;
  const [tensor, shape] = paramShapes(workload.spec)[0];
  const elements = shape.reduce((a, b) => a * b, 1);
  const request = (arm: NoiseArm, mode: Mode, repeat: number, warmup: boolean, extra: Partial<RunRequest> = {}): RunRequest => ({
    arm, workload: workload.id, backend, device, mode, threads, runIndex: runs.length, repeat, warmup, seed: suite.seed, preset: suite.preset, params: workload.params, ...extra,
  });
  runs.push(request('seeds', 'det', -1, true), request('implementation', 'nondet', -1, true));
  for (let i = 0; i < suite.repeats; i++) {
    runs.push(request('seeds', 'det', i, false, { seed: suite.seed + i }));
    runs.push(request('implementation', 'nondet', i, false));
    runs.push(request('ulp', 'det', i, false, { perturb: { tensor, index: Math.floor(((i + 0.5) * elements) / suite.repeats) } }));
  }
}

export interface Shard {
  /** 1-based */
  index: number;
  count: number;
}

/** Parses "I/N" (1 ≤ I ≤ N). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new UsageError(message.shard(text));
  return { index, count };
}

/**
 * A deterministic slice of a plan for fleet runs: whole (workload, backend, device, threads) groups —
 * warm-ups and interleaved det/nondet pairs stay together — dealt round-robin in plan order, so the
 * N shards of a plan are disjoint and together are the plan. Run indices keep their plan values.
 */
export function shardPlan(plan: Plan, shard: Shard): Plan {
  const groups = [...new Set(plan.cells.map(groupId))];
  const mine = new Set(groups.filter((_, i) => i % shard.count === shard.index - 1));
  return {
    cells: plan.cells.filter((c) => mine.has(groupId(c))),
    runs: plan.runs.filter((r) => mine.has(groupId(r))),
    notes: [...plan.notes, `shard ${shard.index}/${shard.count}: ${mine.size} of ${groups.length} cell groups`],
  };
}
