/**
 * history: nights (harness/nights.ts) → per machine, per det/nondet pair of cells, the series night
 * by night and where each stepped; the latest steps as findings. A pure function of the nights.
 *
 *   timing      det and nondet compute time, det/nondet slowdown: steps.ts's robust fit on log values,
 *               so a step is a ratio (30 % slower is the same step at 1 ms and at 1 s)
 *   stability   a det cell that was bitwise stable and is not, or back: a step by nature, exact
 *   results     the det result (modal digest) of a stable cell changed: a step by nature, with the
 *               fingerprint fields that changed between the two nights
 *
 * A series' last step is where its latest nights are: slower beyond the threshold, no longer stable,
 * or other bits, it is a finding that fails (like compare's regressions) for as long as it is in the
 * history given; every step, earlier ones too, is in the data and on the site.
 */
import { exitCodeFor, finding, subjectOf } from './findings.js';
import { fitSteps } from './steps.js';
import type { Interval } from './stats.js';
import type { Finding, NightRef, SpeedMeasure, StepPlace } from './summary.js';
import { CELL_KEY_FIELDS, cellId, groupId, type Mode } from '../protocol.js';
import type { MachineId, Night, NightCell, NightTime } from '../nights.js';

export interface NightSummary extends NightRef {
  dir: string;
  baseline: boolean;
  complete: boolean;
  detStable: number;
  detCells: number;
}

export interface FieldChange {
  field: string;
  /** The value as JSON text, or null where the field was absent. */
  before: string | null;
  after: string | null;
}

export interface MachineHistory {
  machine: MachineId;
  /** Oldest first; a series' `night` indexes this list. */
  nights: NightSummary[];
  /** The nights whose fingerprint differs from the night before, and how. */
  changes: Array<{ night: number; fields: FieldChange[] }>;
}

export interface ModePoint {
  verdict: NightCell['verdict'];
  distinctDigests: number;
  modalDigest: string | null;
  time: NightTime | null;
}

export interface SeriesPoint extends NightRef {
  /** Index into the machine's nights. */
  night: number;
  det: ModePoint | null;
  nondet: ModePoint | null;
  slowdown: Interval | null;
}

interface StepBase {
  /** Index into the series' points: the first point after the step. */
  at: number;
  /** Points since the previous step, and up to the next one. */
  pointsBefore: number;
  pointsAfter: number;
  /** The series' latest step: its latest nights are past it. */
  last: boolean;
}

export type HistoryStep =
  | (StepBase & { kind: 'timing'; measure: SpeedMeasure; mode: Mode | null; before: number; after: number; ratio: number })
  | (StepBase & { kind: 'stability'; stable: boolean })
  | (StepBase & { kind: 'results'; beforeDigest: string; afterDigest: string; fingerprintChanges: FieldChange[] });

/** One det/nondet pair of cells (workload, backend, device, threads) on one machine, night by night. */
export interface SeriesHistory {
  machine: string;
  group: string;
  workload: string;
  backend: string;
  device: string;
  threads: number;
  points: SeriesPoint[];
  steps: HistoryStep[];
}

export interface History {
  slowdownThreshold: number;
  machines: MachineHistory[];
  series: SeriesHistory[];
  findings: Finding[];
  exitCode: number;
}

/** The least noise assumed in a series of log times: 0.1 %, asv's floor. */
export const LOG_NOISE_FLOOR = 1e-3;
/** The least timing step shown: 5 %, asv's default `regressions_thresholds` (steps.ts). */
export const MIN_STEP_RATIO = 1.05;

const ref = (p: NightRef): NightRef => ({ runId: p.runId, createdAt: p.createdAt });

export function fieldChanges(before: Record<string, string>, after: Record<string, string>): FieldChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.filter((k) => before[k] !== after[k]).map((field) => ({ field, before: before[field] ?? null, after: after[field] ?? null }));
}

