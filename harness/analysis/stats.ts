/**
 * Statistics over run timings and losses. Pure functions; simple-statistics for the descriptive
 * maths, @stdlib/stats-anova1 for the F test behind Brown–Forsythe. (simple-statistics replaced
 * mathjs, which took ≈ 0.85 s of CPU to load in every command that analyses, for four functions;
 * simple-statistics loads in ≈ 6 ms.)
 */
import { createRequire } from 'node:module';
import type Anova1 from '@stdlib/stats-anova1';
import { mean, medianAbsoluteDeviation, median as ssMedian, sampleStandardDeviation } from 'simple-statistics';
import { seededUniforms } from '../rng.js';

/** @stdlib/stats-anova1 on first use: it pulls in ≈ 0.1–0.25 s of modules, and most readers of stats.ts never test a spread. */
let anova: typeof Anova1 | null = null;
const anova1 = (): typeof Anova1 => (anova ??= createRequire(import.meta.url)('@stdlib/stats-anova1') as typeof Anova1);

const mathMean = (xs: number[]) => mean(xs);
const mathStd = (xs: number[], _normalization: 'unbiased') => sampleStandardDeviation(xs);
const mathMedian = (xs: number[]) => ssMedian(xs);
/** The median of |x − median|, unscaled (as mathjs's mad was). */
const mathMad = (xs: number[]) => medianAbsoluteDeviation(xs);

export interface Describe {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); 0 for a single value. */
  sd: number;
  /** Coefficient of variation sd / mean (null when the mean is 0). */
  cv: number | null;
  median: number;
  /** Median absolute deviation, unscaled (multiply by 1.4826 for a normal-consistent sd; Iglewicz & Hoaglin 1993). */
  mad: number;
  min: number;
  max: number;
}

export function describe(values: number[]): Describe | null {
  if (values.length === 0) return null;
  const mean = Number(mathMean(values));
  const sd = values.length > 1 ? Number(mathStd(values, 'unbiased')) : 0;
  return {
    n: values.length,
    mean,
    sd,
    cv: mean === 0 ? null : sd / mean,
    median: Number(mathMedian(values)),
    mad: Number(mathMad(values)),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/**
 * The two ways a time ratio is estimated here: runs paired by repeat (det and nondet of one
 * repeat ran back to back, so drift hits both) give the median of their ratios; two independent
 * samples (a cell's times in two results folders) give the ratio of their medians.
 */
export const RATIO_ESTIMATORS = ['median-of-paired-ratios', 'ratio-of-medians'] as const;
export type RatioEstimator = (typeof RATIO_ESTIMATORS)[number];

export interface RatioCI {
  /** Which statistic `ratio` is: see RATIO_ESTIMATORS. */
  estimator: RatioEstimator;
  /** The point estimate: median(a_i / b_i) for paired samples, median(a) / median(b) for independent ones. */
  ratio: number;
  /** Percentile-bootstrap 95% CI of the same statistic. */
  low: number;
  high: number;
  /** Paired samples: the pairs used; independent samples: the smaller sample's size. */
  pairs: number;
  resamples: number;
}

/**
 * Percentile-bootstrap 95% CI of the median paired ratio a_i / b_i (Efron & Tibshirani 1993, ch. 13):
 * pairs are resampled whole, so drift that hits both arms of a pair cancels. Seeded, so the same
 * data give the same interval.
 */
export function pairedRatioCI(a: number[], b: number[], resamples = 2000, seed = 0): RatioCI | null {
  if (a.length !== b.length) throw new Error('paired samples must have the same length');
  const ratios = a.map((x, i) => x / b[i]).filter((r) => Number.isFinite(r));
  const ci = bootstrapCI(ratios.length, (idx) => Number(mathMedian(idx.map((i) => ratios[i]))), resamples, seed, 'paired-ratio');
  return ci && { estimator: 'median-of-paired-ratios', ratio: ci.value, low: ci.low, high: ci.high, pairs: ratios.length, resamples };
}

/** Linear-interpolation quantile of sorted data (Hyndman & Fan 1996, type 7, as R's default). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export interface VarianceTest {
  statistic: number;
  pValue: number;
  df: [number, number];
  /** Spread equal at the 5% level? */
  equalAt5Percent: boolean;
}

/**
 * Brown–Forsythe test of equal variances (Brown & Forsythe 1974): a one-way ANOVA on the absolute
 * deviations of each group from its median. Null when a group has fewer than 2 values or every
 * deviation is 0 (no spread anywhere: the F statistic is undefined).
 */
export function brownForsythe(groups: number[][]): VarianceTest | null {
  if (groups.length < 2 || groups.some((g) => g.length < 2)) return null;
  const deviations: number[] = [];
  const labels: string[] = [];
  groups.forEach((g, k) => {
    const m = Number(mathMedian(g));
    g.forEach((x) => {
      deviations.push(Math.abs(x - m));
      labels.push(`g${k}`);
    });
  });
  if (deviations.every((d) => d === deviations[0])) return null;
  const result = anova1()(deviations, labels);
  const fields = result as unknown as { statistic: number; pValue: number; treatment: { df: number }; error: { df: number } };
  return {
    statistic: fields.statistic,
    pValue: fields.pValue,
    df: [fields.treatment.df, fields.error.df],
    equalAt5Percent: fields.pValue >= 0.05,
  };
}

/**
 * Percentile-bootstrap 95% CI of median(a) / median(b) for two independent samples (each resampled
 * on its own). Used to compare a cell's timings between two results folders.
 */
export function ratioOfMediansCI(a: number[], b: number[], resamples = 2000, seed = 0): RatioCI | null {
  if (a.length < 2 || b.length < 2) return null;
  const uniform = seededUniforms(seed, 'ratio-of-medians');
  const ratios = new Float64Array(resamples);
  const sa = new Array<number>(a.length), sb = new Array<number>(b.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < a.length; i++) sa[i] = a[Math.floor(uniform() * a.length)];
    for (let i = 0; i < b.length; i++) sb[i] = b[Math.floor(uniform() * b.length)];
    ratios[r] = Number(mathMedian(sa)) / Number(mathMedian(sb));
  }
  ratios.sort();
  return {
    estimator: 'ratio-of-medians',
    ratio: Number(mathMedian(a)) / Number(mathMedian(b)),
    low: quantileSorted(ratios, 0.025),
    high: quantileSorted(ratios, 0.975),
    pairs: Math.min(a.length, b.length),
    resamples,
  };
}

