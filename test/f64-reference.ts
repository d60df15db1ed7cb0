/**
 * An independent float64 reference of every ONNX primitive's forward pass, written as plain loops
 * straight from each primitive's definition (none of onnx-rules.ts's reformulations), for the
 * gradient-rule tests: central finite differences of these in float64 are the gradients the ONNX
 * rules must reproduce in float32.
 */

export type F64 = Float64Array;
export interface T64 {
  data: F64;
  shape: number[];
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const stridesOf = (shape: readonly number[]) => shape.map((_, i) => size(shape.slice(i + 1)));

function broadcastShape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => Math.max(a[a.length - r + i] ?? 1, b[b.length - r + i] ?? 1));
}

/** The flat index into `shape` of the broadcast position `idx` (of rank ≥ shape's). */
function broadcastIndex(idx: number[], shape: number[]): number {
  const lead = idx.length - shape.length;
  const st = stridesOf(shape);
  return shape.reduce((s, d, i) => s + (d === 1 ? 0 : idx[i + lead]) * st[i], 0);
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

export function elementwise(a: T64, b: T64, f: (x: number, y: number) => number): T64 {
  const shape = broadcastShape(a.shape, b.shape);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    out[i] = f(a.data[broadcastIndex(idx, a.shape)], b.data[broadcastIndex(idx, b.shape)]);
  }
  return { data: out, shape };
}

export const map = (a: T64, f: (x: number) => number): T64 => ({ data: a.data.map(f), shape: a.shape });

/** Matrix product over the last two axes; leading axes broadcast. */
export function matmul(a: T64, b: T64): T64 {
  const [m, k] = a.shape.slice(-2), n = b.shape.at(-1)!;
  const lead = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...lead, m, n];
  const out = new Float64Array(size(shape));
  for (let bi = 0; bi < size(lead); bi++) {
    const li = unravel(bi, lead);
    const aOff = broadcastIndex([...li, 0, 0], a.shape), bOff = broadcastIndex([...li, 0, 0], b.shape);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a.data[aOff + i * k + t] * b.data[bOff + t * n + j];
        out[bi * m * n + i * n + j] = s;
      }
    }
  }
  return { data: out, shape };
}

export function transpose(a: T64, perm: number[]): T64 {
  const shape = perm.map((p) => a.shape[p]);
  const st = stridesOf(a.shape);
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    out[i] = a.data[idx.reduce((s, v, j) => s + v * st[perm[j]], 0)];
  }
  return { data: out, shape };
}

/** NCHW input, OIHW weights, pads [top, left, bottom, right]: cross-correlation as ONNX defines Conv. */
export function conv2d(x: T64, w: T64, strides: number[], pads: number[]): T64 {
  const [n, c, h, wd] = x.shape, [o, , kh, kw] = w.shape;
  const ho = Math.floor((h + pads[0] + pads[2] - kh) / strides[0]) + 1;
  const wo = Math.floor((wd + pads[1] + pads[3] - kw) / strides[1]) + 1;
  const out = new Float64Array(n * o * ho * wo);
  for (let b = 0; b < n; b++)
    for (let f = 0; f < o; f++)
      for (let y = 0; y < ho; y++)
        for (let z = 0; z < wo; z++) {
          let s = 0;
          for (let ch = 0; ch < c; ch++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const r = y * strides[0] + i - pads[0], q = z * strides[1] + j - pads[1];
                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                s += x.data[((b * c + ch) * h + r) * wd + q] * w.data[((f * c + ch) * kh + i) * kw + j];
              }
          out[((b * o + f) * ho + y) * wo + z] = s;
        }
  return { data: out, shape: [n, o, ho, wo] };
}

/** Non-overlapping size × size windows (NCHW), rows and columns past the last whole window dropped. */
export function pool(x: T64, sz: number, op: 'max' | 'avg'): T64 {
  const [n, c, h, w] = x.shape;
  const ho = Math.floor(h / sz), wo = Math.floor(w / sz);
  const out = new Float64Array(n * c * ho * wo);
  for (let p = 0; p < n * c; p++)
    for (let y = 0; y < ho; y++)
      for (let z = 0; z < wo; z++) {
        let acc = op === 'max' ? -Infinity : 0;
        for (let i = 0; i < sz; i++)
          for (let j = 0; j < sz; j++) {
            const v = x.data[(p * h + y * sz + i) * w + z * sz + j];
            acc = op === 'max' ? Math.max(acc, v) : acc + v;
          }
        out[(p * ho + y) * wo + z] = op === 'max' ? acc : acc / (sz * sz);
      }
  return { data: out, shape: [n, c, ho, wo] };
}

/**
 * The max-pool gradient by its convention, for inputs with ties (where finite differences say
 * nothing): each window's output gradient goes to its first maximum in row-major order.
 */
