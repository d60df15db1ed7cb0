/**
 * The findings catalogue: each finding kind's words, written once. The terminal summary, Markdown,
 * HTML and compare's text all say a finding through `findingText`; summary.json and compare.json hold
 * only its kind, subject and evidence.
 */
import { describeTolerance } from '../harness/analysis/tolerance.js';
import {
  SEVERITIES, type ExpectationRef, type Finding, type FindingEvidence, type FindingKind, type FindingSubject, type NightRef, type Severity, type SpeedEvidence, type StepEvidence, type StepPlace,
} from '../harness/analysis/summary.js';
import { AXIS_IDS, type AxisId, type AxisValue, type AxisValues } from '../harness/axes.js';
import type { StateComponent } from '../harness/checkpoint.js';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const sci = (x: number | null | undefined) => (x === null || x === undefined ? '?' : x.toExponential(2));
const ratio = (e: SpeedEvidence) => `${e.ratio.toFixed(2)}× [${e.low.toFixed(2)}, ${e.high.toFixed(2)}]`;
const statuses = (s: Partial<Record<string, number>>) => Object.entries(s).map(([status, n]) => `${n} ${status}`).join(', ');
const quoted = (message: string | null) => (message ? `: ${message}` : '');

/** Who parts: two runs of the cell, the cell and the same at another axis value, or the cell and the reference backend's. */
function pairText(e: FindingEvidence['divergence-located'], at: string): string {
  if (e.against === 'repeat') return `two runs of ${at}`;
  if (e.against === 'backend') return `${at} and the reference backend ${e.reference.backend ?? e.reference.id}`;
  const value = e.reference[e.against];
  return `${at} and the same at ${value === undefined ? e.reference.id : sayAxisValue(e.against, value)}`;
}
/** "0 ULP", "relL2 1.00e-5": how far an op may differ. */
export const budgetText = (b: FindingEvidence['divergence-located']['budget']) => (b.kind === 'maxUlp' ? `${b.value} ULP` : `relL2 ${sci(b.value)}`);
const zero = (b: FindingEvidence['divergence-located']['budget']) => b.value === 0;

/** Where a located pair of runs parts, in one sentence per status. */
function locatedText(e: FindingEvidence['divergence-located'], at: string): string {
  const pair = pairText(e, at);
  const weights = e.firstDivergentStep === null ? '' : `; their weights first differ after step ${e.firstDivergentStep}`;
  switch (e.status) {
    case 'located': {
      const how = e.maxUlp === null ? 'its values were not kept' : `${e.differing} of ${e.elements} elements differ: max ${e.maxUlp} ULP, median ${e.medianUlp} ULP, relL2 ${sci(e.relL2)}`;
      const agree = zero(e.budget) ? 'is bitwise equal' : `is within ${budgetText(e.budget)}`;
      const before = e.previousOp ? `; the op before it, ${e.previousOp.op}${e.previousOp.step === e.step ? '' : ` (step ${e.previousOp.step})`}, ${agree}` : '; it is the first op of the run';
      const beyond = zero(e.budget) ? '' : ` beyond ${budgetText(e.budget)}`;
      const caution = e.reproducedRecorded === false && e.against !== 'repeat' ? ' (caution: a re-run with ops captured gave other bits than the recorded runs)' : '';
      return `${pair} part at step ${e.step}, first in op ${e.firstOp}${beyond} (${how})${before}${weights}${caution}`;
    }
    case 'not-exposed':
      return `${pair} part, but in no op the backend exposes: the narrowest span is ${e.step === null ? 'the whole run' : `step ${e.step}`}${weights}`;
    case 'within-budget':
      return `${pair} differ, but every op both backends expose is within ${budgetText(e.budget)}${weights}`;
    case 'same':
      return `${pair} were not located: ${plural(e.runs, 're-run')} gave the same results (the difference did not come back)`;
    case 'failed':
      return `${pair} were not located: a re-run failed${quoted(e.message)}`;
  }
}

/**
 * How each invariance axis (harness/axes.ts) is said: the title of its agreement table, its column
 * heading in reports and in the terminal table, a value in words ("2 threads"), a value in a chart
 * label ("×2"), and its chart's caption.
 */
