/**
 * ONNX graphs for the workload primitives, built in TypeScript and serialised with onnx-proto:
 * forward passes of the inference workloads, and one SGD step (or the gradients alone, for the
 * data-parallel driver) of dense/relu/softmax-xent models. Opset 17, float32 throughout.
 */
import onnxProto from 'onnx-proto';
import { paramShapes } from '../../../workloads/params.js';
import type { InferSpec, TrainSpec } from '../../../workloads/types.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const INT32 = onnx.TensorProto.DataType.INT32;

type Attr = number | number[] | string;

class GraphBuilder {
  private nodes: ReturnType<typeof onnx.NodeProto.create>[] = [];
  private initializers: ReturnType<typeof onnx.TensorProto.create>[] = [];
  private inputs: ReturnType<typeof onnx.ValueInfoProto.create>[] = [];
  private outputs: ReturnType<typeof onnx.ValueInfoProto.create>[] = [];
  private counter = 0;

  input(name: string, shape: number[], elemType: number = FLOAT): string {
    this.inputs.push(valueInfo(name, shape, elemType));
    return name;
  }
  output(name: string, from: string, shape: number[]): void {
    this.op('Identity', [from], {}, name);
    this.outputs.push(valueInfo(name, shape));
  }
  scalar(value: number): string {
    const name = `c${this.counter++}`;
    this.initializers.push(onnx.TensorProto.create({ name, dims: [], dataType: FLOAT, floatData: [value] }));
    return name;
  }
  zeros(length: number): string {
    const name = `c${this.counter++}`;
    this.initializers.push(onnx.TensorProto.create({ name, dims: [length], dataType: FLOAT, floatData: new Array<number>(length).fill(0) }));
    return name;
  }
  ints(values: number[]): string {
    const name = `c${this.counter++}`;
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, int64Data: values }));
    return name;
  }
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, name = `t${this.counter++}`): string {
    const attribute = Object.entries(attrs).map(([key, v]) =>
      typeof v === 'string'
        ? onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) })
        : Array.isArray(v)
        ? onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INTS, ints: v })
        : Number.isInteger(v)
          ? onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INT, i: v })
          : onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.FLOAT, f: v }),
    );
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [name], attribute }));
    return name;
  }
  encode(graphName: string): Uint8Array {
    const graph = onnx.GraphProto.create({
      name: graphName,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'detbench',
      opsetImport: [{ domain: '', version: 17 }],
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, shape: number[], elemType: number = FLOAT) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  });
}

export function inferGraph(spec: InferSpec): { model: Uint8Array; inputs: string[]; output: string } {
  const g = new GraphBuilder();
  switch (spec.op) {
    case 'attention': {
      const shape = [spec.heads, spec.seq, spec.dim];
      const [q, k, v] = ['q', 'k', 'v'].map((n) => g.input(n, shape));
      const kt = g.op('Transpose', [k], { perm: [0, 2, 1] });
      const scores = g.op('Mul', [g.op('MatMul', [q, kt]), g.scalar(1 / Math.sqrt(spec.dim))]);
      g.output('out', g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]), shape);
      return { model: g.encode('attention'), inputs: ['q', 'k', 'v'], output: 'out' };
    }
    case 'reduceSum': {
      const x = g.input('x', [spec.length]);
      g.output('out', g.op('ReduceSum', [x, g.ints([0])], { keepdims: 1 }), [1]);
      return { model: g.encode('reduce-sum'), inputs: ['x'], output: 'out' };
    }
    case 'matmul': {
      const a = g.input('a', [spec.m, spec.k]);
      const b = g.input('b', [spec.k, spec.n]);
      g.output('out', g.op('MatMul', [a, b]), [spec.m, spec.n]);
      return { model: g.encode('matmul'), inputs: ['a', 'b'], output: 'out' };
    }
    case 'indexAdd': {
      const src = g.input('src', [spec.length]);
      const index = g.input('index', [spec.length], INT32);
      g.output('out', g.op('ScatterElements', [g.zeros(spec.buckets), index, src], { axis: 0, reduction: 'add' }), [spec.buckets]);
      return { model: g.encode('index-add'), inputs: ['src', 'index'], output: 'out' };
    }
    case 'atomicSum':
      throw new Error('atomic-sum is a WGSL kernel: it has no ONNX graph');
  }
}

