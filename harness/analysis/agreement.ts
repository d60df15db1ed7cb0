/**
 * Agreement across cells: det results compared across backends, the values of each invariance axis
 * (harness/axes.ts), devices of a host, machines of a fleet, and over time (soak).
 */
import { diffFloat32 } from './diff.js';
import { CELL_KEY_FIELDS, GROUP_FIELDS, cellKey, isOk, type OkRecord, type RunRecord } from '../protocol.js';
import { AXES, axisFields, axisValue, type AxisValue } from '../axes.js';
import type { LoadedResults } from '../store.js';
import { groupBy, modalDigest } from './group.js';
import { safeDiff } from './cells.js';
import { STATE_COMPONENTS, componentOf, unpackState, type StateComponent } from '../checkpoint.js';
import { INVARIANCE_AXES, type NondetAxisDependence, type AxisAgreement, type AxisInvariance, type AxisPair, type CellSummary, type CrossBackend, type DeviceCell, type FleetCell, type InvarianceAxis, type SoakCell } from './summary.js';
import { findWorkload } from '../../workloads/index.js';
import type { ToleranceJudge } from './tolerance.js';

/**
 * The cells at the base value of every axis among them (its first in the axis's order), axis by axis:
 * backends are compared with each other there (at the lowest thread count, fp32, …), and the other
 * values of each axis with that base in compareInvariance.
 */
function atBasePoint(cells: CellSummary[]): CellSummary[] {
  let out = cells;
  for (const axis of INVARIANCE_AXES) {
    const order = AXES[axis].order as (a: AxisValue, b: AxisValue) => number;
    const base = out.map((c) => axisValue(c, axis)).sort(order)[0];
    out = out.filter((c) => axisValue(c, axis) === base);
  }
  return out;
}

/**
 * Each backend's modal det artifact against the reference backend's: the first, in the suite's
 * backend order (the registry's order unless the user chose one), that has data; at the base point
 * of the axes.
 */
export function compareBackends(cells: CellSummary[], load: (d: string) => Float32Array, order: string[], judge: ToleranceJudge): CrossBackend[] {
  const out: CrossBackend[] = [];
  const rank = (id: string) => (order.indexOf(id) === -1 ? order.length : order.indexOf(id));
  const workloads = [...new Set(cells.map((c) => c.workload))];
  for (const workload of workloads) {
    const det = atBasePoint(cells.filter((c) => c.workload === workload && c.mode === 'det' && c.modalDigest && !c.arm));
    if (det.length < 2) continue;
    const minThreads = det[0].threads;
    // one cell per backend (its first device): devices of one backend are compared in compareDevices
    const candidates = det
      .sort((a, b) => rank(a.backend) - rank(b.backend))
      .filter((c, i, all) => all.findIndex((x) => x.backend === c.backend) === i);
    const ref = candidates[0];
    const tolerance = findWorkload(workload)?.tolerance ?? { relL2: 0 };
    for (const c of candidates.slice(1)) {
      const a = load(ref.modalDigest!), b = load(c.modalDigest!);
      if (a.length !== b.length) {
        out.push({ workload, reference: ref.backend, backend: c.backend, threads: minThreads, referenceCell: ref.cell, cell: c.cell, tolerance, status: 'incomparable', distance: null, diff: null, note: `artifact sizes differ (${a.length} vs ${b.length} elements)` });
        continue;
      }
      const diff = diffFloat32(a, b);
      const { within, distance } = judge(workload, a, b, diff);
      const status = diff.bitwiseEqual ? 'bitwise-equal' : within ? 'within-tolerance' : 'outside-tolerance';
      out.push({ workload, reference: ref.backend, backend: c.backend, threads: minThreads, referenceCell: ref.cell, cell: c.cell, tolerance, status, distance, diff });
    }
  }
  return out;
}

/**
 * Each invariance axis the same way: det cells grouped by every other key field, the result at the
 * group's base value of the axis (its first, in the axis's order) against the result at each other
 * value ("the new machine has more cores").
 */
