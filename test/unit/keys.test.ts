/** One format for every key built from cell fields, one grouping, one modal result. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupBy, modalDigest } from '../../harness/analysis/group.ts';
import { cellId, cellKey, groupId } from '../../harness/protocol.ts';

const cell = { workload: 'mlp-train', backend: 'ort-cpu', device: 'cpu', mode: 'det' as const, threads: 2 };

test('cell ids and group ids share one format', () => {
  assert.equal(cellId(cell), 'mlp-train|ort-cpu|cpu|det|t2');
  assert.equal(cellId({ ...cell, arm: 'ulp' }), 'mlp-train|ort-cpu|cpu|det|t2|ulp');
  assert.equal(groupId(cell), 'mlp-train|ort-cpu|cpu|t2');
  assert.equal(groupId({ ...cell, arm: 'seeds' } as typeof cell), 'mlp-train|ort-cpu|cpu|t2', 'the arms of a noise decomposition share a group');
  assert.equal(cellKey(cell, ['threads', 'workload']), 'mlp-train|t2', 'fields come in key order whatever order they are asked in');
});

test('groupBy keeps first-seen order; modalDigest breaks ties by first seen', () => {
  assert.deepEqual([...groupBy([3, 1, 4, 1, 5], (n) => String(n % 2)).entries()], [['1', [3, 1, 1, 5]], ['0', [4]]]);
  assert.deepEqual(modalDigest(['b', 'a', 'a', 'b']), { digest: 'b', count: 2, distinct: 2 });
  assert.deepEqual(modalDigest(['b', 'a', 'a']), { digest: 'a', count: 2, distinct: 2 });
  assert.equal(modalDigest([]), null);
});
