/**
 * Portable seeded inputs: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11), checked against the Random123 known-answer vectors in test/unit/rng.test.ts.
 *
 * Every tensor a workload needs is derived from (workload id, seed, tensor name) by the harness and
 * handed to backends as bytes, so every backend starts from the same bits. No backend RNG or
 * initializer is ever used.
 */
import { createHash } from 'node:crypto';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

export type Counter = [number, number, number, number];
export type Key = [number, number];

/** High 32 bits of the 64-bit product of two u32 values, exact in float64 arithmetic. */
function mulHi(a: number, b: number): number {
  const aH = a >>> 16, aL = a & 0xffff, bH = b >>> 16, bL = b & 0xffff;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (hh + Math.floor(lh / 0x10000) + Math.floor(hl / 0x10000) + Math.floor(mid / 0x10000)) >>> 0;
}

/** One Philox4x32 block with `rounds` rounds (10 is the standard choice). */
export function philox4x32(counter: Counter, key: Key, rounds = 10): Counter {
  let [c0, c1, c2, c3] = counter.map((x) => x >>> 0) as Counter;
  let [k0, k1] = key.map((x) => x >>> 0) as Key;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulHi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/** The Philox key of a named tensor: the first 8 bytes of sha256("workload\0seed\0name"). */
export function tensorKey(workloadId: string, seed: number, name: string): Key {
  const digest = createHash('sha256').update(`${workloadId}\0${seed}\0${name}`).digest();
  return [digest.readUInt32LE(0), digest.readUInt32LE(4)];
}

/**
 * Philox4x32-10 of counter (c0, c1, 0, 0) into out[o…o+3]: the same rounds as `philox4x32`, inlined
 * without allocation for the streams below (tested against it).
 */
function philoxBlockInto(out: Uint32Array, o: number, c0: number, c1: number, key: Key): void {
  let x0 = c0 >>> 0, x1 = c1 >>> 0, x2 = 0, x3 = 0;
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulHi(M0, x0), lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulHi(M1, x2), lo1 = Math.imul(M1, x2) >>> 0;
    const n0 = (hi1 ^ x1 ^ k0) >>> 0, n2 = (hi0 ^ x3 ^ k1) >>> 0;
    x0 = n0; x1 = lo1; x2 = n2; x3 = lo0;
  }
  out[o] = x0; out[o + 1] = x1; out[o + 2] = x2; out[o + 3] = x3;
}

/** `n` raw u32 words of the stream with this key: block i is Philox(counter = (i, 0, 0, 0), key). */
export function uint32Stream(key: Key, n: number): Uint32Array {
  const out = new Uint32Array(n);
  const blocks = Math.ceil(n / 4);
  const padded = blocks * 4 === n ? out : new Uint32Array(blocks * 4);
  for (let block = 0; block < blocks; block++) philoxBlockInto(padded, block * 4, block, 0, key);
  if (padded !== out) out.set(padded.subarray(0, n));
  return out;
}

