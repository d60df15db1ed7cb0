/**
 * npm run bench, section 6: ort-cpu's harness overhead on a training workload. The det runs of one
 * cell through `detbench run` against the same step graph run by a plain loop of onnxruntime-node
 * calls in this process: one InferenceSession with ort-cpu's det options, the inputs made once, and
 * per iteration the steps (weights fed back) and a copy of the final weights. Target ≤ 1.10.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isOk } from '../harness/protocol.ts';
import { loadResults } from '../harness/store.ts';
import { loadOrt } from '../harness/backends/ort/ort-common.ts';
import { oneHot, trainStepGraph } from '../harness/backends/ort/onnx-model.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { byName, workloadInputs } from '../workloads/inputs.ts';
import type { TrainSpec } from '../workloads/types.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function ortOverhead(workloadId: string, preset: 'quick' | 'standard', repeats: number): Promise<void> {
  const def = findWorkload(workloadId);
  if (!def) {
    console.log(`6. ort-cpu overhead: skipped, no workload ${workloadId} here`);
    return;
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-ort-'));
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  console.log(`6. ort-cpu overhead: ${workloadId} (${preset}), det, 1 thread, ${repeats} runs through detbench vs a plain loop of onnxruntime-node calls…`);
  const r = spawnSync(process.execPath, [bin, 'run', '--suite', preset, '--backends', 'ort-cpu', '--workloads', workloadId, '--modes', 'det', '--threads', '1', '--repeats', String(repeats), '--out', out, '--json', '--no-report'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 1) {
    console.log(`   detbench failed (exit ${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
    return;
  }
  const records = loadResults((JSON.parse(r.stdout) as { resultsDir: string }).resultsDir).runs.filter((x) => isOk(x) && !x.warmup);
  if (records.length === 0) {
    console.log('   no ok runs: see the results folder');
    return;
  }

  // the plain loop: what a user of onnxruntime-node would write around the same graph
  const workload = resolveWorkload(def, preset);
  const spec = workload.spec as TrainSpec;
  const inputs = workloadInputs(workload, 0);
  const graph = trainStepGraph(spec);
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(graph.model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 3,
    extra: { session: { use_deterministic_compute: '1' } },
  });
  const slice = (name: string, s: number) => {
    const t = byName(inputs, name);
    const per = t.data.length / spec.steps;
    return t.data.subarray(s * per, (s + 1) * per);
  };
  type OrtTensor = InstanceType<typeof ort.Tensor>;
  const tensor = (data: Float32Array | Int32Array, shape: number[]): OrtTensor => (data instanceof Int32Array ? new ort.Tensor('int32', data, shape) : new ort.Tensor('float32', data, shape));
  const feedsOfStep = Array.from({ length: spec.steps }, (_, s) =>
    Object.fromEntries(
      graph.stepInputs.map(({ input, shape, from }) => {
        const data = 'tensor' in from ? slice(from.tensor, s) : 'onehot' in from ? oneHot(slice(from.onehot, s) as Int32Array, from.classes) : Float32Array.of(from.perStep(s + 1));
        return [input, tensor(data, shape)];
      }),
    ),
  );
  const plainMs: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    const start = performance.now();
    let carried: OrtTensor[] = graph.carried.map((c) => tensor(c.initial === 'zeros' ? new Float32Array(c.shape.reduce((a, b) => a * b, 1)) : Float32Array.from(byName(inputs, c.initial.tensor).data as Float32Array), c.shape));
    for (const stepFeeds of feedsOfStep) {
      const feeds = { ...stepFeeds, ...Object.fromEntries(graph.carried.map((c, k) => [c.input, carried[k]])) };
      const result = await session.run(feeds);
      carried = graph.carried.map((c) => result[c.output]);
    }
    carried.slice(0, graph.artifactLength).map((t) => Float32Array.from(t.data as Float32Array));
    if (i > 0) plainMs.push(performance.now() - start); // the first iteration warms up, as detbench's warm-up run does
  }
  await session.release();

  const wallMs = records.map((x) => x.wallMs);
  const computeMs = records.map((x) => (x as { computeMs: number }).computeMs);
  console.log(`   per run, median of ${records.length}: detbench ${median(wallMs).toFixed(1)} ms wall (compute ${median(computeMs).toFixed(1)} ms) vs plain loop ${median(plainMs).toFixed(1)} ms`);
  console.log(`   ratio detbench / plain loop: ${(median(wallMs) / median(plainMs)).toFixed(3)} wall, ${(median(computeMs) / median(plainMs)).toFixed(3)} compute  (target ≤ 1.10)`);
}
