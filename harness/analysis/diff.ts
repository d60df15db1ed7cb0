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
  /** ‖a − b‖₂ / ‖a‖₂ with `a` the reference (0 when equal; Infinity is reported as null). */
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

/** Elements per block compared with memcmp first; only blocks that differ are walked element by element. */
const BLOCK = 4096;
/** Distances below this are counted exactly (the median then needs no second pass). */
const SMALL_ULPS = 2 ** 16;
/** Slots of the count table: one per small distance, then one per histogram bucket for the rest. */
const SLOTS = SMALL_ULPS + ULP_BUCKETS;

/**
 * One pass over the blocks that differ (memcmp skips the rest), without allocation or sorting:
 * every ULP distance lands in one count table, exact below SMALL_ULPS and by bucket above, from
 * which the histogram, the differing count, the maximum and usually the median follow. Each field
 * is exactly, bit for bit, its element-by-element definition (test/diff.test.ts holds that
 * definition and checks it on random inputs): ‖a − b‖² is summed in index order, maxRel is the
 * largest d / max(|x|, |y|) as computed (see LOOSE for how most divisions are skipped), and ‖a‖²
 * is summed in four interleaved lanes.
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
  const counts = new Uint32Array(SLOTS);
  const acc = new Float64Array(ACC_FIELDS);
  let first = -1, dense = false;
  for (let start = 0; start < n; start += BLOCK) {
    const end = start + BLOCK < n ? start + BLOCK : n;
    if (ra.compare(rb, start * 4, end * 4, start * 4, end * 4) === 0) continue;
    if (first < 0) for (first = start; ia[first] === ib[first]; ) first++;
    // the density of the last differing block decides whether this one skips equal groups of 8
    const before = acc[DIFFERING];
    diffBlock(ia, ib, reference, other, start, end, !dense, counts, acc);
    dense = acc[DIFFERING] - before > (end - start) / 8;
  }
  const nanPairs = acc[NAN_PAIRS], diffSq = acc[DIFF_SQ];
  const histogram = new Array<number>(ULP_BUCKETS).fill(0);
  let maxUlp = acc[MAX_ULP];
  for (let v = 0; v < SMALL_ULPS; v++) {
    histogram[32 - Math.clz32(v)] += counts[v];
    if (counts[v] > 0 && maxUlp < SMALL_ULPS) maxUlp = v;
  }
  for (let k = 0; k < ULP_BUCKETS; k++) histogram[k] += counts[SMALL_ULPS + k];
  const refNorm = diffSq === 0 ? 0 : Math.sqrt(sumOfSquares(reference));
  const relL2 = diffSq === 0 ? 0 : refNorm === 0 ? null : Math.sqrt(diffSq) / refNorm;
  return {
    elements: n, bitwiseEqual: false, differing: acc[DIFFERING], firstDifferingIndex: first, nanPairs, maxUlp,
    medianUlp: medianUlp(ia, ib, counts, acc[DIFFERING] - nanPairs),
    ulpHistogram: histogram, maxAbs: acc[MAX_ABS], maxRel: acc[MAX_REL], relL2: relL2 === null || Number.isFinite(relL2) ? relL2 : null,
  };
}

/**
 * With s = max(|x|, |y|), a quotient that rounds above maxRel means d/s > maxRel exactly, so
 * d > maxRel·|x| and d > maxRel·|y| exactly. Tested against maxRel·LOOSE, the two products stay
 * below d whatever they round to, so this cheap test never rejects a new maximum and the division
 * decides. (A non-zero maxRel is at least about 2^−24, the smallest relative gap between two
 * float32 values, and |x| ≥ 2^−149, so the products never reach float64's subnormal range, where
 * rounding errors stop being relative.)
 */
const LOOSE = 1 - 2 ** -40;

/** The running fields of a diff, kept between blocks in a Float64Array (see diffBlock). */
const DIFFERING = 0, NAN_PAIRS = 1, MAX_ULP = 2, MAX_ABS = 3, MAX_REL = 4, DIFF_SQ = 5, ACC_FIELDS = 6;

