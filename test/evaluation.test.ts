/**
 * The evaluation of a trained model (loss, accuracy, predicted classes) and prediction churn between
 * runs, on exact tiny inputs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { churn, pairwiseChurn } from '../harness/analysis/churn.ts';
import { evaluate } from '../harness/run/evaluation.ts';

test('evaluate: mean cross-entropy, accuracy and the first index of the largest logit', () => {
  const logits = new Float32Array([0, 2, 1, /**/ 3, 3, 0, /**/ -1, -2, 5]);
  const labels = new Int32Array([1, 1, 0]);
  const e = evaluate(logits, labels, 3);
  assert.deepEqual(Array.from(e.predictions), [1, 0, 2]); // a tie goes to the first index
  assert.equal(e.accuracy, 1 / 3);
  assert.equal(e.units, 3);
  const xent = (row: number[], label: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[label];
  const expected = (xent([0, 2, 1], 1) + xent([3, 3, 0], 1) + xent([-1, -2, 5], 0)) / 3;
  assert.ok(Math.abs(e.loss - expected) < 1e-12, `${e.loss} vs ${expected}`);
  assert.throws(() => evaluate(logits, new Int32Array(2), 3), /expected 2 units × 3 classes/);
});

test('churn is the share of units whose predicted class differs', () => {
  assert.equal(churn(new Float32Array([1, 2, 3, 4]), new Float32Array([1, 0, 3, 0])), 0.5);
  assert.equal(churn(new Float32Array([]), new Float32Array([])), 0);
  assert.throws(() => churn(new Float32Array(2), new Float32Array(3)), /differ in length/);
  const m = pairwiseChurn([new Float32Array([0, 0]), new Float32Array([0, 1]), new Float32Array([1, 1])]);
  assert.deepEqual(m, [[0, 0.5, 1], [0.5, 0, 0.5], [1, 0.5, 0]]);
});

test('churn is a metric on prediction vectors: zero on itself, symmetric, in [0, 1], triangle inequality', () => {
  const vec = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 20 });
  fc.assert(
    fc.property(vec, vec, vec, (a, b, c) => {
      const n = Math.min(a.length, b.length, c.length);
      const [x, y, z] = [a, b, c].map((v) => Float32Array.from(v.slice(0, n)));
      assert.equal(churn(x, x), 0);
      assert.equal(churn(x, y), churn(y, x));
      assert.ok(churn(x, y) >= 0 && churn(x, y) <= 1);
      assert.ok(churn(x, z) <= churn(x, y) + churn(y, z) + 1e-12);
    }),
  );
});
