/**
 * The learning rate of every training step (the input `lr`), computed once by the harness so every
 * backend uses the same float32 bits. Only exactly rounded float64 operations are used (+ − × ÷ and
 * comparisons): Math.cos is not promised to round the same way on every Node.js version (V8 is
 * moving to another math library), so the cosine is a fixed Taylor polynomial evaluated in a fixed
 * order, which is.
 */
import type { TrainSpec } from './types.js';

/**
 * cos(x) for x in [0, π] with exactly rounded operations only: cos(x) = −cos(π − x) folds the range
 * to [0, π/2], where the Taylor series to x^26/26! is within 1e-15 of cos.
 */
export function cosExact(x: number): number {
  if (!(x >= 0 && x <= Math.PI)) throw new RangeError(`cosExact takes x in [0, π], got ${x}`);
  const folded = x > Math.PI / 2;
  const y = folded ? Math.PI - x : x;
  const y2 = y * y;
  // Horner's form of Σ (−1)^n y^(2n)/(2n)!, n = 0 … 13: 1 − y²/(1·2)·(1 − y²/(3·4)·(1 − …))
  let sum = 1;
  for (let n = 13; n >= 1; n--) sum = 1 - (y2 / ((2 * n - 1) * (2 * n))) * sum;
  return folded ? -sum : sum;
}

/** Per-step learning rates [steps] as float32 (workloads/types.ts, Schedule). */
export function learningRates(spec: TrainSpec): Float32Array {
  const schedule = spec.schedule ?? { kind: 'constant' };
  const eta = spec.learningRate;
  const out = new Float32Array(spec.steps);
  for (let t = 0; t < spec.steps; t++) {
    if (schedule.kind === 'constant') {
      out[t] = eta;
      continue;
    }
    const w = schedule.warmupSteps;
    if (t < w) {
      out[t] = (eta * (t + 1)) / w;
      continue;
    }
    const min = eta * schedule.minFactor;
    const span = spec.steps - w;
    out[t] = min + ((eta - min) * (1 + cosExact((Math.PI * (t - w)) / span))) / 2;
  }
  return out;
}
