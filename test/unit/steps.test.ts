/**
 * Step detection (harness/analysis/steps.ts, asv's penalised L1 fit) on exact tiny series: a step,
 * no step, one noisy night, two steps; the exact minimiser against every partition of small series;
 * and the exact bootstrap CI of the median against all n^n resamples.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fitSegments, fitSteps, median, PENALTY_PER_NOISE_LOG_N, robustNoise, type Segment } from '../../harness/analysis/steps.ts';
import { medianCI, EXACT_MEDIAN_CI_MAX } from '../../harness/analysis/stats.ts';
import { seededUniforms } from '../../harness/rng.ts';

const starts = (segments: Segment[]) => segments.map((s) => s.start);
const floor = { noiseFloor: 1 };

test('robustNoise: 1.4826 · MAD of neighbour differences / √2, exactly', () => {
  // differences 2, −1, 2, −1: median 0.5, every absolute deviation 1.5
  assert.equal(robustNoise([0, 2, 1, 3, 2]), (1.4826 * 1.5) / Math.SQRT2);
  // a step touches one difference, an outlier two: neither moves the MAD of eight
  assert.equal(robustNoise([0, 0, 0, 0, 0, 9, 9, 9, 9, 9]), 0);
  assert.equal(robustNoise([1, 1]), 0);
});

test('a step: two segments at the step, levels the medians, the penalty asv\'s 4 ln n / n weight', () => {
  const fit = fitSteps([10, 10, 10, 10, 20, 20, 20, 20], floor);
  assert.deepEqual(fit.segments, [{ start: 0, end: 4, level: 10 }, { start: 4, end: 8, level: 20 }]);
  assert.equal(fit.noise, 1, 'no noise in the data: the floor');
  assert.equal(fit.penalty, PENALTY_PER_NOISE_LOG_N * Math.log(8));
});

test('no step: noise alone is one segment', () => {
  const fit = fitSteps([10, 12, 11, 10, 12, 11, 10, 12, 11, 10], floor);
  assert.deepEqual(fit.segments, [{ start: 0, end: 10, level: 11 }]);
});

test('one noisy night is never a step, wherever it falls, however large', () => {
  for (let at = 0; at < 8; at++) {
    for (const size of [3, 30, 3e6]) {
      const y = [10, 10, 10, 10, 10, 10, 10, 10];
      y[at] += size;
      assert.deepEqual(starts(fitSteps(y, floor).segments), [0], `a night of +${size} at ${at}`);
    }
  }
});

test('two steps: three segments', () => {
  assert.deepEqual(fitSteps([10, 10, 10, 20, 20, 20, 30, 30, 30], floor).segments, [
    { start: 0, end: 3, level: 10 }, { start: 3, end: 6, level: 20 }, { start: 6, end: 9, level: 30 },
  ]);
});

test('a step in the latest night is seen the night after (every segment spans two nights)', () => {
  assert.deepEqual(starts(fitSteps([10, 10, 10, 10, 10, 10, 20], floor).segments), [0]);
  assert.deepEqual(starts(fitSteps([10, 10, 10, 10, 10, 10, 20, 20], floor).segments), [0, 6]);
});

test('a step smaller than the penalty allows stays one segment; the same step with less noise does not', () => {
  // 8 nights, floor σ̂: γ = 3.19 · σ̂ · ln 8 ≈ 6.6 σ̂; splitting a step of d with 4 nights a side saves 4d
  const y = [0, 0, 0, 0, 1, 1, 1, 1];
  assert.deepEqual(starts(fitSteps(y, { noiseFloor: 1 }).segments), [0], '4 < 6.6');
  assert.deepEqual(starts(fitSteps(y, { noiseFloor: 0.5 }).segments), [0, 4], '4 > 3.3');
});

test('steps smaller than minStep are merged, the closest pair first; larger ones stay', () => {
  const y = [10, 10, 10, 14, 14, 14, 16, 16, 16];
  const lowNoise = { noiseFloor: 0.2 };
  assert.deepEqual(starts(fitSteps(y, lowNoise).segments), [0, 3, 6]);
  assert.deepEqual(fitSteps(y, { ...lowNoise, minStep: 3 }).segments, [{ start: 0, end: 3, level: 10 }, { start: 3, end: 9, level: 15 }]);
  assert.deepEqual(fitSteps(y, { ...lowNoise, minStep: 6 }).segments, [{ start: 0, end: 9, level: 14 }]);
});

test('seeded noisy nights (log times, 3 % noise): no step in 300 steady series, the 30 % step at its night in 300 others', () => {
  const uniform = seededUniforms(21, 'steps-test');
  // normal (Marsaglia's polar method), Laplace and uniform noise, each of sd 1
  const normal = () => {
    for (;;) {
      const a = 2 * uniform() - 1, b = 2 * uniform() - 1, s = a * a + b * b;
      if (s > 0 && s < 1) return a * Math.sqrt((-2 * Math.log(s)) / s);
    }
  };
  const laplace = () => {
    const v = uniform() - 0.5;
    return (-Math.sign(v) * Math.log(1 - 2 * Math.abs(v))) / Math.SQRT2;
  };
  const flat = () => (2 * uniform() - 1) * Math.sqrt(3);
  const options = { noiseFloor: 1e-3, minStep: Math.log(1.05) };
  for (const noise of [normal, laplace, flat]) {
    for (let k = 0; k < 100; k++) {
      const steady = Array.from({ length: 30 }, () => 0.03 * noise());
      assert.deepEqual(starts(fitSteps(steady, options).segments), [0], `${noise.name} #${k}`);
      const stepped = Array.from({ length: 30 }, (_, i) => 0.03 * noise() + (i >= 19 ? Math.log(1.3) : 0));
      assert.deepEqual(starts(fitSteps(stepped, options).segments), [0, 19], `${noise.name} #${k}`);
    }
  }
});

/** The least cost over every partition into segments of ≥ minSegment (brute force). */
function bruteCost(y: number[], penalty: number, minSegment = 2): number {
  const cost = (l: number, r: number) => {
    const m = median(y.slice(l, r));
    return y.slice(l, r).reduce((s, v) => s + Math.abs(v - m), 0);
  };
  const best = (l: number): number => {
    if (l === y.length) return 0;
    let b = Infinity;
    for (let r = l + minSegment; r <= y.length; r++) if (r === y.length || y.length - r >= minSegment) b = Math.min(b, penalty + cost(l, r) + best(r));
    return b;
  };
  return best(0);
}

