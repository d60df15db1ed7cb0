/**
 * Step detection over a history (one value per night): where did a series step, by how much, and
 * how many nights lie on each side? Pure functions, tested on exact tiny series (test/unit/steps.test.ts).
 *
 * The method is asv's (airspeed velocity, asv/step_detect.py, after Friedrich et al., "Complexity
 * Penalized M-Estimation: Fast Computation", JCGS 17(1), 2008): the series is fitted by a piecewise
 * constant function minimising
 *
 *     Σ_segments Σ_{i in segment} |y_i − median(segment)|  +  γ · (number of segments)
 *
 * an L1 cost (Laplace rather than Gaussian noise, so one wild night moves a median, not a mean) with a
 * penalty per segment, solved exactly by dynamic programming (the Bellman recursion of Friedrich et
 * al.; O(n²) with a sorted linked list, see fitSegments). Two choices differ from asv, for nightly timings:
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
 * The exact minimiser of Σ L1 cost + γ · segments, every segment at least `minSegment` long (a series
 * shorter than two segments is one). The Bellman recursion runs backwards: best[l], the least cost of
 * y[l..n), is the least over segment ends r of cost(l, r) + γ + best[r]. For one start l, cost(l, r)
 * for every r comes from a sorted doubly linked list of y[l..n) from which y[r−1] is deleted as r falls:
 * a deletion moves the median by at most one node, so each cost is O(1) (Suomela, "Median filtering is
 * equivalent to sorting", arXiv:1406.1717, 2014, keeps running medians with the same list). O(n²) time,
 * O(n) memory: 1,000 nights are half a million costs. Ties go to the longer first segment.
 */
export function fitSegments(y: readonly number[], penalty: number, minSegment = 2): Segment[] {
  const n = y.length;
  if (n === 0) return [];
  if (n < 2 * minSegment) return [{ start: 0, end: n, level: median(y) }];
  // ranks: the position of each index in sorted order (ties by index); the list links ranks between two sentinels
  const byRank = Array.from({ length: n }, (_, i) => i).sort((a, b) => y[a] - y[b] || a - b);
  const rank = new Int32Array(n);
  byRank.forEach((i, r) => (rank[i] = r));
  const value = Float64Array.from(byRank, (i) => y[i]);
  const HEAD = n, TAIL = n + 1;
  const next = new Int32Array(n + 2), prev = new Int32Array(n + 2);
  const best = new Float64Array(n + 1).fill(Infinity);
  const end = new Int32Array(n + 1).fill(-1);
  best[n] = 0;
  for (let l = n - minSegment; l >= 0; l--) {
    // the sorted list of y[l..n)
    let last = HEAD;
    let count = 0;
    for (let r = 0; r < n; r++) {
      if (byRank[r] < l) continue;
      next[last] = r;
      prev[r] = last;
      last = r;
      count++;
    }
    next[last] = TAIL;
    prev[TAIL] = last;
    // the lower median, how many lie before it, and the sums on each side of it
    let below = (count - 1) >> 1;
    let med = next[HEAD];
    for (let k = 0; k < below; k++) med = next[med];
    let sumBelow = 0, sumAbove = 0;
    for (let q = next[HEAD]; q !== med; q = next[q]) sumBelow += value[q];
    for (let q = next[med]; q !== TAIL; q = next[q]) sumAbove += value[q];
    for (let r = n; r - l >= minSegment; r--) {
      if (best[r] !== Infinity) {
        // Σ|y − m| at the lower median m: Σ_above (y − m) + Σ_below (m − y)
        const m = value[med];
        const cost = Math.max(0, sumAbove - (count - 1 - below) * m + below * m - sumBelow);
        if (cost + penalty + best[r] < best[l]) {
          best[l] = cost + penalty + best[r];
          end[l] = r;
        }
      }
      // delete y[r − 1], keeping the median and the sums on each side
      if (--count === 0) break;
      const q = rank[r - 1];
      if (q === med) {
        if (next[q] !== TAIL) {
          med = next[q];
          sumAbove -= value[med];
        } else {
          med = prev[q];
          below--;
          sumBelow -= value[med];
        }
      } else if (q < med) {
        below--;
        sumBelow -= value[q];
      } else sumAbove -= value[q];
      next[prev[q]] = next[q];
      prev[next[q]] = prev[q];
      const target = (count - 1) >> 1;
      if (below > target) {
        sumAbove += value[med];
        med = prev[med];
        sumBelow -= value[med];
        below--;
      } else if (below < target) {
        sumBelow += value[med];
        med = next[med];
        sumAbove -= value[med];
        below++;
      }
    }
  }
  const segments: Segment[] = [];
  for (let l = 0; l < n; l = end[l]) segments.push({ start: l, end: end[l], level: median(y.slice(l, end[l])) });
  return segments;
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
