/**
 * The gpu preset: FLOPs per run counted from the spec (the two models ≥ 2 TFLOP), and CPU cells
 * planned unsupported with the reason unless --allow-slow.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Availability } from '../../harness/backends/types.ts';
import { resolveSuite } from '../../harness/config.ts';
import { makePlan } from '../../harness/plan.ts';
import { flopsPerRun, formatFlops } from '../../workloads/flops.ts';
import { WORKLOADS, findWorkload } from '../../workloads/index.ts';
import type { TrainSpec } from '../../workloads/types.ts';

test('FLOPs by hand: a matmul, and one dense layer trained for one step with plain SGD', () => {
  assert.equal(flopsPerRun({ kind: 'infer', op: 'matmul', m: 2, k: 3, n: 4 }), 2 * 2 * 3 * 4);
  const spec: TrainSpec = {
    kind: 'train', input: { shape: [3], dtype: 'float32' }, classes: 2, layers: [{ kind: 'dense', units: 4, activation: 'none' }],
    batch: 5, steps: 1, learningRate: 0.1, teacher: { width: 3, hidden: 2 }, evalExamples: 7,
  };
  // forward per example: dense 2·3·4 + head 2·4·2 + softmax 5·2; params 3·4 + 4 + 4·2 + 2 = 26, SGD 2 per parameter
  const perExample = 24 + 16 + 10;
  assert.equal(flopsPerRun(spec), 1 * (3 * perExample * 5 + 2 * 26) + perExample * 7);
  assert.equal(formatFlops(4.4e12), '4.4 TFLOP');
  assert.equal(formatFlops(35e9), '35 GFLOP');
});

test('the gpu preset asks ≥ 2 TFLOP per run of transformer-train and resnet-train, and more than standard of every workload it sizes up', () => {
  for (const id of ['transformer-train', 'resnet-train']) {
    const w = findWorkload(id)!;
    assert.ok(flopsPerRun(w.build(w.presets.gpu)) >= 2e12, `${id}: ${formatFlops(flopsPerRun(w.build(w.presets.gpu)))}`);
  }
  for (const w of WORKLOADS.filter((x) => x.id !== 'dataparallel-train' && x.id !== 'data-pipeline')) {
    assert.ok(flopsPerRun(w.build(w.presets.gpu)) > flopsPerRun(w.build(w.presets.standard)), w.id);
  }
  const scatter = findWorkload('index-add')!.presets.gpu;
  assert.ok(scatter.length >= 16 * 2 ** 20);
  const embedding = findWorkload('embedding-train')!.presets.gpu;
  assert.ok(embedding.batch * embedding.seq * embedding.dim >= 16 * 2 ** 20, 'embedding-gradient scatter of ≥ 16M elements per step');
});

test('gpu preset on a CPU device: planned unsupported with the FLOPs and the flag, unless --allow-slow; GPU devices plan as usual', () => {
  const torch: Availability = { available: true, version: 'x', devices: ['cuda:0', 'cpu'], notes: [] };
  const suite = resolveSuite({ preset: 'gpu' }, { backends: ['torch'], workloads: ['transformer-train'], repeats: 2 }, 'x');
  const plan = makePlan(suite, { torch });
  const cpu = plan.cells.filter((c) => c.device === 'cpu');
  assert.ok(cpu.length > 0 && cpu.every((c) => c.status === 'unsupported' && /^the gpu preset is sized for GPUs \(4\.\d TFLOP per run\).*pass --allow-slow/.test(c.reason ?? '')), JSON.stringify(cpu));
  assert.ok(plan.runs.length > 0 && plan.runs.every((r) => r.device === 'cuda:0'));
  const slow = makePlan(resolveSuite({ preset: 'gpu' }, { backends: ['torch'], workloads: ['transformer-train'], repeats: 2, allowSlow: true }, 'x'), { torch });
  assert.ok(slow.runs.some((r) => r.device === 'cpu'));
  assert.throws(() => resolveSuite({ allowSlow: 'yes' as unknown as boolean }, {}, 'x.yaml'), { name: 'UsageError' });
});
