/**
 * Bitwise and numeric differences between two float32 artifacts. Pure functions, no I/O.
 *
 * Bitwise: two elements differ when their 32 bits differ, so +0/−0 and NaN payloads count.
 * ULP distance: the distance between the two values on the ordered integer line of float32
 * (Bruce Dawson, "Comparing Floating Point Numbers, 2012 Edition"): adjacent floats are 1 apart,
 * +0 and −0 are 0 apart. Pairs involving NaN are counted apart and excluded from ULP/abs/rel maths.
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

function bucketOf(ulp: number): number {
  // A float32 ULP distance is below 2^32, so clz32 sees it whole.
  return ulp === 0 ? 0 : 32 - Math.clz32(ulp);
}

const view = (x: Float32Array) => new Int32Array(x.buffer, x.byteOffset, x.length);

export function diffFloat32(reference: Float32Array, other: Float32Array): DiffSummary {
  if (reference.length !== other.length) throw new Error(`artifacts differ in length: ${reference.length} vs ${other.length} elements`);
  const n = reference.length;
  const empty: DiffSummary = {
    elements: n, bitwiseEqual: true, differing: 0, firstDifferingIndex: null, nanPairs: 0,
    maxUlp: 0, medianUlp: 0, ulpHistogram: new Array(ULP_BUCKETS).fill(0), maxAbs: 0, maxRel: 0, relL2: 0,
  };
  const ra = Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength);
  const rb = Buffer.from(other.buffer, other.byteOffset, other.byteLength);
  if (ra.equals(rb)) return empty; // memcmp: the common case costs one pass at memory speed

  const ia = view(reference), ib = view(other);
  const histogram = new Float64Array(ULP_BUCKETS);
  let differing = 0, first = -1, nanPairs = 0, maxUlp = 0, maxAbs = 0, maxRel = 0;
  let diffSq = 0, refSq = 0;
  for (let i = 0; i < n; i++) {
    const x = reference[i];
    refSq += x * x;
    if (ia[i] === ib[i]) continue;
    const y = other[i];
    differing++;
    if (first < 0) first = i;
    if (x !== x || y !== y) {
      nanPairs++;
      continue;
    }
    const ulp = Math.abs(orderedBits(ia[i]) - orderedBits(ib[i]));
    histogram[bucketOf(ulp)]++;
    if (ulp > maxUlp) maxUlp = ulp;
    const d = Math.abs(x - y);
    diffSq += d * d;
    if (d > maxAbs) maxAbs = d;
    const scale = Math.max(Math.abs(x), Math.abs(y));
    if (scale > 0 && d / scale > maxRel) maxRel = d / scale;
  }
  const refNorm = Math.sqrt(refSq);
  const relL2 = diffSq === 0 ? 0 : refNorm === 0 ? null : Math.sqrt(diffSq) / refNorm;
  return {
    elements: n, bitwiseEqual: false, differing, firstDifferingIndex: first, nanPairs, maxUlp,
    medianUlp: medianUlp(ia, ib, reference, other, histogram),
    ulpHistogram: Array.from(histogram), maxAbs, maxRel, relL2: relL2 === null || Number.isFinite(relL2) ? relL2 : null,
  };
}

/**
 * Exact median of the ULP distances of the differing, non-NaN elements, without sorting all of
 * them: the histogram names the bucket that holds the median; a second pass collects that bucket.
 * For an even count the lower median is reported (a ULP distance is a whole number).
 */
function medianUlp(ia: Int32Array, ib: Int32Array, a: Float32Array, b: Float32Array, histogram: Float64Array): number {
  const count = histogram.reduce((s, c) => s + c, 0);
  if (count === 0) return 0;
  const rank = Math.floor((count - 1) / 2);
  let bucket = 0, below = 0;
  while (below + histogram[bucket] <= rank) below += histogram[bucket++];
  if (bucket === 0) return 0;
  const inBucket = new Float64Array(histogram[bucket]);
  let k = 0;
  for (let i = 0; i < ia.length; i++) {
    if (ia[i] === ib[i] || a[i] !== a[i] || b[i] !== b[i]) continue;
    const ulp = Math.abs(orderedBits(ia[i]) - orderedBits(ib[i]));
    if (bucketOf(ulp) === bucket) inBucket[k++] = ulp;
  }
  inBucket.sort();
  return inBucket[rank - below];
}
