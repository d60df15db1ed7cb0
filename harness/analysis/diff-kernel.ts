/**
 * The element-by-element part of diffFloat32 (diff.ts) as a WebAssembly SIMD function, four
 * elements at a time. The module is assembled here, at first use, from the listing in `diff()`
 * below: there is no .wasm file to keep in step with a source, and no tool beyond Node.
 *
 * Why WebAssembly: the same work as tuned JavaScript cost about 10 ns per element where every
 * element differs (0.7 GB/s of input on the bench's 2-core Xeon; issue 8 asks for ≥ 2 GB/s), and
 * its two halves alone, the integer half (ULP distance, count table) and the float half (|a − b|,
 * its square, the two maxima), already cost about 3 and 1.7 ns per element in V8. This function
 * costs about 2.1 ns per element there, 2.8 with diff.ts's copying into its memory (CPU time,
 * every element 1 ULP apart).
 *
 * What one call of diff(bytes) does, for the bytes / 4 elements held at A and B (one block of
 * diff.ts, padded with equal elements to a multiple of 8), adding to the running fields at ACC:
 *   - the differing elements and the NaN pairs among them (u32 counts);
 *   - per differing, non-NaN element, one increment of the count slot of its ULP distance: slot d
 *     for d < SMALL_ULPS, slot SMALL_ULPS + k for the histogram bucket k of a larger one, which is
 *     also kept in the running maximum MAX_ULP. Each lane has its own copy of every slot (slot s
 *     of lane j is the u32 at COUNTS + 16s + 4j), so that four elements at the same distance, as
 *     in "every element 1 ULP apart", do not wait on each other's store of the same counter. Lanes
 *     with nothing to count (equal elements, NaN pairs) count into the spare slot VOID, and larger
 *     distances first into slot SMALL_ULPS (bucket 0's, which no distance uses: 0 is small);
 *   - in float64, per lane, Σ d² (element i adds to lane i mod 4, in index order), max d and
 *     max d / max(|x|, |y|), with d = |x − y|. These need no mask from the integer half: for an
 *     equal element d is 0 (adds nothing, beats no maximum) or, for equal infinities, NaN; for a
 *     NaN pair d is NaN; a NaN square is replaced by 0, and f64x2.pmax (acc < v ? v : acc) never
 *     takes a NaN. A quotient that is NaN (0/0, ∞/∞) is, as in the definition, never a maximum;
 *   - Σ x² of the reference, per lane like Σ d². squares(bytes) does only this, for a block whose
 *     two sides are equal (only A is filled).
 * Its shape is chosen for V8's code (seen with node --print-wasm-code), each choice measured: counts
 * and tests go through i32x4.bitmask and scalar popcnt rather than vector accumulators and
 * any_true, a lane's slot address is read back from memory rather than extracted (fewer
 * instructions), and the loop does two vectors per turn (V8 checks the stack at every turn).
 */

export const BLOCK = 4096;
export const SMALL_ULPS = 2 ** 16;
/** Count slots: SMALL_ULPS exact distances, 33 histogram buckets, then unused ones up to VOID = 2^17 − 1 (an all-ones mask shifted right by 15). */
export const VOID = 2 ** 17 - 1;

/** Byte offsets in the module's memory. */
export const A = 0, B = 4 * BLOCK, ACC = 8 * BLOCK, COUNTS = ACC + 256;
/** Offsets of the running fields from ACC: u32 DIFFERING, NAN_PAIRS and MAX_ULP; float64 lanes 0 to 3 for the sums and maxima (REF_SQ: Σ x² of the reference); SCRATCH: 16 bytes for the kernel. */
export const DIFFERING = 0, NAN_PAIRS = 4, MAX_ULP = 8, DIFF_SQ = 16, MAX_ABS = 48, MAX_REL = 80, REF_SQ = 112;
const SCRATCH = 160;
const PAGES = Math.ceil((COUNTS + 16 * (VOID + 1)) / 65536);
const INF_BITS = 0x7f800000, MAGNITUDE = 0x7fffffff;

// ---- a minimal assembler: just the encodings this function uses (WebAssembly core spec §5, SIMD: proposals/simd/BinarySIMD.md)

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const simd = (code: number) => [0xfd, ...uleb(code)];
const I32 = 0x7f, V128 = 0x7b, VOID_BLOCK = 0x40;

