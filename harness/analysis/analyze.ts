/**
 * analyze: a results folder → summary.json: each cell against its modal run (cells.ts), det results
 * across backends, invariance axes, devices, machines and time (agreement.ts), typed findings
 * (findings.ts). Reads records and artifacts only; never imports a backend.
 */
import path from 'node:path';
import { analyzeNoise } from './noise.js';
import { groupBy } from './group.js';
import { loadArtifact, type LoadedResults } from '../store.js';
import { compareModes, expectedToVary, negativeControlsOf, summarizeCell } from './cells.js';
import { axisAgreement, compareBackends, compareDevices, compareInvariance, compareMachines, compareNondet, compareResumedStates, soakCells } from './agreement.js';
import { deriveFindings } from './findings.js';
import { SUMMARY_VERSION, type CellSummary, type Summary } from './summary.js';
import { toleranceJudge, type InputSource } from './tolerance.js';
import { evaluateCells } from './churn.js';
import { compareWithOracle } from './oracle.js';
import { locateResults } from './locate.js';

/** `inputsOf`: where the tolerances' magnitudes get the suite's inputs (tolerance.ts), when a run already holds them. */
export function analyze(results: LoadedResults, inputsOf?: InputSource): Summary {
  const artifacts = new Map<string, Float32Array>();
  const load = (digest: string) => {
    let a = artifacts.get(digest);
    if (!a) artifacts.set(digest, (a = loadArtifact(results, digest)));
    return a;
  };
  const counted = results.runs.filter((r) => !r.warmup);
  const judge = toleranceJudge(results.manifest.suite, path.join(results.dir, 'manifest.json'), inputsOf);

  const byCell = groupBy(counted, (r) => r.cell);
  const cells: CellSummary[] = results.manifest.cells.map((planned) => summarizeCell(planned, byCell.get(planned.id) ?? [], load, judge));

  const modes = compareModes(cells, counted);
  const crossBackend = compareBackends(cells, load, results.manifest.suite.backends, judge);
  const invariance = compareResumedStates(compareInvariance(cells, load), counted, (r) => (r.finalState && results.artifacts.has(r.finalState.sha256) ? load(r.finalState.sha256) : null));
  const agreement = axisAgreement(cells);
  const nondetDependence = compareNondet(cells, load);
  const negativeControls = negativeControlsOf(cells);

  const oracle = compareWithOracle(results.oracle, cells, counted, load, judge);
  const fleet = compareMachines(results);
  const devices = compareDevices(cells, results.manifest.backends);
  const soak = soakCells(cells, counted);
  const locate = locateResults(results.locate, cells, results.manifest.suite, load);
  const detCells = cells.filter((c) => c.mode === 'det' && c.distinctDigests > 0 && !c.arm && !expectedToVary(c));
  const complete = results.complete, recordedRuns = results.runs.length, plannedRuns = results.manifest.plannedRuns;
  const findings = deriveFindings({ cells, crossBackend, oracle: oracle.oracle, invariance, nondetDependence, negativeControls, fleet, devices, soak, locate, complete, recordedRuns, plannedRuns }, detCells);

  return {
    summaryVersion: SUMMARY_VERSION,
    runId: results.manifest.runId,
    complete,
    plannedRuns,
    recordedRuns,
    warnings: [...results.manifest.warnings, ...results.readWarnings, ...new Set(results.runs.flatMap((r) => r.warnings ?? [])), ...oracle.warnings],
    cells,
    modes,
    crossBackend,
    invariance,
    agreement,
    nondetDependence,
    negativeControls,
    fleet,
    devices,
    soak,
    evaluation: evaluateCells(cells, counted, load),
    oracle: oracle.oracle,
    noise: analyzeNoise(results.runs, load),
    locate,
    findings,
    verdict: {
      detStableCells: detCells.filter((c) => c.verdict === 'bitwise-stable').length,
      detCells: detCells.length,
      reproducible: detCells.length > 0 && detCells.every((c) => c.verdict === 'bitwise-stable'),
    },
  };
}
