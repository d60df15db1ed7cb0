/**
 * An ONNX graph builder with static shapes, serialised with onnx-proto. Every value carries its shape
 * and element type, so the gradient rules (onnx-rules.ts) can reduce broadcasts and size their
 * results without asking onnxruntime. Opset 17 (LayerNormalization's opset), float32 throughout;
 * every op used here is one that onnxruntime's CPU, WebGPU and CUDA providers implement (see
 * onnx-rules.ts for the choices made for the WebGPU provider).
 */
import { createRequire } from 'node:module';
import type OnnxProto from 'onnx-proto';
import { sizeOf } from '../../../workloads/types.js';

type Onnx = typeof OnnxProto.onnx;
/**
 * onnx-proto (protobufjs) on first use: the registry of backends, and so every command, imports
 * this module, but only a thread that builds a graph needs the ≈ 0.12 s of CPU it takes to load.
 */
let loaded: Onnx | null = null;
const onnxProto = (): Onnx => (loaded ??= (createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto).onnx);

export const OPSET = 17;

export const DTYPES = ['float32', 'int32', 'int64', 'bool'] as const;
export type DType = (typeof DTYPES)[number];

const elemType = (dtype: DType): number => {
  const { DataType } = onnxProto().TensorProto;
  return { float32: DataType.FLOAT, int32: DataType.INT32, int64: DataType.INT64, bool: DataType.BOOL }[dtype];
};

/** A serialised model, and its nodes one kind at a time (see GraphBuilder.nodeModels). */
export interface BuiltGraph {
  model: Uint8Array;
  nodeModels(): Array<{ opType: string; model: Uint8Array }>;
}

/** A tensor of the graph: its name, static shape and element type. */
export interface Value {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A float attribute (ONNX tells INT from FLOAT attributes; a JS number cannot). */
export interface FloatAttr {
  float: number;
}
export type Attr = number | number[] | string | FloatAttr;

// the rules and the model size tensors with the workloads' own count
export { sizeOf };

/** numpy broadcasting of two static shapes; throws on a mismatch (a bug in a rule, never user input). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    return x === 1 ? y : x;
  });
}

const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

function attribute(key: string, v: Attr) {
  const { AttributeProto } = onnxProto();
  const T = AttributeProto.AttributeType;
  if (typeof v === 'string') return AttributeProto.create({ name: key, type: T.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return AttributeProto.create({ name: key, type: T.INTS, ints: v });
  if (typeof v === 'object') return AttributeProto.create({ name: key, type: T.FLOAT, f: v.float });
  if (!Number.isInteger(v)) throw new Error(`attribute ${key}=${v}: write {float: ${v}} for a float attribute`);
  return AttributeProto.create({ name: key, type: T.INT, i: v });
}

function valueInfo(v: Value) {
  return onnxProto().ValueInfoProto.create({
    name: v.name,
    type: { tensorType: { elemType: elemType(v.dtype), shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
  });
}

export class GraphBuilder {
  private nodes: ReturnType<Onnx["NodeProto"]["create"]>[] = [];
  private initializers: ReturnType<Onnx["TensorProto"]["create"]>[] = [];
  private inputs: Value[] = [];
  private outputs: Value[] = [];
  private counter = 0;
  private cache = new Map<string, Value>();
  /** Every value by name (inputs, constants, node outputs): the types single-node models need. */
  private values = new Map<string, Value>();

  constructor(readonly graphName: string) {}

  input(name: string, shape: readonly number[], dtype: DType = 'float32'): Value {
    const v = { name, shape: [...shape], dtype };
    this.inputs.push(v);
    this.values.set(name, v);
    return v;
  }

  /** Names `from` as a graph output (through an Identity, so an input or a shared value can be one too). */
  output(name: string, from: Value): Value {
    const [v] = this.node('Identity', [from], {}, [{ shape: from.shape, dtype: from.dtype }], [name]);
    this.outputs.push(v);
    return v;
  }

  get inputNames(): string[] {
    return this.inputs.map((v) => v.name);
  }

  get outputNames(): string[] {
    return this.outputs.map((v) => v.name);
  }