/** Whether the SGD-step graph generator covers this model (dense layers only, float inputs). */
export function trainGraphSupported(spec: TrainSpec): string | null {
  if (spec.input.dtype !== 'float32') return 'integer (embedding) inputs';
  const other = spec.layers.find((l) => l.kind !== 'dense');
  return other ? `${other.kind} layers` : null;
}

/**
 * One step of a dense/relu MLP with mean softmax cross-entropy, written out forward and backward:
 * dlogits = (softmax − onehot) / batch; dW = hᵀ·dz; db = Σ_batch dz; dh = dz·Wᵀ; relu' = [z > 0].
 * With `sgd`, the outputs are the updated parameters `<name>.next` (w − lr·dw); without, the
 * gradients `<name>.grad`. Both also output `loss`.
 */
export function trainStepGraph(spec: TrainSpec, batch: number, sgd: boolean): { model: Uint8Array; params: string[]; outputs: string[] } {
  const g = new GraphBuilder();
  const shapes = paramShapes(spec);
  const params = shapes.map(([name, shape]) => g.input(name, shape));
  const x = g.input('x', [batch, ...spec.input.shape]);
  const onehot = g.input('onehot', [batch, spec.classes]);

  const layerInputs: string[] = [];
  const preActivations: Array<string | null> = [];
  let h = x;
  const dense = [...spec.layers.map((l) => (l.kind === 'dense' ? l.activation : 'none')), 'none' as const];
  dense.forEach((activation, i) => {
    layerInputs.push(h);
    const z = g.op('Add', [g.op('MatMul', [h, params[2 * i]]), params[2 * i + 1]]);
    preActivations.push(activation === 'relu' ? z : null);
    h = activation === 'relu' ? g.op('Relu', [z]) : z;
  });
  // log-softmax written out (z − max − log Σ exp(z − max)): onnxruntime's WebGPU provider has no LogSoftmax
  const shifted = g.op('Sub', [h, g.op('ReduceMax', [h], { axes: [1], keepdims: 1 })]);
  const logSoftmax = g.op('Sub', [shifted, g.op('Log', [g.op('ReduceSum', [g.op('Exp', [shifted]), g.ints([1])], { keepdims: 1 })])]);
  const batchScale = g.scalar(1 / batch);
  const loss = g.op('Mul', [g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [onehot, logSoftmax])], { keepdims: 0 })]), batchScale]);

  let dz = g.op('Mul', [g.op('Sub', [g.op('Exp', [logSoftmax]), onehot]), batchScale]);
  const grads: string[] = new Array(params.length);
  for (let i = dense.length - 1; i >= 0; i--) {
    const z = preActivations[i];
    if (z) dz = g.op('Where', [g.op('Greater', [z, g.scalar(0)]), dz, g.scalar(0)]);
    grads[2 * i] = g.op('MatMul', [g.op('Transpose', [layerInputs[i]], { perm: [1, 0] }), dz]);
    grads[2 * i + 1] = g.op('ReduceSum', [dz, g.ints([0])], { keepdims: 0 });
    if (i > 0) dz = g.op('MatMul', [dz, g.op('Transpose', [params[2 * i]], { perm: [1, 0] })]);
  }

  const lr = sgd ? g.scalar(spec.learningRate) : '';
  const outputs = shapes.map(([name, shape], i) => {
    const out = sgd ? `${name}.next` : `${name}.grad`;
    g.output(out, sgd ? g.op('Sub', [params[i], g.op('Mul', [grads[i], lr])]) : grads[i], shape);
    return out;
  });
  g.output('loss', loss, []);
  return { model: g.encode(sgd ? 'sgd-step' : 'gradients'), params, outputs };
}

/** The forward pass of a dense/relu model to its logits (evaluation: no loss, no update). */
export function forwardGraph(spec: TrainSpec, batch: number): { model: Uint8Array; params: string[]; output: string } {
  const g = new GraphBuilder();
  const params = paramShapes(spec).map(([name, shape]) => g.input(name, shape));
  let h = g.input('x', [batch, ...spec.input.shape]);
  [...spec.layers.map((l) => (l.kind === 'dense' ? l.activation : 'none')), 'none' as const].forEach((activation, i) => {
    const z = g.op('Add', [g.op('MatMul', [h, params[2 * i]]), params[2 * i + 1]]);
    h = activation === 'relu' ? g.op('Relu', [z]) : z;
  });
  g.output('logits', h, [batch, spec.classes]);
  return { model: g.encode('forward'), params, output: 'logits' };
}

/** One-hot float32 labels, as the ONNX graphs take them. */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (out[i * classes + c] = 1));
  return out;
}
