/**
 * The locate phase (`detbench run --locate`, `detbench locate DIR`): for every pair of runs whose
 * results the analysis finds disagreeing —
 *   a det cell unstable or a nondet cell varying (two runs of the cell, `repeat`),
 *   two values of an invariance axis giving different det bits (the axis, e.g. `threads`),
 *   a backend beyond the workload's tolerance of the reference backend (`backend`) —
 * both sides are run again from their recorded requests with every op's output captured
 * (harness/run/ops.ts) and traced, the first op (workloads/ops.ts order) where they part is found,
 * and locate.json is written with each side's op digests for every step and, as artifacts, the
 * float32 outputs of every op of that step. analysis/locate.ts derives the answer from that file.
 *
 * The two runs of a `repeat` pair are new runs: nondeterminism does not repeat on request, so the
 * cell is run up to MAX_REPEAT_RUNS times until two runs differ, and the answer is about those two.
 * Cost: two runs (or up to MAX_REPEAT_RUNS) per pair, each slower than a plain run by the copying
 * and hashing of every op's output; on disk, the outputs of the ops of one step per side (what is
 * printed at the end and documented in the README).
 */
import path from 'node:path';
import fs from 'node:fs';
import { analyze } from '../analysis/analyze.js';
import { LOCATE_FILE, LOCATE_VERSION, ZERO_BUDGET, beyond, commonOps, firstDigestDifference, type LocateAgainst, type LocateBudget, type LocateFile, type LocatePair, type LocateSide } from '../analysis/locate.js';
import { diffFloat32 } from '../analysis/diff.js';
import type { Summary } from '../analysis/summary.js';
import { UsageError, message } from '../errors.js';
import { AXES, axisFields } from '../axes.js';
import { isOk, type LocateRequest, type OkRecord, type WorkerResult } from '../protocol.js';
import { artifactPath, loadResults, writeArtifactTo, writeAtomic, sha256, type LoadedResults } from '../store.js';
import { findWorkload } from '../../workloads/index.js';
import { opDigest } from './ops.js';
import type { Runner } from './runner.js';

/** Op outputs a located run keeps in memory, step by step from step 0 (digests are always kept). */
export const LOCATE_MAX_VALUE_BYTES = 256 * 2 ** 20;
/** Runs of one cell tried before a `repeat` pair is given up as not reproduced. */
export const MAX_REPEAT_RUNS = 4;
/** A located run copies and hashes every op's output: it gets this many times the suite's timeout. */
export const LOCATE_TIMEOUT_FACTOR = 4;

export interface LocateOptions {
  /** Pairs of backends: how far an op may differ (null: each workload's tolerance, as relL2). */
  budget: LocateBudget | null;
  /** `detbench locate --cell`: only this cell's pairs, including backend pairs within tolerance. */
  cell: string | null;
  /** The suite's per-run timeout (each located run gets LOCATE_TIMEOUT_FACTOR times it). */
  timeoutMs: number;
  log: (line: string) => void;
  /** Checked before each re-run: true stops the phase (what was located is kept). */
  shouldStop: () => boolean;
}

/** What the phase cost, as printed and documented. */
export interface LocateCost {
  pairs: number;
  runs: number;
  wallMs: number;
  /** Bytes written: the op outputs stored as artifacts, and locate.json. */
  bytes: number;
}

export interface LocateTarget {
  cell: string;
  referenceCell: string;
  against: LocateAgainst;
  budget: LocateBudget;
}

/** Every pair the analysis found disagreeing (or, with `cell`, every pair of that cell that differs at all). */
export function locateTargets(summary: Summary, budget: LocateBudget | null, cell: string | null): LocateTarget[] {
  const targets: LocateTarget[] = [];
  const backendBudget = (workload: string): LocateBudget => budget ?? { kind: 'relL2', value: findWorkload(workload)?.tolerance.relL2 ?? 0 };
  for (const c of summary.cells) {
    if (!c.arm && c.verdict === 'unstable') targets.push({ cell: c.cell, referenceCell: c.cell, against: 'repeat', budget: ZERO_BUDGET });
  }
  for (const row of summary.invariance) {
    if (!row.bitwiseEqual && AXES[row.axis].located) targets.push({ cell: row.cell, referenceCell: row.baseCell, against: row.axis, budget: ZERO_BUDGET });
  }
  for (const x of summary.crossBackend) {
    const asked = cell !== null && x.cell === cell && x.status !== 'bitwise-equal' && x.status !== 'incomparable';
    if (x.status === 'outside-tolerance' || asked) targets.push({ cell: x.cell, referenceCell: x.referenceCell, against: 'backend', budget: backendBudget(x.workload) });
  }
  return cell === null ? targets : targets.filter((t) => t.cell === cell);
}

