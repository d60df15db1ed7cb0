/** The two ratio estimators say which they are, and each computes what it says (exact tiny inputs). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pairedRatioCI, ratioOfMediansCI } from '../../harness/analysis/stats.ts';

// paired ratios 1/1, 4/2, 9/9 = [1, 2, 1]: their median is 1; median(a) / median(b) = 4 / 2 = 2
const a = [1, 4, 9];
const b = [1, 2, 9];

test('pairedRatioCI is the median of the paired ratios', () => {
  const ci = pairedRatioCI(a, b)!;
  assert.equal(ci.estimator, 'median-of-paired-ratios');
  assert.equal(ci.ratio, 1);
  assert.equal(ci.pairs, 3);
  assert.ok(ci.low <= ci.ratio && ci.ratio <= ci.high);
});

test('ratioOfMediansCI is the ratio of the medians', () => {
  const ci = ratioOfMediansCI(a, b)!;
  assert.equal(ci.estimator, 'ratio-of-medians');
  assert.equal(ci.ratio, 2);
  assert.ok(ci.low <= ci.high);
});