/** Uniform float32 in [0, 1): the top 24 bits of each word times 2^-24 (exact in float32). */
export function uniformStream(key: Key, n: number): Float32Array {
  const words = uint32Stream(key, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (words[i] >>> 8) / 16777216; // ÷ 2^24: exact (no `**`, which is Math.pow)
  return out;
}

/**
 * Input bits must not depend on the Node.js version, so every distribution below is computed with
 * operations IEEE 754 rounds exactly (+ − × ÷ √), integer and bit operations, in a fixed order.
 * Math.log/exp/sin/cos/pow are not among them: ECMAScript leaves their results "implementation-
 * approximated", V8 changes its math library from time to time, and today's Math.log differs from
 * glibc's by 1 ulp on a few per cent of arguments. JavaScript never fuses a×b+c into one rounding, so
 * the expressions below give the same float64 bits on every engine and CPU.
 */

const LN2 = 0.6931471805599453; // ln 2 rounded to float64
/** 1/(2k+1), k = 0…10: each one IEEE division, so the same bits everywhere. */
const ATANH_SERIES = Array.from({ length: 11 }, (_, k) => 1 / (2 * k + 1));
const logScratch = new DataView(new ArrayBuffer(8));

/**
 * Natural logarithm of a positive, normal float64, portable: x = m·2^e with m in [√½, √2) read from
 * the bits, then ln m = 2·atanh(t) = 2t·Σ t^(2k)/(2k+1) with t = (m − 1)/(m + 1), |t| ≤ 0.1716
 * (Abramowitz & Stegun 4.1.27; the series is the one fdlibm's e_log.c fits a minimax polynomial to).
 * Eleven terms leave a truncation error below 2^-60 relative; the result is within a few float64
 * ulps of ln x (tested against Math.log), far below the float32 rounding that follows.
 */
export function portableLog(x: number): number {
  logScratch.setFloat64(0, x);
  const hi = logScratch.getUint32(0);
  let e = ((hi >>> 20) & 0x7ff) - 1023;
  logScratch.setUint32(0, (hi & 0x800fffff) | 0x3ff00000); // the same mantissa with exponent 0: m in [1, 2)
  let m = logScratch.getFloat64(0);
  if (m > Math.SQRT2) {
    m /= 2; // exact
    e += 1;
  }
  const t = (m - 1) / (m + 1); // m − 1 is exact (Sterbenz)
  const z = t * t;
  let p = ATANH_SERIES[ATANH_SERIES.length - 1];
  for (let k = ATANH_SERIES.length - 2; k >= 0; k--) p = p * z + ATANH_SERIES[k];
  return e * LN2 + 2 * t * p;
}

/** A u32 word as a float64 in (−1, 1), symmetric about 0 and never 0: (w − (2^32 − 1)/2)·2^-31, exact. */
const signedUnit = (w: number) => (w - 2147483647.5) / 2147483648;

/**
 * Standard normal float32 by Marsaglia's polar method (G. Marsaglia & T. A. Bray, "A convenient method
 * for generating normal variables", SIAM Review 6(3), 1964): (u, v) uniform in the square, rejected
 * unless 0 < s = u² + v² < 1, then u·√(−2 ln s / s) and v·√(−2 ln s / s) are independent N(0, 1).
 * It needs no sin or cos, only one logarithm, computed by `portableLog`.
 *
 * Counter-based, so each group of four outputs is a function of (key, group) alone and a shorter
 * stream is a prefix of a longer one: group g reads the words of Philox blocks (g, 0, 0, 0),
 * (g, 1, 0, 0), … two at a time as (u, v) attempts; its first accepted attempt gives outputs 4g and
 * 4g + 1, its second 4g + 2 and 4g + 3. Each attempt is accepted with probability π/4, so a group
 * needs 1.4 blocks on average.
 */
export function normalStream(key: Key, n: number): Float32Array {
  const out = new Float32Array(n);
  const words = new Uint32Array(4);
  for (let group = 0; group * 4 < n; group++) {
    let filled = 0;
    for (let attempt = 0; filled < 4; attempt++) {
      philoxBlockInto(words, 0, group, attempt, key);
      for (let j = 0; j < 4 && filled < 4; j += 2) {
        const u = signedUnit(words[j]), v = signedUnit(words[j + 1]);
        const s = u * u + v * v;
        if (s >= 1) continue; // s > 0 always: |u|, |v| ≥ 2^-32
        const factor = Math.sqrt((-2 * portableLog(s)) / s);
        const i = group * 4 + filled;
        if (i < n) out[i] = u * factor;
        if (i + 1 < n) out[i + 1] = v * factor;
        filled += 2;
      }
    }
  }
  return out;
}

/**
 * Integers in [0, range), optionally skewed towards 0 (u^skew, skew a whole number, by repeated
 * multiplication rather than Math.pow) so that some values repeat often.
 */
export function indexStream(key: Key, n: number, range: number, skew = 1): Int32Array {
  if (!Number.isInteger(skew) || skew < 1) throw new Error(`index skew must be a whole number ≥ 1, got ${skew}`);
  const u = uniformStream(key, n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let p = u[i];
    for (let k = 1; k < skew; k++) p *= u[i];
    out[i] = Math.min(range - 1, Math.floor(p * range));
  }
  return out;
}

/** A small seeded generator of float64 uniforms for the harness's own statistics (bootstrap). */
export function seededUniforms(seed: number, label: string): () => number {
  const key = tensorKey('detbench-stats', seed, label);
  let block = 0;
  let buffer: Counter = [0, 0, 0, 0];
  let used = 4;
  return () => {
    if (used === 4) {
      buffer = philox4x32([block++, 0, 0, 0], key);
      used = 0;
    }
    return buffer[used++] / 2 ** 32;
  };
}