type Code = number[];
const get = (local: number): Code => [0x20, ...uleb(local)];
const set = (local: number): Code => [0x21, ...uleb(local)];
const i32 = {
  const: (n: number): Code => [0x41, ...sleb(n | 0)],
  load: (offset: number): Code => [0x28, 2, ...uleb(offset)],
  store: (offset: number): Code => [0x36, 2, ...uleb(offset)],
  add: [0x6a], sub: [0x6b], and: [0x71], xor: [0x73], shl: [0x74], clz: [0x67], popcnt: [0x69], ne: [0x47], ltU: [0x49], gtU: [0x4b],
};
const v128 = {
  load: (offset: number): Code => [...simd(0x00), 4, ...uleb(offset)],
  store: (offset: number): Code => [...simd(0x0b), 4, ...uleb(offset)],
  and: simd(0x4e), or: simd(0x50), xor: simd(0x51),
  /** i8x16.shuffle of a vector with itself that moves its upper 8 bytes into the lower half (for f64x2.promote_low_f32x4) */
  upperToLower: [...simd(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15],
};
const i32x4 = {
  splat: (n: number): Code => [...i32.const(n), ...simd(0x11)],
  extract: (lane: number): Code => [...simd(0x1b), lane],
  eq: simd(0x37), gtS: simd(0x3b), bitmask: simd(0xa4), shl: simd(0xab), shrS: simd(0xac), shrU: simd(0xad), sub: simd(0xb1),
  minS: simd(0xb6), minU: simd(0xb7), maxS: simd(0xb8), maxU: simd(0xb9),
};
const f64x2 = {
  splat0: [0x44, 0, 0, 0, 0, 0, 0, 0, 0, ...simd(0x14)],
  promoteLow: simd(0x5f), abs: simd(0xec), add: simd(0xf0), sub: simd(0xf1), mul: simd(0xf2), div: simd(0xf3), pmax: simd(0xf7),
};
const control = {
  loop: [0x03, VOID_BLOCK], if: [0x04, VOID_BLOCK], end: [0x0b], brIf: (depth: number): Code => [0x0d, ...uleb(depth)], select: [0x1b],
};

// locals: the parameter, then i32 and v128 locals
const BYTES = 0;
const I32_NAMES = ['p', 'equal', 'big', 'u', 'address', 'differing', 'nanPairs', 'maxUlp'] as const;
const V128_NAMES = ['bitsA', 'bitsB', 'eq', 'magA', 'magB', 'maxMag', 'nan', 'ordA', 'ordB', 'ulp', 'slots', 'x', 'y', 'd',
  'xLow', 'xHigh', 'sqLo', 'sqHi', 'absLo', 'absHi', 'relLo', 'relHi', 'refLo', 'refHi'] as const;
const [P, EQUAL, BIG, U, ADDRESS, DIFFERING_ACC, NAN_ACC, MAX_ULP_ACC] = I32_NAMES.map((_, k) => 1 + k);
const [BITS_A, BITS_B, EQ, MAG_A, MAG_B, MAX_MAG, NAN, ORD_A, ORD_B, ULP, SLOTS, X, Y, D, X_LOW, X_HIGH, SQ_LO, SQ_HI, ABS_LO, ABS_HI, REL_LO, REL_HI, REF_LO, REF_HI] =
  V128_NAMES.map((_, k) => 1 + I32_NAMES.length + k);

/** The ordered position of float32 bits (diff.ts orderedBits) per lane: the magnitude, negated when the sign bit is set. */
const ordered = (bits: number, magnitude: number): Code => [
  ...get(magnitude), ...get(bits), ...i32.const(31), ...i32x4.shrS, ...v128.xor, // m ^ sign (sign: 0 or −1) …
  ...get(bits), ...i32.const(31), ...i32x4.shrS, ...i32x4.sub, // … − sign = −m when negative
];

/** Lanes 0 and 1, or 2 and 3, of float32 bits in float64. */
const promote = (bits: number, lanes: 'low' | 'high'): Code =>
  lanes === 'low' ? [...get(bits), ...f64x2.promoteLow] : [...get(bits), ...get(bits), ...v128.upperToLower, ...f64x2.promoteLow];

/** Σ x² of the reference, into lanes (0, 1) and (2, 3); X_LOW and X_HIGH keep x in float64 for floatHalf. */
const referenceSquares: Code = [
  ...promote(BITS_A, 'low'), ...set(X_LOW), ...promote(BITS_A, 'high'), ...set(X_HIGH),
  ...get(REF_LO), ...get(X_LOW), ...get(X_LOW), ...f64x2.mul, ...f64x2.add, ...set(REF_LO),
  ...get(REF_HI), ...get(X_HIGH), ...get(X_HIGH), ...f64x2.mul, ...f64x2.add, ...set(REF_HI),
];

/** The float half for lanes 0 and 1, or 2 and 3, in float64. */
const floatHalf = (lanes: 'low' | 'high', sq: number, abs: number, rel: number): Code => [
  ...get(lanes === 'low' ? X_LOW : X_HIGH), ...set(X),
  ...promote(BITS_B, lanes), ...set(Y),
  ...get(X), ...get(Y), ...f64x2.sub, ...f64x2.abs, ...set(D),
  // Σ d², a NaN square (NaN pair, equal infinities) replaced by +0: pmax(+0, NaN) is +0
  ...get(sq), ...f64x2.splat0, ...get(D), ...get(D), ...f64x2.mul, ...f64x2.pmax, ...f64x2.add, ...set(sq),
  ...get(abs), ...get(D), ...f64x2.pmax, ...set(abs),
  // max(|x|, |y|) is the larger magnitude's bits, which the integer half has (a NaN pair's is a NaN)
  ...get(rel), ...get(D), ...promote(MAX_MAG, lanes), ...f64x2.div, ...f64x2.pmax, ...set(rel),
];

/** Lane `lane`'s copy of the slot at byte `address` (16 × slot, from COUNTS) plus one. */
const increment = (address: Code, lane: number): Code => [
  ...address, ...set(ADDRESS), ...get(ADDRESS), ...get(ADDRESS), ...i32.load(COUNTS + 4 * lane), ...i32.const(1), ...i32.add, ...i32.store(COUNTS + 4 * lane),
];
/** `local` += the number of bits set in the i32 on the stack. */
const addPopcount = (local: number): Code => [...i32.popcnt, ...get(local), ...i32.add, ...set(local)];

/** The running fields: locals during a call, in memory at ACC between calls. */
const V128_ACCUMULATORS: Array<[number, number]> = [
  [SQ_LO, DIFF_SQ], [SQ_HI, DIFF_SQ + 16], [ABS_LO, MAX_ABS], [ABS_HI, MAX_ABS + 16],
  [REL_LO, MAX_REL], [REL_HI, MAX_REL + 16], [REF_LO, REF_SQ], [REF_HI, REF_SQ + 16],
];
const I32_ACCUMULATORS: Array<[number, number]> = [[DIFFERING_ACC, DIFFERING], [NAN_ACC, NAN_PAIRS], [MAX_ULP_ACC, MAX_ULP]];

/** A function over the vectors at [0, bytes): loads the running fields, runs `step` once per vector (at offset P), stores them back. */
const overVectors = (step: (offset: number) => Code): Code => [
  ...V128_ACCUMULATORS.flatMap(([local, offset]) => [...i32.const(0), ...v128.load(ACC + offset), ...set(local)]),
  ...I32_ACCUMULATORS.flatMap(([local, offset]) => [...i32.const(0), ...i32.load(ACC + offset), ...set(local)]),
  ...control.loop,
  ...step(0), ...step(16), // two vectors per turn of the loop: V8 checks the stack at every turn
  ...get(P), ...i32.const(32), ...i32.add, ...set(P),
  ...get(P), ...get(BYTES), ...i32.ltU, ...control.brIf(0),
  ...control.end,
  ...V128_ACCUMULATORS.flatMap(([local, offset]) => [...i32.const(0), ...get(local), ...v128.store(ACC + offset)]),
  ...I32_ACCUMULATORS.flatMap(([local, offset]) => [...i32.const(0), ...get(local), ...i32.store(ACC + offset)]),
  ...control.end,
];

/** squares(bytes): Σ x² of a block of the reference that equals the other side (only A is filled). */
const squares = (): Code => overVectors((offset) => [...get(P), ...v128.load(A + offset), ...set(BITS_A), ...referenceSquares]);

/** diff(bytes): everything, for a block that differs. */
function diff(): Code {
  return overVectors((offset) => [
    ...get(P), ...v128.load(A + offset), ...set(BITS_A),
    ...get(P), ...v128.load(B + offset), ...set(BITS_B),
    ...referenceSquares,
    ...get(BITS_A), ...get(BITS_B), ...i32x4.eq, ...set(EQ),
    // EQUAL: bit j set where lane j is equal; the rest only where some lane differs
    ...get(EQ), ...i32x4.bitmask, ...set(EQUAL),
    ...get(EQUAL), ...i32.const(15), ...i32.ne, ...control.if,
    ...get(EQUAL), ...i32.const(15), ...i32.xor, ...addPopcount(DIFFERING_ACC),
    ...get(BITS_A), ...i32x4.splat(MAGNITUDE), ...v128.and, ...set(MAG_A),
    ...get(BITS_B), ...i32x4.splat(MAGNITUDE), ...v128.and, ...set(MAG_B),
    // a NaN on either side: a magnitude above +Inf's
    ...get(MAG_A), ...get(MAG_B), ...i32x4.maxU, ...set(MAX_MAG),
    ...get(MAX_MAG), ...i32x4.splat(INF_BITS), ...i32x4.gtS, ...set(NAN),
    ...get(NAN), ...i32x4.bitmask, ...get(EQUAL), ...i32.const(15), ...i32.xor, ...i32.and, ...addPopcount(NAN_ACC),
    // ULP distance as u32: max − min of the ordered positions (their difference can pass 2^31)
    ...ordered(BITS_A, MAG_A), ...set(ORD_A), ...ordered(BITS_B, MAG_B), ...set(ORD_B),
    ...get(ORD_A), ...get(ORD_B), ...i32x4.maxS, ...get(ORD_A), ...get(ORD_B), ...i32x4.minS, ...i32x4.sub, ...set(ULP),
    // each lane's slot: VOID for equal lanes and NaN pairs, else the distance, SMALL_ULPS for any larger one
    ...get(ULP), ...i32x4.splat(SMALL_ULPS), ...i32x4.minU, ...get(EQ), ...get(NAN), ...v128.or, ...i32.const(15), ...i32x4.shrU, ...v128.or, ...set(SLOTS),
    ...i32.const(0), ...get(SLOTS), ...i32.const(4), ...i32x4.shl, ...v128.store(ACC + SCRATCH),
    ...[0, 1, 2, 3].flatMap((lane) => increment([...i32.const(0), ...i32.load(ACC + SCRATCH + 4 * lane)], lane)),
    // distances of SMALL_ULPS or more (rare): their bucket's slot, and the running maximum
    ...get(SLOTS), ...i32x4.splat(SMALL_ULPS), ...i32x4.eq, ...i32x4.bitmask, ...set(BIG), ...get(BIG), ...control.if,
    ...[0, 1, 2, 3].flatMap((lane) => [
      ...get(BIG), ...i32.const(1 << lane), ...i32.and, ...control.if,
      ...get(ULP), ...i32x4.extract(lane), ...set(U),
      ...increment([...i32.const(SMALL_ULPS + 32), ...get(U), ...i32.clz, ...i32.sub, ...i32.const(4), ...i32.shl], lane),
      ...get(U), ...get(MAX_ULP_ACC), ...get(U), ...get(MAX_ULP_ACC), ...i32.gtU, ...control.select, ...set(MAX_ULP_ACC),
      ...control.end,
    ]),
    ...control.end,
    ...floatHalf('low', SQ_LO, ABS_LO, REL_LO),
    ...floatHalf('high', SQ_HI, ABS_HI, REL_HI),
    ...control.end,
  ]);
}

const section = (id: number, content: Code): Code => [id, ...uleb(content.length), ...content];
const name = (text: string): Code => [...uleb(text.length), ...Buffer.from(text)];

/** The module: one memory and the functions diff(bytes: i32) and squares(bytes: i32), all exported. */
export function kernelModule(): Uint8Array<ArrayBuffer> {
  const locals = [...uleb(2), ...uleb(I32_NAMES.length), I32, ...uleb(V128_NAMES.length), V128];
  const functions = [diff(), squares()].map((code) => [...locals, ...code]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, I32, 0]), // type 0: (i32) -> ()
    ...section(3, [2, 0, 0]), // functions 0 and 1 have type 0
    ...section(5, [1, 0x00, ...uleb(PAGES)]), // one memory of PAGES pages, no maximum
    ...section(7, [3, ...name('memory'), 0x02, 0, ...name('diff'), 0x00, 0, ...name('squares'), 0x00, 1]),
    ...section(10, [2, ...functions.flatMap((fn) => [...uleb(fn.length), ...fn])]),
  ]);
}

export interface Kernel {
  /** Adds the elements in the first `bytes` bytes at A and B (a multiple of 32) to the fields at ACC and the counts at COUNTS. */
  diff(bytes: number): void;
  /** Adds Σ x² of the first `bytes` bytes at A (a multiple of 32) to REF_SQ. */
  squares(bytes: number): void;
  /** Views of the module's memory (index = byte offset / 4 or / 8). */
  i32: Int32Array;
  u32: Uint32Array;
  f64: Float64Array;
}

let kernel: Kernel | undefined;

/**
 * The kernel, assembled and compiled at first use (≈ 5 ms here, most of it assembling) and shared
 * by every diff in the thread: each diff zeroes the running fields first and leaves the counts
 * zeroed, as diff.ts does with its own table.
 */
export function diffKernel(): Kernel {
  if (!kernel) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(kernelModule()));
    const memory = instance.exports.memory as WebAssembly.Memory;
    kernel = {
      diff: instance.exports.diff as (bytes: number) => void,
      squares: instance.exports.squares as (bytes: number) => void,
      i32: new Int32Array(memory.buffer),
      u32: new Uint32Array(memory.buffer),
      f64: new Float64Array(memory.buffer),
    };
  }
  return kernel;
}
