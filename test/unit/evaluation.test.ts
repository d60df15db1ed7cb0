/**
 * The evaluation of a trained model (loss, accuracy, predicted classes) and prediction churn between
 * runs, on exact tiny inputs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { churn, pairwiseChurn } from '../../harness/analysis/churn.ts';
import { analyzeNoise } from '../../harness/analysis/noise.ts';
import type { RunRecord } from '../../harness/protocol.ts';
import { evaluate } from '../../harness/run/evaluation.ts';

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

test('the noise decomposition gives each arm its held-out loss spread and mean pairwise churn (identical runs: exactly 0)', () => {
  const store = new Map<string, Float32Array>();
  const put = (name: string, values: number[]) => (store.set(name, Float32Array.from(values)), name);
  const weights = put('w', [1, 2, 3]);
  const runs = (['seeds', 'implementation', 'ulp'] as const).flatMap((arm) =>
    [0, 1, 2].map((i) => ({
      arm, workload: 'mlp-train', backend: 'b', device: 'cpu', mode: arm === 'implementation' ? 'nondet' : 'det', threads: 1,
      runIndex: i, repeat: i, warmup: false, seed: 0, preset: 'quick', params: {}, cell: `${arm}`, startedAt: '', wallMs: 1,
      determinism: null, warnings: [], status: 'ok', setupMs: 0, computeMs: 1, loss: 1, outputL2: 1,
      artifact: { sha256: weights, bytes: 12, tensors: [] },
      // seeds: predictions [0,0,0,0], [0,0,1,1], [1,1,1,1] → pairwise churn 0.5, 1, 0.5; others identical
      evaluation: { loss: arm === 'seeds' ? 1 + i / 10 : 1.3, accuracy: 0.5, units: 4, predictions: put(`${arm}${i}`, arm === 'seeds' ? [i === 2 ? 1 : 0, i === 2 ? 1 : 0, i ? 1 : 0, i ? 1 : 0] : [0, 1, 0, 1]) },
    })),
  ) as unknown as RunRecord[];
  const [d] = analyzeNoise(runs, (digest) => store.get(digest)!);
  const arm = (name: string) => d.arms.find((a) => a.arm === name)!;
  assert.ok(Math.abs(arm('seeds').churn!.value - 2 / 3) < 1e-12, `${arm('seeds').churn!.value}`);
  assert.ok(Math.abs(arm('seeds').evalLossSd!.value - 0.1) < 1e-12);
  for (const name of ['implementation', 'ulp']) {
    assert.equal(arm(name).churn!.value, 0);
    assert.equal(arm(name).evalLossSd!.value, 0);
  }
});
