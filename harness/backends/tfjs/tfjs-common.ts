/**
 * The TensorFlow.js compiler shared by the tfjs adapters (cpu, wasm, node): workload primitives →
 * tfjs ops, training with tfjs autograd and plain SGD. Inputs always come from the harness.
 */
import { createRequire } from 'node:module';
import type * as tfcore from '@tensorflow/tfjs-core';
import { paramShapes } from '../../../workloads/params.js';
import { byName } from '../../../workloads/inputs.js';
import type { InferSpec, Layer, NamedTensor, ResolvedWorkload, TrainSpec } from '../../../workloads/types.js';
import type { DeterminismRecord } from '../../protocol.js';
import type { Execution, ExecuteOptions, GradientFn, Program, Session } from '../types.js';
import { StepTrace, UnsupportedOpError } from '../types.js';
import { registerTfjsGradients } from './tfjs-gradients.js';

export type Tf = typeof tfcore;

let gradientsRegistered = false;
/** tfjs-core's node bundle ships no gradients: see tfjs-gradients.ts for how they are loaded. */
export function registerGradients(): void {
  if (gradientsRegistered) return;
  registerTfjsGradients();
  gradientsRegistered = true;
}

/** tfjs-backend-cpu advertises tfjs-node on first use; PROD silences tfjs warnings (not errors). */
export function quiet(tf: Tf): void {
  tf.env().set('PROD', true);
}

/**
 * tfjs-core, with gradients registered and warnings silenced (each tfjs adapter then loads its
 * backend, with requireTfjs). tfjs's packages are CommonJS builds for Node: required, they take
 * about a third of the CPU that importing them through tsx's ESM hooks takes (0.16 s vs 0.55 s for
 * core, cpu and wasm in a worker thread, on this loaded host), in every thread that loads them.
 */
export async function loadTfCore(): Promise<Tf> {
  const tf = requireTfjs<Tf>('@tensorflow/tfjs-core');
  registerGradients();
  quiet(tf);
  return tf;
}

/** A tfjs package's CommonJS build (see loadTfCore). */
export const requireTfjs = <T = unknown>(name: string): T => createRequire(import.meta.url)(name) as T;

export function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  return (require(`${name}/package.json`) as { version: string }).version;
}

type T = tfcore.Tensor;

function forward(tf: Tf, spec: TrainSpec, params: T[], x: T): T {
  let h = x;
  let p = 0;
  const act = (t: T, a: 'relu' | 'none') => (a === 'relu' ? tf.relu(t) : t);
  for (const layer of spec.layers as Layer[]) {
    switch (layer.kind) {
      case 'dense':
        h = act(tf.add(tf.matMul(h as tfcore.Tensor2D, params[p] as tfcore.Tensor2D), params[p + 1]), layer.activation);
        p += 2;
        break;
      case 'conv2d':
        h = act(tf.add(tf.conv2d(h as tfcore.Tensor4D, params[p] as tfcore.Tensor4D, 1, 'same'), params[p + 1]), layer.activation);
        p += 2;
        break;
      case 'pool':
        h = layer.op === 'max'
          ? tf.maxPool(h as tfcore.Tensor4D, layer.size, layer.size, 'valid')
          : tf.avgPool(h as tfcore.Tensor4D, layer.size, layer.size, 'valid');
        break;
      case 'flatten':
        h = tf.reshape(h, [h.shape[0], -1]);
        break;
      case 'embedding':
        h = tf.gather(params[p], h);
        p += 1;
        break;
      case 'meanPool':
        h = tf.mean(h, 1);
        break;
    }
  }
  return tf.add(tf.matMul(h as tfcore.Tensor2D, params[p] as tfcore.Tensor2D), params[p + 1]);
}

/** Mean softmax cross-entropy: −Σ onehot·logSoftmax / batch. */
function loss(tf: Tf, spec: TrainSpec, params: T[], x: T, y: T): tfcore.Scalar {
  const logits = forward(tf, spec, params, x);
  const onehot = tf.oneHot(y as tfcore.Tensor1D, spec.classes);
  return tf.div(tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)))), spec.batch) as tfcore.Scalar;
}

function stepSlice(tf: Tf, data: NamedTensor, step: number): T {
  const [, ...rest] = data.shape;
  const per = rest.reduce((a, b) => a * b, 1);
  const slice = data.data.subarray(step * per, (step + 1) * per);
  return data.data instanceof Int32Array ? tf.tensor(slice, rest, 'int32') : tf.tensor(slice, rest, 'float32');
}

/** Turns tfjs's "kernel not registered" into an `unsupported` run with tfjs's own message. */
function classify(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  if (/not registered|gradient function not found|not yet implemented|not supported/i.test(message)) throw new UnsupportedOpError(message);
  throw err;
}

