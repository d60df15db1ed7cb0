/**
 * analyze: a results folder → findings and verdicts (summary.json). Reads records and artifacts
 * only; never imports a backend.
 */
import { diffFloat32, type DiffSummary } from './diff.js';
import { cellKey, groupId, isOk, type CellKey, type Mode, type OkRecord, type RunRecord, type RunStatus } from '../protocol.js';
import { analyzeNoise, type NoiseDecomposition } from './noise.js';
import { brownForsythe, describe, pairedRatioCI, type Describe, type RatioCI, type VarianceTest } from './stats.js';
import { readArtifact, type LoadedResults } from '../store.js';
import { groupBy, modalDigest } from './group.js';
import { findWorkload } from '../../workloads/index.js';
import { isNegativeControlOn } from '../../workloads/types.js';
import { evaluateCells, type CellEvaluation } from './churn.js';
import { compareWithOracle, type OracleSummary } from './oracle.js';

export const SUMMARY_VERSION = 1;

export const CELL_VERDICTS = ['bitwise-stable', 'unstable', 'unsupported', 'unavailable', 'failed', 'no-data'] as const;
export type CellVerdict = (typeof CELL_VERDICTS)[number];

export interface RunDiff {
  runIndex: number;
  repeat: number;
  sha256: string;
  computeMs: number;
  loss: number | null;
  outputL2: number;
  /** Null for runs identical to the modal run. */
  diff: DiffSummary | null;
}

export interface CellSummary extends CellKey {
  cell: string;
  verdict: CellVerdict;
  /** Counted runs (warm-ups excluded) by status. */
  statuses: Partial<Record<RunStatus, number>>;
  distinctDigests: number;
  modalDigest: string | null;
  modalShare: number | null;
  runs: RunDiff[];
  /** Worst difference of any run against the modal run. */
  maxUlp: number;
  maxRelL2: number;
  /** The workload's cross-backend tolerance (relative L2), also used to call run-to-run spread "numerically close". */
  toleranceRelL2: number;
  /** Runs differ bitwise but all lie within the tolerance of the modal run (null when bitwise stable or no data). */
  withinTolerance: boolean | null;
  computeMs: Describe | null;
  loss: Describe | null;
  outputL2: Describe | null;
  /** With --trace: when runs start to differ from the modal run, and how fast they drift apart. */
  divergence: Divergence | null;
  /** First message of a failed or unsupported run. */
  message: string | null;
  determinism: RunRecord['determinism'];
}

export interface Divergence {
  steps: number;
  /** First training step (0-based) after which some run's weights differ from the modal run's; null if none ever do. */
  firstDivergentStep: number | null;
  /** Per step, the largest relative L2 distance of any run's weights from the modal run's. */
  relL2ByStep: number[];
}

export interface ModeComparison {
  workload: string;
  backend: string;
  device: string;
  threads: number;
  /** Bitwise stable with determinism on (null: no det data). */
  detStable: boolean | null;
  /** More than one distinct result with determinism off (null: no nondet data). */
  nondetVaries: boolean | null;
  /** det / nondet compute time, paired by repeat, median ratio with a bootstrap 95% CI. */
  slowdown: RatioCI | null;
  /** Brown–Forsythe test of equal compute-time spread in det and nondet. */
  timingSpread: VarianceTest | null;
}

export interface CrossBackend {
  workload: string;
  reference: string;
  backend: string;
  threads: number;
  tolerance: { relL2: number };
  status: 'bitwise-equal' | 'within-tolerance' | 'outside-tolerance' | 'incomparable';
  diff: DiffSummary | null;
  note?: string;
}

export interface ThreadInvariance {
  workload: string;
  backend: string;
  device: string;
  baseThreads: number;
  threads: number;
  bitwiseEqual: boolean;
  diff: DiffSummary | null;
}

export interface NegativeControl {
  workload: string;
  backend: string;
  device: string;
  threads: number;
  /** The control differed run to run without determinism, as it must for a "stable" verdict to mean anything. */
  seen: boolean;
  distinctDigests: number;
  runs: number;
}

/** The same det cell on several machines of a merged folder. */
export interface FleetCell {
  cell: string;
  machines: Array<{ machine: number; hostname: string; hardware: string; modalDigest: string }>;
  /** Every machine gave the same bits. */
  agree: boolean;
  /** Machines whose det result differs from the majority of their identical-hardware siblings. */
  suspects: string[];
}