/** A side's re-run, in memory. */
interface Rerun {
  cell: string;
  result: WorkerResult;
  wallMs: number;
}

export async function locatePhase(runner: Runner, dir: string, options: LocateOptions): Promise<LocateCost> {
  const t0 = performance.now();
  const results = loadResults(dir);
  const summary = analyze(results);
  if (options.cell !== null && !summary.cells.some((c) => c.cell === options.cell)) throw new UsageError(message.locateCell(options.cell, summary.cells.map((c) => c.cell)));
  const targets = locateTargets(summary, options.budget, options.cell);
  if (options.cell !== null && targets.length === 0) throw new UsageError(message.locateNothing(options.cell));
  const cost: LocateCost = { pairs: 0, runs: 0, wallMs: 0, bytes: 0 };
  if (targets.length === 0) {
    options.log('locate: nothing to locate (no two compared runs disagree)');
    return cost;
  }
  const pairs: LocatePair[] = [];
  for (const target of targets) {
    if (options.shouldStop()) break;
    const located = await locateOne(runner, results, target, options);
    if (!located) break;
    cost.runs += located.runs;
    cost.bytes += located.bytes;
    pairs.push(located.pair);
    options.log(`locate: ${target.cell}${target.against === 'repeat' ? '' : ` vs ${target.referenceCell}`}: ${located.pair.outcome}, ${located.runs} re-runs, ${(located.wallMs / 1000).toFixed(1)} s`);
  }
  // a pair located again replaces its earlier answer; other pairs are kept
  const key = (p: Pick<LocatePair, 'cell' | 'against' | 'referenceCell'>) => `${p.cell}\n${p.against}\n${p.referenceCell}`;
  const fresh = new Set(pairs.map(key));
  const file: LocateFile = { locateVersion: LOCATE_VERSION, pairs: [...(results.locate?.pairs ?? []).filter((p) => !fresh.has(key(p))), ...pairs] };
  const text = JSON.stringify(file, null, 2) + '\n';
  writeAtomic(path.join(dir, LOCATE_FILE), text);
  cost.pairs = pairs.length;
  cost.bytes += Buffer.byteLength(text);
  cost.wallMs = performance.now() - t0;
  return cost;
}

/** The request of a recorded run of `cell`, traced, with its ops captured. */
function requestOf(results: LoadedResults, cell: string): LocateRequest | null {
  const r = results.runs.find((x): x is OkRecord => isOk(x) && x.cell === cell && !x.warmup && !x.soak);
  if (!r) return null;
  return {
    workload: r.workload, backend: r.backend, device: r.device, mode: r.mode, ...axisFields(r),
    runIndex: r.runIndex, repeat: r.repeat, warmup: false, seed: r.seed, preset: r.preset, params: r.params,
    ...(r.perturb ? { perturb: r.perturb } : {}),
    trace: true,
    captureOps: { maxValueBytes: LOCATE_MAX_VALUE_BYTES },
  };
}

async function rerun(runner: Runner, cell: string, req: LocateRequest | null, options: LocateOptions): Promise<Rerun | null> {
  const t0 = performance.now();
  if (!req) return { cell, wallMs: 0, result: { status: 'error', message: `${cell} has no successful recorded run to repeat`, determinism: null, warnings: [] } };
  const result = await runner.locate(req, options.timeoutMs * LOCATE_TIMEOUT_FACTOR);
  return result && { cell, result, wallMs: performance.now() - t0 };
}

const artifactDigest = (r: Rerun) => (r.result.status === 'ok' ? sha256(new Uint8Array(r.result.artifact.buffer, r.result.artifact.byteOffset, r.result.artifact.byteLength)) : null);

