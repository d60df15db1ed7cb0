/** Findings: what a user must look at, derived from the per-cell analysis and the agreement tables. */
import type { LoadedResults } from '../store.js';
import { expectedToVary } from './cells.js';
import type { CellSummary, Summary } from './summary.js';

export function expectedVariationNotes(cells: CellSummary[]): string[] {
  return cells
    .filter((c) => c.mode === 'det' && c.verdict === 'unstable' && !c.arm && expectedToVary(c))
    .map((c) => `${c.workload} on ${c.backend} (${c.device}) varies with determinism on too (${c.distinctDigests} distinct results), as expected: a negative control on a backend with no determinism switch`);
}

export function deriveFindings(
  { cells, crossBackend, negativeControls, fleet, devices, soak }: Pick<Summary, 'cells' | 'crossBackend' | 'negativeControls' | 'fleet' | 'devices' | 'soak'>,
  detCells: CellSummary[],
  results: LoadedResults,
): string[] {
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
  if (!results.complete) findings.push(`incomplete results: ${results.runs.length} of ${results.manifest.plannedRuns} planned runs recorded`);
  return findings;
}
