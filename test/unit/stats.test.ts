import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapCI, brownForsythe, describe, pairedRatioCI, quantileSorted } from '../../harness/analysis/stats.ts';

test('describe gives exact values on a tiny input', () => {
  const d = describe([1, 2, 3, 4, 100])!;
  assert.equal(d.n, 5);
  assert.equal(d.mean, 22);
  assert.equal(d.median, 3);
  assert.equal(d.mad, 1); // |x − 3| = 2,1,0,1,97 → median 1
  assert.equal(d.sd, Math.sqrt((21 ** 2 + 20 ** 2 + 19 ** 2 + 18 ** 2 + 78 ** 2) / 4));
  assert.equal(d.cv, d.sd / 22);
  assert.equal(describe([]), null);
  assert.equal(describe([5])!.sd, 0);
});

test('quantiles interpolate linearly (type 7)', () => {
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantileSorted([1, 2, 3, 4], 0), 1);
  assert.equal(quantileSorted([1, 2, 3, 4], 1), 4);
  assert.equal(quantileSorted([10, 20], 0.25), 12.5);
});

test('paired ratio CI: exact for constant ratios, seeded, and brackets the median', () => {
  const same = pairedRatioCI([2, 4, 6, 8], [1, 2, 3, 4])!;
  assert.deepEqual([same.ratio, same.low, same.high], [2, 2, 2]);
  const a = [10, 12, 11, 13, 12, 11, 10, 14];
  const b = [9, 10, 10, 11, 10, 10, 9, 11];
  const x = pairedRatioCI(a, b)!;
  assert.deepEqual(x, pairedRatioCI(a, b));
  assert.ok(x.low <= x.ratio && x.ratio <= x.high);
  assert.equal(pairedRatioCI([1], [1]), null);
});

test('Brown–Forsythe matches the statistic computed by hand', () => {
  // medians 3 and 6; |deviations| [2,1,0,1,2] and [4,2,0,2,4]; SSB = 3.6, SSW = 14, F = 3.6 / (14 / 8)
  const r = brownForsythe([[1, 2, 3, 4, 5], [2, 4, 6, 8, 10]])!;
  assert.ok(Math.abs(r.statistic - 3.6 / 1.75) < 1e-12, String(r.statistic));
  assert.deepEqual(r.df, [1, 8]);
  // F(1, 8) = 2.057 ⇔ |t| = 1.434 with 8 df: two-sided p ≈ 0.189
  assert.ok(r.pValue > 0.18 && r.pValue < 0.2, String(r.pValue));
  assert.equal(r.equalAt5Percent, true);
  assert.equal(brownForsythe([[1, 1], [2, 2]]), null);
  assert.equal(brownForsythe([[1], [2, 3]]), null);
});

test('bootstrapCI: a constant statistic has a zero-width interval; seeded resampling is repeatable', () => {
  assert.deepEqual(bootstrapCI(5, () => 3), { value: 3, low: 3, high: 3 });
  const xs = [1, 2, 3, 4, 5, 6];
  const mean = (idx: number[]) => idx.reduce((s, i) => s + xs[i], 0) / idx.length;
  const a = bootstrapCI(xs.length, mean)!;
  assert.deepEqual(a, bootstrapCI(xs.length, mean));
  assert.ok(a.low < 3.5 && 3.5 < a.high && a.value === 3.5);
  assert.equal(bootstrapCI(1, mean), null);
});
