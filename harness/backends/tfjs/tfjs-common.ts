/**
 * The TensorFlow.js compiler shared by the tfjs adapters (cpu, wasm, node, webgpu): workload
 * primitives → tfjs ops (the training primitives in tfjs-model.ts), training with tfjs autograd.
 * Inputs always come from the harness.
 */
import { createRequire } from 'node:module';
import type * as tfcore from '@tensorflow/tfjs-core';
import { artifactShapes, labelShape, modelLayout } from '../../../workloads/params.js';
import { byName } from '../../../workloads/inputs.js';
import type { InferSpec, NamedTensor, ResolvedWorkload, TrainSpec } from '../../../workloads/types.js';
import type { DeterminismRecord } from '../../protocol.js';
import type { Execution, ExecuteOptions, ForwardFn, GradientFn, OpSink, Program, Session } from '../types.js';
import { TfjsOptimizer, clipByGlobalNorm, forward, meanXent, tfjsLayout, type ForwardOps } from './tfjs-model.js';
import { CLIP_NORM_OP, HEAD_PATH, LOSS_GRAD_OP, LOSS_OP, inferOps, opNames, type OpNames } from '../../../workloads/ops.js';
import { StepTrace, timedEvaluation, UnsupportedOpError } from '../types.js';
import { resumeStep, stateCounters, stateTensor, type TrainingState } from '../../checkpoint.js';
import { registerTfjsGradients } from './tfjs-gradients.js';
import { sizeOf } from '../../../workloads/types.js';

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

function stepSlice(tf: Tf, data: NamedTensor, step: number): T {
  const [, ...rest] = data.shape;
  const per = sizeOf(rest);
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
    const named = new Map(inputs.map((t, i) => [t.name, feeds[i]]));
    return {
      async execute(options?: ExecuteOptions): Promise<Execution> {
        const start = performance.now();
        let out: T;
        const ops = options?.ops && new PendingOps(tf, options.ops, 0);
        try {
          out = tf.tidy(() => inferOp(tf, spec, feeds, named, ops && ((op, t) => ops.record(op, t))));
          ops?.record(inferOps(spec).at(-1)!, out);
        } catch (err) {
          ops?.dispose();
          classify(err);
        }
        await ops?.flush();
        const data = (await out.data()) as Float32Array;
        const computeMs = performance.now() - start;
        out.dispose();
        return { outputs: [{ name: 'out', shape: out.shape, data: Float32Array.from(data) }], computeMs, loss: null };
      },
      dispose,
    };
  }

  return compileTraining(tf, spec, inputs, keep, dispose);
}