test('fitSegments is the exact minimiser: its cost equals the best of every partition (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 6, maxLength: 11 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 3 }), (y, penalty, minSegment) => {
      const segments = fitSegments(y, penalty, minSegment);
      assert.ok(segments.every((s) => s.end - s.start >= minSegment));
      assert.equal(segments[0].start, 0);
      assert.equal(segments.at(-1)!.end, y.length);
      const cost = segments.reduce((sum, s) => sum + penalty + y.slice(s.start, s.end).reduce((a, v) => a + Math.abs(v - s.level), 0), 0);
      assert.equal(cost, bruteCost(y, penalty, minSegment));
    }),
    { numRuns: 500, seed: 13 },
  );
});

/** Every one of the n^n equally likely resamples: the percentile interval of their medians. */
function bruteMedianCI(values: number[]) {
  const n = values.length;
  const medians: number[] = [];
  const idx = new Array<number>(n).fill(0);
  for (;;) {
    medians.push(median(idx.map((i) => values[i])));
    let k = 0;
    while (k < n && ++idx[k] === n) idx[k++] = 0;
    if (k === n) break;
  }
  medians.sort((a, b) => a - b);
  const quantile = (level: number) => medians.find((_, i) => (i + 1) / medians.length >= level * (1 - 1e-9))!;
  return { value: median(values), low: quantile(0.025), high: quantile(0.975) };
}

test('medianCI is the exact percentile-bootstrap 95% CI of the median (all n^n resamples, n ≤ 6)', () => {
  for (const v of [[1, 2], [3, 1, 2], [1, 2, 3, 4], [5, 1, 4, 2, 3], [1, 2, 3, 4, 5, 6], [1, 1, 2, 5, 9, 9], [2, 7, 1, 8, 2, 8], [4, 4, 4]]) {
    assert.deepEqual(medianCI(v), bruteMedianCI(v), JSON.stringify(v));
  }
  assert.equal(medianCI([1]), null);
  // past the exact limit it samples: still an interval around the median
  const many = Array.from({ length: EXACT_MEDIAN_CI_MAX + 2 }, (_, i) => i);
  const ci = medianCI(many)!;
  assert.ok(ci.low < ci.value && ci.value < ci.high);
});