export function maxPoolGradFirst(x: T64, sz: number, dy: T64): T64 {
  const [n, c, h, w] = x.shape;
  const ho = Math.floor(h / sz), wo = Math.floor(w / sz);
  const dx = new Float64Array(x.data.length);
  for (let p = 0; p < n * c; p++)
    for (let y = 0; y < ho; y++)
      for (let z = 0; z < wo; z++) {
        let best = -1, max = -Infinity;
        for (let i = 0; i < sz; i++)
          for (let j = 0; j < sz; j++) {
            const at = (p * h + y * sz + i) * w + z * sz + j;
            if (x.data[at] > max) (max = x.data[at]), (best = at);
          }
        dx[best] += dy.data[(p * ho + y) * wo + z];
      }
  return { data: dx, shape: x.shape };
}

export function gather(table: T64, ids: Int32Array, idShape: number[]): T64 {
  const dim = table.shape[1];
  const out = new Float64Array(ids.length * dim);
  ids.forEach((id, i) => out.set(table.data.subarray(id * dim, (id + 1) * dim), i * dim));
  return { data: out, shape: [...idShape, dim] };
}

export function reduce(x: T64, axes: number[], keepdims: boolean, op: 'sum' | 'mean'): T64 {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(size(kept));
  for (let i = 0; i < x.data.length; i++) out[broadcastIndex(unravel(i, x.shape), kept)] += x.data[i];
  const count = size(axes.map((a) => x.shape[a]));
  if (op === 'mean') for (let i = 0; i < out.length; i++) out[i] /= count;
  return { data: out, shape: keepdims ? kept : x.shape.filter((_, i) => !axes.includes(i)) };
}

/** Mean over the batch of −log softmax(logits)[label]. */
export function softmaxCrossEntropy(logits: T64, onehot: T64): T64 {
  const [b, c] = logits.shape;
  let loss = 0;
  for (let i = 0; i < b; i++) {
    const row = logits.data.subarray(i * c, (i + 1) * c);
    const max = Math.max(...row);
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
    for (let j = 0; j < c; j++) loss -= onehot.data[i * c + j] * (row[j] - lse);
  }
  return { data: Float64Array.of(loss / b), shape: [] };
}

export function attention(q: T64, k: T64, v: T64, scale: number, causal: boolean): T64 {
  const s = q.shape.at(-2)!;
  const scores = map(matmul(q, transpose(k, [...q.shape.slice(0, -2).map((_, i) => i), q.shape.length - 1, q.shape.length - 2])), (x) => x * scale);
  const rows = scores.data.length / s;
  for (let r = 0; r < rows; r++) {
    const i = r % s;
    const row = scores.data.subarray(r * s, (r + 1) * s);
    const max = Math.max(...row.filter((_, j) => !causal || j <= i));
    let sum = 0;
    for (let j = 0; j < s; j++) sum += row[j] = causal && j > i ? 0 : Math.exp(row[j] - max);
    for (let j = 0; j < s; j++) row[j] /= sum;
  }
  return matmul(scores, v);
}

export function indexAdd(src: T64, index: Int32Array, buckets: number): T64 {
  const out = new Float64Array(buckets);
  index.forEach((b, i) => (out[b] += src.data[i]));
  return { data: out, shape: [buckets] };
}

/**
 * d/dx_j of Σ r·f(x) for every element j of input `which` (or those in `elements`, the rest left 0),
 * by central differences in float64 (step h·max(1, |x_j|)); the other inputs are held fixed.
 */
export function finiteDifference(f: (inputs: T64[]) => T64, inputs: T64[], which: number, r: F64, h = 1e-6, elements?: number[]): F64 {
  const L = (xs: T64[]) => f(xs).data.reduce((s, v, i) => s + v * r[i], 0);
  const x = inputs[which];
  const grad = new Float64Array(x.data.length);
  for (const j of elements ?? x.data.keys()) {
    const step = h * Math.max(1, Math.abs(x.data[j]));
    const at = (delta: number) => {
      const data = Float64Array.from(x.data);
      data[j] += delta;
      return L(inputs.map((t, i) => (i === which ? { data, shape: x.shape } : t)));
    };
    grad[j] = (at(step) - at(-step)) / (2 * step);
  }
  return grad;
}

/** The tanh form of GELU (workloads/types.ts). */
export const gelu = (x: T64): T64 => map(x, (v) => 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v ** 3))));

/** (x − μ)/√(σ² + ε) over `axes`, μ and σ² (biased) per remaining index: [normalised, μ, σ²]. */
export function normalize(x: T64, axes: number[], epsilon: number): [T64, T64, T64] {
  const mean = reduce(x, axes, true, 'mean');
  const centred = elementwise(x, mean, (a, b) => a - b);
  const variance = reduce(map(centred, (v) => v * v), axes, true, 'mean');
  return [elementwise(centred, variance, (c, v) => c / Math.sqrt(v + epsilon)), mean, variance];
}

/** ------- whole models, as workloads/types.ts defines them (NHWC, layer paths as names) ------- */

type Spec = import('../workloads/types.ts').TrainSpec;
type LayerDef = import('../workloads/types.ts').Layer;

export interface ModelRun64 {
  /** [prediction units, classes]. */
  logits: T64;
  /** Training: each batch-norm statistic after the step's update, by name. */
  statistics: Map<string, T64>;
}

