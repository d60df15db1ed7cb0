/**
 * ort-webgpu on the software adapter (Mesa's lavapipe; DETBENCH_WEBGPU_SOFTWARE=1): onnxruntime's
 * WebGPU provider trains every workload it can express — the same step graphs as ort-cpu, CPU
 * fallback disabled — within the workload's tolerance; what it cannot is `unsupported` in
 * onnxruntime's words, with the ops it has no kernel for named.
 */
import assert from 'node:assert/strict';
import { findBackend } from '../../harness/backends/index.ts';
import { loadOrt, placeGraph } from '../../harness/backends/ort/ort-common.ts';
import { GraphBuilder } from '../../harness/backends/ort/onnx-graph.ts';
import { supportOf, UnsupportedOpError, type Execution } from '../../harness/backends/types.ts';
import { describeTolerance, judgeRun } from '../../harness/analysis/tolerance.ts';
import { resolveWorkload, WORKLOADS } from '../../workloads/index.ts';
import { systemTest } from './components.ts';
import { executeQuick as execute, flatOutputs as flat } from '../fixtures/execute.ts';

const NO_FALLBACK = /fallback to CPU EP has been explicitly disabled/;


systemTest(
  'ort-webgpu trains every workload it expresses within tolerance of tfjs-cpu (ort-cpu where tfjs-cpu cannot); the rest is unsupported in onnxruntime’s words',
  'lavapipe',
  async () => {
    process.env.DETBENCH_WEBGPU_SOFTWARE = '1';
    const ort = findBackend('ort-webgpu')!;
    const availability = await ort.probe();
    assert.ok(availability.available, JSON.stringify(availability));
    const trained: string[] = [], unsupported: string[] = [];
    for (const def of WORKLOADS) {
      if (!supportOf(ort, resolveWorkload(def, 'quick').spec).ok) continue;
      let result: Execution;
      try {
        result = await execute('ort-webgpu', def.id);
      } catch (err) {
        assert.ok(err instanceof UnsupportedOpError && NO_FALLBACK.test(err.message), `${def.id}: ${(err as Error).message}`);
        unsupported.push(`${def.id}: ${err.message}`);
        continue;
      }
      let reference: Execution;
      try {
        reference = await execute('tfjs-cpu', def.id);
      } catch (err) {
        if (!(err instanceof UnsupportedOpError)) throw err;
        reference = await execute('ort-cpu', def.id);
      }
      // the workload's own tolerance: a sum is judged relative to Σ|x| of its terms, not to its value
      const v = judgeRun(resolveWorkload(def, 'quick'), 0, flat(reference), flat(result));
      assert.ok(v.within, `${def.id}: distance ${v.distance}, tolerance ${describeTolerance(def.tolerance)}`);
      trained.push(def.id);
    }
    // every training workload but the data-parallel control (CPU worker threads) trains on it today
    for (const id of WORKLOADS.filter((w) => w.build(w.presets.quick).kind === 'train' && w.id !== 'dataparallel-train').map((w) => w.id)) {
      assert.ok(trained.includes(id), `${id} did not train on ort-webgpu: ${unsupported.join('; ')}`);
    }
  },
  { timeout: 600_000 },
);

systemTest('an op the WebGPU provider has no kernel for: unsupported, in onnxruntime’s words, naming the op', 'lavapipe', async () => {
  process.env.DETBENCH_WEBGPU_SOFTWARE = '1';
  // the WebGPU provider of onnxruntime-node 1.30 computes ArgMax but cannot cast its int64 indices
  // (why max-pool's gradient does without ArgMax)
  const g = new GraphBuilder('argmax');
  const x = g.input('x', [2, 4]);
  g.output('y', g.cast(g.argMax(g.relu(x), 1, false), 'float32'));
  const ort = await loadOrt();
  await assert.rejects(
    placeGraph(ort, g.build(), { executionProviders: ['webgpu'], logSeverityLevel: 4, extra: { session: { disable_cpu_ep_fallback: '1' } } }),
    (err: Error) => err instanceof UnsupportedOpError && NO_FALLBACK.test(err.message) && /no kernel on this provider: Cast\)$/.test(err.message),
  );
});