function compileTraining(tf: Tf, spec: TrainSpec, inputs: NamedTensor[], keep: <X extends T>(t: X) => X, dispose: () => void): Program {
  const layout = tfjsLayout(spec);
  const artifactNames = [...layout.params, ...layout.state];
  const initial = artifactNames.map((n) => byName(inputs, n));
  const steps = (name: string) => Array.from({ length: spec.steps }, (_, s) => keep(stepSlice(tf, byName(inputs, name), s)));
  const xs = steps('x'), ys = steps('y');
  const masks = layout.dropout.map((name) => steps(name));
  const lrData = byName(inputs, 'lr').data;
  const lrs = Array.from({ length: spec.steps }, (_, s) => keep(tf.scalar(lrData[s], 'float32')));
  const xEval = byName(inputs, 'xEval');
  const evalX = keep(tf.tensor(xEval.data, xEval.shape, xEval.data instanceof Int32Array ? 'int32' : 'float32'));
  return {
    async execute(options?: ExecuteOptions): Promise<Execution> {
      const trace = new StepTrace(options?.trace === true);
      // resume replay: start from a checkpoint's state, and/or stop early and hand the state back
      const from = options?.resumeFrom;
      const first = from ? resumeStep(spec, from) : 0;
      const last = options?.stopAfter ?? spec.steps;
      const initialOf = (n: string) => (from ? stateTensor(from, `weights/${n}`) : byName(inputs, n));
      let params = layout.params.map((n) => { const t = initialOf(n); return tf.tensor(t.data, t.shape, 'float32'); });
      let state = layout.state.map((n) => { const t = initialOf(n); return tf.tensor(t.data, t.shape, 'float32'); });
      const names = options?.ops ? opNames(spec) : null;
      const optimizer = new TfjsOptimizer(tf, spec.optimizer ?? { kind: 'sgd' });
      if (from) {
        optimizer.restore(first, layout.params.map((n, i) => optimizer.slotNames.map((slot) => {
          const t = stateTensor(from, `optimizer/${n}.${slot}`);
          return tf.tensor(t.data, params[i].shape, 'float32');
        })));
      }
      let lastLoss: tfcore.Scalar | null = null;
      const current = () => [...params, ...state];
      const start = performance.now();
      try {
        for (let s = first; s < last; s++) {
          const updates = new Map<string, T>();
          const stepMasks = new Map(layout.dropout.map((name, i) => [name, masks[i][s]]));
          const stateMap = new Map(layout.state.map((n, i) => [n, state[i]]));
          const pending = options?.ops && new PendingOps(tf, options.ops, s);
          const ops = pending && names ? forwardOps(tf, pending, names) : undefined;
          const { value, grads } = tf.valueAndGrads((...p: T[]) => {
            const tensors = new Map<string, T>([...layout.params.map((n, i) => [n, p[i]] as [string, T]), ...stateMap]);
            const logits = forward(tf, spec, { training: true, tensors, masks: stepMasks, updates, ops }, xs[s]);
            return meanXent(tf, spec, ops ? tap(tf, logits, (dy) => ops.record(LOSS_GRAD_OP, dy)) : logits, ys[s]);
          })(params);
          if (ops) {
            ops.record(LOSS_OP, value);
            layout.params.forEach((n, i) => ops.record(names!.paramGrad.get(n)!, grads[i]));
          }
          const clipped = spec.clipNorm === undefined ? grads : clipByGlobalNorm(tf, grads, spec.clipNorm, ops && ((norm) => ops.record(CLIP_NORM_OP, norm)));
          const next = optimizer.step(params, clipped, lrs[s]);
          if (ops) layout.params.forEach((n, i) => ops.record(names!.update.get(n)!, next[i]));
          await pending?.flush();
          [...params, ...grads, ...(clipped === grads ? [] : clipped)].forEach((t) => t.dispose());
          params = next;
          if (layout.state.length) {
            state.forEach((t) => t.dispose());
            state = layout.state.map((n) => updates.get(n)!);
          }
          lastLoss?.dispose();
          lastLoss = value;
          await trace.record(() => Promise.all(current().map((p) => p.data() as Promise<Float32Array>)));
        }
      } catch (err) {
        current().forEach((p) => p.dispose());
        optimizer.dispose();
        classify(err);
      }
      const datas = await Promise.all(current().map((p) => p.data() as Promise<Float32Array>));
      const lossValue = lastLoss ? (await lastLoss.data())[0] : null;
      const computeMs = performance.now() - start - trace.copyMs;
      const outputs = artifactNames.map((name, i) => ({ name, shape: initial[i].shape, data: Float32Array.from(datas[i]) }));
      let trainingState: TrainingState | undefined;
      if (options?.state || options?.stopAfter !== undefined) {
        const slots = await Promise.all(optimizer.slotsOf(params).map((list) => Promise.all(list.map((t) => t.data() as Promise<Float32Array>))));
        trainingState = {
          tensors: [
            ...outputs.map((t) => ({ ...t, name: `weights/${t.name}` })),
            ...layout.params.flatMap((n, i) => optimizer.slotNames.map((slot, j) => ({ name: `optimizer/${n}.${slot}`, shape: initial[i].shape, data: Float32Array.from(slots[i][j]) }))),
            ...stateCounters(spec, last),
          ],
        };
      }
      const evaluated = options?.stopAfter === undefined ? await timedEvaluation(async () => {
        const tensors = new Map(artifactNames.map((n, i) => [n, current()[i]]));
        const logits = tf.tidy(() => forward(tf, spec, { training: false, tensors }, evalX));
        const data = Float32Array.from((await logits.data()) as Float32Array);
        logits.dispose();
        return data;
      }) : {};
      current().forEach((p) => p.dispose());
      optimizer.dispose();
      lastLoss?.dispose();
      return { outputs, computeMs, loss: lossValue, trace: trace.result(), ...evaluated, ...(trainingState ? { state: trainingState } : {}) };
    },
    dispose,
  };
}

/**
 * A located step's op outputs, held (a kept clone shares the data) until the step is over and then
 * read asynchronously: the ops are computed inside tfjs's gradient tape, where nothing can be
 * awaited, and tfjs-webgpu cannot read a GPU tensor synchronously in Node.js (its readSync needs
 * OffscreenCanvas).
 */
class PendingOps {
  private held: Array<[string, T]> = [];

  constructor(private tf: Tf, private sink: OpSink, private step: number) {}

