import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { diffFloat32, ulpDistance, ULP_BUCKETS, type DiffSummary } from '../../harness/analysis/diff.ts';
import { normalStream, tensorKey } from '../../harness/rng.ts';

const f32 = (...xs: number[]) => new Float32Array(xs);
const nextUp = (x: number) => {
  const a = new Float32Array([x]);
  new Int32Array(a.buffer)[0] += x >= 0 ? 1 : -1;
  return a[0];
};

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

/**
 * The definition of every field, element by element, written for clarity rather than speed:
 * diffFloat32 must return exactly this, bit for bit. The choices made for speed that the
 * definition keeps are the orders of its two sums, ‖a − b‖² and ‖a‖²: each in four interleaved
 * lanes (element i into lane i mod 4, in index order), then lane 0 + 1 + 2 + 3.
 */
function referenceDiff(a: Float32Array, b: Float32Array): DiffSummary {
  const bitsA = new Int32Array(a.buffer, a.byteOffset, a.length);
  const bitsB = new Int32Array(b.buffer, b.byteOffset, b.length);
  const ordered = (bits: number) => (bits < 0 ? -(bits & 0x7fffffff) : bits);
  const ulps: number[] = [];
  const ulpHistogram = new Array<number>(ULP_BUCKETS).fill(0);
  let differing = 0, firstDifferingIndex: number | null = null, nanPairs = 0, maxAbs = 0, maxRel = 0;
  const diffSqLanes = [0, 0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    if (bitsA[i] === bitsB[i]) continue;
    differing++;
    firstDifferingIndex ??= i;
    const x = a[i], y = b[i];
    if (Number.isNaN(x) || Number.isNaN(y)) {
      nanPairs++;
      continue;
    }
    const ulp = Math.abs(ordered(bitsA[i]) - ordered(bitsB[i]));
    ulps.push(ulp);
    ulpHistogram[ulp === 0 ? 0 : ulp.toString(2).length]++;
    const d = Math.abs(x - y);
    diffSqLanes[i % 4] += d * d;
    maxAbs = Math.max(maxAbs, d);
    const scale = Math.max(Math.abs(x), Math.abs(y));
    if (scale > 0 && d / scale > maxRel) maxRel = d / scale; // Inf/Inf is NaN: never a maximum
  }
  ulps.sort((p, q) => p - q);
  const lanes = [0, 0, 0, 0];
  for (let i = 0; i < a.length; i++) lanes[i % 4] += a[i] * a[i];
  const refNorm = Math.sqrt(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
  const diffSq = diffSqLanes[0] + diffSqLanes[1] + diffSqLanes[2] + diffSqLanes[3];
  const relL2 = diffSq === 0 ? 0 : Math.sqrt(diffSq) / refNorm;
  return {
    elements: a.length,
    bitwiseEqual: differing === 0,
    differing,
    firstDifferingIndex,
    nanPairs,
    maxUlp: ulps.at(-1) ?? 0,
    medianUlp: ulps.length ? ulps[Math.floor((ulps.length - 1) / 2)] : 0,
    ulpHistogram,
    maxAbs,
    maxRel,
    relL2: Number.isFinite(relL2) ? relL2 : null,
  };
}

const bitsOf = (x: number) => new Int32Array(new Float32Array([x]).buffer)[0];
/** Bit patterns worth a place in every run: ±0, the smallest and largest subnormals and normals, ±Inf, NaNs with several payloads. */
const SPECIAL_BITS = [0, 0x80000000 | 0, 1, 0x80000001 | 0, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff | 0, 0x7f800000, 0xff800000 | 0, 0x7fc00000, 0x7f800001, 0xffffffff | 0, bitsOf(1), bitsOf(-1)];
const anyBits = fc.oneof(fc.constantFrom(...SPECIAL_BITS), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.float().map(bitsOf));
/** How the other side of a pair is made from the reference: equal, a few ULPs away, far away, sign flipped, or anything. */
const perturbation = fc.oneof(
  fc.constant((bits: number) => bits),
  fc.integer({ min: -3, max: 3 }).map((k) => (bits: number) => (bits + k) | 0),
  fc.integer({ min: -(2 ** 24), max: 2 ** 24 }).map((k) => (bits: number) => (bits + k) | 0),
  fc.constant((bits: number) => bits ^ 0x80000000),
  anyBits.map((other) => () => other),
);
const pairOfArrays = fc.array(fc.tuple(anyBits, perturbation), { maxLength: 200 }).map((elements) => {
  const a = new Int32Array(elements.map(([bits]) => bits));
  const b = new Int32Array(elements.map(([bits, perturb]) => perturb(bits)));
  return [new Float32Array(a.buffer), new Float32Array(b.buffer)] as const;
});

test('diffFloat32 equals the element-by-element definition on random inputs (NaN, ±Inf, subnormals, ±0)', () => {
  fc.assert(fc.property(pairOfArrays, ([a, b]) => assert.deepStrictEqual(diffFloat32(a, b), referenceDiff(a, b))), { numRuns: 2000 });
});

test('diffFloat32 equals the definition across blocks, sparse and dense (long arrays)', () => {
  // lengths past several 4096-element blocks, with runs of 1-ULP changes dense enough to switch
  // loops and single changes sparse enough to skip groups of 8
  const edits = fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3000 }), perturbation), { maxLength: 12 });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20_000 }), fc.nat(), edits, (n, seed, runs) => {
      const a = normalStream(tensorKey('diff-blocks', seed, 'a'), n);
      const b = Float32Array.from(a);
      const bits = new Int32Array(b.buffer);
      for (const [at, length, perturb] of runs) for (let i = at % n; i < Math.min(n, (at % n) + length); i++) bits[i] = perturb(bits[i]);
      assert.deepStrictEqual(diffFloat32(a, b), referenceDiff(a, b));
    }),
    { numRuns: 60 },
  );
});

