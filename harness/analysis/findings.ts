/**
 * Findings: what a user must look at, as data (summary.ts's Finding). Derived here from the per-cell
 * analysis and the agreement tables; compare builds its own with `finding` too. Their words are in
 * reports/findings.ts, once; their severities decide exit codes, here.
 */
import { EXIT } from '../errors.js';
import { CELL_KEY_FIELDS, cellKey, type CellKey, type CellKeyField } from '../protocol.js';
import { expectedToVary } from './cells.js';
import {
  SEVERITIES, type AxisPair, type CellSummary, type FindingEvidence, type FindingKind, type FindingOf, type FindingSubject, type Finding, type Severity, type Summary,
} from './summary.js';

/**
 * How much each kind weighs. `invariance-broken` is a note: thread counts are known to change bits
 * on some sound stacks (torch and onnxruntime on CPUs split reductions by thread), and other axes
 * change them by design on others, so a difference is shown everywhere but does not fail a run. `still-unstable` fails: a det cell unstable in the
 * baseline keeps a nightly red until it is fixed or left out of the suite, never accepted silently.
 * A history's latest step fails while the latest night is past it (slower, unstable, other bits),
 * like a regression compare finds. A finding that a re-run did not repeat, or that an expectation
 * file names, becomes a note that carries it whole (`not-confirmed`, `expected`): shown, not failing.
 * An expired expectation is a note too: what it matched fails again on its own.
 */
export const FINDING_SEVERITY: { readonly [K in FindingKind]: Severity } = {
  'incomplete-results': 'incomplete',
  'det-unstable': 'fail',
  'negative-control-not-seen': 'fail',
  'runs-failed': 'fail',
  'outside-tolerance': 'fail',
  'oracle-outside-tolerance': 'fail',
  'invariance-broken': 'info',
  'nondet-depends-on-axis': 'info',
  'devices-disagree': 'fail',
  'suspect-device': 'fail',
  'suspect-machine': 'fail',
  'soak-changed': 'fail',
  'varies-as-expected': 'info',
  'divergence-located': 'info',
  'no-data': 'inconclusive',
  'determinism-regression': 'fail',
  'still-unstable': 'fail',
  'results-changed': 'fail',
  slower: 'fail',
  'slower-inconclusive': 'inconclusive',
  faster: 'info',
  'missing-cell': 'fail',
  'newly-unsupported': 'fail',
  'newly-failing': 'fail',
  'new-cell': 'info',
  'step-slower': 'fail',
  'step-faster': 'info',
  'step-unstable': 'fail',
  'step-results-changed': 'fail',
  'not-confirmed': 'info',
  expected: 'info',
  'expectation-expired': 'info',
  'expectation-unmatched': 'info',
};

/** The exit code of each severity: incomplete and inconclusive are both 3, as the CLI documents. */
const SEVERITY_EXIT: { readonly [S in Severity]: number } = {
  incomplete: EXIT.incomplete,
  fail: EXIT.findings,
  inconclusive: EXIT.incomplete,
  info: EXIT.ok,
};

/**
 * 3 when results are incomplete (whatever else was found: verdicts on part of a suite are not a
 * verdict), else 1 for any failing finding, else 3 for an inconclusive one, else 0.
 */
export function exitCodeFor(findings: readonly Finding[]): number {
  for (const severity of SEVERITIES) if (findings.some((f) => f.severity === severity)) return SEVERITY_EXIT[severity];
  return EXIT.ok;
}

export function finding<K extends FindingKind>(kind: K, cell: FindingSubject | undefined, evidence: FindingEvidence[K]): FindingOf<K> {
  return { kind, severity: FINDING_SEVERITY[kind], ...(cell ? { cell } : {}), evidence };
}

/** A group of cells as a finding's subject: the chosen key fields and their key. */
export function subjectOf(c: Partial<CellKey>, fields: readonly CellKeyField[]): FindingSubject {
  const subject: FindingSubject = { id: cellKey(c, fields) };
  for (const f of fields) if (c[f] !== undefined) Object.assign(subject, { [f]: c[f] });
  return subject;
}

/** One cell as a finding's subject. */
export const cellSubject = (c: CellSummary): FindingSubject => ({ ...subjectOf(c, CELL_KEY_FIELDS), id: c.cell });

type Analysed = Pick<Summary, 'cells' | 'crossBackend' | 'oracle' | 'invariance' | 'nondetDependence' | 'negativeControls' | 'fleet' | 'devices' | 'soak' | 'locate' | 'complete' | 'recordedRuns' | 'plannedRuns'>;