export interface Interval {
  value: number;
  low: number;
  high: number;
}

/**
 * Percentile-bootstrap 95% CI of any statistic of n items, resampling item indices with
 * replacement (seeded). `statistic` gets the resampled indices.
 */
export function bootstrapCI(n: number, statistic: (indices: number[]) => number, resamples = 1000, seed = 0, label = 'bootstrap'): Interval | null {
  if (n < 2) return null;
  const uniform = seededUniforms(seed, label);
  const all = Array.from({ length: n }, (_, i) => i);
  const values = new Float64Array(resamples);
  const idx = new Array<number>(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(uniform() * n);
    values[r] = statistic(idx);
  }
  values.sort();
  return { value: statistic(all), low: quantileSorted(values, 0.025), high: quantileSorted(values, 0.975) };
}

/**
 * The percentile-bootstrap 95% CI of the median, computed from the bootstrap distribution itself
 * instead of by resampling, so it costs no random draws and has no Monte Carlo error (a history of
 * 1,000 nights × 50 cells needs 50,000 of them). A resample's median is an order statistic (odd n)
 * or the mean of two (even n), so its distribution follows from binomial and multinomial counts of
 * how many draws fall below, at and above each order statistic (Efron, "Bootstrap methods: another
 * look at the jackknife", Ann. Statist. 7(1), 1979, §3, gives the odd case). The interval's ends are
 * the 2.5 % and 97.5 % quantiles of that distribution (the least value whose probability of being ≥
 * the resampled median reaches the level). The even case costs O(n³): past EXACT_MEDIAN_CI_MAX values
 * (soaks, --precision) the distribution is sampled instead, as bootstrapCI does. Null for fewer than 2 values.
 */
export function medianCI(values: readonly number[]): Interval | null {
  const n = values.length;
  if (n < 2) return null;
  if (n > EXACT_MEDIAN_CI_MAX) {
    const sorted = (idx: number[]) => idx.map((i) => values[i]).sort((p, q) => p - q);
    return bootstrapCI(n, (idx) => quantileSorted(sorted(idx), 0.5), 1000, 0, 'median');
  }
  const x = Float64Array.from(values).sort();
  const m = n >> 1;
  const median = n % 2 ? x[m] : (x[m - 1] + x[m]) / 2;
  const atoms: Array<[number, number]> = [];
  if (n % 2) {
    // P(median* ≤ x_(j)) = P(at least m + 1 of the n draws are among x_(1..j))
    let previous = 0;
    for (let j = 1; j <= n; j++) {
      const cdf = binomialTail(n, j / n, m + 1);
      atoms.push([x[j - 1], cdf - previous]);
      previous = cdf;
    }
  } else {
    // median* = (x*_(m) + x*_(m+1)) / 2: the probability of each pair of order statistics (a ≤ b, 1-based)
    for (let a = 1; a <= n; a++) {
      const below = (a - 1) / n;
      // a = b: at most m − 1 draws below x_(a), at least m + 1 − k at it
      let same = 0;
      for (let k = 0; k <= m - 1; k++) same += binomialPmf(n, below, k) * binomialTail(n - k, 1 / (n - a + 1), m + 1 - k);
      atoms.push([x[a - 1], same]);
      // a < b: k < m draws below x_(a), m − k at it, none strictly between, n − m at x_(b) or above with ≥ 1 at it
      for (let b = a + 1; b <= n; b++) {
        const atOrAbove = (n - b + 1) / n, above = (n - b) / n;
        let p = 0;
        for (let k = 0; k <= m - 1; k++) p += multinomial(n, k, m - k) * below ** k * (1 / n) ** (m - k);
        atoms.push([(x[a - 1] + x[b - 1]) / 2, p * (atOrAbove ** (n - m) - above ** (n - m))]);
      }
    }
  }
  atoms.sort((p, q) => p[0] - q[0]);
  const quantile = (level: number) => {
    let cdf = 0;
    // a relative slack for the rounding of the sums: a CDF that should be exactly the level counts as it
    for (const [value, p] of atoms) if ((cdf += p) >= level * (1 - 1e-9)) return value;
    return atoms[atoms.length - 1][0];
  };
  return { value: median, low: quantile(0.025), high: quantile(0.975) };
}

/** Beyond this many values medianCI samples its bootstrap distribution instead of computing it. */
export const EXACT_MEDIAN_CI_MAX = 25;

function binomialPmf(n: number, p: number, k: number): number {
  if (k < 0 || k > n) return 0;
  return choose(n, k) * p ** k * (1 - p) ** (n - k);
}

/** P(Bin(n, p) ≥ k). */
function binomialTail(n: number, p: number, k: number): number {
  let sum = 0;
  for (let i = Math.max(0, k); i <= n; i++) sum += binomialPmf(n, p, i);
  return sum;
}

function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

/** n! / (k! · j! · (n − k − j)!). */
const multinomial = (n: number, k: number, j: number) => choose(n, k) * choose(n - k, j);
