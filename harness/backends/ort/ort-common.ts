/**
 * The onnxruntime machinery shared by the ort adapters (cpu, webgpu, cuda): ONNX graphs built by
 * detbench (onnx-graph.ts) run through one InferenceSession per program, weights fed back each
 * training step. Only the execution provider and its determinism switches differ per adapter.
 */
import { createRequire } from 'node:module';
import type { InferenceSession as OrtSession, Tensor as OrtTensor } from 'onnxruntime-node';
import type { DeterminismRecord } from '../../protocol.js';
import { byName } from '../../../workloads/inputs.js';
import { paramShapes } from '../../../workloads/params.js';
import type { NamedTensor, ResolvedWorkload, TrainSpec, WorkloadSpec } from '../../../workloads/types.js';
import { probeInChild } from '../../run/child-probe.js';
import { forwardGraph, inferGraph, oneHot, trainGraphSupported, trainStepGraph } from './onnx-graph.js';
import { StepTrace, UnsupportedOpError, type Execution, type ExecuteOptions, type ForwardFn, type GradientFn, type Program, type Session, type Support } from '../types.js';

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

/** What the GPU execution providers run: ort-cpu's graphs, with nothing allowed to fall back to the CPU. */
export const GPU_EP_CAPABILITIES = 'the same ONNX graphs as ort-cpu (forward passes; dense/relu training), CPU fallback disabled';

