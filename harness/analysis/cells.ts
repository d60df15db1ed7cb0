/** Per-cell analysis: each planned cell's runs against its modal run, and det against nondet. */
import { diffFloat32, type DiffSummary } from './diff.js';
import { groupId, isOk, type Mode, type OkRecord, type RunRecord, type RunStatus } from '../protocol.js';
import { axisFields } from '../axes.js';
import { brownForsythe, describe, pairedRatioCI } from './stats.js';
import type { LoadedResults } from '../store.js';
import { groupBy, modalDigest } from './group.js';
import type { CellSummary, CellVerdict, Divergence, ModeComparison, NegativeControl, RunDiff } from './summary.js';
import { findWorkload } from '../../workloads/index.js';
import { isNegativeControlOn } from '../../workloads/types.js';
import type { ToleranceJudge } from './tolerance.js';

/**
 * A negative control on a backend with no determinism switch varies in det as in nondet, by
 * construction: that is expected, not a finding, and such a det cell does not count in the verdict.
 */
export const expectedToVary = (c: CellSummary): boolean =>
  isNegativeControlOn(findWorkload(c.workload)?.negativeControl, c.device) && c.determinism?.control === 'uncontrolled';

export function summarizeCell(planned: LoadedResults['manifest']['cells'][number], runs: RunRecord[], load: (d: string) => Float32Array, judge: ToleranceJudge): CellSummary {
  const ok = runs.filter(isOk);
  const statuses: Partial<Record<RunStatus, number>> = {};
  runs.forEach((r) => (statuses[r.status] = (statuses[r.status] ?? 0) + 1));
  const mode = modalDigest(ok.map((r) => r.artifact.sha256));
  const modal = mode?.digest ?? null;
  const distinct = mode?.distinct ?? 0;
  const runDiffs: RunDiff[] = ok.map((r) => ({
    runIndex: r.runIndex,
    repeat: r.repeat,
    sha256: r.artifact.sha256,
    computeMs: r.computeMs,
    loss: r.loss,
    outputL2: r.outputL2,
    diff: r.artifact.sha256 === modal ? null : safeDiff(load, modal!, r.artifact.sha256),
  }));
  const toleranceRelL2 = findWorkload(planned.workload)?.tolerance.relL2 ?? 0;
  const maxRelL2 = Math.max(0, ...runDiffs.map((d) => d.diff?.relL2 ?? 0));
  const failed = runs.find((r) => r.status !== 'ok' && r.status !== 'unsupported');
  const unsupported = runs.find((r) => r.status === 'unsupported');
  const verdict: CellVerdict =
    planned.status === 'unsupported' ? 'unsupported'
      : planned.status === 'unavailable' ? 'unavailable'
      : failed ? 'failed'
      : unsupported && ok.length === 0 ? 'unsupported'
      : ok.length === 0 ? 'no-data'
      : distinct === 1 ? 'bitwise-stable'
      : 'unstable';
  const nonOk = runs.find((r) => r.status !== 'ok') as Extract<RunRecord, { message: string }> | undefined;
  return {
    cell: planned.id, ...(planned.arm ? { arm: planned.arm } : {}), workload: planned.workload, backend: planned.backend, device: planned.device, mode: planned.mode, ...axisFields(planned),
    verdict,
    statuses,
    distinctDigests: distinct,
    modalDigest: modal,
    modalShare: mode ? mode.count / ok.length : null,
    runs: runDiffs,
    maxUlp: Math.max(0, ...runDiffs.map((d) => d.diff?.maxUlp ?? 0)),
    maxRelL2,
    toleranceRelL2,
    withinTolerance: verdict === 'unstable' ? runDiffs.every((d) => d.diff === null || judge(planned.workload, load(modal!), load(d.sha256), d.diff).within) : null,
    computeMs: describe(ok.map((r) => r.computeMs)),
    loss: describe(ok.map((r) => r.loss).filter((l): l is number => l !== null)),
    outputL2: describe(ok.map((r) => r.outputL2)),
    divergence: divergence(ok, modal, load),
    message: planned.reason ?? nonOk?.message ?? null,
    determinism: runs.find((r) => r.determinism)?.determinism ?? null,
  };
}

