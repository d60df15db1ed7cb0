/**
 * plan: a resolved suite and what the probes found → cells and the ordered list of runs: each
 * workload on each device of each backend, at every combination of invariance-axis values
 * (harness/axes.ts) that applies there. Within a group (every key field but the mode) the modes are
 * interleaved — det, nondet, det, nondet… — after one warm-up run per mode, so drift of a noisy
 * machine lands on both modes.
 */
import { findBackend } from './backends/index.js';
import { supportOf, type Availability, type Backend, type Support } from './backends/types.js';
import type { ResolvedSuite } from './config.js';
import { cellId, groupId, type CellKey, type Mode, type NoiseArm, type RunRequest } from './protocol.js';
import { AXIS_IDS, axisFields, suiteAxisValues, type AxisFields, type AxisId, type AxisValue, type AxisValues } from './axes.js';
import { paramShapes } from '../workloads/params.js';
import { WORKLOADS, findWorkload, resolveWorkload } from '../workloads/index.js';
import { isGpuDevice, sizeOf, type WorkloadSpec } from '../workloads/types.js';
import { flopsPerRun, formatFlops } from '../workloads/flops.js';
import { examplesOf } from '../workloads/batching.js';
import { hasLoader } from '../workloads/loader.js';
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

/** What the plan knows when it expands an axis for one workload on one device of a backend. */
interface AxisContext {
  suite: ResolvedSuite;
  workload: string;
  backend: Backend;
  device: string;
  spec: WorkloadSpec;
}

/**
 * How the plan expands each invariance axis (harness/axes.ts) for a workload on a device: the values
 * it runs at, and a note when some of the suite's values do not apply there (the cells are then not
 * planned at all: a value that applies but a backend cannot run is an `unsupported` cell instead,
 * from supportOf).
 */
const AXIS_PLAN: { readonly [A in AxisId]: (ctx: AxisContext, values: AxisValues[A][]) => { values: AxisValues[A][]; note?: string } } = {
  threads: ({ backend, device }, values) => {
    if (values.length < 2) return { values };
    const id = backend.info.id;
    if (!backend.info.threadControl) return { values: [values[0]], note: `${id} has no thread control here: run at threads=${values[0]} only` };
    // CPU thread counts matter on CPU devices only (a GPU backend's host threads do not sum its results)
    if (isGpuDevice(device)) return { values: [values[0]], note: `${id} on ${device}: CPU thread counts do not apply to a GPU device, run at threads=${values[0]} only` };
    return { values };
  },
  // every value applies: one a backend cannot compute in is an unsupported cell (supportOf)
  numerics: (_ctx, values) => ({ values }),
  // inference workloads with examples only (workloads/batching.ts); the rest run as one call
  batchSize: ({ workload, spec }, values) => {
    if (examplesOf(spec) || values.every((v) => v === 'all')) return { values };
    return { values: ['all'], note: `${workload} has no examples to batch (batch sizes apply to ${BATCHED_WORKLOADS}): it runs as one call` };
  },
  // training workloads with a data loader only; the others have no loader to give workers to
  loaderWorkers: ({ workload, spec }, values) => {
    if ((spec.kind === 'train' && hasLoader(spec)) || values.every((v) => v === 0)) return { values };
    return { values: [0], note: `${workload} has no data loader (loader workers apply to ${LOADER_WORKLOADS}): it runs without one` };
  },
  // training workloads only (an inference has no state to resume); a step past the last one is an
  // unsupported cell (supportOf), since it applies but cannot be run at this size
  resumeAt: ({ workload, spec }, values) => {
    if (spec.kind === 'train' || values.every((v) => v === 0)) return { values };
    return { values: [0], note: `${workload} is not a training workload: resume replay applies to training workloads only, it runs uninterrupted` };
  },
  // cuDNN's algorithm search is a GPU matter: a CPU device has nothing to autotune (a GPU backend
  // without a switch for it is an unsupported cell instead, from supportOf)
  autotune: ({ backend, device }, values) => {
    if (isGpuDevice(device) || values.every((v) => v === 'off')) return { values };
    return { values: ['off'], note: `${backend.info.id} on ${device}: algorithm autotuning applies to GPU devices only, run with autotuning off only` };
  },
};

/** The workloads the loader-workers axis applies to, for its note. */
const LOADER_WORKLOADS = WORKLOADS.filter((w) => { const s = w.build(w.presets.quick); return s.kind === 'train' && hasLoader(s); }).map((w) => w.id).join(', ');

/** The workloads the batch-size axis applies to, for its note. */
const BATCHED_WORKLOADS = WORKLOADS.filter((w) => examplesOf(w.build(w.presets.quick))).map((w) => w.id).join(', ');

/**
 * Every combination of axis values a workload runs at on a device (the first axis outermost), each
 * as the axis fields of a cell; notes for values that do not apply there.
 */
function axisPoints(ctx: AxisContext, notes: Set<string>): AxisFields[] {
  let points: Array<Partial<AxisValues>> = [{}];
  for (const axis of AXIS_IDS) {
    const { values, note } = AXIS_PLAN[axis](ctx, suiteAxisValues(ctx.suite, axis) as never) as { values: AxisValue[]; note?: string };
    if (note) notes.add(note);
    points = points.flatMap((p) => values.map((v) => ({ ...p, [axis]: v })));
  }
  return points.map(axisFields);
}

