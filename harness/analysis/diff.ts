/**
 * Bitwise and numeric differences between two float32 artifacts. Pure functions, no I/O.
 *
 * Bitwise: two elements differ when their 32 bits differ, so +0/−0 and NaN payloads count.
 * ULP distance: the distance between the two values on the ordered integer line of float32
 * (Bruce Dawson, "Comparing Floating Point Numbers, 2012 Edition"): adjacent floats are 1 apart,
 * +0 and −0 are 0 apart. Pairs involving NaN are counted apart and excluded from ULP/abs/rel maths.
 * A float32 ULP distance between non-NaN values is at most 2 × 0x7f800000 < 2^32, so Math.clz32
 * sees it whole when bucketing.
 */

import * as kernelLayout from './diff-kernel.js';
import { diffKernel } from './diff-kernel.js';

// the kernel's memory layout, as constants of this module (read in the per-block loop)
const { A, ACC, B, BLOCK, COUNTS: COUNTS_AT, DIFF_SQ, DIFFERING, MAX_ABS, MAX_REL, MAX_ULP, NAN_PAIRS, REF_SQ, VOID } = kernelLayout;

/** Histogram buckets of ULP distance: bucket 0 holds 0 (e.g. ±0), bucket k ≥ 1 holds [2^(k−1), 2^k). */
export const ULP_BUCKETS = 33;

export interface DiffSummary {
  elements: number;
  bitwiseEqual: boolean;
  /** Elements whose bits differ. */
  differing: number;
  firstDifferingIndex: number | null;
  /** Differing pairs where one or both sides are NaN (excluded from the numeric fields). */
  nanPairs: number;
  maxUlp: number;
  /** Median ULP distance over the differing, non-NaN elements (0 when there are none). */
  medianUlp: number;
  /** counts per bucket (see ULP_BUCKETS); only the differing, non-NaN elements are counted. */
  ulpHistogram: number[];
  maxAbs: number;
  /** max |a − b| / max(|a|, |b|) over differing elements. */
  maxRel: number;
  /** ‖a − b‖₂ / ‖a‖₂ with `a` the reference (0 when equal; Infinity is reported as null); diffFloat32 says in which order the squares are summed. */
  relL2: number | null;
}

/** Position of a float32's bits on the ordered integer line (−0 and +0 both map to 0). */
export function orderedBits(bits: number): number {
  return bits < 0 ? -(bits & 0x7fffffff) : bits;
}

export function ulpDistance(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  return Math.abs(orderedBits(i[0]) - orderedBits(i[1]));
}

const view = (x: Float32Array) => new Int32Array(x.buffer, x.byteOffset, x.length);

/** Distances below this are counted exactly (the median then needs no second pass). */
const SMALL_ULPS = kernelLayout.SMALL_ULPS;
/** Slots of the count table: one per small distance, then one per histogram bucket for the rest. */
const SLOTS = SMALL_ULPS + ULP_BUCKETS;
/**
 * The count table summed over the kernel's four lanes, shared by every call and left zeroed by
 * each, like the kernel's own: a call clears only the slots it can have touched (up to its largest
 * small distance, and the buckets), so comparing small arrays costs neither allocating nor walking
 * megabytes.
 */
const COUNTS = new Uint32Array(SLOTS);

/**
 * One pass over the blocks, without allocation or sorting: each is copied into the WebAssembly
 * kernel's memory and walked there four elements at a time (diff-kernel.ts says why and how), all
 * of it where memcmp finds the block differs, only ‖a‖² where not. Every ULP distance lands in one count table, exact
 * below SMALL_ULPS and by bucket above, from which the histogram, the differing count, the maximum
 * and usually the median follow. Each field is exactly, bit for bit, its element-by-element
 * definition (test/unit/diff.test.ts holds that definition and checks it on random inputs). The two
 * sums, ‖a − b‖² and ‖a‖², are defined by an order chosen for speed: each in four interleaved
 * float64 lanes, element i into lane i mod 4 in index order, then lane 0 + 1 + 2 + 3 left to right.
 */
