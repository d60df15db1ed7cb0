import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexStream, normalStream, philox4x32, tensorKey, uint32Stream, uniformStream, type Counter, type Key } from '../harness/rng.ts';

// Random123 kat_vectors, the three "philox4x32 10" lines: counter, key → output.
const KAT: Array<[Counter, Key, Counter]> = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

test('Philox4x32-10 matches the Random123 known-answer vectors', () => {
  for (const [counter, key, expected] of KAT) assert.deepEqual(philox4x32(counter, key), expected);
});

test('a tensor depends on workload, seed and name only, and is identical every time', () => {
  const a = normalStream(tensorKey('mlp-train', 0, 'l0.w'), 1000);
  const b = normalStream(tensorKey('mlp-train', 0, 'l0.w'), 1000);
  assert.deepEqual(Buffer.from(a.buffer), Buffer.from(b.buffer));
  assert.notDeepEqual(Buffer.from(a.buffer), Buffer.from(normalStream(tensorKey('mlp-train', 1, 'l0.w'), 1000).buffer));
  assert.notDeepEqual(Buffer.from(a.buffer), Buffer.from(normalStream(tensorKey('mlp-train', 0, 'l1.w'), 1000).buffer));
  assert.notDeepEqual(Buffer.from(a.buffer), Buffer.from(normalStream(tensorKey('conv-train', 0, 'l0.w'), 1000).buffer));
});

test('a shorter stream is a prefix of a longer one (streams are counter-based)', () => {
  const key = tensorKey('w', 3, 'x');
  assert.deepEqual(uniformStream(key, 5), uniformStream(key, 9).subarray(0, 5));
});

test('uniform floats lie in [0, 1) and normal floats have the right moments (fixed sample, exact bits)', () => {
  const u = uniformStream(tensorKey('w', 0, 'u'), 100_000);
  assert.ok(u.every((x) => x >= 0 && x < 1));
  const z = normalStream(tensorKey('w', 0, 'z'), 100_000);
  const mean = z.reduce((s, x) => s + x, 0) / z.length;
  const variance = z.reduce((s, x) => s + (x - mean) ** 2, 0) / (z.length - 1);
  // A fixed, seeded sample: these bounds are ≥ 5 standard errors wide and hold for these exact bits.
  assert.ok(Math.abs(mean) < 0.016, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.03, `variance ${variance}`);
});

test('indices stay in range and the skew repeats low ids', () => {
  const idx = indexStream(tensorKey('w', 0, 'i'), 10_000, 64, 3);
  assert.ok(idx.every((i) => i >= 0 && i < 64));
  const low = idx.filter((i) => i < 8).length;
  assert.ok(low > 4000, `expected most indices below 8 with skew 3, got ${low}`);
});

test('the inlined stream generator equals block-by-block Philox', () => {
  const key = tensorKey('w', 0, 'stream');
  const stream = uint32Stream(key, 4 * 50 + 3);
  for (let block = 0; block < 51; block++) {
    const words = philox4x32([block, 0, 0, 0], key);
    for (let j = 0; j < 4 && block * 4 + j < stream.length; j++) assert.equal(stream[block * 4 + j], words[j]);
  }
});
