/**
 * The summation orders that the tolerance tests simulate (test/fixtures/summation-orders.ts) are the
 * real ones: each reproduces its backend's reduce-sum bit for bit. If a library upgrade changes an
 * order, this fails, and the simulation (and the tolerance's measured headroom) must be redone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BACKEND_SUMS } from '../fixtures/summation-orders.ts';
import { realSums } from '../fixtures/real-sums.ts';

for (const [backendId, threads] of [['tfjs-cpu', 1], ['tfjs-wasm', 1], ['ort-cpu', 1], ['ort-cpu', 2]] as const) {
  test(`${backendId} at ${threads} thread(s) adds reduce-sum’s terms in the order the simulation says`, async () => {
    const simulate = BACKEND_SUMS[backendId];
    for (const [i, { x, sum }] of (await realSums(backendId, threads, [0, 1, 2])).entries()) {
      assert.equal(simulate(x), sum, `seed ${i}: simulated ${simulate(x)}, ${backendId} gave ${sum}`);
    }
  });
}