export function compareInvariance(cells: CellSummary[], load: (d: string) => Float32Array): AxisInvariance[] {
  const out: AxisInvariance[] = [];
  for (const axis of INVARIANCE_AXES) {
    for (const { base, rest } of axisGroups(axis, cells)) {
      for (const c of rest) {
        const equal = c.modalDigest === base.modalDigest;
        const pair = { axis, base: axisValue(base, axis), value: axisValue(c, axis) } as AxisPair;
        out.push({
          ...pair, workload: c.workload, backend: c.backend, device: c.device, baseCell: base.cell, cell: c.cell,
          bitwiseEqual: equal, diff: equal ? null : safeDiff(load, base.modalDigest!, c.modalDigest!),
        });
      }
    }
  }
  return out;
}

/**
 * Resume replay: each resumed cell's final training state against the uninterrupted cell's, part by
 * part (harness/checkpoint.ts), from the records of their modal runs. A state that differs where the
 * weights agree (an optimizer slot, a counter) breaks the invariance too: the next step would part.
 */
export function compareResumedStates(invariance: AxisInvariance[], counted: RunRecord[], loadState: (r: OkRecord) => Float32Array | null): AxisInvariance[] {
  // a run of the cell's modal result (the result the invariance row compared) that kept its state
  const modalRun = (cell: string) => {
    const ok = counted.filter((r): r is OkRecord => isOk(r) && r.cell === cell);
    const modal = modalDigest(ok.map((r) => r.artifact.sha256));
    return ok.find((r) => r.artifact.sha256 === modal?.digest && r.finalState !== undefined);
  };
  return invariance.map((a) => {
    if (a.axis !== 'resumeAt') return a;
    const base = modalRun(a.baseCell), other = modalRun(a.cell);
    if (!base?.finalState || !other?.finalState) return a;
    const [x, y] = [base, other].map((r) => {
      const data = loadState(r);
      return data && unpackState(data, r.finalState!.tensors);
    });
    if (!x || !y) return a;
    const bytes = (t: { data: Float32Array | Int32Array }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const differs = STATE_COMPONENTS.filter((c: StateComponent) => {
      const xs = x.tensors.filter((t) => componentOf(t.name) === c), ys = y.tensors.filter((t) => componentOf(t.name) === c);
      return xs.length !== ys.length || xs.some((t, i) => t.name !== ys[i].name || !bytes(t).equals(bytes(ys[i])));
    });
    return { ...a, bitwiseEqual: a.bitwiseEqual && differs.length === 0, stateDiffers: differs };
  });
}

/**
 * The nondet cells of each axis whose nondet mode is compared (AXES `nondetCompared`: loader
 * workers), grouped like det's: does another value give bits that no run at the base value gave?
 * Whole sets of runs are compared, not modal results, so a value "depends" only when every run of
 * it differs from every run at the base.
 */
export function compareNondet(cells: CellSummary[], load: (d: string) => Float32Array): NondetAxisDependence[] {
  const out: NondetAxisDependence[] = [];
  for (const axis of INVARIANCE_AXES.filter((a) => AXES[a].nondetCompared)) {
    for (const { base, rest } of axisGroups(axis, cells, 'nondet')) {
      const baseDigests = new Set(base.runs.map((r) => r.sha256));
      for (const c of rest) {
        const depends = c.runs.every((r) => !baseDigests.has(r.sha256));
        const pair = { axis, base: axisValue(base, axis), value: axisValue(c, axis) } as AxisPair;
        out.push({
          ...pair, workload: c.workload, backend: c.backend, device: c.device, baseCell: base.cell, cell: c.cell,
          depends, diff: c.modalDigest === base.modalDigest ? null : safeDiff(load, base.modalDigest!, c.modalDigest!),
        });
      }
    }
  }
  return out;
}

/** Per axis and group of det cells, its values split into classes of equal bits (the base's class first). */
export function axisAgreement(cells: CellSummary[]): AxisAgreement[] {
  return INVARIANCE_AXES.flatMap((axis) =>
    axisGroups(axis, cells).map(({ base, rest, group }) => {
      const classes = [...groupBy([base, ...rest], (c) => c.modalDigest!).values()].map((cs) => cs.map((c) => axisValue(c, axis)));
      return { axis, classes, workload: base.workload, backend: base.backend, device: base.device, group, baseCell: base.cell } as AxisAgreement;
    }),
  );
}

/** Cells of a mode (det unless told) with a result, grouped by every key field but `axis` and the mode; each group in the axis's order. */
function axisGroups(axis: InvarianceAxis, cells: CellSummary[], mode: 'det' | 'nondet' = 'det'): Array<{ base: CellSummary; rest: CellSummary[]; group: string }> {
  const others = CELL_KEY_FIELDS.filter((f) => f !== axis && f !== 'mode');
  const det = cells.filter((c) => c.mode === mode && c.modalDigest && !c.arm);
  const order = AXES[axis].order as (a: AxisValue, b: AxisValue) => number;
  return [...groupBy(det, (c) => cellKey(c, others)).entries()]
    .filter(([, group]) => group.length >= 2)
    .map(([group, members]) => {
      const [base, ...rest] = [...members].sort((a, b) => order(axisValue(a, axis), axisValue(b, axis)));
      return { base, rest, group };
    });
}

/**
 * Rows that should agree, grouped by what makes them identical (hardware model, GPU name): in a group
 * of at least three with a strict majority, the rows that differ from the majority are suspects.
 */
function oddOnesOut<R extends { group: string; digest: string }>(rows: R[]): R[] {
  const suspects: R[] = [];
  for (const group of new Set(rows.map((r) => r.group))) {
    const siblings = rows.filter((r) => r.group === group);
    if (siblings.length < 3) continue; // a majority needs at least three identical members
    const votes = new Map<string, number>();
    siblings.forEach((r) => votes.set(r.digest, (votes.get(r.digest) ?? 0) + 1));
    const [majority, n] = [...votes].sort((a, b) => b[1] - a[1])[0];
    if (n * 2 > siblings.length) suspects.push(...siblings.filter((r) => r.digest !== majority));
  }
  return suspects;
}

/** det cells of one backend on ≥ 2 devices of this host (each GPU is a device in the plan). */
export function compareDevices(cells: CellSummary[], backends: LoadedResults['manifest']['backends']): DeviceCell[] {
  const det = cells.filter((c) => c.mode === 'det' && !c.arm && c.modalDigest);
  const out: DeviceCell[] = [];
  for (const group of groupBy(det, (c) => cellKey(c, GROUP_FIELDS.filter((f) => f !== 'device'))).values()) {
    if (group.length < 2) continue;
    const probe = backends[group[0].backend];
    const names = probe?.available ? probe.deviceNames ?? {} : {};
    const devices = group.map((c) => ({ device: c.device, name: names[c.device] ?? c.device, modalDigest: c.modalDigest! }));
    out.push({
      workload: group[0].workload, backend: group[0].backend, ...axisFields(group[0]),
      devices,
      agree: new Set(devices.map((d) => d.modalDigest)).size === 1,
      suspects: oddOnesOut(devices.map((d) => ({ group: d.name, digest: d.modalDigest, device: d.device }))).map((r) => r.device),
    });
  }
  return out;
}

export function soakCells(cells: CellSummary[], counted: RunRecord[]): SoakCell[] {
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
export function compareMachines(results: LoadedResults): FleetCell[] {
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
    const suspects = oddOnesOut(rows.map((r) => ({ group: r.hardware, digest: r.modalDigest, machine: r.machine }))).map((r) => r.machine);
    out.push({ cell, machines: rows, agree: new Set(rows.map((r) => r.modalDigest)).size === 1, suspects });
  }
  return out;
}
