import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { errorFunction as erf } from 'simple-statistics';
import { indexStream, normalStream, philox4x32, portableLog, tensorKey, uint32Stream, uniformStream, type Counter, type Key } from '../../harness/rng.ts';
import { workloadInputs } from '../../workloads/inputs.ts';
import { resolveWorkload, WORKLOADS } from '../../workloads/index.ts';

// Random123 kat_vectors, the three "philox4x32 10" lines: counter, key → output.
const KAT: Array<[Counter, Key, Counter]> = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

test('Philox4x32-10 matches the Random123 known-answer vectors', () => {
  for (const [counter, key, expected] of KAT) assert.deepEqual(philox4x32(counter, key), expected);
});

test('a tensor depends on workload, seed and name only, and is identical every time', () => {
  const a = normalStream(tensorKey('mlp-train', 0, 'l0.w'), 1000);
  const b = normalStream(tensorKey('mlp-train', 0, 'l0.w'), 1000);
  assert.deepEqual(Buffer.from(a.buffer), Buffer.from(b.buffer));
  assert.notDeepEqual(Buffer.from(a.buffer), Buffer.from(normalStream(tensorKey('mlp-train', 1, 'l0.w'), 1000).buffer));
  assert.notDeepEqual(Buffer.from(a.buffer), Buffer.from(normalStream(tensorKey('mlp-train', 0, 'l1.w'), 1000).buffer));
  assert.notDeepEqual(Buffer.from(a.buffer), Buffer.from(normalStream(tensorKey('conv-train', 0, 'l0.w'), 1000).buffer));
});

test('a shorter stream is a prefix of a longer one (streams are counter-based)', () => {
  const key = tensorKey('w', 3, 'x');
  assert.deepEqual(uniformStream(key, 5), uniformStream(key, 9).subarray(0, 5));
  for (const n of [1, 2, 3, 5, 6, 7]) assert.deepEqual(normalStream(key, n), normalStream(key, 1001).subarray(0, n));
});

test('uniform floats lie in [0, 1) and normal floats have the right moments (fixed sample, exact bits)', () => {
  const u = uniformStream(tensorKey('w', 0, 'u'), 100_000);
  assert.ok(u.every((x) => x >= 0 && x < 1));
  const z = normalStream(tensorKey('w', 0, 'z'), 100_000);
  const n = z.length;
  const mean = z.reduce((s, x) => s + x, 0) / n;
  const central = (k: number) => z.reduce((s, x) => s + (x - mean) ** k, 0) / n;
  const variance = central(2);
  // A fixed, seeded sample: each bound is ≥ 4 standard errors wide (SE of the mean 1/√n, of the variance
  // √(2/n), of the skewness √(6/n), of the excess kurtosis √(24/n)) and holds for these exact bits.
  assert.ok(Math.abs(mean) < 0.013, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.018, `variance ${variance}`);
  assert.ok(Math.abs(central(3) / variance ** 1.5) < 0.031, `skewness ${central(3) / variance ** 1.5}`);
  assert.ok(Math.abs(central(4) / variance ** 2 - 3) < 0.062, `excess kurtosis ${central(4) / variance ** 2 - 3}`);
});

test('normal floats follow the normal CDF: Kolmogorov–Smirnov on 200,000 seeded samples, and both tails', () => {
  const z = normalStream(tensorKey('w', 0, 'ks'), 200_000).sort();
  const n = z.length;
  const cdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(z[i]);
    d = Math.max(d, Math.abs((i + 1) / n - f), Math.abs(f - i / n));
  }
  // Kolmogorov's asymptotic critical value at α = 0.001 is 1.949/√n (= 0.0044 here).
  assert.ok(d < 1.949 / Math.sqrt(n), `KS distance ${d}`);
  // Tails: P(|Z| > 3) = 0.0027 (540 expected, SD 23); P(|Z| > 4) = 6.3e-5 (13 expected).
  const beyond = (t: number) => z.filter((x) => Math.abs(x) > t).length;
  assert.ok(Math.abs(beyond(3) - 540) < 100, `beyond 3σ: ${beyond(3)}`);
  assert.ok(beyond(4) > 2 && beyond(4) < 30, `beyond 4σ: ${beyond(4)}`);
});

