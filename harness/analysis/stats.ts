/**
 * Statistics over run timings and losses. Pure functions; mathjs for the descriptive maths,
 * @stdlib/stats-anova1 for the F test behind Brown–Forsythe.
 */
import { createRequire } from 'node:module';
import type * as MathJs from 'mathjs';
import anova1 from '@stdlib/stats-anova1';
import { seededUniforms } from '../rng.js';

/**
 * mathjs, loaded on first use through its CommonJS build: its ESM build takes more than twice as
 * long to load (≈ 1.4 s vs 0.6 s here), and most commands never need it.
 */
let mathjs: typeof MathJs | null = null;
const math = (): typeof MathJs => (mathjs ??= createRequire(import.meta.url)('mathjs') as typeof MathJs);
const mathMean = (xs: number[]) => math().mean(xs);
const mathStd = (xs: number[], normalization: 'unbiased') => math().std(xs, normalization);
const mathMedian = (xs: number[]) => math().median(xs);
const mathMad = (xs: number[]) => math().mad(xs);

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
  const result = anova1(deviations, labels);
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