export function diffFloat32(reference: Float32Array, other: Float32Array): DiffSummary {
  if (reference.length !== other.length) throw new Error(`artifacts differ in length: ${reference.length} vs ${other.length} elements`);
  const n = reference.length;
  const ra = Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength);
  const rb = Buffer.from(other.buffer, other.byteOffset, other.byteLength);
  if (ra.equals(rb)) {
    return {
      elements: n, bitwiseEqual: true, differing: 0, firstDifferingIndex: null, nanPairs: 0,
      maxUlp: 0, medianUlp: 0, ulpHistogram: new Array(ULP_BUCKETS).fill(0), maxAbs: 0, maxRel: 0, relL2: 0,
    };
  }

  const ia = view(reference), ib = view(other);
  const kernel = diffKernel();
  const { i32, u32, f64 } = kernel;
  const counts = COUNTS;
  // slots that may be non-zero: every small one until the pass below finds the largest counted
  let touched = SMALL_ULPS;
  u32.fill(0, ACC / 4, COUNTS_AT / 4);
  try {
    let first = -1;
    for (let start = 0; start < n; start += BLOCK) {
      const end = start + BLOCK < n ? start + BLOCK : n;
      const bytes = (end - start) * 4, padded = (bytes + 31) & ~31;
      // (a view of the whole array where it is one block: small artifacts are diffed by the thousand)
      i32.set(n <= BLOCK ? ia : ia.subarray(start, end), A / 4);
      // the last block, padded with equal elements (zeros, which add +0 to every sum) to whole pairs of vectors
      if (padded > bytes) u32.fill(0, (A + bytes) / 4, (A + padded) / 4).fill(0, (B + bytes) / 4, (B + padded) / 4);
      // (a single block differs: ra.equals said so)
      if (n > BLOCK && ra.compare(rb, start * 4, end * 4, start * 4, end * 4) === 0) {
        kernel.squares(padded); // only ‖a‖² needs an equal block
        continue;
      }
      if (first < 0) for (first = start; ia[first] === ib[first]; ) first++;
      i32.set(n <= BLOCK ? ib : ib.subarray(start, end), B / 4);
      kernel.diff(padded);
    }
    const differing = u32[(ACC + DIFFERING) / 4], nanPairs = u32[(ACC + NAN_PAIRS) / 4];
    const diffSq = laneSum(f64, (ACC + DIFF_SQ) / 8), refSq = laneSum(f64, (ACC + REF_SQ) / 8);
    const maxAbs = laneMax(f64, (ACC + MAX_ABS) / 8), maxRel = laneMax(f64, (ACC + MAX_REL) / 8);
    let maxUlp = u32[(ACC + MAX_ULP) / 4];
    // the kernel's counts, summed over its lanes: slot s of lane k is at COUNTS_AT + 16s + 4k
    const histogram = new Array<number>(ULP_BUCKETS).fill(0);
    let uncounted = differing - nanPairs, small = 0;
    // the buckets of distances of SMALL_ULPS or more, where the kernel's slot of bucket 0 (not a count) says there are some
    if (laneSum(u32, COUNTS_AT / 4 + 4 * SMALL_ULPS) > 0) for (let k = 32 - Math.clz32(SMALL_ULPS); k < ULP_BUCKETS; k++) {
      counts[SMALL_ULPS + k] = laneSum(u32, COUNTS_AT / 4 + 4 * (SMALL_ULPS + k));
      histogram[k] += counts[SMALL_ULPS + k];
      uncounted -= counts[SMALL_ULPS + k];
    }
    // the small distances, up to the largest one counted
    for (; uncounted > 0 && small < SMALL_ULPS; small++) {
      counts[small] = laneSum(u32, COUNTS_AT / 4 + 4 * small);
      histogram[32 - Math.clz32(small)] += counts[small];
      if (counts[small] > 0 && maxUlp < SMALL_ULPS) maxUlp = small;
      uncounted -= counts[small];
    }
    touched = small;
    const refNorm = Math.sqrt(refSq);
    const relL2 = diffSq === 0 ? 0 : refNorm === 0 ? null : Math.sqrt(diffSq) / refNorm;
    return {
      elements: n, bitwiseEqual: false, differing, firstDifferingIndex: first, nanPairs, maxUlp,
      medianUlp: medianUlp(ia, ib, counts, differing - nanPairs),
      ulpHistogram: histogram, maxAbs, maxRel, relL2: relL2 === null || Number.isFinite(relL2) ? relL2 : null,
    };
  } finally {
    counts.fill(0, 0, touched);
    counts.fill(0, SMALL_ULPS);
    u32.fill(0, COUNTS_AT / 4, COUNTS_AT / 4 + 4 * touched);
    u32.fill(0, COUNTS_AT / 4 + 4 * SMALL_ULPS, COUNTS_AT / 4 + 4 * SLOTS);
    u32.fill(0, COUNTS_AT / 4 + 4 * VOID, COUNTS_AT / 4 + 4 * (VOID + 1));
  }
}