/** The same det cell on several devices (GPUs) of one host: identical devices must give identical bits. */
export interface DeviceCell {
  workload: string;
  backend: string;
  threads: number;
  devices: Array<{ device: string; name: string; modalDigest: string }>;
  agree: boolean;
  /** Devices whose det result differs from the majority of their identical siblings. */
  suspects: string[];
}

/** Det runs repeated after the suite (`--duration`): did the bits ever change? */
export interface SoakCell {
  cell: string;
  workload: string;
  backend: string;
  device: string;
  threads: number;
  runs: number;
  /** From the first soak run's start to the last one's end. */
  seconds: number;
  /** Distinct results among the soak runs and the suite's det runs of the cell. */
  distinctDigests: number;
  /** The first soak run whose bits differ from the suite's modal det result, if any. */
  firstChange: { repeat: number; afterSec: number } | null;
}

export interface Summary {
  summaryVersion: number;
  runId: string;
  complete: boolean;
  plannedRuns: number;
  recordedRuns: number;
  warnings: string[];
  cells: CellSummary[];
  modes: ModeComparison[];
  crossBackend: CrossBackend[];
  threads: ThreadInvariance[];
  negativeControls: NegativeControl[];
  /** Per det cell across the machines of a merged folder (empty otherwise). */
  fleet: FleetCell[];
  /** Per det cell across the devices (GPUs) of this host, where a backend ran on several. */
  devices: DeviceCell[];
  /** Per det cell soaked with `--duration` (empty otherwise). */
  soak: SoakCell[];
  /** The noise decomposition (noise suite only; empty otherwise). */
  noise: NoiseDecomposition[];
  /** Training cells: evaluation loss and accuracy, and prediction churn between runs (churn.ts). */
  evaluation: CellEvaluation[];
  /** Every det cell against the float64 oracle, or why no comparison was made (oracle.ts). */
  oracle: OracleSummary;
  /** One line each: what a user must look at (also decides `detbench run`'s exit code). */
  findings: string[];
  verdict: { detStableCells: number; detCells: number; reproducible: boolean };
}

/**
 * A negative control on a backend with no determinism switch varies in det as in nondet, by
 * construction: that is expected, not a finding, and such a det cell does not count in the verdict.
 */
export const expectedToVary = (c: CellSummary): boolean =>
  isNegativeControlOn(findWorkload(c.workload)?.negativeControl, c.device) && c.determinism?.control === 'uncontrolled';

