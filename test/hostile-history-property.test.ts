/**
 * The property of hostile-property.test.ts for history and publish, whose readers (harness/nights.ts)
 * take a folder's summary.json when it has one and check only the fields they read: whatever is done
 * to a night that has its summary.json, or to a saved baseline in a store, both exit 0, 1 or 2; on 2
 * one line and no stack; nothing outside the folders given is reached, and publish writes into its
 * site only.
 *
 * Seeded, so a failure reproduces; DETBENCH_FC_RUNS and DETBENCH_FC_SEED explore further.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { hostileFolders, mutation } from './fixtures/hostile-folders.ts';
import { makeResults } from './fixtures/results.ts';

// fewer than hostile-property's 24: each case runs publish, which renders pages (≈ 0.2 s)
const RUNS = Number(process.env.DETBENCH_FC_RUNS ?? 16);
const SEED = Number(process.env.DETBENCH_FC_SEED ?? 20261127);

const { root, suite, intact, host, mutated, mutatedStore, check } = hostileFolders('detbench-history-property-', [0, 1, 2]);
after(() => host.close());

/** A night with its summary.json, as `detbench run` leaves it: what nights.ts reads first. */
const withSummary = makeResults(root, suite);

before(async () => {
  // summary.json, as the run wrote it; and the modules history and publish load on first use (read
  // from node_modules, outside every folder given), loaded once here
  assert.equal((await host.detbench(['report', withSummary, '--format', 'json'])).code, 0);
  assert.ok((await host.detbench(['history', withSummary])).code !== 'threw');
  assert.ok((await host.detbench(['publish', withSummary, '--out', fs.mkdtempSync(path.join(root, 'site-'))])).code !== 'threw');
});

test('history and publish on a mutated night (summary.json included): exit 0-2, one line on exit 2, nothing outside the given folders', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const dir = mutated(withSummary, mutations);
      await check(['history', dir, intact], [dir, intact]);
      const site = fs.mkdtempSync(path.join(root, 'site-'));
      await check(['publish', dir, intact, '--out', site], [dir, intact, site]);
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});

test('history and publish on a baselines store with a mutated saved baseline: exit 0-2, one line on exit 2, nothing outside', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const { baselines } = mutatedStore(mutations);
      await check(['history', baselines], [baselines]);
      const site = fs.mkdtempSync(path.join(root, 'site-'));
      await check(['publish', baselines, '--out', site], [baselines, site]);
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