/** Lanes 0 + 1 + 2 + 3, left to right, of a field of the kernel (its index in `array`). */
function laneSum(array: Uint32Array | Float64Array, at: number): number {
  return array[at] + array[at + 1] + array[at + 2] + array[at + 3];
}

function laneMax(array: Float64Array, at: number): number {
  return Math.max(array[at], array[at + 1], array[at + 2], array[at + 3]);
}

/** Bins per refining pass of the median search: a pass narrows the range 2^16-fold. */
const BINS = 2 ** 16;

/**
 * Exact median of the ULP distances of the `count` differing, non-NaN elements, without sorting
 * or collecting them. Distances below 2^16 were counted exactly in the first pass; otherwise the
 * bucket that holds the median is narrowed by passes that count its distances in 2^16 equal bins
 * and keep the bin that holds the median (radix selection): a bucket spans at most 2^31 values,
 * so two passes at most, with a fixed 256 KiB of counts. For an even count the lower median is
 * reported (a ULP distance is a whole number).
 */
function medianUlp(ia: Int32Array, ib: Int32Array, counts: Uint32Array, count: number): number {
  if (count === 0) return 0;
  const rank = Math.floor((count - 1) / 2);
  let seen = 0;
  for (let v = 0; v < SMALL_ULPS; v++) {
    seen += counts[v];
    if (seen > rank) return v;
  }
  let bucket = 17; // the first bucket above 2^16 − 1
  while (seen + counts[SMALL_ULPS + bucket] <= rank) seen += counts[SMALL_ULPS + bucket++];
  // the median lies in [low, low + width), and `wanted` distances of that range lie below it
  let low = 2 ** (bucket - 1), width = low, wanted = rank - seen;
  const bins = new Uint32Array(BINS);
  while (width > 1) {
    const binWidth = Math.max(1, width / BINS);
    bins.fill(0);
    countInRange(ia, ib, low, width, binWidth, bins);
    let bin = 0;
    while (wanted >= bins[bin]) wanted -= bins[bin++];
    low += bin * binWidth;
    width = binWidth;
  }
  return low;
}

/** Counts the distances in [low, low + width) of the differing, non-NaN elements into bins of `binWidth`. */
function countInRange(ia: Int32Array, ib: Int32Array, low: number, width: number, binWidth: number, bins: Uint32Array): void {
  for (let i = 0; i < ia.length; i++) {
    const bitsA = ia[i], bitsB = ib[i];
    if (bitsA === bitsB) continue;
    const magA = bitsA & 0x7fffffff, magB = bitsB & 0x7fffffff;
    if (magA > 0x7f800000 || magB > 0x7f800000) continue;
    const signA = bitsA >> 31, signB = bitsB >> 31;
    const offset = Math.abs(((magA ^ signA) - signA) - ((magB ^ signB) - signB)) - low;
    if (offset >= 0 && offset < width) bins[Math.floor(offset / binWidth)]++;
  }
}