/**
 * Elements [start, end) of a block known to differ: counts every ULP distance and updates the
 * running fields in `acc`. With `sparse`, a group of 8 equal elements is skipped with one branch on
 * the OR of their XORs (worth it where few differ; where most do, that test would only cost).
 *
 * A function of its own, called per block, so that V8 optimises it as a whole function with its
 * accumulators unboxed in registers: the same loop inside diffFloat32 runs as on-stack-replaced
 * code that boxes every float accumulator into a fresh heap number on every iteration (seen with
 * node --print-opt-code). One function for both densities: called per differing group of 8 from a
 * separate sparse scan, it cost a call each (V8 does not inline a function this large). Its shape
 * is chosen for V8 too: the maximum distance is tracked only above SMALL_ULPS (below, it is the
 * highest non-zero count), the NaN test is one sign test on the bits, and the integer maths wraps
 * (`| 0`) so that it needs no overflow checks.
 */
function diffBlock(ia: Int32Array, ib: Int32Array, reference: Float32Array, other: Float32Array, start: number, end: number, sparse: boolean, counts: Uint32Array, acc: Float64Array): void {
  // `| 0`: int32 counters and loop bounds (an artifact has fewer than 2^31 elements), not float64 or tagged
  let differing = acc[DIFFERING] | 0, nanPairs = acc[NAN_PAIRS] | 0;
  let maxUlp = acc[MAX_ULP], maxAbs = acc[MAX_ABS], maxRel = acc[MAX_REL], diffSq = acc[DIFF_SQ];
  let loose = maxRel * LOOSE;
  const stop = end | 0;
  for (let i = start | 0; i < stop; i++) {
    if (sparse && (i & 7) === 0 && i + 8 <= stop &&
      ((ia[i] ^ ib[i]) | (ia[i + 1] ^ ib[i + 1]) | (ia[i + 2] ^ ib[i + 2]) | (ia[i + 3] ^ ib[i + 3]) |
        (ia[i + 4] ^ ib[i + 4]) | (ia[i + 5] ^ ib[i + 5]) | (ia[i + 6] ^ ib[i + 6]) | (ia[i + 7] ^ ib[i + 7])) === 0) {
      i += 7;
      continue;
    }
    const bitsA = ia[i], bitsB = ib[i];
    if (bitsA !== bitsB) {
      differing++;
      const magA = bitsA & 0x7fffffff, magB = bitsB & 0x7fffffff;
      // a magnitude above 0x7f800000 (+Inf) is a NaN: magnitude − 0x7f800001 is negative unless NaN
      if ((((magA - 0x7f800001) | 0) & ((magB - 0x7f800001) | 0)) < 0) {
        // the ordered position: the magnitude, negated when the sign bit is set (m ^ −1 − −1 = −m);
        // positions lie within ±0x7f800000, so their difference is exact
        const signA = bitsA >> 31, signB = bitsB >> 31;
        const ulp = Math.abs((((magA ^ signA) - signA) | 0) - (((magB ^ signB) - signB) | 0));
        if (ulp < SMALL_ULPS) counts[ulp]++;
        else {
          counts[SMALL_ULPS + 32 - Math.clz32(ulp)]++;
          if (ulp > maxUlp) maxUlp = ulp;
        }
        const x = reference[i], y = other[i];
        const d = Math.abs(x - y);
        diffSq += d * d;
        if (d > maxAbs) maxAbs = d;
        // the division only when d/max(|x|, |y|) may exceed maxRel (see LOOSE)
        const absX = Math.abs(x), absY = Math.abs(y);
        if (d > loose * absX && d > loose * absY) {
          const rel = d / (absX > absY ? absX : absY);
          if (rel > maxRel) {
            maxRel = rel;
            loose = rel * LOOSE;
          }
        }
      } else nanPairs++;
    }
  }
  acc[DIFFERING] = differing; acc[NAN_PAIRS] = nanPairs; acc[MAX_ULP] = maxUlp; acc[MAX_ABS] = maxAbs; acc[MAX_REL] = maxRel; acc[DIFF_SQ] = diffSq;
}

/** Σ x² in float64 with four accumulators (independent chains pipeline better than one). */
function sumOfSquares(a: Float32Array): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const end4 = a.length - (a.length % 4);
  for (let i = 0; i < end4; i += 4) {
    const x0 = a[i], x1 = a[i + 1], x2 = a[i + 2], x3 = a[i + 3];
    s0 += x0 * x0; s1 += x1 * x1; s2 += x2 * x2; s3 += x3 * x3;
  }
  for (let i = end4; i < a.length; i++) s0 += a[i] * a[i];
  return s0 + s1 + s2 + s3;
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