test('diff(a, a) is empty for any array, NaNs and ±0 included (property)', () => {
  fc.assert(
    fc.property(fc.array(anyBits, { maxLength: 300 }), (bits) => {
      const a = new Float32Array(new Int32Array(bits).buffer);
      const d = diffFloat32(a, new Float32Array(new Int32Array(bits).buffer)); // the same bits, another buffer
      assert.equal(d.bitwiseEqual, true);
      assert.equal(d.differing, 0);
      assert.equal(d.firstDifferingIndex, null);
      assert.equal(d.maxUlp, 0);
      assert.equal(d.relL2, 0);
    }),
  );
});

test('adjacent floats are 1 ULP apart, ±0 are 0 apart but differ bitwise (property)', () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
      const a = new Float32Array([x]);
      if (!Number.isFinite(a[0]) || Math.abs(a[0]) === 3.4028234663852886e38) return; // no finite neighbour outwards
      const b = Float32Array.from(a);
      const bits = new Int32Array(b.buffer);
      bits[0] += 1; // one step away from zero, on either side of it
      assert.equal(ulpDistance(a[0], b[0]), 1);
      const d = diffFloat32(a, b);
      assert.equal(d.maxUlp, 1);
      assert.equal(d.ulpHistogram[1], 1);
    }),
  );
  assert.equal(ulpDistance(0, 1.401298464324817e-45), 1);
  assert.equal(ulpDistance(-1.401298464324817e-45, 1.401298464324817e-45), 2);
  fc.assert(
    fc.property(fc.nat({ max: 50 }), (zeros) => {
      const a = new Float32Array(zeros + 1).fill(0);
      const b = new Float32Array(zeros + 1).fill(-0);
      const d = diffFloat32(a, b);
      assert.equal(d.bitwiseEqual, false);
      assert.equal(d.differing, zeros + 1);
      assert.equal(d.maxUlp, 0);
      assert.equal(d.maxAbs, 0);
      assert.equal(d.relL2, 0);
      assert.equal(d.ulpHistogram[0], zeros + 1);
    }),
  );
});