export function compileTfjs(tf: Tf, workload: ResolvedWorkload, inputs: NamedTensor[]): Program {
  const spec = workload.spec;
  const created: T[] = [];
  const keep = <X extends T>(t: X) => (created.push(t), t);
  const dispose = () => created.forEach((t) => t.dispose());

  if (spec.kind === 'infer') {
    const feeds = inputs.map((t) => keep(tf.tensor(t.data, t.shape, t.data instanceof Int32Array ? 'int32' : 'float32')));
    return {
      async execute(): Promise<Execution> {
        const start = performance.now();
        let out: T;
        try {
          out = tf.tidy(() => inferOp(tf, spec, feeds));
        } catch (err) {
          classify(err);
        }
        const data = (await out.data()) as Float32Array;
        const computeMs = performance.now() - start;
        out.dispose();
        return { outputs: [{ name: 'out', shape: out.shape, data: Float32Array.from(data) }], computeMs, loss: null };
      },
      dispose,
    };
  }

  const names = paramShapes(spec).map(([n]) => n);
  const initial = names.map((n) => byName(inputs, n));
  const xs = Array.from({ length: spec.steps }, (_, s) => keep(stepSlice(tf, byName(inputs, 'x'), s)));
  const ys = Array.from({ length: spec.steps }, (_, s) => keep(stepSlice(tf, byName(inputs, 'y'), s)));
  return {
    async execute(options?: ExecuteOptions): Promise<Execution> {
      const trace = new StepTrace(options?.trace === true);
      let params = initial.map((t) => tf.tensor(t.data, t.shape, 'float32'));
      const lr = tf.scalar(spec.learningRate);
      let lastLoss: tfcore.Scalar | null = null;
      const start = performance.now();
      try {
        for (let s = 0; s < spec.steps; s++) {
          const x = xs[s], y = ys[s];
          const { value, grads } = tf.valueAndGrads((...p: T[]) => loss(tf, spec, p, x, y))(params);
          const next = params.map((p, i) => tf.tidy(() => tf.sub(p, tf.mul(grads[i], lr))));
          params.forEach((p) => p.dispose());
          grads.forEach((g) => g.dispose());
          lastLoss?.dispose();
          params = next;
          lastLoss = value;
          await trace.record(() => Promise.all(params.map((p) => p.data() as Promise<Float32Array>)));
        }
      } catch (err) {
        params.forEach((p) => p.dispose());
        classify(err);
      }
      const datas = await Promise.all(params.map((p) => p.data() as Promise<Float32Array>));
      const lossValue = lastLoss ? (await lastLoss.data())[0] : null;
      const computeMs = performance.now() - start - trace.copyMs;
      params.forEach((p) => p.dispose());
      lastLoss?.dispose();
      lr.dispose();
      return {
        outputs: names.map((name, i) => ({ name, shape: initial[i].shape, data: Float32Array.from(datas[i]) })),
        computeMs,
        loss: lossValue,
        trace: trace.result(),
      };
    },
    dispose,
  };
}

function inferOp(tf: Tf, spec: InferSpec, feeds: T[]): T {
  switch (spec.op) {
    case 'attention': {
      const [q, k, v] = feeds as tfcore.Tensor3D[];
      const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(spec.dim));
      return tf.matMul(tf.softmax(scores) as tfcore.Tensor3D, v);
    }
    case 'reduceSum':
      return tf.reshape(tf.sum(feeds[0]), [1]);
    case 'matmul':
      return tf.matMul(feeds[0] as tfcore.Tensor2D, feeds[1] as tfcore.Tensor2D);
    case 'indexAdd':
      return tf.unsortedSegmentSum(feeds[0], feeds[1] as tfcore.Tensor1D, spec.buckets);
    case 'atomicSum':
      throw new UnsupportedOpError('atomic-sum is a WGSL kernel: this tfjs backend cannot run it');
  }
}

export function tfjsGradients(tf: Tf, spec: TrainSpec): GradientFn {
  const shapes = paramShapes(spec).map(([, s]) => s);
  return async (weights, x, y) => {
    const shard = { ...spec, batch: y.length };
    const xt = tf.tensor(x.data, x.shape, x.data instanceof Int32Array ? 'int32' : 'float32');
    const yt = tf.tensor(y, [y.length], 'int32');
    const params = weights.map((w, i) => tf.tensor(w, shapes[i], 'float32'));
    try {
      const { value, grads } = tf.valueAndGrads((...p: T[]) => loss(tf, shard, p, xt, yt))(params);
      const out = await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>));
      const lossValue = (await value.data())[0];
      value.dispose();
      grads.forEach((g) => g.dispose());
      return { grads: out.map((d) => Float32Array.from(d)), loss: lossValue };
    } catch (err) {
      classify(err);
    } finally {
      [xt, yt, ...params].forEach((t) => t.dispose());
    }
  };
}

/**
 * A session on one tfjs backend. Several tfjs backends can share a worker (tfjs keeps one global
 * engine), so each call first switches the engine to this session's backend.
 */
export async function tfjsSession(tf: Tf, backendName: string, determinism: (tf: Tf) => Promise<DeterminismRecord>): Promise<Session> {
  const use = async () => {
    await tf.setBackend(backendName);
    await tf.ready();
  };
  await use();
  return {
    determinism: await determinism(tf),
    warnings: [],
    async prepare(workload, inputs) {
      await use();
      return compileTfjs(tf, workload, inputs);
    },
    async gradients(spec) {
      await use();
      return tfjsGradients(tf, spec);
    },
    async close() {},
  };
}
