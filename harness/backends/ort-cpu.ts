import { createRequire } from 'node:module';
import type { InferenceSession as OrtSession, Tensor as OrtTensor } from 'onnxruntime-node';
import type { DeterminismRecord, Switch } from '../protocol.js';
import { byName } from '../../workloads/inputs.js';
import { paramShapes } from '../../workloads/params.js';
import type { NamedTensor, ResolvedWorkload, TrainSpec, WorkloadSpec } from '../../workloads/types.js';
import { inferGraph, oneHot, trainGraphSupported, trainStepGraph } from './onnx-graph.js';
import { StepTrace, type Availability, type Backend, type Execution, type ExecuteOptions, type GradientFn, type Program, type Session, type SessionOptions, type Support } from './types.js';

type Ort = typeof import('onnxruntime-node');

const loadOrt = async (): Promise<Ort> => (await import('onnxruntime-node')).default ?? (await import('onnxruntime-node'));

/**
 * `det`: intra-op threads = the cell's thread count, inter-op threads 1, sequential execution and
 * the session config `session.use_deterministic_compute`. `nondet`: the cell's thread count and
 * onnxruntime's defaults for everything else. onnxruntime-node cannot read options back, so the
 * switches are recorded as set but unverified.
 */
function sessionOptions(options: SessionOptions): { ort: OrtSession.SessionOptions; switches: Switch[] } {
  // logSeverityLevel 3: errors only, so onnxruntime's graph-optimizer notes do not interleave with progress.
  const base: OrtSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: options.threads, logSeverityLevel: 3 };
  const threads: Switch = { name: 'intraOpNumThreads', value: String(options.threads), verified: false };
  if (options.mode === 'nondet') return { ort: base, switches: [threads] };
  return {
    ort: { ...base, interOpNumThreads: 1, executionMode: 'sequential', extra: { session: { use_deterministic_compute: '1' } } },
    switches: [
      threads,
      { name: 'interOpNumThreads', value: '1', verified: false },
      { name: 'executionMode', value: 'sequential', verified: false },
      { name: 'session.use_deterministic_compute', value: '1', verified: false, note: 'onnxruntime-node cannot read session options back' },
    ],
  };
}

const tensorOf = (ort: Ort, data: Float32Array, shape: number[]): OrtTensor => new ort.Tensor('float32', data, shape);

export const ortCpu: Backend = {
  info: {
    id: 'ort-cpu',
    description: 'onnxruntime-node, CPU execution provider, ONNX graphs built by detbench',
    deviceKind: 'cpu',
    ownProcess: false,
    threadControl: true,
    capabilities:
      'infer: attention, reduce-sum, matmul; train: dense/relu/softmax-xent models through an ONNX graph of one SGD step (no conv2d, pooling or embedding training graphs)',
  },
  async probe(): Promise<Availability> {
    try {
      const ort = await loadOrt();
      const providers = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends?.() ?? [];
      const version = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
      return { available: true, version, devices: ['cpu'], notes: [`execution providers: ${providers.map((p) => p.name + (p.bundled ? '' : ' (not bundled)')).join(', ')}`] };
    } catch (err) {
      return { available: false, reason: `onnxruntime-node failed to load: ${(err as Error).message} (run npm install)` };
    }
  },
  supports(spec: WorkloadSpec): Support {
    if (spec.kind === 'infer') return { ok: true };
    const missing = trainGraphSupported(spec);
    return missing ? { ok: false, reason: `ort-cpu builds SGD-step graphs for dense/relu models only; this workload needs ${missing}` } : { ok: true };
  },
  async open(options: SessionOptions): Promise<Session> {
    const ort = await loadOrt();
    const { ort: ortOptions, switches } = sessionOptions(options);
    const determinism: DeterminismRecord = {
      mode: options.mode,
      control: 'controlled',
      switches,
      summary:
        options.mode === 'det'
          ? `onnxruntime CPU: ${options.threads} intra-op thread(s), 1 inter-op thread, sequential execution, deterministic compute`
          : `onnxruntime CPU defaults with ${options.threads} intra-op thread(s)`,
    };
    const create = (model: Uint8Array) => ort.InferenceSession.create(model, ortOptions);
    return {
      determinism,
      warnings: [],
      async prepare(workload, inputs) {
        return workload.spec.kind === 'infer' ? prepareInfer(ort, create, workload, inputs) : prepareTrain(ort, create, workload.spec, inputs);
      },
      async gradients(spec) {
        return gradients(ort, create, spec);
      },
      async close() {},
    };
  },
};

type Create = (model: Uint8Array) => Promise<OrtSession>;

async function prepareInfer(ort: Ort, create: Create, workload: ResolvedWorkload, inputs: NamedTensor[]): Promise<Program> {
  if (workload.spec.kind !== 'infer') throw new Error('not an inference workload');
  const graph = inferGraph(workload.spec);
  const session = await create(graph.model);
  const feeds = Object.fromEntries(graph.inputs.map((n) => [n, tensorOf(ort, byName(inputs, n).data as Float32Array, byName(inputs, n).shape)]));
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
      return {
        outputs: shapes.map(([name, shape], i) => ({ name, shape, data: Float32Array.from(weights[i].data as Float32Array) })),
        computeMs,
        loss,
        trace: trace.result(),
      };
    },
    dispose: () => void session.release(),
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
