import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffFloat32, ulpDistance, ULP_BUCKETS } from '../harness/analysis/diff.ts';
import { normalStream, tensorKey } from '../harness/rng.ts';

const f32 = (...xs: number[]) => new Float32Array(xs);
const nextUp = (x: number) => {
  const a = new Float32Array([x]);
  new Int32Array(a.buffer)[0] += x >= 0 ? 1 : -1;
  return a[0];
};

test('diff(a, a) is empty (property, many random arrays)', () => {
  for (let seed = 0; seed < 20; seed++) {
    const a = normalStream(tensorKey('diff', seed, 'a'), 1 + seed * 37);
    const d = diffFloat32(a, Float32Array.from(a));
    assert.equal(d.bitwiseEqual, true);
    assert.equal(d.differing, 0);
    assert.equal(d.firstDifferingIndex, null);
    assert.equal(d.relL2, 0);
  }
});

test('adjacent floats are 1 ULP apart (property)', () => {
  const a = normalStream(tensorKey('diff', 0, 'ulp'), 500);
  for (const x of a) assert.equal(ulpDistance(x, nextUp(x)), 1);
  assert.equal(ulpDistance(0, 1.401298464324817e-45), 1);
  assert.equal(ulpDistance(-1.401298464324817e-45, 1.401298464324817e-45), 2);
});

test('+0 and -0 differ bitwise but are 0 ULP apart', () => {
  const d = diffFloat32(f32(0, 1), f32(-0, 1));
  assert.equal(d.bitwiseEqual, false);
  assert.equal(d.differing, 1);
  assert.equal(d.firstDifferingIndex, 0);
  assert.equal(d.maxUlp, 0);
  assert.equal(d.ulpHistogram[0], 1);
  assert.equal(d.maxAbs, 0);
});

test('NaN payloads count as differing and are kept out of the numeric fields', () => {
  const a = f32(1, 2);
  const b = f32(1, 2);
  new Int32Array(a.buffer)[0] = 0x7fc00000;
  new Int32Array(b.buffer)[0] = 0x7fc00001;
  const d = diffFloat32(a, b);
  assert.equal(d.differing, 1);
  assert.equal(d.nanPairs, 1);
  assert.equal(d.maxUlp, 0);
  // identical NaN bits are equal
  assert.equal(diffFloat32(a, Float32Array.from(a)).bitwiseEqual, true);
});

test('exact numbers on a tiny input', () => {
  const a = f32(1, 2, 4, 8);
  const b = f32(1, nextUp(2), 4, 8.5);
  const d = diffFloat32(a, b);
  assert.equal(d.differing, 2);
  assert.equal(d.firstDifferingIndex, 1);
  assert.equal(d.maxUlp, 0.5 / 2 ** -20); // ULP of 8 is 2^-20: 8.5 is 524288 ULPs above 8
  assert.equal(d.medianUlp, 1); // lower median of {1, 524288}
  assert.equal(d.maxAbs, 0.5);
  assert.equal(d.maxRel, 0.5 / 8.5);
  const diffSq = (nextUp(2) - 2) ** 2 + 0.25;
  assert.equal(d.relL2, Math.sqrt(diffSq) / Math.sqrt(1 + 4 + 16 + 64));
  assert.equal(d.ulpHistogram.length, ULP_BUCKETS);
  assert.equal(d.ulpHistogram[1], 1); // distance 1
  assert.equal(d.ulpHistogram[20], 1); // 2^19 lies in [2^19, 2^20)
});

test('median ULP is exact (compared with a full sort)', () => {
  const a = normalStream(tensorKey('diff', 1, 'a'), 2001);
  const b = Float32Array.from(a);
  const bits = new Int32Array(b.buffer);
  const expected: number[] = [];
  for (let i = 0; i < b.length; i += 2) {
    const step = (i * 7919) % 5000;
    bits[i] += b[i] >= 0 ? step : -step;
    if (step > 0) expected.push(step);
  }
  expected.sort((x, y) => x - y);
  const d = diffFloat32(a, b);
  assert.equal(d.differing, expected.length);
  assert.equal(d.medianUlp, expected[Math.floor((expected.length - 1) / 2)]);
  assert.equal(d.maxUlp, expected[expected.length - 1]);
});

test('artifacts of different lengths are refused', () => {
  assert.throws(() => diffFloat32(f32(1), f32(1, 2)), /differ in length/);
});

test('median ULP is exact for large distances too (counting and sorting second passes)', () => {
  for (const scale of [70_000, 3_000_000]) {
    const a = normalStream(tensorKey('diff', 2, 'a'), 999);
    const b = Float32Array.from(a);
    const bits = new Int32Array(b.buffer);
    const expected: number[] = [];
    for (let i = 0; i < b.length; i += 3) {
      const step = scale + ((i * 104729) % scale);
      // move towards zero so the sign never flips: the distance is exactly `step`
      const room = Math.abs(bits[i] & 0x7fffffff);
      const move = Math.min(step, room);
      bits[i] += b[i] >= 0 ? -move : move;
      if (move > 0) expected.push(move);
    }
    expected.sort((x, y) => x - y);
    const d = diffFloat32(a, b);
    assert.equal(d.medianUlp, expected[Math.floor((expected.length - 1) / 2)], `scale ${scale}`);
  }
});
