/**
 * Whether two float32 results of one workload agree within its tolerance (workloads/types.ts,
 * `Tolerance`): the L2 norm of the difference relative to the reference output, or — for outputs that
 * are sums whose terms may cancel — relative to the same sums taken over the magnitudes of the terms.
 *
 * Why magnitudes: a float32 sum computed in another order is off by a rounding error proportional to
 * Σ|x|, not to |Σx| (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., §4.2: the
 * relative error of a sum is bounded by a multiple of u·Σ|x|/|Σx|, the sum's condition number). A
 * zero-mean input makes |Σx| small for some seeds, and a bound relative to it then flags correct sums:
 * reduce-sum at `--seed 139` (quick, inputs of November 2026) was off by 2.2e-3 of |Σx| on tfjs-wasm
 * and 3.9e-4 on ort-cpu, "outside" a 1e-4 tolerance, yet by 1.7e-8 and 3.0e-9 of Σ|x|: ordinary
 * float32 rounding. Relative to Σ|x| the bound depends on the summation order's rounding alone, and a
 * wrong sum — a term dropped or added twice — still fails once that term exceeds the tolerance × Σ|x|.
 */
import { diffFloat32, type DiffSummary } from './diff.js';
import type { ResolvedSuite } from '../config.js';
import { message, UsageError } from '../errors.js';
import { findWorkload, resolveWorkload } from '../../workloads/index.js';
import { byName, workloadInputs } from '../../workloads/inputs.js';
import type { NamedTensor, ResolvedWorkload, SizeParams, Tolerance } from '../../workloads/types.js';

export interface ToleranceVerdict {
  /** ‖a − b‖₂ / ‖s‖₂, s being what the tolerance is relative to; null when not finite or NaNs differ. */
  distance: number | null;
  within: boolean;
}

/**
 * Per output element, the sum of the magnitudes of the terms it adds up, in float64 — what the
 * rounding error of that output scales with. Defined for the ops whose outputs are plain sums of
 * input elements; a workload whose tolerance is relative to magnitudes must use one of them (tested).
 */
export function termMagnitudes(workload: ResolvedWorkload, seed: number, inputsOf: InputSource = workloadInputs): Float64Array {
  const spec = workload.spec;
  if (spec.kind === 'infer') {
    switch (spec.op) {
      case 'reduceSum':
      case 'atomicSum': {
        const x = byName(inputsOf(workload, seed), 'x').data;
        let s = 0;
        for (let i = 0; i < x.length; i++) s += Math.abs(x[i]);
        return Float64Array.of(s);
      }
      case 'indexAdd': {
        const inputs = inputsOf(workload, seed);
        const src = byName(inputs, 'src').data, index = byName(inputs, 'index').data;
        const out = new Float64Array(spec.buckets);
        for (let i = 0; i < src.length; i++) out[index[i]] += Math.abs(src[i]);
        return out;
      }
    }
  }
  throw new Error(`${workload.id}: its outputs are not plain sums of input elements, so its tolerance cannot be relative to magnitudes`);
}

/**
 * Where a workload's inputs come from: workloadInputs, or a source that already holds the same draws
 * (a run hands over those its oracle drew, harness/run/oracle.ts) and draws the rest.
 */
export type InputSource = (workload: ResolvedWorkload, seed: number) => NamedTensor[];

/** ‖a − b‖₂ / ‖s‖₂ in float64; null when it is not finite. */
export function relativeDistance(reference: Float32Array, other: Float32Array, scale: ArrayLike<number>): number | null {
  let diffSq = 0, scaleSq = 0;
  for (let i = 0; i < reference.length; i++) diffSq += (reference[i] - other[i]) ** 2;
  for (let i = 0; i < scale.length; i++) scaleSq += scale[i] * scale[i];
  if (diffSq === 0) return 0;
  const d = Math.sqrt(diffSq) / Math.sqrt(scaleSq);
  return Number.isFinite(d) ? d : null;
}

