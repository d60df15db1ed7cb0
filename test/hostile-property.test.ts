/**
 * Property (issue 9): whatever is done to a valid results folder or saved baseline — files cut
 * short, bytes flipped, fields replaced by null, strings, huge or negative numbers, digests that are
 * paths, files swapped for links to files elsewhere, files removed (test/fixtures/hostile-folders.ts)
 * — every command that reads it exits 0, 1, 2 or 3; on 2 it prints exactly one line and no stack; and
 * no command reaches a file outside the folders it was given (every file system call is recorded:
 * test/fixtures/in-process.ts).
 *
 * Seeded, so a failure reproduces; DETBENCH_FC_RUNS and DETBENCH_FC_SEED explore further.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { hostileFolders, mutation } from './fixtures/hostile-folders.ts';

const RUNS = Number(process.env.DETBENCH_FC_RUNS ?? 24);
const SEED = Number(process.env.DETBENCH_FC_SEED ?? 20261127);

const { root, intact, pristineBaselines, saved, host, mutated, mutatedStore, check } = hostileFolders('detbench-property-', [0, 1, 2, 3]);
after(() => host.close());

test('control: the folder and saved baseline the property mutates are accepted, unmutated, by every command', async () => {
  const dir = mutated(intact, []);
  const out = fs.mkdtempSync(path.join(root, 'out-'));
  const codes = [
    await check(['analyze', dir], [dir]),
    await check(['report', dir, '--format', 'md,json'], [dir]),
    await check(['compare', intact, dir], [intact, dir]),
    await check(['baseline', 'save', dir, '--dir', out], [dir, out]),
    await check(['baseline', 'list', '--dir', pristineBaselines], [pristineBaselines]),
    await check(['compare', saved, intact], [saved, intact]),
    await check(['merge', intact, dir, '--out', out], [intact, dir, out]),
  ];
  // the fixture's second backend fails every run: a finding (1), not bad input (2)
  assert.deepEqual(codes, [1, 0, 0, 0, 0, 0, 1]);
});

test('every command on a mutated results folder: exit 0-3, one line on exit 2, nothing outside the given folders', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const dir = mutated(intact, mutations);
      const out = fs.mkdtempSync(path.join(root, 'out-'));
      await check(['analyze', dir], [dir]);
      await check(['report', dir, '--format', 'md,json'], [dir]);
      await check(['compare', intact, dir], [intact, dir]);
      await check(['compare', dir, intact], [intact, dir]);
      await check(['baseline', 'save', dir, '--dir', out], [dir, out]);
      await check(['baseline', 'list', '--dir', out], [out]);
      const merged = fs.mkdtempSync(path.join(root, 'merged-'));
      if ((await check(['merge', intact, dir, '--out', merged], [intact, dir, merged])) === 2) {
        assert.deepEqual(fs.readdirSync(merged), [], 'a refused merge leaves --out as it was');
      }
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});

test('baseline list and compare on a mutated saved baseline: exit 0-3, one line on exit 2, nothing outside', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const { baselines, saved } = mutatedStore(mutations);
      await check(['baseline', 'list', '--dir', baselines], [baselines]);
      await check(['compare', saved, intact], [saved, intact]);
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
});
