/**
 * Bitwise and numeric differences between two float32 artifacts. Pure functions, no I/O.
 *
 * Bitwise: two elements differ when their 32 bits differ, so +0/−0 and NaN payloads count.
 * ULP distance: the distance between the two values on the ordered integer line of float32
 * (Bruce Dawson, "Comparing Floating Point Numbers, 2012 Edition"): adjacent floats are 1 apart,
 * +0 and −0 are 0 apart. Pairs involving NaN are counted apart and excluded from ULP/abs/rel maths.
 * A float32 ULP distance is below 2^32, so Math.clz32 sees it whole when bucketing.
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
  const histogram = new Float64Array(ULP_BUCKETS);
  // Exact counts of small distances, so the median usually needs no second pass.
  const small = new Uint32Array(SMALL_ULPS);
  let differing = 0, first = -1, nanPairs = 0, maxUlp = 0, maxAbs = 0, maxRel = 0, diffSq = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    if (ra.compare(rb, start * 4, end * 4, start * 4, end * 4) === 0) continue;
    for (let i = start; i < end; i++) {
      // Skip 8 equal elements per branch when possible: branch-free XOR-OR over the group.
      if ((i & 7) === 0 && i + 8 <= end &&
        ((ia[i] ^ ib[i]) | (ia[i + 1] ^ ib[i + 1]) | (ia[i + 2] ^ ib[i + 2]) | (ia[i + 3] ^ ib[i + 3]) |
          (ia[i + 4] ^ ib[i + 4]) | (ia[i + 5] ^ ib[i + 5]) | (ia[i + 6] ^ ib[i + 6]) | (ia[i + 7] ^ ib[i + 7])) === 0) {
        i += 7;
        continue;
      }
      const bitsA = ia[i], bitsB = ib[i];
      if (bitsA === bitsB) continue;
      differing++;
      if (first < 0) first = i;
      const x = reference[i], y = other[i];
      if (x !== x || y !== y) {
        nanPairs++;
        continue;
      }
      const ulp = Math.abs(orderedBits(bitsA) - orderedBits(bitsB));
      histogram[ulp === 0 ? 0 : 32 - Math.clz32(ulp)]++;
      if (ulp < SMALL_ULPS) small[ulp]++;
      if (ulp > maxUlp) maxUlp = ulp;
      const d = Math.abs(x - y);
      diffSq += d * d;
      if (d > maxAbs) maxAbs = d;
      const scale = Math.max(Math.abs(x), Math.abs(y));
      if (scale > 0 && d > maxRel * scale) maxRel = d / scale;
    }
  }
  const refNorm = Math.sqrt(sumOfSquares(reference));
  const relL2 = diffSq === 0 ? 0 : refNorm === 0 ? null : Math.sqrt(diffSq) / refNorm;
  return {
    elements: n, bitwiseEqual: false, differing, firstDifferingIndex: first, nanPairs, maxUlp,
    medianUlp: medianUlp(ia, ib, reference, other, histogram, small),
    ulpHistogram: Array.from(histogram), maxAbs, maxRel, relL2: relL2 === null || Number.isFinite(relL2) ? relL2 : null,
  };
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

/** Distances below this are counted exactly in the first pass. */
const SMALL_ULPS = 2 ** 16;
/** Distinct ULP values a bucket may hold before the median is found by sorting rather than counting. */
const COUNTING_LIMIT = 2 ** 20;

/**
 * Exact median of the ULP distances of the differing, non-NaN elements, without sorting all of
 * them. Distances below 2^16 were counted exactly in the first pass; otherwise the histogram names
 * the bucket that holds the median and a second pass counts the exact values in that bucket (bucket
 * k holds 2^(k−1) possible values) or, for huge buckets, collects and sorts them. For an even count
 * the lower median is reported (a ULP distance is a whole number).
 */
function medianUlp(ia: Int32Array, ib: Int32Array, a: Float32Array, b: Float32Array, histogram: Float64Array, small: Uint32Array): number {
  const count = histogram.reduce((s, c) => s + c, 0);
  if (count === 0) return 0;
  const rank = Math.floor((count - 1) / 2);
  let seenSmall = 0;
  for (let v = 0; v < small.length; v++) {
    seenSmall += small[v];
    if (seenSmall > rank) return v;
  }
  let bucket = 0, below = 0;
  while (below + histogram[bucket] <= rank) below += histogram[bucket++];
  if (bucket <= 1) return bucket; // bucket 0 holds only 0, bucket 1 only 1
  const low = 2 ** (bucket - 1);
  const wanted = rank - below;
  const each = (visit: (ulp: number) => void) => {
    for (let i = 0; i < ia.length; i++) {
      if (ia[i] === ib[i] || a[i] !== a[i] || b[i] !== b[i]) continue;
      const ulp = Math.abs(orderedBits(ia[i]) - orderedBits(ib[i]));
      if (ulp >= low && ulp < 2 * low) visit(ulp);
    }
  };
  if (low <= COUNTING_LIMIT) {
    const counts = new Uint32Array(low);
    each((ulp) => counts[ulp - low]++);
    let seen = 0;
    for (let v = 0; v < low; v++) {
      seen += counts[v];
      if (seen > wanted) return low + v;
    }
  }
  const values = new Float64Array(histogram[bucket]);
  let k = 0;
  each((ulp) => (values[k++] = ulp));
  values.sort();
  return values[wanted];
}
