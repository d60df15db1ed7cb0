/**
 * The element-by-element part of diffFloat32 (diff.ts) as a WebAssembly SIMD function, four
 * elements at a time. The module is assembled here, at first use, from the listing in `body()`
 * below: there is no .wasm file to keep in step with a source, and no tool beyond Node.
 *
 * Why WebAssembly: the same work as tuned JavaScript cost about 10 ns per element where every
 * element differs (0.7 GB/s of input on the bench's 2-core Xeon; issue 8 asks for ≥ 2 GB/s), and
 * its two halves alone, the integer half (ULP distance, count table) and the float half (|a − b|,
 * its square, the two maxima), already cost ≥ 3 and ≥ 1.7 ns per element in V8.
 *
 * What one call does, for the `bytes` / 4 elements held at A and B (one block of diff.ts, padded
 * with equal elements to a multiple of 4), adding to the running fields held in memory at ACC:
 *   - per lane, the differing elements and the NaN pairs among them (i32x4 counts);
 *   - per differing, non-NaN element, one increment of the count slot of its ULP distance: slot d
 *     for d < SMALL_ULPS, slot SMALL_ULPS + k for the histogram bucket k of a larger one, which is
 *     also kept in the running maximum MAX_ULP. Each lane has its own copy of every slot (slot s
 *     of lane j is the u32 at COUNTS + 16s + 4j), so that four elements at the same distance, as
 *     in "every element 1 ULP apart", do not wait on each other's store of the same counter. Lanes
 *     with nothing to count (equal elements, NaN pairs) count into the spare slot VOID;
 *   - in float64, per lane, Σ d² (element i adds to lane i mod 4, in index order), max d and
 *     max d / max(|x|, |y|), with d = |x − y|. These need no mask from the integer half: for an
 *     equal element d is 0 (adds nothing, beats no maximum) or, for equal infinities, NaN; for a
 *     NaN pair d is NaN; a NaN square is replaced by 0, and f64x2.pmax (acc < v ? v : acc) never
 *     takes a NaN. A quotient that is NaN (0/0, ∞/∞) is, as in the definition, never a maximum.
 */

export const BLOCK = 4096;
export const SMALL_ULPS = 2 ** 16;
/** Count slots: SMALL_ULPS exact distances, 33 histogram buckets, then VOID. */
export const VOID = SMALL_ULPS + 33;

