/**
 * The onnxruntime machinery shared by the ort adapters (cpu, webgpu, cuda): ONNX graphs built by
 * detbench (onnx-model.ts), each placed in one InferenceSession per detbench session; a training step
 * is one session run whose updated parameters and state are fed back as the next run's inputs. Only
 * the execution provider and its determinism switches differ per adapter.
 */
import { createRequire } from 'node:module';
import type { InferenceSession as OrtSession, Tensor as OrtTensor } from 'onnxruntime-node';
import type { DeterminismRecord } from '../../protocol.js';
import { byName } from '../../../workloads/inputs.js';
import { artifactShapes, paramShapes } from '../../../workloads/params.js';
import type { InferSpec, NamedTensor, TrainSpec, WorkloadSpec } from '../../../workloads/types.js';
import { probeInChild } from '../../run/child-probe.js';
import { sizeOf, type BuiltGraph } from './onnx-graph.js';
import { evalGraph, gradientGraph, inferGraph, oneHot, trainStepGraph } from './onnx-model.js';
import { resumeStep, stateCounters, stateTensor, type TrainingState } from '../../checkpoint.js';
import { StepTrace, timedEvaluation, UnsupportedOpError, type Execution, type ExecuteOptions, type GradientFn, type Program, type Session, type Support } from '../types.js';

export type Ort = typeof import('onnxruntime-node');

export const loadOrt = async (): Promise<Ort> => (await import('onnxruntime-node')).default ?? (await import('onnxruntime-node'));

/** Null when onnxruntime-node loads, else why not (every ort adapter's probe starts here). */
export async function ortLoadFailure(): Promise<string | null> {
  try {
    await loadOrt();
    return null;
  } catch (err) {
    return `onnxruntime-node failed to load: ${(err as Error).message} (run npm install)`;
  }
}

/** What the ort adapters compile. */
export const ORT_CAPABILITIES =
  'infer: attention, reduce-sum, matmul, index-add (ScatterElements add); train: every workload primitive, through one ONNX graph per training step (forward, reverse-mode gradients and the optimizer update) built by detbench';

/** What the GPU execution providers run: ort-cpu's graphs, with nothing allowed to fall back to the CPU. */
export const GPU_EP_CAPABILITIES = 'the same ONNX graphs as ort-cpu (every workload primitive, forward and training), CPU fallback disabled';