const reshape = (t: T64, shape: number[]): T64 => ({ data: t.data, shape });
const add = (a: T64, b: T64) => elementwise(a, b, (x, y) => x + y);
const mul = (a: T64, b: T64) => elementwise(a, b, (x, y) => x * y);

/**
 * The logits of a model in float64, training mode (batch statistics, dropout masks) or evaluation
 * mode (running statistics, no dropout). `x` is [batch, …input] (token ids as numbers).
 */
export function model64(spec: Spec, tensors: Map<string, T64>, x: T64, mode: 'train' | 'eval'): ModelRun64 {
  const get = (name: string) => tensors.get(name) ?? (() => { throw new Error(`no tensor ${name}`); })();
  const statistics = new Map<string, T64>();
  const act = (h: T64, fn: string) => (fn === 'relu' ? map(h, (v) => Math.max(v, 0)) : fn === 'gelu' ? gelu(h) : h);
  const walk = (layers: LayerDef[], prefix: string, h: T64): T64 => {
    layers.forEach((layer, i) => {
      const path = prefix === 'l' ? `l${i}` : `${prefix}.${i}`;
      const has = (n: string) => tensors.has(`${path}.${n}`);
      switch (layer.kind) {
        case 'dense':
          h = matmul(h, get(`${path}.w`));
          if (has('b')) h = add(h, get(`${path}.b`));
          h = act(h, layer.activation);
          break;
        case 'conv2d': {
          const k = layer.kernel, before = Math.floor((k - 1) / 2);
          const out = conv2d(transpose(h, [0, 3, 1, 2]), transpose(get(`${path}.w`), [3, 2, 0, 1]), [1, 1], [before, before, k - 1 - before, k - 1 - before]);
          h = transpose(out, [0, 2, 3, 1]);
          if (has('b')) h = add(h, get(`${path}.b`));
          h = act(h, layer.activation);
          break;
        }
        case 'pool':
          h = transpose(pool(transpose(h, [0, 3, 1, 2]), layer.size, layer.op), [0, 2, 3, 1]);
          break;
        case 'flatten':
          h = reshape(h, [h.shape[0], size(h.shape.slice(1))]);
          break;
        case 'embedding':
          h = gather(get(`${path}.table`), Int32Array.from(h.data), h.shape);
          break;
        case 'meanPool':
          h = reduce(h, [1], false, 'mean');
          break;
        case 'globalAvgPool':
          h = reduce(h, [1, 2], false, 'mean');
          break;
        case 'positionEmbedding':
          h = add(h, get(`${path}.table`));
          break;
        case 'layerNorm':
          h = add(mul(normalize(h, [h.shape.length - 1], 1e-5)[0], get(`${path}.gamma`)), get(`${path}.beta`));
          break;
        case 'batchNorm': {
          const axes = h.shape.slice(0, -1).map((_, j) => j);
          const c = h.shape.at(-1)!;
          let xhat: T64;
          if (mode === 'train') {
            const [normalised, mean, variance] = normalize(h, axes, 1e-5);
            xhat = normalised;
            const n = size(axes.map((a) => h.shape[a]));
            const update = (running: T64, batch: T64, scale: number) => ({ data: running.data.map((r, j) => 0.9 * r + 0.1 * batch.data[j] * scale), shape: running.shape });
            statistics.set(`${path}.runningMean`, update(get(`${path}.runningMean`), mean, 1));
            statistics.set(`${path}.runningVar`, update(get(`${path}.runningVar`), variance, n / (n - 1)));
          } else {
            const mean = reshape(get(`${path}.runningMean`), [c]), variance = get(`${path}.runningVar`);
            xhat = elementwise(elementwise(h, mean, (v, m) => v - m), variance, (v, s) => v / Math.sqrt(s + 1e-5));
          }
          h = add(mul(xhat, get(`${path}.gamma`)), get(`${path}.beta`));
          break;
        }
        case 'activation':
          h = act(h, layer.fn);
          break;
        case 'dropout':
          if (mode === 'train') h = mul(h, get(`dropout.${path}`));
          break;
        case 'selfAttention': {
          const [b, s, d] = h.shape, heads = layer.heads, dh = d / heads;
          const project = (m: string) => (has(`b${m}`) ? add(matmul(h, get(`${path}.w${m}`)), get(`${path}.b${m}`)) : matmul(h, get(`${path}.w${m}`)));
          const split = (t: T64) => transpose(reshape(t, [b, s, heads, dh]), [0, 2, 1, 3]);
          const o = attention(split(project('q')), split(project('k')), split(project('v')), 1 / Math.sqrt(dh), true);
          h = add(matmul(reshape(transpose(o, [0, 2, 1, 3]), [b, s, d]), get(`${path}.wo`)), get(`${path}.bo`));
          break;
        }
        case 'residual':
          h = add(h, walk(layer.layers, path, h));
          break;
      }
    });
    return h;
  };
  const h = walk(spec.layers, 'l', x);
  const logits = add(matmul(h, get('head.w')), get('head.b'));
  return { logits: reshape(logits, [size(logits.shape) / spec.classes, spec.classes]), statistics };
}