/**
 * Judges `other` against `reference` (same length, already diffed). `magnitudes` is called only when
 * the tolerance is relative to them and the results differ.
 */
export function judge(tolerance: Tolerance, reference: Float32Array, other: Float32Array, diff: DiffSummary, magnitudes: () => Float64Array): ToleranceVerdict {
  if (diff.bitwiseEqual) return { distance: 0, within: true };
  if (diff.nanPairs > 0) return { distance: null, within: false };
  const distance = tolerance.relativeTo === 'magnitudes' ? relativeDistance(reference, other, magnitudes()) : diff.relL2;
  return { distance, within: distance !== null && distance <= tolerance.relL2 };
}

/** One comparison outside an analysis (the backend tests): both results computed from `seed`'s inputs. */
export function judgeRun(workload: ResolvedWorkload, seed: number, reference: Float32Array, other: Float32Array): ToleranceVerdict {
  return judge(workload.tolerance, reference, other, diffFloat32(reference, other), () => termMagnitudes(workload, seed));
}

/** How a tolerance reads in a finding or a listing: "relL2 ≤ 1e-5", "‖a − b‖ ≤ 5e-7·Σ|terms|". */
export function describeTolerance(t: Tolerance): string {
  return t.relativeTo === 'magnitudes' ? `‖a − b‖ ≤ ${t.relL2}·Σ|terms|` : `relL2 ≤ ${t.relL2}`;
}

/**
 * The judge of one results folder: every workload's declared tolerance, with magnitudes computed
 * from the suite's inputs (workload, preset and parameters, seed) once per workload, when first needed.
 * They are recomputed by this version's input generator: for a folder written by a version with other
 * inputs, Σ|x| moves by O(1/√n) of itself, which does not change what the tolerance accepts. The
 * folder is untrusted: a seed or size that could not have been run is refused (UsageError, naming
 * `manifestFile`) before anything is generated.
 */
export function toleranceJudge(suite: Pick<ResolvedSuite, 'preset' | 'seed' | 'workloads'>, manifestFile: string, inputsOf?: InputSource) {
  const cache = new Map<string, Float64Array>();
  const magnitudesOf = (workloadId: string) => {
    let m = cache.get(workloadId);
    if (!m) {
      const def = findWorkload(workloadId)!;
      if (!Object.hasOwn(def.presets, suite.preset)) throw new UsageError(message.resultsCorrupt(manifestFile, `suite.preset is ${JSON.stringify(suite.preset)}, not one of ${Object.keys(def.presets).join(', ')}`));
      const params: Record<string, unknown> = { ...def.presets[suite.preset], ...suite.workloads.find((w) => w.id === workloadId)?.params };
      const bad = Object.entries(params).find(([, v]) => typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v >= 2 ** 31);
      if (bad) throw new UsageError(message.resultsCorrupt(manifestFile, `suite.workloads: ${workloadId}'s ${bad[0]} is ${JSON.stringify(bad[1])}, not a whole number from 1 to 2^31 − 1, so its inputs cannot be recomputed to judge its tolerance`));
      if (!Number.isSafeInteger(suite.seed) || suite.seed < 0) throw new UsageError(message.resultsCorrupt(manifestFile, `suite.seed is ${JSON.stringify(suite.seed)}, not a whole number ≥ 0`));
      m = termMagnitudes(resolveWorkload(def, suite.preset, params as SizeParams), suite.seed, inputsOf);
      cache.set(workloadId, m);
    }
    return m;
  };
  return (workloadId: string, reference: Float32Array, other: Float32Array, diff: DiffSummary): ToleranceVerdict & { tolerance: Tolerance } => {
    const tolerance = findWorkload(workloadId)?.tolerance ?? { relL2: 0 };
    return { ...judge(tolerance, reference, other, diff, () => magnitudesOf(workloadId)), tolerance };
  };
}

export type ToleranceJudge = ReturnType<typeof toleranceJudge>;