/** A re-run as locate.json holds it (its op outputs stored for `step`, when it kept them). */
function sideOf(r: Rerun, recorded: Set<string>, step: number | null, dir: string): { side: LocateSide; bytes: number } {
  const base = { cell: r.cell, wallMs: r.wallMs };
  if (r.result.status !== 'ok') return { side: { ...base, status: r.result.status === 'unsupported' ? 'unsupported' : 'error', message: r.result.message }, bytes: 0 };
  const { artifact, trace, ops } = r.result;
  const artifactSha256 = artifactDigest(r)!;
  const side: LocateSide = { ...base, status: 'ok', artifactSha256, matchesRecorded: recorded.has(artifactSha256) };
  if (trace && artifact.length > 0) {
    const steps = trace.length / artifact.length;
    side.stepDigests = Array.from({ length: steps }, (_, s) => opDigest(trace.subarray(s * artifact.length, (s + 1) * artifact.length)));
  }
  let bytes = 0;
  if (ops) {
    side.ops = { names: ops.ops, elements: ops.elements, digests: ops.digests };
    const values = step === null ? undefined : ops.values[step];
    if (values) {
      const raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      // identical outputs are stored once: count the bytes only when they are new
      const stored = fs.existsSync(artifactPath(dir, sha256(raw)));
      side.values = { sha256: writeArtifactTo(dir, raw), bytes: raw.byteLength };
      if (!stored) bytes += raw.byteLength;
    }
  }
  return { side, bytes };
}

/** Two ok re-runs differ: in their results, or in any op both exposed. */
function differ(a: Rerun, b: Rerun): boolean {
  if (artifactDigest(a) !== artifactDigest(b)) return true;
  const [sa, sb] = [a, b].map(captured);
  return firstDigestDifference(sa, sb, commonOps(sa, sb)) !== null;
}

/** A re-run's captured ops in locate.json's shape (digests only). */
function captured(r: Rerun): LocateSide {
  const ops = r.result.status === 'ok' ? r.result.ops : undefined;
  return { cell: r.cell, status: 'ok', wallMs: 0, ...(ops ? { ops: { names: ops.ops, elements: ops.elements, digests: ops.digests } } : {}) };
}

/**
 * The step whose op outputs to store: where the first op differs (budget 0: by digests, over every
 * step), or the first step whose values show an op beyond the budget. Null: nothing to store.
 */
function stepToStore(a: Rerun, b: Rerun, budget: LocateBudget): number | null {
  const [sa, sb] = [a, b].map(captured);
  const ops = commonOps(sa, sb);
  if (budget.value === 0) return firstDigestDifference(sa, sb, ops)?.step ?? null;
  if (a.result.status !== 'ok' || b.result.status !== 'ok' || !a.result.ops || !b.result.ops) return null;
  const [ca, cb] = [a.result.ops, b.result.ops];
  const slice = (c: typeof ca, values: Float32Array, op: string) => {
    const i = c.ops.indexOf(op);
    const offset = c.elements.slice(0, i).reduce((n, e) => n + e, 0);
    return values.subarray(offset, offset + c.elements[i]);
  };
  for (let step = 0; step < Math.min(ca.values.length, cb.values.length); step++) {
    if (ops.some((op) => beyond(diffFloat32(slice(ca, ca.values[step], op), slice(cb, cb.values[step], op)), budget))) return step;
  }
  return null;
}

async function locateOne(runner: Runner, results: LoadedResults, target: LocateTarget, options: LocateOptions): Promise<{ pair: LocatePair; runs: number; wallMs: number; bytes: number } | null> {
  const reruns: Rerun[] = [];
  const run = async (cell: string) => {
    const r = await rerun(runner, cell, requestOf(results, cell), options);
    if (r) reruns.push(r);
    return r;
  };
  let a: Rerun | null, b: Rerun | null;
  if (target.against === 'repeat') {
    a = await run(target.cell);
    b = a && a.result.status === 'ok' ? await run(target.cell) : a;
    while (a && b && a.result.status === 'ok' && b.result.status === 'ok' && !differ(a, b) && reruns.length < MAX_REPEAT_RUNS && !options.shouldStop()) b = await run(target.cell);
  } else {
    a = await run(target.referenceCell);
    b = a && (await run(target.cell));
  }
  if (!a || !b) return null; // abandoned by an interruption
  const failed = a.result.status !== 'ok' || b.result.status !== 'ok';
  const outcome = failed ? 'failed' : differ(a, b) ? 'parted' : 'same';
  const step = outcome === 'parted' ? stepToStore(a, b, target.budget) : null;
  const recorded = (cell: string) => new Set(results.runs.filter((r): r is OkRecord => isOk(r) && r.cell === cell).map((r) => r.artifact.sha256));
  const [sa, sb] = [sideOf(a, recorded(a.cell), step, results.dir), sideOf(b, recorded(b.cell), step, results.dir)];
  return {
    pair: { cell: target.cell, against: target.against, referenceCell: target.referenceCell, budget: target.budget, runs: reruns.length, outcome, step, sides: [sa.side, sb.side] },
    runs: reruns.length,
    wallMs: reruns.reduce((ms, r) => ms + r.wallMs, 0),
    bytes: sa.bytes + sb.bytes,
  };
}
