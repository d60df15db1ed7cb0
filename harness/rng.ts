/**
 * Portable seeded inputs: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11), checked against the Random123 known-answer vectors in test/rng.test.ts.
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
 * `n` raw u32 words of the stream with this key: block i is Philox(counter = (i, 0, 0, 0), key).
 * The same rounds as `philox4x32`, inlined without allocation (it is tested against it).
 */
export function uint32Stream(key: Key, n: number): Uint32Array {
  const out = new Uint32Array(n);
  const blocks = Math.ceil(n / 4);
  const padded = blocks * 4 === n ? out : new Uint32Array(blocks * 4);
  for (let block = 0; block < blocks; block++) {
    let c0 = block >>> 0, c1 = 0, c2 = 0, c3 = 0;
    let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
    for (let r = 0; r < 10; r++) {
      if (r > 0) {
        k0 = (k0 + W0) >>> 0;
        k1 = (k1 + W1) >>> 0;
      }
      const hi0 = mulHi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
      const hi1 = mulHi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
      const n0 = (hi1 ^ c1 ^ k0) >>> 0, n2 = (hi0 ^ c3 ^ k1) >>> 0;
      c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    const o = block * 4;
    padded[o] = c0; padded[o + 1] = c1; padded[o + 2] = c2; padded[o + 3] = c3;
  }
  if (padded !== out) out.set(padded.subarray(0, n));
  return out;
}

/** Uniform float32 in [0, 1): the top 24 bits of each word times 2^-24 (exact in float32). */
export function uniformStream(key: Key, n: number): Float32Array {
  const words = uint32Stream(key, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (words[i] >>> 8) * 2 ** -24;
  return out;
}

/**
 * Standard normal float32 by Box–Muller on pairs of words. u1 is taken in (0, 1] so log never sees 0.
 * Math.log/cos/sin in V8 are fdlibm ports, so the same Node.js gives the same bits everywhere.
 */
export function normalStream(key: Key, n: number): Float32Array {
  const words = uint32Stream(key, n + (n % 2));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = ((words[i] >>> 8) + 1) * 2 ** -24;
    const u2 = (words[i + 1] >>> 8) * 2 ** -24;
    const radius = Math.sqrt(-2 * Math.log(u1));
    out[i] = radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = radius * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Integers in [0, range), optionally skewed towards 0 (u^skew) so that some values repeat often. */
export function indexStream(key: Key, n: number, range: number, skew = 1): Int32Array {
  const u = uniformStream(key, n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(range - 1, Math.floor(Math.pow(u[i], skew) * range));
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