/** Steps of one measure: the fit on log values, each boundary a step between the medians of its two segments. */
function timingSteps(points: SeriesPoint[], measure: SpeedMeasure, mode: Mode | null): HistoryStep[] {
  const value = (p: SeriesPoint) => (measure === 'slowdownRatio' ? p.slowdown?.value : p[mode!]?.time?.median);
  const indexed = points.map((p, i) => ({ i, v: value(p) })).filter((x): x is { i: number; v: number } => x.v !== undefined && x.v > 0 && Number.isFinite(x.v));
  const { segments } = fitSteps(indexed.map((x) => Math.log(x.v)), { noiseFloor: LOG_NOISE_FLOOR, minStep: Math.log(MIN_STEP_RATIO) });
  return segments.slice(1).map((s, k) => {
    const prev = segments[k];
    return {
      kind: 'timing', measure, mode, at: indexed[s.start].i, pointsBefore: prev.end - prev.start, pointsAfter: s.end - s.start, last: k === segments.length - 2,
      before: Math.exp(prev.level), after: Math.exp(s.level), ratio: Math.exp(s.level - prev.level),
    };
  });
}

/** Changes between consecutive points where `key` is defined; each with the points since the previous change. */
function changes<T>(points: SeriesPoint[], key: (p: SeriesPoint) => T | undefined): Array<{ at: number; from: number; before: T; after: T; pointsBefore: number }> {
  const out: Array<{ at: number; from: number; before: T; after: T; pointsBefore: number }> = [];
  let previous: { i: number; v: T } | null = null;
  let since = 0;
  points.forEach((p, i) => {
    const v = key(p);
    if (v === undefined) return;
    if (previous && previous.v !== v) {
      out.push({ at: i, from: previous.i, before: previous.v, after: v, pointsBefore: since });
      since = 0;
    }
    since++;
    previous = { i, v };
  });
  return out;
}

function seriesSteps(points: SeriesPoint[], nights: Night[]): HistoryStep[] {
  const stability = changes(points, (p) => (p.det && (p.det.verdict === 'bitwise-stable' || p.det.verdict === 'unstable') ? p.det.verdict === 'bitwise-stable' : undefined));
  // other bits are a result only where det was stable on both nights: an unstable night has no one result
  const results = changes(points, (p) => (p.det?.verdict === 'bitwise-stable' ? p.det.modalDigest ?? undefined : undefined));
  const withAfter = <T extends { at: number; pointsBefore: number }>(list: T[], count: (p: SeriesPoint) => boolean) =>
    list.map((c, k) => ({ ...c, last: k === list.length - 1, pointsAfter: points.slice(c.at, list[k + 1]?.at ?? points.length).filter(count).length }));
  const hasDet = (p: SeriesPoint) => p.det !== null && (p.det.verdict === 'bitwise-stable' || p.det.verdict === 'unstable');
  return [
    ...timingSteps(points, 'computeMs', 'det'),
    ...timingSteps(points, 'computeMs', 'nondet'),
    ...timingSteps(points, 'slowdownRatio', null),
    ...withAfter(stability, hasDet).map((c): HistoryStep => ({ kind: 'stability', at: c.at, pointsBefore: c.pointsBefore, pointsAfter: c.pointsAfter, last: c.last, stable: c.after })),
    ...withAfter(results, (p) => p.det?.verdict === 'bitwise-stable').map((c): HistoryStep => ({
      kind: 'results', at: c.at, pointsBefore: c.pointsBefore, pointsAfter: c.pointsAfter, last: c.last, beforeDigest: c.before, afterDigest: c.after,
      fingerprintChanges: fieldChanges(nights[points[c.from].night].fingerprint, nights[points[c.at].night].fingerprint),
    })),
  ].sort((a, b) => a.at - b.at);
}