test('portableLog is within 2 float64 ulps of ln x over the whole range the normals use', () => {
  const check = (x: number) => {
    const got = portableLog(x), want = Math.log(x);
    // Math.log is the yardstick only: it is within 1 ulp of ln x, so 3 ulps of it bounds us at 2 + 1.
    assert.ok(Math.abs(got - want) <= 3 * Number.EPSILON * Math.max(Math.abs(want), 2 ** -52), `ln ${x}: ${got} vs ${want}`);
  };
  [1, 2, 0.5, Math.SQRT2, Math.SQRT1_2, 1 - 2 ** -53, 1 + 2 ** -52, 2 ** -64, 0.1, 1e-10, 0.75, 1.5].forEach(check);
  const u = uniformStream(tensorKey('w', 0, 'log'), 20_000);
  for (let i = 0; i < u.length; i++) check((u[i] + 2 ** -25) * 2 ** -(i % 64));
  assert.equal(portableLog(1), 0);
});

test('inputs use no Math function outside + − × ÷ √: every workload builds its inputs with log, exp, pow, sin, cos… disabled', (t) => {
  const banned = ['log', 'log1p', 'log2', 'log10', 'exp', 'expm1', 'pow', 'sin', 'cos', 'tan', 'sinh', 'cosh', 'tanh', 'asin', 'acos', 'atan', 'atan2', 'cbrt', 'hypot'] as const;
  const saved = banned.map((f) => [f, Math[f]] as const);
  t.after(() => saved.forEach(([f, fn]) => Object.assign(Math, { [f]: fn })));
  for (const f of banned) Object.assign(Math, { [f]: () => { throw new Error(`Math.${f} used while generating inputs`); } });
  for (const def of WORKLOADS) assert.ok(workloadInputs(resolveWorkload(def, 'quick'), 7).length > 0, def.id);
});

// Golden digests: the exact input bits of every distribution the workloads use. If one changes, every
// workload's inputs change and every saved baseline reports results-changed: do it on purpose only.
const sha256 = (x: ArrayBufferView) => createHash('sha256').update(Buffer.from(x.buffer, x.byteOffset, x.byteLength)).digest('hex');
test('golden sha256 digests pin the uniform, normal and index streams and a workload input', () => {
  assert.equal(sha256(uniformStream(tensorKey('golden', 0, 'uniform'), 4099)), '77c96f59abc15bb42237747e007c6d14affc2f6c90e881dec38900a40ec55bd3');
  assert.equal(sha256(normalStream(tensorKey('golden', 0, 'normal'), 4099)), 'c48c5f2685df0cc24e808299c7419b75ea2a841bb05a393ef65c6be0c321c86d');
  assert.equal(sha256(indexStream(tensorKey('golden', 0, 'index'), 4099, 1000, 3)), 'd2fc481c708dbe3af9d23504cde2d827f0f1d661992a1e67a4091d97f7180d95');
  const [x] = workloadInputs(resolveWorkload(WORKLOADS.find((w) => w.id === 'reduce-sum')!, 'quick'), 0);
  assert.equal(sha256(x.data), '9030b7b396ffb1e856f5e2407e690d851931f73eab307b8d20fb39f4f9492f8e');
});

test('indices stay in range and the skew repeats low ids', () => {
  const idx = indexStream(tensorKey('w', 0, 'i'), 10_000, 64, 3);
  assert.ok(idx.every((i) => i >= 0 && i < 64));
  const low = idx.filter((i) => i < 8).length;
  assert.ok(low > 4000, `expected most indices below 8 with skew 3, got ${low}`);
  // u³ by multiplication: index i ⇔ u in [(i/64)^(1/3), ((i+1)/64)^(1/3)), so P(i < 8) = (1/8)^(1/3) = 0.5
  assert.ok(Math.abs(low / idx.length - 0.5) < 0.02, `share below 8: ${low / idx.length}`);
  assert.throws(() => indexStream(tensorKey('w', 0, 'i'), 10, 64, 1.5), /whole number/);
});

test('the inlined stream generator equals block-by-block Philox', () => {
  const key = tensorKey('w', 0, 'stream');
  const stream = uint32Stream(key, 4 * 50 + 3);
  for (let block = 0; block < 51; block++) {
    const words = philox4x32([block, 0, 0, 0], key);
    for (let j = 0; j < 4 && block * 4 + j < stream.length; j++) assert.equal(stream[block * 4 + j], words[j]);
  }
});
