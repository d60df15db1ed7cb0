/**
 * analyze: a results folder → findings and verdicts (summary.json). Reads records and artifacts
 * only; never imports a backend.
 */
import { groupId, isOk, type Mode, type OkRecord } from '../protocol.js';
import { analyzeNoise } from './noise.js';
import { brownForsythe, pairedRatioCI } from './stats.js';
import { readArtifact, type LoadedResults } from '../store.js';
import { groupBy } from './group.js';
import { expectedToVary, summarizeCell } from './cells.js';
import { compareBackends, compareDevices, compareMachines, compareThreads, soakCells } from './agreement.js';
import { SUMMARY_VERSION, type CellSummary, type ModeComparison, type NegativeControl, type Summary } from './summary.js';
import { findWorkload } from '../../workloads/index.js';
import { isNegativeControlOn } from '../../workloads/types.js';

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
  if (!results.complete) findings.push(`incomplete results: ${results.runs.length} of ${results.manifest.plannedRuns} planned runs recorded`);

  return {
    summaryVersion: SUMMARY_VERSION,
    runId: results.manifest.runId,
    complete: results.complete,
    plannedRuns: results.manifest.plannedRuns,
    recordedRuns: results.runs.length,
    warnings: [...results.manifest.warnings, ...results.readWarnings, ...new Set(results.runs.flatMap((r) => r.warnings ?? [])), ...notes],
    cells,
    modes,
    crossBackend,
    threads,
    negativeControls,
    fleet,
    devices,
    soak,
    noise: analyzeNoise(results.runs, load),
    findings,
    verdict: {
      detStableCells: detCells.filter((c) => c.verdict === 'bitwise-stable').length,
      detCells: detCells.length,
      reproducible: detCells.length > 0 && detCells.every((c) => c.verdict === 'bitwise-stable'),
    },
  };
}