export function analyze(results: LoadedResults): Summary {
  const artifacts = new Map<string, Float32Array>();
  const load = (digest: string) => {
    let a = artifacts.get(digest);
    if (!a) artifacts.set(digest, (a = readArtifact(results.dir, digest)));
    return a;
  };
  const counted = results.runs.filter((r) => !r.warmup);

  const cells: CellSummary[] = results.manifest.cells.map((planned) => {
    const runs = counted.filter((r) => r.cell === planned.id);
    return summarizeCell(planned, runs, load);
  });

  const modes: ModeComparison[] = [];
  for (const group of groupBy(cells, groupId).values()) {
    if (group.some((c) => c.arm)) continue; // noise-decomposition cells are analysed in noise.ts
    const det = group.find((c) => c.mode === 'det');
    const nondet = group.find((c) => c.mode === 'nondet');
    const okTimes = (mode: Mode) => {
      const byRepeat = new Map<number, number>();
      counted.filter((r): r is OkRecord => isOk(r) && !r.soak && groupId(r) === groupId(group[0]) && r.mode === mode).forEach((r) => byRepeat.set(r.repeat, r.computeMs));
      return byRepeat;
    };
    const detTimes = okTimes('det'), nondetTimes = okTimes('nondet');
    const repeats = [...detTimes.keys()].filter((k) => nondetTimes.has(k)).sort((a, b) => a - b);
    const hasData = (c?: CellSummary) => c !== undefined && c.distinctDigests > 0;
    modes.push({
      workload: group[0].workload, backend: group[0].backend, device: group[0].device, threads: group[0].threads,
      detStable: hasData(det) ? det!.distinctDigests === 1 && det!.verdict === 'bitwise-stable' : null,
      nondetVaries: hasData(nondet) ? nondet!.distinctDigests > 1 : null,
      slowdown: pairedRatioCI(repeats.map((k) => detTimes.get(k)!), repeats.map((k) => nondetTimes.get(k)!)),
      timingSpread: brownForsythe([[...detTimes.values()], [...nondetTimes.values()]]),
    });
  }

  const crossBackend = compareBackends(cells, load, results.manifest.suite.backends);
  const threads = compareThreads(cells, load);
  const negativeControls: NegativeControl[] = cells
    .filter((c) => c.mode === 'nondet' && !c.arm && isNegativeControlOn(findWorkload(c.workload)?.negativeControl, c.device) && c.distinctDigests > 0)
    .map((c) => ({
      workload: c.workload, backend: c.backend, device: c.device, threads: c.threads,
      seen: c.distinctDigests > 1, distinctDigests: c.distinctDigests, runs: c.runs.length,
    }));

  const fleet = compareMachines(results);
  const devices = compareDevices(cells, results.manifest.backends);
  const soak = soakCells(cells, counted);
  const detCells = cells.filter((c) => c.mode === 'det' && c.distinctDigests > 0 && !c.arm && !expectedToVary(c));
  const notes = cells
    .filter((c) => c.mode === 'det' && c.verdict === 'unstable' && !c.arm && expectedToVary(c))
    .map((c) => `${c.workload} on ${c.backend} (${c.device}) varies with determinism on too (${c.distinctDigests} distinct results), as expected: a negative control on a backend with no determinism switch`);
  const findings: string[] = [];
  for (const c of detCells) if (c.verdict === 'unstable') findings.push(`${c.workload} on ${c.backend} (${c.device}, ${c.threads} thread(s)) is not bitwise stable with determinism on: ${c.distinctDigests} distinct results, max ${c.maxUlp} ULP`);
  for (const n of negativeControls) if (!n.seen) findings.push(`negative control ${n.workload} on ${n.backend} gave 1 distinct result in ${n.runs} nondet runs: this harness could not see nondeterminism here, so "stable" verdicts are unconfirmed`);
  for (const c of cells) if (c.verdict === 'failed') findings.push(`${c.cell}: runs failed (${Object.entries(c.statuses).map(([s, n]) => `${n} ${s}`).join(', ')}): ${c.message ?? ''}`);
  for (const x of crossBackend) if (x.status === 'outside-tolerance') findings.push(`${x.workload}: ${x.backend} differs from ${x.reference} beyond tolerance (relL2 ${x.diff?.relL2?.toExponential(2)} > ${x.tolerance.relL2})`);
  for (const f of fleet) for (const s of f.suspects) findings.push(`suspect hardware: ${s} gave different det bits for ${f.cell} than its identical siblings`);
  for (const d of devices) {
    for (const s of d.suspects) findings.push(`suspect GPU: ${s} gave different det bits for ${d.workload} on ${d.backend} than its identical siblings`);
    if (!d.agree && d.suspects.length === 0) findings.push(`${d.workload} on ${d.backend}: the devices of this host disagree in det (${d.devices.map((x) => `${x.device} ${x.modalDigest.slice(0, 12)}`).join(', ')}); with fewer than three identical devices the odd one out cannot be named`);
  }
  for (const c of soak) if (c.firstChange) findings.push(`soak: ${c.workload} on ${c.backend} (${c.device}) changed its det bits ${c.firstChange.afterSec.toFixed(0)} s into the soak (repeat ${c.firstChange.repeat}; ${c.distinctDigests} distinct results)`);
  const oracle = compareWithOracle(results.dir, cells, counted, load);
  findings.push(...oracle.findings);
  if (!results.complete) findings.push(`incomplete results: ${results.runs.length} of ${results.manifest.plannedRuns} planned runs recorded`);

  return {
    summaryVersion: SUMMARY_VERSION,
    runId: results.manifest.runId,
    complete: results.complete,
    plannedRuns: results.manifest.plannedRuns,
    recordedRuns: results.runs.length,
    warnings: [...results.manifest.warnings, ...results.readWarnings, ...new Set(results.runs.flatMap((r) => r.warnings ?? [])), ...notes, ...oracle.warnings],
    cells,
    modes,
    crossBackend,
    threads,
    negativeControls,
    fleet,
    devices,
    soak,
    noise: analyzeNoise(results.runs, load),
    evaluation: evaluateCells(cells, counted, load),
    oracle: oracle.oracle,
    findings,
    verdict: {
      detStableCells: detCells.filter((c) => c.verdict === 'bitwise-stable').length,
      detCells: detCells.length,
      reproducible: detCells.length > 0 && detCells.every((c) => c.verdict === 'bitwise-stable'),
    },
  };
}

