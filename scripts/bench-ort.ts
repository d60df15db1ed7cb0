/**
 * npm run bench, ort-cpu's part of section 6: the det runs of one cell through `detbench run` against
 * the same step graph run by a plain loop of onnxruntime-node calls in this process — one
 * InferenceSession with ort-cpu's det options, the inputs made once, and per iteration the steps
 * (weights fed back) and a copy of the final weights. Target ≤ 1.10.
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
    console.log(`   ort-cpu   skipped: no workload ${workloadId} here`);
    return;
  }
  // rounds of detbench runs and plain-loop iterations in turn, so a busy spell of a shared machine
  // does not land on one side only
  const rounds = 3, perRound = Math.max(2, Math.ceil(repeats / rounds));
  console.log(`   ort-cpu   ${rounds} rounds of ${perRound} runs of ${workloadId} (${preset}) through detbench and ${perRound} iterations of a plain loop of onnxruntime-node calls…`);
  const plain = await plainLoop(def, preset);
  const wallMs: number[] = [], computeMs: number[] = [], plainMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const records = detbenchRuns(workloadId, preset, perRound);
    if (!records) return;
    wallMs.push(...records.map((x) => x.wallMs));
    computeMs.push(...records.map((x) => x.computeMs));
    plainMs.push(...(await plain.iterations(perRound)));
  }
  await plain.close();
  console.log(`   ort-cpu   per run, median of ${wallMs.length}: detbench ${median(wallMs).toFixed(0)} ms (compute ${median(computeMs).toFixed(0)} ms) vs plain loop ${median(plainMs).toFixed(0)} ms: ratio ${(median(wallMs) / median(plainMs)).toFixed(3)} (target ≤ 1.10)`);
}

/** The counted det runs of one `detbench run` of the cell (its warm-up left out), or null when it failed. */
function detbenchRuns(workloadId: string, preset: string, repeats: number): Array<{ wallMs: number; computeMs: number }> | null {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-bench-ort-'));
  const bin = fileURLToPath(new URL('../bin/detbench.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'run', '--suite', preset, '--backends', 'ort-cpu', '--workloads', workloadId, '--modes', 'det', '--threads', '1', '--repeats', String(repeats), '--out', out, '--json', '--no-report'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 1) {
    console.log(`   ort-cpu   detbench failed (exit ${r.status}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
    return null;
  }
  const records = loadResults((JSON.parse(r.stdout) as { resultsDir: string }).resultsDir).runs.filter((x) => isOk(x) && !x.warmup);
  if (records.length === 0) console.log(`   ort-cpu   no ok runs: see ${out}`);
  return records.length ? records.map((x) => ({ wallMs: x.wallMs, computeMs: (x as { computeMs: number }).computeMs })) : null;
}

/**
 * What a user of onnxruntime-node would write around the same graph: one session with ort-cpu's det
 * options, the inputs made once; an iteration is the steps (weights fed back) and a copy of the result.
 */
async function plainLoop(def: NonNullable<ReturnType<typeof findWorkload>>, preset: 'quick' | 'standard') {
  const workload = resolveWorkload(def, preset);
  const spec = workload.spec as TrainSpec;
  const inputs = workloadInputs(workload, 0);
  const graph = trainStepGraph(spec);
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(graph.model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 3,
    extra: { session: { use_deterministic_compute: '1' } },
  });
  type OrtTensor = InstanceType<typeof ort.Tensor>;
  const tensor = (data: Float32Array | Int32Array, shape: number[]): OrtTensor => (data instanceof Int32Array ? new ort.Tensor('int32', data, shape) : new ort.Tensor('float32', data, shape));
  const slice = (name: string, s: number) => {
    const t = byName(inputs, name);
    const per = t.data.length / spec.steps;
    return t.data.subarray(s * per, (s + 1) * per);
  };
  const feedsOfStep = Array.from({ length: spec.steps }, (_, s) =>
    Object.fromEntries(
      graph.stepInputs.map(({ input, shape, from }) => {
        const data = 'tensor' in from ? slice(from.tensor, s) : 'onehot' in from ? oneHot(slice(from.onehot, s) as Int32Array, from.classes) : Float32Array.of(from.perStep(s + 1));
        return [input, tensor(data, shape)];
      }),
    ),
  );
  const iteration = async () => {
    const start = performance.now();
    let carried: OrtTensor[] = graph.carried.map((c) => tensor(c.initial === 'zeros' ? new Float32Array(c.shape.reduce((a, b) => a * b, 1)) : Float32Array.from(byName(inputs, c.initial.tensor).data as Float32Array), c.shape));
    for (const stepFeeds of feedsOfStep) {
      const result = await session.run({ ...stepFeeds, ...Object.fromEntries(graph.carried.map((c, k) => [c.input, carried[k]])) });
      carried = graph.carried.map((c) => result[c.output]);
    }
    carried.slice(0, graph.artifactLength).map((t) => Float32Array.from(t.data as Float32Array));
    return performance.now() - start;
  };
  await iteration(); // warm-up, as detbench's warm-up run
  return {
    async iterations(n: number): Promise<number[]> {
      const times: number[] = [];
      for (let i = 0; i < n; i++) times.push(await iteration());
      return times;
    },
    close: () => session.release(),
  };
}