export const AXIS_WORDS: {
  readonly [A in AxisId]: {
    title: string; heading: string; column: string; value: (v: AxisValues[A]) => string; short: (v: AxisValues[A]) => string;
    /** How to read its chart, and what the chart says when nothing ran at two values. */
    caption: string; none: string;
    /** Axes whose nondet mode is compared (AXES `nondetCompared`): what its dependence on the value means, for the finding. */
    nondetMeans?: string;
  };
} = {
  threads: {
    title: 'Thread-count invariance', heading: 'threads', column: 'thr', value: (n) => plural(n, 'thread'), short: (n) => `×${n}`,
    caption: 'Deterministic results at the lowest thread count against each other thread count: green means a machine with more cores gets the same bits.',
    none: 'no backend ran at more than one thread count',
  },
  numerics: {
    title: 'Numerics: fp32 against tf32 and bf16', heading: 'numerics', column: 'num', value: (v) => v, short: (v) => v,
    caption: 'Deterministic results in fp32 against the same cell in tf32 or bf16: these differ by design (fewer mantissa bits); the ULP count says by how much.',
    none: 'nothing ran in more than one numerics',
  },
  batchSize: {
    title: 'Batch-size invariance', heading: 'batch size', column: 'batch', value: (b) => (b === 'all' ? 'all examples in one batch' : `batches of ${b}`), short: (b) => (b === 'all' ? 'b:all' : `b${b}`),
    caption: 'Deterministic results of the same examples evaluated in batches of the smallest size against each other batch size: green means an example gets the same bits whatever it is batched with.',
    none: 'nothing ran at more than one batch size',
  },
  loaderWorkers: {
    title: 'Data-loader invariance', heading: 'loader workers', column: 'ldw', value: (n) => (n === 0 ? 'no loader workers' : plural(n, 'loader worker')), short: (n) => `w${n}`,
    caption: 'Deterministic results with batches built by the run itself against each number of data-loader workers: green means a machine with more cores trains the same model.',
    none: 'nothing ran at more than one number of loader workers',
    nondetMeans: 'batches depend on the number of loader workers: a machine with more cores trains a different model',
  },
  resumeAt: {
    title: 'Resume replay', heading: 'resumed at', column: 'res', value: (k) => (k === 0 ? 'the uninterrupted run' : `resumed after step ${k}`), short: (k) => (k === 0 ? 'whole' : `r${k}`),
    caption: 'Deterministic results of the uninterrupted run against runs that wrote their training state after step K and finished in a fresh process: green means a restart replays the same training.',
    none: 'no run was resumed',
  },
  autotune: {
    title: 'Autotuning invariance', heading: 'autotuning', column: 'tune', value: (v) => (v === 'on' ? 'autotuning on' : 'autotuning off'), short: (v) => `tune:${v}`,
    caption: 'Deterministic results with a fixed choice of algorithm against the same cell with cuDNN\'s algorithm search on (det keeps deterministic algorithms): green means autotuning alone does not move the bits, so where nondet differs its nondeterministic kernels do.',
    none: 'nothing ran with autotuning both off and on',
  },
};

/** The parts of a training state (harness/checkpoint.ts) in words. */
const STATE_WORDS: { readonly [C in StateComponent]: string } = {
  weights: 'weights', optimizer: 'optimizer state', schedule: 'schedule position', data: 'data position', rng: 'RNG counters',
};

/** The axes a table shows as columns: the thread count always, the others where some cell is not at its omitted value. */
export const tableAxes = (cells: ReadonlyArray<Partial<AxisValues>>): AxisId[] => AXIS_IDS.filter((a) => a === 'threads' || cells.some((c) => c[a] !== undefined));

/** A value of an axis in words. */
export const sayAxisValue = (axis: AxisId, value: AxisValue): string => (AXIS_WORDS[axis].value as (v: AxisValue) => string)(value);
/** A value of an axis in a label or table column. */
export const shortAxisValue = (axis: AxisId, value: AxisValue): string => (AXIS_WORDS[axis].short as (v: AxisValue) => string)(value);

const MEASURE: { readonly [M in SpeedEvidence['measure']]: string } = {
  computeMs: 'compute time',
  slowdownRatio: 'det/nondet slowdown',
};

/** "mlp-train on tfjs-cpu (cpu, det, 2 threads)": whichever key fields the subject has (axis values left out where omitted). */
export function subjectText(s: FindingSubject | undefined): string {
  if (!s) return 'this run';
  if (s.workload === undefined || s.backend === undefined) return s.id;
  const axes = AXIS_IDS.map((a) => (s[a] === undefined ? undefined : sayAxisValue(a, s[a]!)));
  const details = [s.device, s.mode, ...axes, s.arm].filter((x) => x !== undefined);
  return `${s.workload} on ${s.backend}${details.length ? ` (${details.join(', ')})` : ''}`;
}

