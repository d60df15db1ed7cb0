/**
 * torch's CPU sum is the cascade the tolerance tests simulate (test/fixtures/summation-orders.ts),
 * bit for bit, at 1 and 2 threads. Needs python3-torch (1.13 on an AVX2 or AVX-512 x86 CPU).
 */
import assert from 'node:assert/strict';
import { BACKEND_SUMS } from '../fixtures/summation-orders.ts';
import { realSums } from '../fixtures/real-sums.ts';
import { systemTest, TORCH_PYTHON } from './components.ts';

process.env.DETBENCH_PYTHON ??= TORCH_PYTHON;

for (const threads of [1, 2]) {
  systemTest(`torch at ${threads} thread(s) adds reduce-sum’s terms in the order the simulation says`, 'torch', async () => {
    const simulate = BACKEND_SUMS[`torch (${threads} thread${threads > 1 ? 's' : ''})`];
    for (const [i, { x, sum }] of (await realSums('torch', threads, [0, 1, 2])).entries()) {
      assert.equal(simulate(x), sum, `seed ${i}: simulated ${simulate(x)}, torch gave ${sum}`);
    }
  });
}
