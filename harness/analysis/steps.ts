/**
 * Step detection over a history (one value per night): where did a series step, by how much, and
 * how many nights lie on each side? Pure functions, tested on exact tiny series (test/steps.test.ts).
 *
 * The method is asv's (airspeed velocity, asv/step_detect.py, after Friedrich et al., "Complexity
 * Penalized M-Estimation: Fast Computation", JCGS 17(1), 2008): the series is fitted by a piecewise
 * constant function minimising
 *
 *     Σ_segments Σ_{i in segment} |y_i − median(segment)|  +  γ · (number of segments)
 *
 * an L1 cost (Laplace rather than Gaussian noise, so one wild night moves a median, not a mean) with a
 * penalty per segment, solved exactly by dynamic programming (the Bellman recursion of Friedrich et
 * al.; O(n² log n) with a running median). Two choices differ from asv, for nightly timings:
 *
 * - γ comes from a robust estimate of the noise instead of asv's search over γ with an information
 *   criterion: σ̂ = 1.4826 · MAD(y_{i+1} − y_i) / √2 (differences of neighbours cancel the levels, so
 *   a step or an outlier touches one or two of them; the MAD of differences as a noise scale for
 *   change-point problems is Fryzlewicz's, "Wild binary segmentation", Ann. Statist. 42(6), 2014;
 *   1.4826 makes a MAD a normal-consistent sd, Iglewicz & Hoaglin 1993). γ = 4 · √(2/π) σ̂ · ln n
 *   is asv's default weight, β = 4 ln n / n per segment on log Σ|r|, at Σ|r| ≈ n · √(2/π) σ̂ (the
 *   mean absolute residual of normal noise): a segment must pay for itself with that much less cost.
 *   A floor on σ̂ (asv fixes one too, at 0.1 % of the level) keeps a noiseless series from splitting
 *   at every difference in the last bit.
 * - Every segment spans at least two nights (asv reports a regression only when it lasts
 *   `min_size = 2` commits). One noisy night therefore never makes a step: cutting it out would need
 *   a segment of its own. The price is that a step in the very latest night is seen the night after.
 * - Neighbouring segments whose levels differ by less than `minStep` are merged, the closest pair
 *   first (asv does not report a change below `regressions_thresholds`, 5 % by default). With few
 *   nights the noise estimate is itself noisy (its MAD rests on a handful of differences), and a
 *   fit can split off a couple of nights that differ by a few per cent; such a "step" is noise.
 */

export interface Segment {
  /** First night of the segment (index into the series). */
  start: number;
  /** One past its last night. */
  end: number;
  /** The segment's median. */
  level: number;
}

export interface StepFit {
  segments: Segment[];
  /** σ̂, the robust noise scale the penalty was made of (after the floor). */
  noise: number;
  /** γ, the cost of one more segment. */
  penalty: number;
}

export interface StepOptions {
  /** Nights a segment spans at least (default 2). */
  minSegment?: number;
  /** The least noise scale assumed, in the series' units (default 0). */
  noiseFloor?: number;
  /** Neighbouring segments closer than this (in the series' units) are one (default 0). */
  minStep?: number;
}

/** asv's weight per segment, 4 ln n / n on log Σ|r|, as a multiple of σ̂ ln n (see the top of this file). */
export const PENALTY_PER_NOISE_LOG_N = 4 * Math.sqrt(2 / Math.PI);

/** The median of a list (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const k = s.length >> 1;
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
}

/** σ̂ = 1.4826 · MAD of the differences of neighbours / √2; 0 for fewer than two differences. */
export function robustNoise(y: readonly number[]): number {
  if (y.length < 3) return 0;
  const diffs = y.slice(1).map((v, i) => v - y[i]);
  const m = median(diffs);
  return (1.4826 * median(diffs.map((d) => Math.abs(d - m)))) / Math.SQRT2;
}

/**
 * A multiset with its median and Σ|x − median| as values are added: a max-heap holds the lower half
 * (one more than the upper for an odd count), a min-heap the upper half, each with its sum. The min-heap
 * stores negated values, so one sift-up and one sift-down serve both.
 */
class RunningMedian {
  private lower: Float64Array;
  /** −x for each x of the upper half: a max-heap of negatives is a min-heap. */
  private upper: Float64Array;
  private lowerSize = 0;
  private upperSize = 0;
  private lowerSum = 0;
  private upperSum = 0;