  /** A constant tensor (an initializer), stored raw little-endian. */
  constant(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'float32'): Value {
    if (data.length !== sizeOf(shape)) throw new Error(`constant of shape [${shape}] given ${data.length} values`);
    const name = `c${this.counter++}`;
    const bytes = (a: Float32Array | Int32Array | BigInt64Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const raw =
      dtype === 'float32' ? bytes(data instanceof Float32Array ? data : Float32Array.from(data))
      : dtype === 'int32' ? bytes(data instanceof Int32Array ? data : Int32Array.from(data))
      : dtype === 'int64' ? bytes(BigInt64Array.from(Array.from(data, (x) => BigInt(x))))
      : Uint8Array.from(data, (x) => (x ? 1 : 0));
    this.initializers.push(onnxProto().TensorProto.create({ name, dims: [...shape], dataType: elemType(dtype), rawData: raw }));
    const v = { name, shape: [...shape], dtype };
    this.values.set(name, v);
    return v;
  }

  /** A constant made once per graph under `key` (e.g. a mask every attention layer shares). */
  shared(key: string, make: () => Value): Value {
    let v = this.cache.get(key);
    if (!v) this.cache.set(key, (v = make()));
    return v;
  }

  /** A float32 scalar constant, shared by every use of the same value. */
  scalar(value: number): Value {
    return this.shared(`scalar ${Object.is(value, -0) ? '-0' : value}`, () => this.constant([value], []));
  }

  /** A 1-D int64 constant (shapes, axes, pads, slice bounds), shared by every use of the same values. */
  ints(values: readonly number[]): Value {
    return this.shared(`ints ${values.join(',')}`, () => this.constant(values, [values.length], 'int64'));
  }

  /** One node; the caller states the shapes and types of its outputs. */
  node(opType: string, inputs: Array<Value | null>, attrs: Record<string, Attr>, outs: Array<{ shape: readonly number[]; dtype: DType }>, names?: string[]): Value[] {
    const outputs = outs.map((o, i) => ({ name: names?.[i] ?? `t${this.counter++}`, shape: [...o.shape], dtype: o.dtype }));
    for (const o of outputs) this.values.set(o.name, o);
    this.nodes.push(
      onnxProto().NodeProto.create({
        opType,
        input: inputs.map((v) => v?.name ?? ''),
        output: outputs.map((o) => o.name),
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outputs;
  }

  private op1(opType: string, inputs: Array<Value | null>, shape: readonly number[], dtype: DType, attrs: Record<string, Attr> = {}): Value {
    return this.node(opType, inputs, attrs, [{ shape, dtype }])[0];
  }

  // element-wise
  private binary(opType: string, a: Value, b: Value, dtype: DType = a.dtype): Value {
    return this.op1(opType, [a, b], broadcastShape(a.shape, b.shape), dtype);
  }
  add = (a: Value, b: Value) => this.binary('Add', a, b);
  sub = (a: Value, b: Value) => this.binary('Sub', a, b);
  mul = (a: Value, b: Value) => this.binary('Mul', a, b);
  div = (a: Value, b: Value) => this.binary('Div', a, b);
  min = (a: Value, b: Value) => this.binary('Min', a, b);
  greater = (a: Value, b: Value) => this.binary('Greater', a, b, 'bool');
  equal = (a: Value, b: Value) => this.binary('Equal', a, b, 'bool');
  private unary = (opType: string, a: Value, attrs: Record<string, Attr> = {}) => this.op1(opType, [a], a.shape, a.dtype, attrs);
  neg = (a: Value) => this.unary('Neg', a);
  exp = (a: Value) => this.unary('Exp', a);
  log = (a: Value) => this.unary('Log', a);
  sqrt = (a: Value) => this.unary('Sqrt', a);
  relu = (a: Value) => this.unary('Relu', a);
  tanh = (a: Value) => this.unary('Tanh', a);
  erf = (a: Value) => this.unary('Erf', a);
  cos = (a: Value) => this.unary('Cos', a);
  softmax = (a: Value, axis: number) => this.unary('Softmax', a, { axis });
  cast = (a: Value, dtype: DType) => this.op1('Cast', [a], a.shape, dtype, { to: elemType(dtype) });

  where(cond: Value, a: Value, b: Value): Value {
    return this.op1('Where', [cond, a, b], broadcastShape(cond.shape, broadcastShape(a.shape, b.shape)), a.dtype);
  }

  /** MatMul with numpy semantics for rank ≥ 2 (leading dimensions broadcast). */
  matmul(a: Value, b: Value): Value {
    const [m, k] = a.shape.slice(-2), [k2, n] = b.shape.slice(-2);
    if (k !== k2) throw new Error(`MatMul [${a.shape}]·[${b.shape}]`);
    const lead = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return this.op1('MatMul', [a, b], [...lead, m, n], a.dtype);
  }

  transpose(a: Value, perm: number[]): Value {
    return this.op1('Transpose', [a], perm.map((p) => a.shape[p]), a.dtype, { perm });
  }

  reshape(a: Value, shape: readonly number[]): Value {
    if (sizeOf(shape) !== sizeOf(a.shape)) throw new Error(`Reshape [${a.shape}] → [${shape}]`);
    if (shape.length === a.shape.length && shape.every((d, i) => d === a.shape[i])) return a;
    return this.op1('Reshape', [a, this.ints(shape)], shape, a.dtype);
  }

  expand(a: Value, shape: readonly number[]): Value {
    return this.op1('Expand', [a, this.ints(shape)], broadcastShape(a.shape, shape), a.dtype);
  }

  private reducedShape(a: Value, axes: number[], keepdims: boolean): number[] {
    const ax = axes.map((x) => normAxis(x, a.shape.length));
    return keepdims ? a.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : a.shape.filter((_, i) => !ax.includes(i));
  }
  /** Sum over `axes` (opset 13+: axes as an input). */
  reduceSum(a: Value, axes: number[], keepdims: boolean): Value {
    return this.op1('ReduceSum', [a, this.ints(axes)], this.reducedShape(a, axes, keepdims), a.dtype, { keepdims: keepdims ? 1 : 0 });
  }
  /** Mean over `axes` (opset 17: axes as an attribute). */
  reduceMean(a: Value, axes: number[], keepdims: boolean): Value {
    return this.op1('ReduceMean', [a], this.reducedShape(a, axes, keepdims), a.dtype, { axes, keepdims: keepdims ? 1 : 0 });
  }
  reduceMax(a: Value, axes: number[], keepdims: boolean): Value {
    return this.op1('ReduceMax', [a], this.reducedShape(a, axes, keepdims), a.dtype, { axes, keepdims: keepdims ? 1 : 0 });
  }
  /** Index of the first maximum along `axis` (select_last_index 0: ties go to the lowest index). */
  argMax(a: Value, axis: number, keepdims: boolean): Value {
    return this.op1('ArgMax', [a], this.reducedShape(a, [axis], keepdims), 'int64', { axis, keepdims: keepdims ? 1 : 0 });
  }

  gather(data: Value, indices: Value, axis = 0): Value {
    const ax = normAxis(axis, data.shape.length);
    return this.op1('Gather', [data, indices], [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)], data.dtype, { axis });
  }

  /** data with updates added at `indices` along `axis` (ScatterElements, reduction add: opset 16+). */
  scatterAdd(data: Value, indices: Value, updates: Value, axis: number): Value {
    return this.op1('ScatterElements', [data, indices, updates], data.shape, data.dtype, { axis, reduction: 'add' });
  }

  /** Zeros of a shape (Expand of a scalar: no initializer the size of the tensor). */
  zeros(shape: readonly number[]): Value {
    return this.expand(this.scalar(0), shape);
  }

  slice(a: Value, starts: number[], ends: number[], axes: number[]): Value {
    const shape = [...a.shape];
    axes.forEach((ax, i) => (shape[normAxis(ax, a.shape.length)] = ends[i] - starts[i]));
    return this.op1('Slice', [a, this.ints(starts), this.ints(ends), this.ints(axes)], shape, a.dtype);
  }

  /** Zero padding: `pads` is [begin of each axis…, end of each axis…] as in ONNX. */
  pad(a: Value, pads: number[]): Value {
    if (pads.every((p) => p === 0)) return a;
    const r = a.shape.length;
    return this.op1('Pad', [a, this.ints(pads)], a.shape.map((d, i) => d + pads[i] + pads[i + r]), a.dtype);
  }

  concat(values: Value[], axis: number): Value {
    const ax = normAxis(axis, values[0].shape.length);
    const shape = [...values[0].shape];
    shape[ax] = values.reduce((s, v) => s + v.shape[ax], 0);
    return this.op1('Concat', values, shape, values[0].dtype, { axis });
  }

  /** 2-D convolution, NCHW input and OIHW weights; pads are [top, left, bottom, right]. */
  conv(x: Value, w: Value, o: { strides: number[]; pads: number[]; dilations?: number[] }): Value {
    const dil = o.dilations ?? [1, 1];
    const out = [0, 1].map((i) => Math.floor((x.shape[2 + i] + o.pads[i] + o.pads[i + 2] - dil[i] * (w.shape[2 + i] - 1) - 1) / o.strides[i]) + 1);
    return this.op1('Conv', [x, w], [x.shape[0], w.shape[0], ...out], x.dtype, {
      kernel_shape: w.shape.slice(2),
      strides: o.strides,
      pads: o.pads,
      dilations: dil,
    });
  }

  /** The transpose of `conv` (its gradient with respect to the input): weights are [C_in of conv, C_out of conv, kH, kW]. */
  convTranspose(dy: Value, w: Value, o: { strides: number[]; pads: number[]; outputPadding: number[] }): Value {
    const out = [0, 1].map((i) => o.strides[i] * (dy.shape[2 + i] - 1) + o.outputPadding[i] + w.shape[2 + i] - o.pads[i] - o.pads[i + 2]);
    return this.op1('ConvTranspose', [dy, w], [dy.shape[0], w.shape[1], ...out], dy.dtype, {
      kernel_shape: w.shape.slice(2),
      strides: o.strides,
      pads: o.pads,
      output_padding: o.outputPadding,
    });
  }

  /** Max or average pooling over non-padded size × size windows with stride = size (NCHW). */
  pool(op: 'MaxPool' | 'AveragePool', x: Value, size: number): Value {
    const [n, c, h, w] = x.shape;
    return this.op1(op, [x], [n, c, Math.floor(h / size), Math.floor(w / size)], x.dtype, { kernel_shape: [size, size], strides: [size, size] });
  }

  build(): BuiltGraph {
    return { model: this.encode(), nodeModels: () => this.nodeModels() };
  }

  encode(): Uint8Array {
    const graph = onnxProto().GraphProto.create({
      name: this.graphName,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs.map(valueInfo),
      output: this.outputs.map(valueInfo),
    });
    const model = onnxProto().ModelProto.create({ irVersion: 8, producerName: 'detbench', opsetImport: [{ domain: '', version: OPSET }], graph });
    return onnxProto().ModelProto.encode(model).finish();
  }

  /**
   * One model per kind of node in the graph (op type and input types), each holding just that node:
   * placing them one by one names the ops an execution provider has no kernel for, which onnxruntime's
   * own message does not.
   */
  nodeModels(): Array<{ opType: string; model: Uint8Array }> {
    const seen = new Set<string>();
    const models: Array<{ opType: string; model: Uint8Array }> = [];
    const initializers = new Map(this.initializers.map((t) => [t.name!, t]));
    for (const node of this.nodes) {
      const ins = node.input!.filter((n) => n !== '');
      const key = `${node.opType} ${ins.map((n) => this.values.get(n)!.dtype).join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const graph = onnxProto().GraphProto.create({
        name: node.opType!,
        node: [node],
        initializer: [...new Set(ins.filter((n) => initializers.has(n)))].map((n) => initializers.get(n)!),
        input: [...new Set(ins.filter((n) => !initializers.has(n)))].map((n) => valueInfo(this.values.get(n)!)),
        output: node.output!.map((n) => valueInfo(this.values.get(n)!)),
      });
      const model = onnxProto().ModelProto.create({ irVersion: 8, producerName: 'detbench', opsetImport: [{ domain: '', version: OPSET }], graph });
      models.push({ opType: node.opType!, model: onnxProto().ModelProto.encode(model).finish() });
    }
    return models;
  }

  /** Node count by op type (tests and the bench look at graph size). */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes) counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
    return counts;
  }
}