export const ortVersion = (): string => (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;

const tensorOf = (ort: Ort, data: Float32Array | Int32Array, shape: number[]): OrtTensor =>
  data instanceof Int32Array ? new ort.Tensor('int32', data, shape) : new ort.Tensor('float32', data, shape);

export function ortSupports(id: string, spec: WorkloadSpec): Support {
  if (spec.kind === 'infer') return { ok: true };
  const missing = trainGraphSupported(spec) ?? beyondPlainSgd(spec);
  return missing
    ? { ok: false, reason: `${id} builds SGD-step graphs for dense/relu models with plain SGD only, until detbench's ONNX differentiator lands (issue 11); this workload needs ${missing}` }
    : { ok: true };
}

/** What of a training spec the hand-written SGD-step graph does not cover, besides its layers. */
function beyondPlainSgd(spec: TrainSpec): string | null {
  const gelu = spec.layers.find((l) => l.kind === 'dense' && (l.activation === 'gelu' || l.bias === false));
  if (gelu) return 'dense layers with GELU or without bias';
  if (spec.optimizer && spec.optimizer.kind !== 'sgd') return `the ${spec.optimizer.kind} optimizer`;
  if (spec.schedule && spec.schedule.kind !== 'constant') return 'a learning-rate schedule';
  if (spec.clipNorm !== undefined) return 'gradient clipping';
  return null;
}

export function ortSession(ort: Ort, options: OrtSession.SessionOptions, determinism: DeterminismRecord): Session {
  const create = async (model: Uint8Array) => {
    try {
      return await ort.InferenceSession.create(model, options);
    } catch (err) {
      // with CPU fallback disabled, a node the provider has no kernel for fails the session: unsupported
      const message = (err as Error).message;
      if (/fallback to CPU EP has been explicitly disabled/.test(message)) throw new UnsupportedOpError(message);
      throw err;
    }
  };
  return {
    determinism,
    warnings: [],
    async prepare(workload, inputs) {
      return workload.spec.kind === 'infer' ? prepareInfer(ort, create, workload, inputs) : prepareTrain(ort, create, workload.spec, inputs);
    },
    async gradients(spec) {
      return gradients(ort, create, spec);
    },
    async forward(spec) {
      return forward(ort, create, spec);
    },
    async close() {},
  };
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

type Create = (model: Uint8Array) => Promise<OrtSession>;

async function prepareInfer(ort: Ort, create: Create, workload: ResolvedWorkload, inputs: NamedTensor[]): Promise<Program> {
  if (workload.spec.kind !== 'infer') throw new Error('not an inference workload');
  const graph = inferGraph(workload.spec);
  const session = await create(graph.model);
  const feeds = Object.fromEntries(graph.inputs.map((n) => [n, tensorOf(ort, byName(inputs, n).data, byName(inputs, n).shape)]));
  return {
    async execute(): Promise<Execution> {
      const start = performance.now();
      const result = await session.run(feeds);
      const computeMs = performance.now() - start;
      const out = result[graph.output];
      return { outputs: [{ name: 'out', shape: [...out.dims], data: Float32Array.from(out.data as Float32Array) }], computeMs, loss: null };
    },
    dispose: () => void session.release(),
  };
}

async function prepareTrain(ort: Ort, create: Create, spec: TrainSpec, inputs: NamedTensor[]): Promise<Program> {
  const graph = trainStepGraph(spec, spec.batch, true);
  const session = await create(graph.model);
  const evaluate = await forward(ort, create, spec);
  const xEval = byName(inputs, 'xEval');
  const shapes = paramShapes(spec);
  const x = byName(inputs, 'x'), y = byName(inputs, 'y');
  const perX = x.data.length / spec.steps;
  const steps = Array.from({ length: spec.steps }, (_, s) => ({
    x: tensorOf(ort, (x.data as Float32Array).subarray(s * perX, (s + 1) * perX), x.shape.slice(1)),
    onehot: tensorOf(ort, oneHot((y.data as Int32Array).subarray(s * spec.batch, (s + 1) * spec.batch), spec.classes), [spec.batch, spec.classes]),
  }));
  return {
    async execute(options?: ExecuteOptions): Promise<Execution> {
      const trace = new StepTrace(options?.trace === true);
      // Weights are fed back each step: the outputs of step s are the parameter inputs of step s + 1.
      let weights = shapes.map(([name, shape]) => tensorOf(ort, Float32Array.from(byName(inputs, name).data as Float32Array), shape));
      let loss: number | null = null;
      const start = performance.now();
      for (const step of steps) {
        const feeds: Record<string, OrtTensor> = { x: step.x, onehot: step.onehot };
        graph.params.forEach((name, i) => (feeds[name] = weights[i]));
        const result = await session.run(feeds);
        weights = graph.outputs.map((name) => result[name]);
        loss = (result.loss.data as Float32Array)[0];
        await trace.record(() => weights.map((w) => w.data as Float32Array));
      }
      const computeMs = performance.now() - start - trace.copyMs;
      const trained = weights.map((w) => Float32Array.from(w.data as Float32Array));
      return {
        outputs: shapes.map(([name, shape], i) => ({ name, shape, data: trained[i] })),
        computeMs,
        loss,
        trace: trace.result(),
        evalLogits: await evaluate(trained, xEval),
      };
    },
    dispose: () => void session.release(),
  };
}

/** Evaluation logits of a dense/relu model, one session per batch size. */
async function forward(ort: Ort, create: Create, spec: TrainSpec): Promise<ForwardFn> {
  const missing = trainGraphSupported(spec);
  if (missing) throw new UnsupportedOpError(`ort has no forward graph for ${missing}`);
  const shapes = paramShapes(spec);
  const sessions = new Map<number, { session: OrtSession; graph: ReturnType<typeof forwardGraph> }>();
  return async (weights, x) => {
    const batch = x.shape[0];
    let entry = sessions.get(batch);
    if (!entry) {
      const graph = forwardGraph(spec, batch);
      entry = { session: await create(graph.model), graph };
      sessions.set(batch, entry);
    }
    const feeds: Record<string, OrtTensor> = { x: tensorOf(ort, x.data as Float32Array, x.shape) };
    entry.graph.params.forEach((name, i) => (feeds[name] = tensorOf(ort, weights[i], shapes[i][1])));
    const result = await entry.session.run(feeds);
    return Float32Array.from(result[entry.graph.output].data as Float32Array);
  };
}

async function gradients(ort: Ort, create: Create, spec: TrainSpec): Promise<GradientFn> {
  const missing = trainGraphSupported(spec);
  if (missing) throw new Error(`ort-cpu has no gradient graph for ${missing}`);
  const shapes = paramShapes(spec);
  const sessions = new Map<number, { session: OrtSession; graph: ReturnType<typeof trainStepGraph> }>();
  return async (weights, x, y) => {
    const batch = y.length;
    let entry = sessions.get(batch);
    if (!entry) {
      const graph = trainStepGraph(spec, batch, false);
      entry = { session: await create(graph.model), graph };
      sessions.set(batch, entry);
    }
    const feeds: Record<string, OrtTensor> = {
      x: tensorOf(ort, x.data as Float32Array, x.shape),
      onehot: tensorOf(ort, oneHot(y, spec.classes), [batch, spec.classes]),
    };
    entry.graph.params.forEach((name, i) => (feeds[name] = tensorOf(ort, weights[i], shapes[i][1])));
    const result = await entry.session.run(feeds);
    return {
      grads: entry.graph.outputs.map((name) => Float32Array.from(result[name].data as Float32Array)),
      loss: (result.loss.data as Float32Array)[0],
    };
  };
}