  record(op: string, t: T): void {
    this.held.push([op, this.tf.keep(this.tf.clone(t))]);
  }

  async flush(): Promise<void> {
    try {
      for (const [op, t] of this.held) this.sink.record(this.step, op, (await t.data()) as Float32Array);
    } finally {
      this.dispose();
    }
  }

  dispose(): void {
    this.held.forEach(([, t]) => t.dispose());
    this.held = [];
  }
}

/**
 * A located step's ops: each is held as it is computed, and the input of every layer whose input
 * gradient is an op is tapped (an identity with a custom gradient), so the gradient is held as it
 * passes; neither changes a bit of what is computed.
 */
function forwardOps(tf: Tf, pending: PendingOps, names: OpNames): ForwardOps {
  const gradInput = new Map<string, string | null>([...names.layers.map((s): [string, string | null] => [s.path, s.gradInput]), [HEAD_PATH, names.headGradInput]]);
  const record = (op: string, t: T) => pending.record(op, t);
  return {
    record,
    tapInput(path, t) {
      const op = gradInput.get(path);
      return op ? tap(tf, t, (dy) => record(op, dy)) : t;
    },
  };
}

/** x unchanged, with `onGradient` called with its gradient during backpropagation. */
function tap(tf: Tf, x: T, onGradient: (dy: T) => void): T {
  const identity = tf.customGrad((...args) => ({
    value: tf.clone(args[0] as T),
    gradFunc: (dy: T) => {
      onGradient(dy);
      return tf.clone(dy);
    },
  }));
  return identity(x);
}

function inferOp(tf: Tf, spec: InferSpec, feeds: T[], named: Map<string, T>, record?: (op: string, t: T) => void): T {
  switch (spec.op) {
    case 'attention': {
      const [q, k, v] = feeds as tfcore.Tensor3D[];
      const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(spec.dim));
      const p = tf.softmax(scores) as tfcore.Tensor3D;
      record?.('attention.softmax', p);
      return tf.matMul(p, v);
    }
    case 'reduceSum':
      return tf.reshape(tf.sum(feeds[0]), [1]);
    case 'matmul':
      return tf.matMul(feeds[0] as tfcore.Tensor2D, feeds[1] as tfcore.Tensor2D);
    case 'indexAdd':
      return tf.unsortedSegmentSum(feeds[0], feeds[1] as tfcore.Tensor1D, spec.buckets);
    case 'atomicSum':
      throw new UnsupportedOpError('atomic-sum is a WGSL kernel: this tfjs backend cannot run it');
    case 'forward':
      return forward(tf, spec.model, { training: false, tensors: named }, named.get('xEval')!);
  }
}

/** Shard gradients for the data-parallel driver (plain models: no dropout masks, no batch-norm state). */
export function tfjsGradients(tf: Tf, spec: TrainSpec): GradientFn {
  const layout = modelLayout(spec);
  return async (weights, x, y) => {
    const xt = tf.tensor(x.data, x.shape, x.data instanceof Int32Array ? 'int32' : 'float32');
    const yt = tf.tensor(y, [x.shape[0], ...labelShape(spec)], 'int32');
    const params = weights.map((w, i) => tf.tensor(w, layout.params[i][1], 'float32'));
    try {
      const { value, grads } = tf.valueAndGrads((...p: T[]) => {
        const tensors = new Map(layout.params.map(([n], i) => [n, p[i]]));
        return meanXent(tf, spec, forward(tf, spec, { training: true, tensors, updates: new Map() }, xt), yt);
      })(params);
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

/** Evaluation-mode logits on `x` for weights and state given in artifact order. */
export function tfjsForward(tf: Tf, spec: TrainSpec, x: NamedTensor): ForwardFn {
  const shapes = artifactShapes(spec);
  return async (weights) => {
    const xt = tf.tensor(x.data, x.shape, x.data instanceof Int32Array ? 'int32' : 'float32');
    const tensors = new Map(shapes.map(([n, shape], i) => [n, tf.tensor(weights[i], shape, 'float32')]));
    try {
      const logits = tf.tidy(() => forward(tf, spec, { training: false, tensors }, xt));
      const data = Float32Array.from((await logits.data()) as Float32Array);
      logits.dispose();
      return data;
    } catch (err) {
      classify(err);
    } finally {
      [xt, ...tensors.values()].forEach((t) => t.dispose());
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
    async forward(spec, x) {
      await use();
      return tfjsForward(tf, spec, x);
    },
    async close() {},
  };
}