function summarizeCell(planned: LoadedResults['manifest']['cells'][number], runs: RunRecord[], load: (d: string) => Float32Array): CellSummary {
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
    cell: planned.id, ...(planned.arm ? { arm: planned.arm } : {}), workload: planned.workload, backend: planned.backend, device: planned.device, mode: planned.mode, threads: planned.threads,
    verdict,
    statuses,
    distinctDigests: distinct,
    modalDigest: modal,
    modalShare: mode ? mode.count / ok.length : null,
    runs: runDiffs,
    maxUlp: Math.max(0, ...runDiffs.map((d) => d.diff?.maxUlp ?? 0)),
    maxRelL2,
    toleranceRelL2,
    withinTolerance: verdict === 'unstable' ? runDiffs.every((d) => d.diff === null || (d.diff.relL2 !== null && d.diff.nanPairs === 0 && d.diff.relL2 <= toleranceRelL2)) : null,
    computeMs: describe(ok.map((r) => r.computeMs)),
    loss: describe(ok.map((r) => r.loss).filter((l): l is number => l !== null)),
    outputL2: describe(ok.map((r) => r.outputL2)),
    divergence: divergence(ok, modal, load),
    message: planned.reason ?? nonOk?.message ?? null,
    determinism: runs.find((r) => r.determinism)?.determinism ?? null,
  };
}

function safeDiff(load: (d: string) => Float32Array, a: string, b: string): DiffSummary | null {
  const x = load(a), y = load(b);
  return x.length === y.length ? diffFloat32(x, y) : null;
}

/**
 * Each backend's modal det artifact against the reference backend's: the first, in the suite's
 * backend order (the registry's order unless the user chose one), that has data.
 */
function compareBackends(cells: CellSummary[], load: (d: string) => Float32Array, order: string[]): CrossBackend[] {
  const out: CrossBackend[] = [];
  const rank = (id: string) => (order.indexOf(id) === -1 ? order.length : order.indexOf(id));
  const workloads = [...new Set(cells.map((c) => c.workload))];
  for (const workload of workloads) {
    const det = cells.filter((c) => c.workload === workload && c.mode === 'det' && c.modalDigest && !c.arm);
    if (det.length < 2) continue;
    const minThreads = Math.min(...det.map((c) => c.threads));
    // one cell per backend (its first device): devices of one backend are compared in compareDevices
    const candidates = det
      .filter((c) => c.threads === minThreads)
      .sort((a, b) => rank(a.backend) - rank(b.backend))
      .filter((c, i, all) => all.findIndex((x) => x.backend === c.backend) === i);
    const ref = candidates[0];
    const tolerance = findWorkload(workload)?.tolerance ?? { relL2: 0 };
    for (const c of candidates.slice(1)) {
      const a = load(ref.modalDigest!), b = load(c.modalDigest!);
      if (a.length !== b.length) {
        out.push({ workload, reference: ref.backend, backend: c.backend, threads: minThreads, tolerance, status: 'incomparable', diff: null, note: `artifact sizes differ (${a.length} vs ${b.length} elements)` });
        continue;
      }
      const diff = diffFloat32(a, b);
      const status = diff.bitwiseEqual ? 'bitwise-equal' : diff.relL2 !== null && diff.nanPairs === 0 && diff.relL2 <= tolerance.relL2 ? 'within-tolerance' : 'outside-tolerance';
      out.push({ workload, reference: ref.backend, backend: c.backend, threads: minThreads, tolerance, status, diff });
    }
  }
  return out;
}

/** det artifacts at the lowest thread count against every other thread count ("the new machine has more cores"). */
function compareThreads(cells: CellSummary[], load: (d: string) => Float32Array): ThreadInvariance[] {
  const out: ThreadInvariance[] = [];
  const det = cells.filter((c) => c.mode === 'det' && c.modalDigest && !c.arm);
  for (const group of groupBy(det, (c) => cellKey(c, ['workload', 'backend', 'device'])).values()) {
    if (group.length < 2) continue;
    const sorted = [...group].sort((a, b) => a.threads - b.threads);
    const base = sorted[0];
    for (const c of sorted.slice(1)) {
      const equal = c.modalDigest === base.modalDigest;
      out.push({
        workload: c.workload, backend: c.backend, device: c.device, baseThreads: base.threads, threads: c.threads,
        bitwiseEqual: equal, diff: equal ? null : safeDiff(load, base.modalDigest!, c.modalDigest!),
      });
    }
  }
  return out;
}


/**
 * Rows that should agree, grouped by what makes them identical (hardware model, GPU name): in a group
 * of at least three with a strict majority, the rows that differ from the majority are suspects.
 */