export function deriveFindings(s: Analysed, detCells: CellSummary[]): Finding[] {
  const findings: Finding[] = [];
  const byId = new Map(s.cells.map((c) => [c.cell, c]));
  const subject = (id: string) => (byId.has(id) ? cellSubject(byId.get(id)!) : { id });
  if (!s.complete) findings.push(finding('incomplete-results', undefined, { recordedRuns: s.recordedRuns, plannedRuns: s.plannedRuns }));
  for (const c of detCells) {
    if (c.verdict === 'unstable') {
      findings.push(finding('det-unstable', cellSubject(c), { distinctDigests: c.distinctDigests, runs: c.runs.length, maxUlp: c.maxUlp, maxRelL2: c.maxRelL2, withinTolerance: c.withinTolerance }));
    }
  }
  for (const n of s.negativeControls) {
    if (!n.seen) findings.push(finding('negative-control-not-seen', subjectOf({ ...n, mode: 'nondet' }, CELL_KEY_FIELDS), { distinctDigests: n.distinctDigests, runs: n.runs }));
  }
  for (const c of s.cells) if (c.verdict === 'failed') findings.push(finding('runs-failed', cellSubject(c), { statuses: c.statuses, message: c.message }));
  for (const x of s.crossBackend) {
    if (x.status !== 'outside-tolerance') continue;
    findings.push(finding('outside-tolerance', subject(x.cell), {
      reference: x.reference, referenceCell: x.referenceCell, distance: x.distance, tolerance: x.tolerance, maxUlp: x.diff?.maxUlp ?? 0, nanPairs: x.diff?.nanPairs ?? 0,
    }));
  }
  for (const o of s.oracle.cells) {
    if (o.status !== 'outside-tolerance') continue;
    findings.push(finding('oracle-outside-tolerance', subject(o.cell), { distance: o.distance, tolerance: o.tolerance, maxUlp: o.diff?.maxUlp ?? 0, nanPairs: o.diff?.nanPairs ?? 0 }));
  }
  for (const a of s.invariance) {
    if (a.bitwiseEqual) continue;
    const pair = { axis: a.axis, base: a.base, value: a.value } as AxisPair;
    findings.push(finding('invariance-broken', subject(a.cell), {
      ...pair, baseCell: a.baseCell, maxUlp: a.diff?.maxUlp ?? null, relL2: a.diff?.relL2 ?? null, ...(a.stateDiffers ? { stateDiffers: a.stateDiffers } : {}),
    }));
  }
  for (const n of s.nondetDependence ?? []) {
    if (!n.depends) continue;
    const pair = { axis: n.axis, base: n.base, value: n.value } as AxisPair;
    findings.push(finding('nondet-depends-on-axis', subject(n.cell), { ...pair, baseCell: n.baseCell, maxUlp: n.diff?.maxUlp ?? null, relL2: n.diff?.relL2 ?? null }));
  }
  for (const f of s.fleet) {
    for (const m of f.machines.filter((x) => f.suspects.includes(x.machine))) {
      findings.push(finding('suspect-machine', subject(f.cell), { machine: m.machine, hostname: m.hostname, hardware: m.hardware }));
    }
  }
  for (const d of s.devices) {
    const group = subjectOf({ ...d, mode: 'det' }, CELL_KEY_FIELDS.filter((f) => f !== 'device' && f !== 'arm'));
    for (const x of d.devices.filter((x) => d.suspects.includes(x.device))) findings.push(finding('suspect-device', group, { device: x.device, name: x.name }));
    if (!d.agree && d.suspects.length === 0) findings.push(finding('devices-disagree', group, { devices: d.devices }));
  }
  for (const c of s.soak) {
    if (c.firstChange) findings.push(finding('soak-changed', subject(c.cell), { afterSec: c.firstChange.afterSec, repeat: c.firstChange.repeat, runs: c.runs, distinctDigests: c.distinctDigests }));
  }
  for (const c of s.cells) {
    if (c.mode === 'det' && c.verdict === 'unstable' && !c.arm && expectedToVary(c)) findings.push(finding('varies-as-expected', cellSubject(c), { distinctDigests: c.distinctDigests, runs: c.runs.length }));
  }
  for (const l of s.locate) {
    const [a, b] = l.matchesRecorded;
    findings.push(finding('divergence-located', subject(l.cell), {
      against: l.against, reference: subject(l.referenceCell), status: l.status, budget: l.budget, runs: l.runs,
      firstDivergentStep: l.firstDivergentStep, step: l.step, firstOp: l.firstOp, previousOp: l.previousOp,
      maxUlp: l.ulp?.maxUlp ?? null, medianUlp: l.ulp?.medianUlp ?? null, differing: l.ulp?.differing ?? null, elements: l.ulp?.elements ?? null, relL2: l.ulp?.relL2 ?? null,
      reproducedRecorded: a === null || b === null ? null : a && b, message: l.message,
    }));
  }
  return findings;
}