/**
 * det against nondet per cell group: stable with determinism, varying without it, and the cost of
 * determinism from compute times paired by repeat (soak runs left out: they are det only).
 */
export function compareModes(cells: CellSummary[], counted: RunRecord[]): ModeComparison[] {
  const okByGroup = groupBy(counted.filter((r): r is OkRecord => isOk(r) && !r.soak), groupId);
  const modes: ModeComparison[] = [];
  for (const group of groupBy(cells, groupId).values()) {
    if (group.some((c) => c.arm)) continue; // noise-decomposition cells are analysed in noise.ts
    const det = group.find((c) => c.mode === 'det');
    const nondet = group.find((c) => c.mode === 'nondet');
    const ok = okByGroup.get(groupId(group[0])) ?? [];
    const okTimes = (mode: Mode) => new Map(ok.filter((r) => r.mode === mode).map((r) => [r.repeat, r.computeMs]));
    const detTimes = okTimes('det'), nondetTimes = okTimes('nondet');
    const repeats = [...detTimes.keys()].filter((k) => nondetTimes.has(k)).sort((a, b) => a - b);
    const hasData = (c?: CellSummary) => c !== undefined && c.distinctDigests > 0;
    modes.push({
      workload: group[0].workload, backend: group[0].backend, device: group[0].device, ...axisFields(group[0]),
      detStable: hasData(det) ? det!.distinctDigests === 1 && det!.verdict === 'bitwise-stable' : null,
      nondetVaries: hasData(nondet) ? nondet!.distinctDigests > 1 : null,
      slowdown: pairedRatioCI(repeats.map((k) => detTimes.get(k)!), repeats.map((k) => nondetTimes.get(k)!)),
      timingSpread: brownForsythe([[...detTimes.values()], [...nondetTimes.values()]]),
    });
  }
  return modes;
}

/** Each negative control's nondet cell: did it differ run to run, as it must? */
export function negativeControlsOf(cells: CellSummary[]): NegativeControl[] {
  return cells
    .filter((c) => c.mode === 'nondet' && !c.arm && isNegativeControlOn(findWorkload(c.workload)?.negativeControl, c.device) && c.distinctDigests > 0)
    .map((c) => ({
      workload: c.workload, backend: c.backend, device: c.device, ...axisFields(c),
      seen: c.distinctDigests > 1, distinctDigests: c.distinctDigests, runs: c.runs.length,
    }));
}

export function safeDiff(load: (d: string) => Float32Array, a: string, b: string): DiffSummary | null {
  const x = load(a), y = load(b);
  return x.length === y.length ? diffFloat32(x, y) : null;
}

/** First divergent step and per-step relative L2 growth, from the runs' per-step weight traces. */
function divergence(ok: OkRecord[], modal: string | null, load: (d: string) => Float32Array): Divergence | null {
  const traced = ok.filter((r) => r.stepTrace);
  const reference = traced.find((r) => r.artifact.sha256 === modal);
  if (!reference?.stepTrace || traced.length < 2) return null;
  const steps = reference.stepTrace.steps;
  const refTrace = load(reference.stepTrace.sha256);
  const perStep = refTrace.length / steps;
  const relL2ByStep = new Array<number>(steps).fill(0);
  let first: number | null = null;
  for (const r of traced) {
    if (r === reference || r.stepTrace!.steps !== steps) continue;
    const at = r.stepTrace!.stepDigests.findIndex((d, s) => d !== reference.stepTrace!.stepDigests[s]);
    if (at < 0) continue;
    if (first === null || at < first) first = at;
    const trace = load(r.stepTrace!.sha256);
    for (let s = at; s < steps; s++) {
      const d = diffFloat32(refTrace.subarray(s * perStep, (s + 1) * perStep), trace.subarray(s * perStep, (s + 1) * perStep));
      relL2ByStep[s] = Math.max(relL2ByStep[s], d.relL2 ?? Infinity);
    }
  }
  return { steps, firstDivergentStep: first, relL2ByStep };
}