/** The first value of every axis: where cells of an unavailable backend are shown, and the noise suite runs. */
function firstPoint(suite: ResolvedSuite): AxisFields {
  return axisFields(Object.fromEntries(AXIS_IDS.map((a) => [a, suiteAxisValues(suite, a)[0]])));
}

export function makePlan(suite: ResolvedSuite, availability: Record<string, Availability>): Plan {
  const cells: PlannedCell[] = [];
  const runs: RunRequest[] = [];
  const notes = new Set<string>();
  for (const backendId of suite.backends) {
    const backend = findBackend(backendId)!;
    const probe = availability[backendId];
    if (!probe?.available) {
      if (suite.backendsExplicit) {
        for (const w of suite.workloads) for (const mode of suite.modes) {
          // an unavailable backend's cells are placeholders: named by the device it would most likely use
          const device = backend.info.deviceKinds.includes('cpu') ? 'cpu' : 'gpu';
          const key: CellKey = { workload: w.id, backend: backendId, device, mode, ...firstPoint(suite) };
          cells.push({ ...key, id: cellId(key), status: 'unavailable', reason: probe && !probe.available ? probe.reason : 'not probed' });
        }
      }
      continue;
    }
    for (const device of probe.devices) {
      for (const w of suite.workloads) {
        const resolved = resolveWorkload(findWorkload(w.id)!, suite.preset, w.params);
        const points = axisPoints({ suite, workload: w.id, backend, device, spec: resolved.spec }, notes);
        if (suite.kind === 'noise') {
          const support = slowOnCpu(suite, resolved.spec, device) ?? supportOf(backend, resolved.spec, { device, ...points[0] });
          planNoise(suite, resolved, backendId, device, support, points[0], cells, runs);
          continue;
        }
        for (const point of points) {
          const support = slowOnCpu(suite, resolved.spec, device) ?? supportOf(backend, resolved.spec, { device, ...point });
          for (const mode of suite.modes) {
            const key: CellKey = { workload: w.id, backend: backendId, device, mode, ...point };
            cells.push(support.ok ? { ...key, id: cellId(key), status: 'planned' } : { ...key, id: cellId(key), status: 'unsupported', reason: support.reason });
          }
          if (!support.ok) continue;
          const request = (mode: (typeof suite.modes)[number], repeat: number, warmup: boolean): RunRequest => ({
            workload: w.id, backend: backendId, device, mode, ...point,
            runIndex: runs.length, repeat, warmup, seed: suite.seed, preset: suite.preset, params: w.params,
            ...(suite.trace && resolved.spec.kind === 'train' ? { trace: true } : {}),
            // resume replay compares final training states part by part, the uninterrupted run's too
            // (where the backend can hand one back)
            ...(suite.resumeAt && resolved.spec.kind === 'train' && !resolved.spec.dataParallel && backend.info.resumes ? { keepState: true } : {}),
          });
          for (const mode of suite.modes) runs.push(request(mode, -1, true));
          for (let r = 0; r < suite.repeats; r++) for (const mode of suite.modes) runs.push(request(mode, r, false));
        }
      }
    }
  }
  return { cells, runs, notes: [...notes] };
}

/**
 * The noise decomposition (Summers & Dinneen, ICML 2021) for one training workload on one backend:
 * `repeats` runs in each arm, the arms interleaved run by run after one warm-up per mode.
 * - seeds: determinism on, seeds seed, seed + 1, …;
 * - implementation: determinism off, one seed;
 * - ulp: determinism on, one seed, run i moving one element of the first weight tensor by 1 ULP
 *   (elements spread evenly over the tensor).
 */
function planNoise(suite: ResolvedSuite, workload: ReturnType<typeof resolveWorkload>, backend: string, device: string, support: Support, point: AxisFields, cells: PlannedCell[], runs: RunRequest[]): void {
  const arms: Array<[NoiseArm, Mode]> = [['seeds', 'det'], ['implementation', 'nondet'], ['ulp', 'det']];
  for (const [arm, mode] of arms) {
    const key: CellKey = { arm, workload: workload.id, backend, device, mode, ...point };
    cells.push(support.ok ? { ...key, id: cellId(key), status: 'planned' } : { ...key, id: cellId(key), status: 'unsupported', reason: support.reason });
  }
  if (!support.ok || workload.spec.kind !== 'train') return;
  const [tensor, shape] = paramShapes(workload.spec)[0];
  const elements = sizeOf(shape);
  const request = (arm: NoiseArm, mode: Mode, repeat: number, warmup: boolean, extra: Partial<RunRequest> = {}): RunRequest => ({
    arm, workload: workload.id, backend, device, mode, ...point, runIndex: runs.length, repeat, warmup, seed: suite.seed, preset: suite.preset, params: workload.params, ...extra,
  });
  // one push each: a request takes its runIndex from the runs pushed so far
  runs.push(request('seeds', 'det', -1, true));
  runs.push(request('implementation', 'nondet', -1, true));
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
 * A deterministic slice of a plan for fleet runs: whole cell groups (every key field but the mode) —
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