/** A night as a reader finds it: when, to the minute, and its run id. */
const night = (n: NightRef) => `${n.createdAt.replace('T', ' ').slice(0, 16)} (run ${n.runId})`;
const nights = (n: number) => plural(n, 'night');
const place = (p: StepPlace) => `from ${night(p.firstAfter)} on, ${nights(p.nightsAfter)} since and ${nights(p.nightsBefore)} before; the last night before was ${night(p.lastBefore)}`;
/** A level of a step: a compute time in ms, or a det/nondet ratio. */
const level = (e: StepEvidence, x: number) => (e.measure === 'computeMs' ? `${x.toPrecision(3)} ms` : `${x.toFixed(2)}×`);
const step = (e: StepEvidence, at: string) =>
  `${at} on ${e.machine}: ${e.mode ? `${e.mode} ` : ''}${MEASURE[e.measure]} stepped to ${e.ratio.toFixed(2)}× (${level(e, e.before)} → ${level(e, e.after)}) ${place(e)}`;
const expectation = (x: ExpectationRef) => `"${x.pattern}" (${x.expect}: ${x.reason})`;

type Words = { readonly [K in FindingKind]: (e: FindingEvidence[K], at: string) => string };

const WORDS: Words = {
  'incomplete-results': (e) =>
    `${e.side ? `the ${e.side} results are` : 'results are'} incomplete: ${e.recordedRuns} of ${e.plannedRuns} planned runs recorded (interrupted or killed), so verdicts cover only what finished`,
  'det-unstable': (e, at) =>
    `${at} is not bitwise stable with determinism on: ${e.distinctDigests} distinct results in ${e.runs} runs, up to ${e.maxUlp} ULP apart${e.withinTolerance ? ", all within the workload's tolerance" : ''}`,
  'negative-control-not-seen': (e, at) =>
    `negative control ${at} gave ${plural(e.distinctDigests, 'distinct result')} in ${e.runs} nondet runs: this harness could not see nondeterminism here, so "stable" verdicts are unconfirmed`,
  'runs-failed': (e, at) => `${at}: runs failed (${statuses(e.statuses)})${quoted(e.message)}`,
  'outside-tolerance': (e, at) =>
    `${at} differs from ${e.reference} beyond the workload's tolerance: ${e.distance === null ? 'NaN or infinite' : sci(e.distance)}, allowed ${describeTolerance(e.tolerance)}${e.nanPairs ? `, ${plural(e.nanPairs, 'NaN pair')}` : ''} (up to ${e.maxUlp} ULP)`,
  'oracle-outside-tolerance': (e, at) =>
    `${at} is beyond the workload's tolerance of the float64 oracle: ${e.distance === null ? 'NaN or infinite' : sci(e.distance)}, allowed ${describeTolerance(e.tolerance)}${e.nanPairs ? `, ${plural(e.nanPairs, 'NaN pair')}` : ''} (up to ${e.maxUlp} ULP)`,
  'invariance-broken': (e, at) =>
    `${at}: ${sayAxisValue(e.axis, e.base)} and ${sayAxisValue(e.axis, e.value)} give different det bits${e.stateDiffers?.length ? ` in the ${e.stateDiffers.map((c) => STATE_WORDS[c]).join(', ')}` : ''} (up to ${e.maxUlp ?? '?'} ULP, relL2 ${sci(e.relL2)})`,
  'nondet-depends-on-axis': (e, at) =>
    `${at}: ${sayAxisValue(e.axis, e.base)} and ${sayAxisValue(e.axis, e.value)} give different bits without determinism, in every run${AXIS_WORDS[e.axis].nondetMeans ? ` — ${AXIS_WORDS[e.axis].nondetMeans}` : ''} (up to ${e.maxUlp ?? '?'} ULP, relL2 ${sci(e.relL2)})`,
  'devices-disagree': (e, at) =>
    `${at}: the devices of this host disagree in det (${e.devices.map((d) => `${d.device} ${d.modalDigest.slice(0, 12)}`).join(', ')}); with fewer than three identical devices the odd one out cannot be named`,
  'suspect-device': (e, at) => `suspect GPU: ${e.device} (${e.name}) gave different det bits for ${at} than its identical siblings`,
  'suspect-machine': (e, at) => `suspect hardware: ${e.hostname} (machine ${e.machine}, ${e.hardware}) gave different det bits for ${at} than its identical siblings`,
  'soak-changed': (e, at) =>
    `soak: ${at} changed its det bits ${e.afterSec.toFixed(0)} s into the soak (repeat ${e.repeat}; ${e.distinctDigests} distinct results, ${plural(e.runs, 'soak run')})`,
  'divergence-located': locatedText,
  'varies-as-expected': (e, at) =>
    `${at} varies with determinism on too (${e.distinctDigests} distinct results in ${e.runs} runs), as expected: a negative control on a backend with no determinism switch`,
  'no-data': (e) => `the ${e.side} results hold no result to compare (${e.recordedRuns} of ${e.plannedRuns} planned runs recorded)`,
  'determinism-regression': (e, at) =>
    `${at} was bitwise stable with determinism on and now gives ${e.currentDistinct} distinct results (up to ${e.maxUlp} ULP apart)`,
  'still-unstable': (e, at) =>
    `${at} is still not bitwise stable with determinism on: ${e.currentDistinct} distinct results now (up to ${e.maxUlp} ULP apart), ${e.baselineDistinct} in the baseline`,
  'results-changed': (e, at) => {
    const fields = e.fingerprintChanges;
    const why = fields.length ? `changed: ${fields.slice(0, 6).join(', ')}${fields.length > 6 ? ` and ${fields.length - 6} more` : ''}` : 'no environment field changed';
    return `${at}: the deterministic result changed${e.diff ? ` (up to ${e.diff.maxUlp} ULP, relL2 ${sci(e.diff.relL2)})` : ''}; ${why}`;
  },
  slower: (e, at) => `${at}: ${MEASURE[e.measure]} is ${ratio(e)} the baseline's, above the ${e.threshold}× threshold`,
  'slower-inconclusive': (e, at) => `${at}: ${MEASURE[e.measure]} ratio ${ratio(e)} straddles the ${e.threshold}× threshold: more repeats needed`,
  faster: (e, at) => `${at}: ${MEASURE[e.measure]} is ${ratio(e)} the baseline's`,
  'missing-cell': (_e, at) => `${at} ran in the baseline but not now`,
  'newly-unsupported': (e, at) => `${at} is now ${e.verdict}${quoted(e.message)}`,
  'newly-failing': (e, at) => `${at} now fails (${statuses(e.statuses)})${quoted(e.message)}`,
  'new-cell': (_e, at) => `${at} is new (not in the baseline)`,
  'step-slower': (e, at) => `${step(e, at)}; above the ${e.threshold}× threshold`,
  'step-faster': (e, at) => step(e, at),
  'step-unstable': (e, at) =>
    `${at} on ${e.machine} is no longer bitwise stable with determinism on: ${e.distinctDigests} distinct results in ${e.runs} runs in the latest night, ${place(e)}`,
  'step-results-changed': (e, at) => {
    const fields = e.fingerprintChanges;
    const why = fields.length ? `changed with it: ${fields.slice(0, 6).join(', ')}${fields.length > 6 ? ` and ${fields.length - 6} more` : ''}` : 'no environment field changed';
    return `${at} on ${e.machine}: the deterministic result changed (${e.beforeDigest.slice(0, 12)} → ${e.afterDigest.slice(0, 12)}) ${place(e)}; ${why}`;
  },
  'not-confirmed': (e) => `not confirmed, repeated in ${e.repeated} of ${plural(e.reruns, 're-run')}: ${findingText(e.finding)}`,
  expected: (e) => `expected (${e.expectation.reason}${e.expectation.expires ? `, until ${e.expectation.expires}` : ''}): ${findingText(e.finding)}`,
  'expectation-expired': (e) => `the expectation ${expectation(e.expectation)} expired on ${e.expectation.expires}: what it matches counts again; fix the cause or renew it`,
  'expectation-unmatched': (e) => `the expectation ${expectation(e.expectation)} matched no finding: if the issue is fixed, remove it`,
};

/** One finding in words. */
export function findingText(f: Finding): string {
  const words = WORDS[f.kind] as (e: Finding['evidence'], at: string) => string;
  return words(f.evidence, subjectText(f.cell));
}

/** Said where a run has no failing finding. */
export const NO_FINDINGS = 'none: every det cell bitwise stable, every negative control seen, no run failed';

/** The heading of each severity's list, in the order the lists are shown. */
export const SEVERITY_TITLE: { readonly [S in Severity]: string } = {
  incomplete: 'Incomplete',
  fail: 'Findings',
  inconclusive: 'Inconclusive',
  info: 'Notes',
};

/** Findings in lists by severity, most decisive first; empty lists left out. */
export function bySeverity(findings: readonly Finding[]): Array<{ severity: Severity; title: string; findings: Finding[] }> {
  return SEVERITIES
    .map((severity) => ({ severity, title: SEVERITY_TITLE[severity], findings: findings.filter((f) => f.severity === severity) }))
    .filter((g) => g.findings.length > 0);
}