  constructor(capacity: number) {
    this.lower = new Float64Array(capacity);
    this.upper = new Float64Array(capacity);
  }

  add(x: number): void {
    if (this.lowerSize === 0 || x <= this.lower[0]) {
      this.lowerSize = siftUp(this.lower, this.lowerSize, x);
      this.lowerSum += x;
    } else {
      this.upperSize = siftUp(this.upper, this.upperSize, -x);
      this.upperSum += x;
    }
    if (this.lowerSize > this.upperSize + 1) {
      const v = this.lower[0];
      this.lowerSize = popTop(this.lower, this.lowerSize);
      this.lowerSum -= v;
      this.upperSize = siftUp(this.upper, this.upperSize, -v);
      this.upperSum += v;
    } else if (this.upperSize > this.lowerSize) {
      const v = -this.upper[0];
      this.upperSize = popTop(this.upper, this.upperSize);
      this.upperSum -= v;
      this.lowerSize = siftUp(this.lower, this.lowerSize, v);
      this.lowerSum += v;
    }
  }

  /** Σ|x − m| at a median m: Σ_upper (x − m) + Σ_lower (m − x); m's own term cancels for an odd count. */
  get absDeviation(): number {
    return Math.max(0, this.upperSum - this.lowerSum + this.lower[0] * (this.lowerSize - this.upperSize));
  }
}

/** Adds x to a max-heap of `size` elements; returns the new size. */
function siftUp(heap: Float64Array, size: number, x: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] >= x) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = x;
  return size + 1;
}

/** Removes the top of a max-heap of `size` elements; returns the new size. */
function popTop(heap: Float64Array, size: number): number {
  const n = size - 1;
  const x = heap[n];
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap[child + 1] > heap[child]) child++;
    if (heap[child] <= x) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = x;
  return n;
}

/**
 * The exact minimiser of Σ L1 cost + γ · segments, every segment at least `minSegment` long (a series
 * shorter than two segments is one). Ties go to the longer last segment, so equal fits are stable.
 */
export function fitSegments(y: readonly number[], penalty: number, minSegment = 2): Segment[] {
  const n = y.length;
  if (n === 0) return [];
  if (n < 2 * minSegment) return [{ start: 0, end: n, level: median(y) }];
  // best[r]: the least cost of y[0..r), from[r]: where its last segment starts
  const best = new Float64Array(n + 1).fill(Infinity);
  const from = new Int32Array(n + 1).fill(-1);
  best[0] = 0;
  for (let r = minSegment; r <= n; r++) {
    const window = new RunningMedian(r);
    for (let l = r - 1; l >= 0; l--) {
      window.add(y[l]);
      if (r - l < minSegment || best[l] === Infinity) continue;
      const cost = best[l] + penalty + window.absDeviation;
      if (cost <= best[r]) {
        best[r] = cost;
        from[r] = l;
      }
    }
  }
  const segments: Segment[] = [];
  for (let r = n; r > 0; r = from[r]) {
    const l = from[r];
    segments.push({ start: l, end: r, level: median(y.slice(l, r)) });
  }
  return segments.reverse();
}

/** Merges neighbouring segments whose levels differ by less than `minStep`, the closest pair first. */
export function mergeSmallSteps(y: readonly number[], segments: readonly Segment[], minStep: number): Segment[] {
  const out = [...segments];
  for (;;) {
    let closest = -1;
    for (let k = 1; k < out.length; k++) {
      const d = Math.abs(out[k].level - out[k - 1].level);
      if (d < minStep && (closest < 0 || d < Math.abs(out[closest].level - out[closest - 1].level))) closest = k;
    }
    if (closest < 0) return out;
    const start = out[closest - 1].start, end = out[closest].end;
    out.splice(closest - 1, 2, { start, end, level: median(y.slice(start, end)) });
  }
}

/** Steps of a series, with the penalty made from its own noise (see the top of this file). */
export function fitSteps(y: readonly number[], options: StepOptions = {}): StepFit {
  const minSegment = options.minSegment ?? 2;
  const noise = Math.max(robustNoise(y), options.noiseFloor ?? 0);
  const penalty = PENALTY_PER_NOISE_LOG_N * noise * Math.log(Math.max(y.length, 2));
  return { segments: mergeSmallSteps(y, fitSegments(y, penalty, minSegment), options.minStep ?? 0), noise, penalty };
}