export const ortVersion = (): string => (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;

const tensorOf = (ort: Ort, data: Float32Array | Int32Array, shape: number[]): OrtTensor =>
  data instanceof Int32Array ? new ort.Tensor('int32', data, shape) : new ort.Tensor('float32', data, shape);

/**
 * Every primitive has a rule, so every workload has a graph; whether the execution provider has a
 * kernel for each of its ops is only known when onnxruntime places the graph (an `unsupported` run
 * with onnxruntime's words, see placeGraph).
 */
export function ortSupports(_id: string, _spec: WorkloadSpec): Support {
  return { ok: true };
}

/**
 * A session of one execution provider. Each graph is built and placed once per session and reused by
 * every run of its cell (building and placing transformer-train's step graph costs about as much as
 * training it at the standard size): like torch's worker process, whatever onnxruntime picks once per
 * session — cuDNN's convolution algorithms on CUDA, compiled shaders on WebGPU — is picked in the
 * cell's warm-up run.
 */
export function ortSession(ort: Ort, options: OrtSession.SessionOptions, determinism: DeterminismRecord): Session {
  const compiled = new Map<string, Promise<{ graph: unknown; session: OrtSession }>>();
  const compile: Compile = <G extends BuiltGraph>(key: string, build: () => G) => {
    let entry = compiled.get(key);
    if (!entry) {
      entry = (async () => {
        const graph = builtGraph(key, build);
        return { graph, session: await placeGraph(ort, graph, options) };
      })();
      compiled.set(key, entry);
    }
    return entry as Promise<{ graph: G; session: OrtSession }>;
  };
  return {
    determinism,
    warnings: [],
    async prepare(workload, inputs) {
      return workload.spec.kind === 'infer' ? prepareInfer(ort, compile, workload.spec, inputs) : prepareTrain(ort, compile, workload.spec, inputs);
    },
    async gradients(spec) {
      return gradients(ort, compile, spec);
    },
    async forward(spec, x) {
      const evaluate = await evaluation(ort, compile, spec, x);
      return (weights) => evaluate(weights.map((w, i) => tensorOf(ort, w, evaluate.shapes[i])));
    },
    async close() {
      const sessions = await Promise.allSettled(compiled.values());
      compiled.clear();
      await Promise.all(sessions.map((s) => (s.status === 'fulfilled' ? s.value.session.release() : undefined)));
    },
  };
}

/**
 * The ONNX graphs detbench has built in this thread, by key (the graph kind and the spec). Building
 * one is detbench's own work and depends on the spec alone, so every session of every execution
 * provider shares it (transformer-train's step graph takes ≈ 0.1–0.2 s to build); placing it
 * (InferenceSession.create, onnxruntime's optimisation for the session's options) stays per session.
 */
const builtGraphs = new Map<string, BuiltGraph>();

function builtGraph<G extends BuiltGraph>(key: string, build: () => G): G {
  let graph = builtGraphs.get(key);
  if (!graph) builtGraphs.set(key, (graph = build()));
  return graph as G;
}

/**
 * Whether an execution provider really runs here: a tiny MatMul session with CPU fallback disabled,
 * in a child process (a failing GPU stack can print native errors or abort; neither may reach the
 * suite). Returns null when it ran, else the provider's own message.
 */
export async function probeExecutionProvider(ep: string): Promise<string | null> {
  const outcome = await probeInChild(new URL('./ort-probe.ts', import.meta.url), [ep]);
  // onnxruntime prefixes messages with source locations and the failed check; keep the sentence
  return outcome.ok ? null : outcome.error.replace(/^.*\b(was false|failed)\.\s*/, '');
}

const NO_FALLBACK = /fallback to CPU EP has been explicitly disabled/;

/**
 * An InferenceSession of a graph. With CPU fallback disabled, a node the provider has no kernel for
 * fails the session: that is an `unsupported` run, in onnxruntime's words, followed by the ops that
 * fail alone (onnxruntime's sentence does not name them).
 */
export async function placeGraph(ort: Ort, graph: BuiltGraph, options: OrtSession.SessionOptions): Promise<OrtSession> {
  try {
    return await ort.InferenceSession.create(graph.model, options);
  } catch (err) {
    const message = (err as Error).message;
    if (!NO_FALLBACK.test(message)) throw err;
    const missing: string[] = [];
    for (const { opType, model } of graph.nodeModels()) {
      try {
        await (await ort.InferenceSession.create(model, options)).release();
      } catch (alone) {
        if (NO_FALLBACK.test((alone as Error).message) && !missing.includes(opType)) missing.push(opType);
      }
    }
    throw new UnsupportedOpError(missing.length ? `${message} (ops with no kernel on this provider: ${missing.join(', ')})` : message);
  }
}

/** The placed session of a graph, built on first use under `key` (the graph kind and the spec). */
type Compile = <G extends BuiltGraph>(key: string, build: () => G) => Promise<{ graph: G; session: OrtSession }>;

/**
 * Locating: the same graph with every op of workloads/ops.ts as an output too, placed once per
 * session beside the plain one. Outputs can keep onnxruntime from fusing nodes, so a located run may
 * compute other bits than a plain one; the locate phase compares its result with the recorded runs'
 * and says so when they differ.
 */
const locatedKey = (key: string) => `located ${key}`;

async function prepareInfer(ort: Ort, compile: Compile, spec: InferSpec, inputs: NamedTensor[]): Promise<Program> {
  const key = `infer ${JSON.stringify(spec)}`;
  const plain = await compile(key, () => inferGraph(spec));
  const feeds = Object.fromEntries(plain.graph.inputs.map((n) => [n, tensorOf(ort, byName(inputs, n).data, byName(inputs, n).shape)]));
  return {
    async execute(options?: ExecuteOptions): Promise<Execution> {
      const { graph, session } = options?.ops ? await compile(locatedKey(key), () => inferGraph(spec, { ops: true })) : plain;
      const start = performance.now();
      const result = await session.run(feeds);
      const computeMs = performance.now() - start;
      for (const { op, output } of graph.ops) options!.ops!.record(0, op, result[output].data as Float32Array);
      const out = result[graph.output];
      return { outputs: [{ name: 'out', shape: [...out.dims], data: Float32Array.from(out.data as Float32Array) }], computeMs, loss: null };
    },
    dispose() {},
  };
}

/** Step s's slice of a harness tensor laid out [steps, …]. */
function stepSlice(t: NamedTensor, step: number, steps: number): Float32Array | Int32Array {
  const per = t.data.length / steps;
  return t.data.subarray(step * per, (step + 1) * per);
}

async function prepareTrain(ort: Ort, compile: Compile, spec: TrainSpec, inputs: NamedTensor[]): Promise<Program> {
  const key = `train ${JSON.stringify(spec)}`;
  const plain = await compile(key, () => trainStepGraph(spec));
  const { graph } = plain;
  // every per-step feed is made here, in setup: the timed loop only runs the graph
  const steps = Array.from({ length: spec.steps }, (_, s) =>
    Object.fromEntries(
      graph.stepInputs.map((f) => {
        const from = f.from;
        const data =
          'tensor' in from ? stepSlice(byName(inputs, from.tensor), s, spec.steps)
          : 'onehot' in from ? oneHot(stepSlice(byName(inputs, from.onehot), s, spec.steps) as Int32Array, from.classes)
          : Float32Array.of(from.perStep(s + 1));
        return [f.input, tensorOf(ort, data, f.shape)];
      }),
    ),
  );
  const artifact = graph.carried.slice(0, graph.artifactLength);
  const evaluate = await evaluation(ort, compile, spec, byName(inputs, 'xEval'));
  return {
    async execute(options?: ExecuteOptions): Promise<Execution> {
      const trace = new StepTrace(options?.trace === true);
      // resume replay: the carried values are the whole training state, so a checkpoint is what they hold
      const from = options?.resumeFrom;
      const first = from ? resumeStep(spec, from) : 0;
      const last = options?.stopAfter ?? spec.steps;
      // the located graph has the same inputs and carried values as the plain one, and more outputs
      const { session, graph: { ops } } = options?.ops ? await compile(locatedKey(key), () => trainStepGraph(spec, { ops: true })) : plain;
      // parameters and statistics from the harness, optimizer state from zeros (or both from the
      // checkpoint); step s's outputs are step s + 1's inputs
      let carried = graph.carried.map((c, i) => {
        const data = from ? stateTensor(from, `${i < graph.artifactLength ? 'weights' : 'optimizer'}/${c.input}`).data
          : c.initial === 'zeros' ? new Float32Array(sizeOf(c.shape)) : byName(inputs, c.initial.tensor).data;
        return tensorOf(ort, Float32Array.from(data as Float32Array), c.shape);
      });
      let loss: number | null = null;
      const start = performance.now();
      for (let step = first; step < last; step++) {
        const data = steps[step];
        const feeds: Record<string, OrtTensor> = { ...data };
        graph.carried.forEach((c, i) => (feeds[c.input] = carried[i]));
        const result = await session.run(feeds);
        for (const { op, output } of ops) options!.ops!.record(step, op, result[output].data as Float32Array);
        carried = graph.carried.map((c) => result[c.output]);
        loss = (result[graph.loss].data as Float32Array)[0];
        await trace.record(() => carried.slice(0, graph.artifactLength).map((w) => w.data as Float32Array));
      }
      const computeMs = performance.now() - start - trace.copyMs;
      const outputs = artifact.map((c, i) => ({ name: c.input, shape: c.shape, data: Float32Array.from(carried[i].data as Float32Array) }));
      const state: TrainingState | undefined = options?.state || options?.stopAfter !== undefined
        ? {
            tensors: [
              ...outputs.map((t) => ({ ...t, name: `weights/${t.name}` })),
              ...graph.carried.slice(graph.artifactLength).map((c, i) => ({ name: `optimizer/${c.input}`, shape: c.shape, data: Float32Array.from(carried[graph.artifactLength + i].data as Float32Array) })),
              ...stateCounters(spec, last),
            ],
          }
        : undefined;
      return {
        outputs,
        computeMs,
        loss,
        trace: trace.result(),
        // after the timed steps: the held-out set in evaluation mode, on the final parameters and statistics
        ...(options?.stopAfter === undefined ? await timedEvaluation(() => evaluate(carried.slice(0, graph.artifactLength))) : {}),
        ...(state ? { state } : {}),
      };
    },
    dispose() {},
  };
}

/**
 * The model in evaluation mode on a fixed batch `x`: a function of the parameters and statistics
 * (artifact order) to the logits [units × classes].
 */
async function evaluation(ort: Ort, compile: Compile, spec: TrainSpec, x: NamedTensor) {
  const batch = x.shape[0];
  const { graph, session } = await compile(`evaluation ${batch} ${JSON.stringify(spec)}`, () => evalGraph(spec, batch));
  const input = tensorOf(ort, x.data, x.shape);
  const evaluate = async (weights: OrtTensor[]): Promise<Float32Array> => {
    const feeds: Record<string, OrtTensor> = { [graph.x]: input };
    graph.weights.forEach((name, i) => (feeds[name] = weights[i]));
    return Float32Array.from((await session.run(feeds))[graph.logits].data as Float32Array);
  };
  return Object.assign(evaluate, { shapes: artifactShapes(spec).map(([, shape]) => shape) });
}

async function gradients(ort: Ort, compile: Compile, spec: TrainSpec): Promise<GradientFn> {
  const shapes = paramShapes(spec);
  return async (weights, x, y) => {
    // one graph per shard size (the last shard of a batch may be smaller)
    const batch = x.shape[0];
    const { graph, session } = await compile(`gradients ${batch} ${JSON.stringify(spec)}`, () => gradientGraph(spec, batch));
    if (graph.statistics.length || graph.masks.length) throw new Error('the data-parallel driver feeds no batch-norm statistics or dropout masks to its shards');
    const feeds: Record<string, OrtTensor> = {
      [graph.x]: tensorOf(ort, x.data, x.shape),
      [graph.onehot]: tensorOf(ort, oneHot(y, spec.classes), [y.length, spec.classes]),
    };
    graph.params.forEach((name, i) => (feeds[name] = tensorOf(ort, weights[i], shapes[i][1])));
    const result = await session.run(feeds);
    return {
      grads: graph.grads.map((name) => Float32Array.from(result[name].data as Float32Array)),
      loss: (result[graph.loss].data as Float32Array)[0],
    };
  };
}