function oddOnesOut<R extends { group: string; digest: string; label: string }>(rows: R[]): string[] {
  const suspects: string[] = [];
  for (const group of new Set(rows.map((r) => r.group))) {
    const siblings = rows.filter((r) => r.group === group);
    if (siblings.length < 3) continue; // a majority needs at least three identical members
    const votes = new Map<string, number>();
    siblings.forEach((r) => votes.set(r.digest, (votes.get(r.digest) ?? 0) + 1));
    const [majority, n] = [...votes].sort((a, b) => b[1] - a[1])[0];
    if (n * 2 > siblings.length) siblings.filter((r) => r.digest !== majority).forEach((r) => suspects.push(r.label));
  }
  return suspects;
}

/** det cells of one backend on ≥ 2 devices of this host (each GPU is a device in the plan). */
function compareDevices(cells: CellSummary[], backends: LoadedResults['manifest']['backends']): DeviceCell[] {
  const det = cells.filter((c) => c.mode === 'det' && !c.arm && c.modalDigest);
  const out: DeviceCell[] = [];
  for (const group of groupBy(det, (c) => cellKey(c, ['workload', 'backend', 'threads'])).values()) {
    if (group.length < 2) continue;
    const probe = backends[group[0].backend];
    const names = probe?.available ? probe.deviceNames ?? {} : {};
    const devices = group.map((c) => ({ device: c.device, name: names[c.device] ?? c.device, modalDigest: c.modalDigest! }));
    out.push({
      workload: group[0].workload, backend: group[0].backend, threads: group[0].threads,
      devices,
      agree: new Set(devices.map((d) => d.modalDigest)).size === 1,
      suspects: oddOnesOut(devices.map((d) => ({ group: d.name, digest: d.modalDigest, label: `${d.device} (${d.name})` }))),
    });
  }
  return out;
}

function soakCells(cells: CellSummary[], counted: RunRecord[]): SoakCell[] {
  if (!counted.some((r) => r.soak)) return [];
  const byCell = new Map<string, { suite: OkRecord[]; soak: OkRecord[] }>();
  for (const r of counted) {
    if (!isOk(r)) continue;
    const group = byCell.get(r.cell) ?? { suite: [], soak: [] };
    (r.soak ? group.soak : group.suite).push(r);
    byCell.set(r.cell, group);
  }
  const out: SoakCell[] = [];
  for (const c of cells) {
    const group = byCell.get(c.cell);
    if (!group?.soak.length) continue;
    const { suite, soak } = group;
    const reference = modalDigest(suite.map((r) => r.artifact.sha256))?.digest ?? soak[0].artifact.sha256;
    const t0 = Date.parse(soak[0].startedAt);
    const last = soak[soak.length - 1];
    const changed = soak.find((r) => r.artifact.sha256 !== reference);
    out.push({
      cell: c.cell, workload: c.workload, backend: c.backend, device: c.device, threads: c.threads,
      runs: soak.length,
      seconds: (Date.parse(last.startedAt) + last.wallMs - t0) / 1000,
      // the cell's ok runs are its suite runs and its soak runs
      distinctDigests: c.distinctDigests,
      firstChange: changed ? { repeat: changed.repeat, afterSec: (Date.parse(changed.startedAt) - t0) / 1000 } : null,
    });
  }
  return out;
}

/** det cells run on ≥ 2 machines: does each machine agree with its identical-hardware siblings? */
function compareMachines(results: LoadedResults): FleetCell[] {
  const machines = results.manifest.machines ?? [];
  if (machines.length < 2) return [];
  const det = results.runs.filter((r): r is OkRecord => isOk(r) && !r.warmup && r.mode === 'det' && r.machine !== undefined);
  const out: FleetCell[] = [];
  for (const [cell, runs] of groupBy(det, (r) => r.cell)) {
    const perMachine = groupBy(runs, (r) => String(r.machine));
    if (perMachine.size < 2) continue;
    const rows = [...perMachine.values()].map((mine) => {
      const machine = mine[0].machine!;
      const m = machines[machine];
      return { machine, hostname: m?.hostname ?? `machine ${machine}`, hardware: m?.hardware ?? 'unknown', modalDigest: modalDigest(mine.map((r) => r.artifact.sha256))!.digest };
    });
    const suspects = oddOnesOut(rows.map((r) => ({ group: r.hardware, digest: r.modalDigest, label: `${r.hostname} (machine ${r.machine})` })));
    out.push({ cell, machines: rows, agree: new Set(rows.map((r) => r.modalDigest)).size === 1, suspects });
  }
  return out;
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