/** Byte offsets in the module's memory. */
export const A = 0, B = 4 * BLOCK, ACC = 8 * BLOCK, COUNTS = ACC + 256;
/** Offsets of the running fields from ACC: i32x4 DIFFERING and NAN_PAIRS; MAX_ULP a u32; the rest float64 lanes 0 to 3 (REF_SQ: Σ x² of the reference). */
export const DIFFERING = 0, NAN_PAIRS = 16, DIFF_SQ = 32, MAX_ABS = 64, MAX_REL = 96, MAX_ULP = 128, REF_SQ = 144;
const PAGES = Math.ceil((COUNTS + 16 * (VOID + 1)) / 65536);

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
  add: [0x6a], sub: [0x6b], or: [0x72], shl: [0x74], clz: [0x67], ltU: [0x49], gtU: [0x4b],
};
const v128 = {
  load: (offset: number): Code => [...simd(0x00), 4, ...uleb(offset)],
  store: (offset: number): Code => [...simd(0x0b), 4, ...uleb(offset)],
  const: (lanes: number[]): Code => [...simd(0x0c), ...new Uint8Array(new Int32Array(lanes).buffer)],
  and: simd(0x4e), andnot: simd(0x4f), or: simd(0x50), xor: simd(0x51), bitselect: simd(0x52), anyTrue: simd(0x53),
  /** i8x16.shuffle of a vector with itself that moves its upper 8 bytes into the lower half (for f64x2.promote_low_f32x4) */
  upperToLower: [...simd(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15],
};
const i32x4 = {
  splat: (n: number): Code => [...i32.const(n), ...simd(0x11)],
  extract: (lane: number): Code => [...simd(0x1b), lane],
  ne: simd(0x38), ltU: simd(0x3a), gtS: simd(0x3b), shl: simd(0xab), shrS: simd(0xac), sub: simd(0xb1), minS: simd(0xb6), maxS: simd(0xb8),
};
const f64x2 = {
  eq: simd(0x47), promoteLow: simd(0x5f), abs: simd(0xec), add: simd(0xf0), sub: simd(0xf1), mul: simd(0xf2), div: simd(0xf3), pmax: simd(0xf7),
};
const control = {
  loop: [0x03, VOID_BLOCK], if: [0x04, VOID_BLOCK], end: [0x0b], brIf: (depth: number): Code => [0x0d, ...uleb(depth)], select: [0x1b],
};

// locals: the parameter, then the i32 and v128 locals declared in body()
const BYTES = 0, P = 1, U = 2;
const I32_LOCALS = 2;
const V128_NAMES = ['bitsA', 'bitsB', 'ne', 'nan', 'valid', 'ordA', 'ordB', 'ulp', 'small', 'big', 'slots', 'x', 'y', 'd', 'sq',
  'xLow', 'xHigh', 'differing', 'nanPairs', 'sqLo', 'sqHi', 'absLo', 'absHi', 'relLo', 'relHi', 'refLo', 'refHi'] as const;
const [BITS_A, BITS_B, NE, NAN, VALID, ORD_A, ORD_B, ULP, SMALL, BIG, SLOTS, X, Y, D, SQ, X_LOW, X_HIGH, DIFFERING_ACC, NAN_ACC, SQ_LO, SQ_HI, ABS_LO, ABS_HI, REL_LO, REL_HI, REF_LO, REF_HI] =
  V128_NAMES.map((_, k) => 1 + I32_LOCALS + k);
const V128_LOCALS = V128_NAMES.length;
const MAX_ULP_LOCAL = 1 + I32_LOCALS + V128_LOCALS;

/** The ordered position of float32 bits (diff.ts orderedBits) per lane: the magnitude, negated when the sign bit is set. */
const ordered = (bits: number): Code => [
  ...get(bits), ...i32x4.splat(0x7fffffff), ...v128.and, // magnitude
  ...get(bits), ...i32.const(31), ...i32x4.shrS, ...v128.xor, // m ^ sign (sign: 0 or −1) …
  ...get(bits), ...i32.const(31), ...i32x4.shrS, ...i32x4.sub, // … − sign = −m when negative
];
/** 1 per lane where the bits are a NaN: a magnitude above +Inf's. */
const isNaN = (bits: number): Code => [...get(bits), ...i32x4.splat(0x7fffffff), ...v128.and, ...i32x4.splat(0x7f800000), ...i32x4.gtS];

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
const floatHalf = (lanes: 'low' | 'high', sq: number, abs: number, rel: number): Code => {
  return [
  ...get(lanes === 'low' ? X_LOW : X_HIGH), ...set(X),
  ...promote(BITS_B, lanes), ...set(Y),
  ...get(X), ...get(Y), ...f64x2.sub, ...f64x2.abs, ...set(D),
  // Σ d², a NaN square (NaN pair, equal infinities) replaced by +0
  ...get(D), ...get(D), ...f64x2.mul, ...set(SQ),
  ...get(sq), ...get(SQ), ...get(SQ), ...get(SQ), ...f64x2.eq, ...v128.and, ...f64x2.add, ...set(sq),
  ...get(abs), ...get(D), ...f64x2.pmax, ...set(abs),
  ...get(rel), ...get(D), ...get(X), ...f64x2.abs, ...get(Y), ...f64x2.abs, ...f64x2.pmax, ...f64x2.div, ...f64x2.pmax, ...set(rel),
  ];
};

/** Lane j's count slot at byte `address` (from COUNTS) plus one. */
const increment = (address: Code): Code => [...address, ...address, ...i32.load(COUNTS), ...i32.const(1), ...i32.add, ...i32.store(COUNTS)];

/** The running fields: locals during a call, in memory at ACC between calls. */
const ACCUMULATORS: Array<[number, number]> = [
  [DIFFERING_ACC, DIFFERING], [NAN_ACC, NAN_PAIRS], [SQ_LO, DIFF_SQ], [SQ_HI, DIFF_SQ + 16], [ABS_LO, MAX_ABS], [ABS_HI, MAX_ABS + 16],
  [REL_LO, MAX_REL], [REL_HI, MAX_REL + 16], [REF_LO, REF_SQ], [REF_HI, REF_SQ + 16],
];

/** A function over the vectors at [0, bytes): loads the running fields, runs `step` once per vector (at offset P), stores them back. */
const overVectors = (step: Code): Code => [
  ...ACCUMULATORS.flatMap(([local, offset]) => [...i32.const(0), ...v128.load(ACC + offset), ...set(local)]),
  ...i32.const(0), ...i32.load(ACC + MAX_ULP), ...set(MAX_ULP_LOCAL),
  ...control.loop,
  ...step,
  ...get(P), ...i32.const(16), ...i32.add, ...set(P),
  ...get(P), ...get(BYTES), ...i32.ltU, ...control.brIf(0),
  ...control.end,
  ...ACCUMULATORS.flatMap(([local, offset]) => [...i32.const(0), ...get(local), ...v128.store(ACC + offset)]),
  ...i32.const(0), ...get(MAX_ULP_LOCAL), ...i32.store(ACC + MAX_ULP),
  ...control.end,
];

/** squares(bytes): Σ x² of a block of the reference that equals the other side (only A is filled). */
const squares = (): Code => overVectors([...get(P), ...v128.load(A), ...set(BITS_A), ...referenceSquares]);

/** diff(bytes): everything, for a block that differs. */
function diff(): Code {
  return overVectors([
    ...get(P), ...v128.load(A), ...set(BITS_A),
    ...get(P), ...v128.load(B), ...set(BITS_B),
    ...referenceSquares,
    ...get(BITS_A), ...get(BITS_B), ...i32x4.ne, ...set(NE),
    ...get(NE), ...v128.anyTrue, ...control.if,
    // counts: differing −= ne (−1 per differing lane), NaN pairs likewise
    ...get(DIFFERING_ACC), ...get(NE), ...i32x4.sub, ...set(DIFFERING_ACC),
    ...isNaN(BITS_A), ...isNaN(BITS_B), ...v128.or, ...get(NE), ...v128.and, ...set(NAN),
    ...get(NAN_ACC), ...get(NAN), ...i32x4.sub, ...set(NAN_ACC),
    ...get(NE), ...get(NAN), ...v128.andnot, ...set(VALID),
    // ULP distance as u32: max − min of the ordered positions (their difference can pass 2^31)
    ...ordered(BITS_A), ...set(ORD_A), ...ordered(BITS_B), ...set(ORD_B),
    ...get(ORD_A), ...get(ORD_B), ...i32x4.maxS, ...get(ORD_A), ...get(ORD_B), ...i32x4.minS, ...i32x4.sub, ...set(ULP),
    ...get(ULP), ...i32x4.splat(SMALL_ULPS), ...i32x4.ltU, ...get(VALID), ...v128.and, ...set(SMALL),
    ...get(VALID), ...get(SMALL), ...v128.andnot, ...set(BIG),
    // the byte address of each lane's slot: 16 × (the distance, or VOID) + 4 × lane
    ...get(ULP), ...i32x4.splat(VOID), ...get(SMALL), ...v128.bitselect, ...i32.const(4), ...i32x4.shl, ...v128.const([0, 4, 8, 12]), ...v128.or, ...set(SLOTS),
    ...[0, 1, 2, 3].flatMap((lane) => increment([...get(SLOTS), ...i32x4.extract(lane)])),
    // distances of SMALL_ULPS or more (rare): their bucket's slot, and the running maximum
    ...get(BIG), ...v128.anyTrue, ...control.if,
    ...[0, 1, 2, 3].flatMap((lane) => [
      ...get(BIG), ...i32x4.extract(lane), ...control.if,
      ...get(ULP), ...i32x4.extract(lane), ...set(U),
      ...increment([...i32.const(SMALL_ULPS + 32), ...get(U), ...i32.clz, ...i32.sub, ...i32.const(4), ...i32.shl, ...i32.const(4 * lane), ...i32.or]),
      ...get(U), ...get(MAX_ULP_LOCAL), ...get(U), ...get(MAX_ULP_LOCAL), ...i32.gtU, ...control.select, ...set(MAX_ULP_LOCAL),
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
  const locals = [...uleb(3), ...uleb(I32_LOCALS), I32, ...uleb(V128_LOCALS), V128, ...uleb(1), I32];
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
  /** Adds the elements in the first `bytes` bytes at A and B (a multiple of 16) to the fields at ACC and the counts at COUNTS. */
  diff(bytes: number): void;
  /** Adds Σ x² of the first `bytes` bytes at A (a multiple of 16) to REF_SQ. */
  squares(bytes: number): void;
  /** The module's memory, and views of it (index = byte offset / 4 or / 8). */
  memory: Buffer;
  i32: Int32Array;
  u32: Uint32Array;
  f64: Float64Array;
}

let kernel: Kernel | undefined;

/** The kernel, compiled at first use (under a millisecond) and shared: its memory is zeroed by each diff that uses it. */
export function diffKernel(): Kernel {
  if (!kernel) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(kernelModule()));
    const memory = instance.exports.memory as WebAssembly.Memory;
    kernel = {
      diff: instance.exports.diff as (bytes: number) => void,
      squares: instance.exports.squares as (bytes: number) => void,
      memory: Buffer.from(memory.buffer),
      i32: new Int32Array(memory.buffer),
      u32: new Uint32Array(memory.buffer),
      f64: new Float64Array(memory.buffer),
    };
  }
  return kernel;
}