/** The findings of a series: its latest step of each measure, where that step is one a user must look at. */
function seriesFindings(s: SeriesHistory, machine: MachineId, threshold: number): Finding[] {
  const findings: Finding[] = [];
  const key = { workload: s.workload, backend: s.backend, device: s.device, threads: s.threads };
  const place = (st: HistoryStep): StepPlace => ({
    machine: machine.label, lastBefore: ref(s.points[st.at - 1] ?? s.points[st.at]), firstAfter: ref(s.points[st.at]), nightsBefore: st.pointsBefore, nightsAfter: st.pointsAfter,
  });
  for (const st of s.steps.filter((x) => x.last)) {
    if (st.kind === 'timing') {
      const subject = st.mode ? subjectOf({ ...key, mode: st.mode }, CELL_KEY_FIELDS) : subjectOf(key, ['workload', 'backend', 'device', 'threads']);
      const evidence = { ...place(st), measure: st.measure, mode: st.mode, before: st.before, after: st.after, ratio: st.ratio, threshold };
      if (st.ratio > threshold) findings.push(finding('step-slower', subject, evidence));
      else if (st.ratio < 1 / threshold) findings.push(finding('step-faster', subject, evidence));
    } else if (st.kind === 'stability' && !st.stable) {
      const latest = [...s.points].reverse().find((p) => p.det)!.det!;
      findings.push(finding('step-unstable', subjectOf({ ...key, mode: 'det' }, CELL_KEY_FIELDS), { ...place(st), distinctDigests: latest.distinctDigests, runs: latest.time?.runs ?? 0 }));
    } else if (st.kind === 'results') {
      findings.push(finding('step-results-changed', subjectOf({ ...key, mode: 'det' }, CELL_KEY_FIELDS), {
        ...place(st), beforeDigest: st.beforeDigest, afterDigest: st.afterDigest, fingerprintChanges: st.fingerprintChanges.map((f) => f.field),
      }));
    }
  }
  return findings;
}

const modePoint = (c: NightCell | undefined): ModePoint | null =>
  c ? { verdict: c.verdict, distinctDigests: c.distinctDigests, modalDigest: c.modalDigest, time: c.time } : null;

/** Nights (any order, any machines) → the history of every machine and pair of cells. */
export function buildHistory(all: readonly Night[], slowdownThreshold: number): History {
  const machines: MachineHistory[] = [];
  const series: SeriesHistory[] = [];
  const findings: Finding[] = [];
  const byMachine = new Map<string, Night[]>();
  for (const n of [...all].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.runId.localeCompare(b.runId))) {
    byMachine.set(n.machine.key, [...(byMachine.get(n.machine.key) ?? []), n]);
  }
  for (const nights of [...byMachine.values()].sort((a, b) => a[0].machine.label.localeCompare(b[0].machine.label))) {
    const machine = nights[0].machine;
    machines.push({
      machine,
      nights: nights.map((n) => {
        const det = n.cells.filter((c) => c.mode === 'det' && (c.verdict === 'bitwise-stable' || c.verdict === 'unstable'));
        return { runId: n.runId, createdAt: n.createdAt, dir: n.dir, baseline: n.baseline, complete: n.complete, detStable: det.filter((c) => c.verdict === 'bitwise-stable').length, detCells: det.length };
      }),
      changes: nights.slice(1).map((n, i) => ({ night: i + 1, fields: fieldChanges(nights[i].fingerprint, n.fingerprint) })).filter((c) => c.fields.length > 0),
    });
    const groups = new Map<string, SeriesHistory>();
    nights.forEach((n, night) => {
      const cells = new Map(n.cells.map((c) => [c.cell, c]));
      const pairs = new Map(n.pairs.map((p) => [p.group, p]));
      const keys = new Map<string, NightCell>();
      for (const c of n.cells) if (!keys.has(groupId(c))) keys.set(groupId(c), c);
      for (const [group, k] of keys) {
        const cell = (mode: Mode) => cells.get(cellId({ ...k, mode }));
        let s = groups.get(group);
        if (!s) groups.set(group, (s = { machine: machine.key, group, workload: k.workload, backend: k.backend, device: k.device, threads: k.threads, points: [], steps: [] }));
        s.points.push({ night, runId: n.runId, createdAt: n.createdAt, det: modePoint(cell('det')), nondet: modePoint(cell('nondet')), slowdown: pairs.get(group)?.slowdown ?? null });
      }
    });
    for (const s of [...groups.values()].sort((a, b) => a.group.localeCompare(b.group))) {
      s.steps = seriesSteps(s.points, nights);
      series.push(s);
      findings.push(...seriesFindings(s, machine, slowdownThreshold));
    }
  }
  return { slowdownThreshold, machines, series, findings, exitCode: exitCodeFor(findings) };
}
