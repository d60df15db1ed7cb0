/**
 * Resume replay (harness/checkpoint.ts, harness/run/resume.ts): the training state's format, each
 * CPU backend restoring it bit for bit in a session of its own, and the runner finishing a run in a
 * fresh process from the checkpoint alone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findBackend } from '../harness/backends/index.ts';
import { componentOf, packState, resumeStep, stateCounters, unpackState, type TrainingState } from '../harness/checkpoint.ts';
import type { RunRequest } from '../harness/protocol.ts';
import { secondHalfTimeoutMs } from '../harness/run/resume.ts';
import { runAll } from '../harness/run/runner.ts';
import { loadResults, readArtifact, ResultsWriter } from '../harness/store.ts';
import { findWorkload, resolveWorkload } from '../workloads/index.ts';
import { workloadInputs } from '../workloads/inputs.ts';
import type { NamedTensor } from '../workloads/types.ts';
import { fixtureManifest } from './fixtures/results.ts';

const digest = (ts: NamedTensor[]) => ts.reduce((h, t) => h.update(t.name).update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), createHash('sha256')).digest('hex');
/** One digest per part of a state. */
const parts = (s: TrainingState) => Object.fromEntries(['weights', 'optimizer', 'schedule', 'data', 'rng'].map((c) => [c, digest(s.tensors.filter((t) => componentOf(t.name) === c))]));

test('a state names each tensor by its part; a checkpoint whose counters disagree with its step is refused', () => {
  const spec = resolveWorkload(findWorkload('transformer-train')!, 'quick').spec;
  assert.ok(spec.kind === 'train');
  assert.deepEqual(stateCounters(spec, 2).map((t) => [t.name, t.data[0]]), [['schedule/step', 2], ['data/position', 2 * spec.batch], ['rng/dropout.step', 2]]);
  assert.deepEqual(['weights/l0.table', 'optimizer/head.w.m', 'schedule/step', 'x/y', 'weights'].map(componentOf), ['weights', 'optimizer', 'schedule', null, null]);
  const state: TrainingState = { tensors: [{ name: 'weights/a', shape: [2], data: Float32Array.of(1, 2) }, ...stateCounters(spec, 2)] };
  const packed = packState(state);
  assert.deepEqual(unpackState(packed.data, packed.tensors), state);
  assert.equal(resumeStep(spec, state), 2);
  const moved = { tensors: state.tensors.map((t) => (t.name === 'data/position' ? { ...t, data: Float32Array.of(0) } : t)) };
  assert.throws(() => resumeStep(spec, moved), /data\/position is 0, but its schedule is at step 2/);
  assert.throws(() => resumeStep(spec, { tensors: stateCounters(spec, spec.steps) }), /outside 1…/);
});

// SGD and a plain model (mlp), AdamW with dropout, clipping and a schedule (transformer), momentum and a loader (data-pipeline)
for (const backendId of ['tfjs-cpu', 'ort-cpu']) {
  test(`${backendId}: a state written after 2 steps and restored in another session finishes with every part of the uninterrupted run's state`, async () => {
    const backend = findBackend(backendId)!;
    for (const id of ['mlp-train', 'transformer-train', 'data-pipeline']) {
      const workload = resolveWorkload(findWorkload(id)!, 'quick');
      const inputs = workloadInputs(workload, 1);
      const first = await backend.open({ mode: 'det', threads: 1, device: 'cpu' });
      const second = await backend.open({ mode: 'det', threads: 1, device: 'cpu' });
      try {
        const program = await first.prepare(workload, inputs);
        const whole = await program.execute({ state: true });
        const half = await program.execute({ stopAfter: 2 });
        assert.equal(half.evalLogits, undefined, 'the first half is not evaluated');
        const rest = await (await second.prepare(workload, inputs)).execute({ resumeFrom: half.state!, state: true });
        assert.deepEqual(parts(rest.state!), parts(whole.state!), id);
        assert.equal(digest(rest.outputs), digest(whole.outputs));
        assert.deepEqual(rest.evalLogits, whole.evalLogits);
        // the comparison can fail: a restore that forgets the optimizer's state (or has none to forget) changes the weights
        const forgetful = { tensors: half.state!.tensors.map((t) => (componentOf(t.name) === 'optimizer' ? { ...t, data: new Float32Array(t.data.length) } : t)) };
        const wrong = await (await second.prepare(workload, inputs)).execute({ resumeFrom: forgetful, state: true });
        if (half.state!.tensors.some((t) => componentOf(t.name) === 'optimizer')) assert.notEqual(parts(wrong.state!).weights, parts(whole.state!).weights, id);
      } finally {
        await first.close();
        await second.close();
      }
    }
  });
}

test('runner: a resumed run trains K steps in a worker thread and finishes in a fresh process from the checkpoint alone, with the uninterrupted run\'s bits', async () => {
  const base = { workload: 'data-pipeline', backend: 'tfjs-cpu', device: 'cpu', mode: 'det' as const, threads: 1, warmup: false, seed: 4, preset: 'quick' as const, params: {}, loaderWorkers: 2 };
  const runs: RunRequest[] = [{ ...base, runIndex: 0, repeat: 0, keepState: true }, { ...base, runIndex: 1, repeat: 1, resumeAt: 3, keepState: true }];
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-resume-')), 'r');
  const writer = ResultsWriter.create(dir, fixtureManifest(runs, runs.length));
  await runAll(runs, writer, { concurrency: 1, timeoutMs: 120_000 });
  writer.finish({ finishedAt: '', runs: writer.written, interrupted: false });
  const results = loadResults(dir);
  const [whole, resumed] = results.runs.sort((a, b) => a.runIndex - b.runIndex);
  assert.ok(whole.status === 'ok' && resumed.status === 'ok', JSON.stringify(results.runs.map((r) => 'message' in r && r.message)));
  assert.equal(whole.resume, undefined);
  assert.ok(resumed.resume && resumed.resume.savedByPid !== resumed.resume.restoredByPid && resumed.resume.savedByPid === process.pid, 'the first half ran in this process\'s worker thread, the second elsewhere');
  assert.equal(resumed.artifact.sha256, whole.artifact.sha256);
  assert.equal(resumed.finalState!.sha256, whole.finalState!.sha256);
  const checkpoint = unpackState(readArtifact(dir, resumed.resume.checkpoint.sha256, results.artifacts.get(resumed.resume.checkpoint.sha256)!), resumed.resume.checkpoint.tensors);
  assert.equal(resumeStep(resolveWorkload(findWorkload('data-pipeline')!, 'quick').spec as never, checkpoint), 3);
  assert.ok(resumed.determinism?.switches.some((s) => s.name === 'resume' && s.verified === true));
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});

test('the timeout is the whole resumed run\'s: the second half gets what the first half\'s setup, compute and evaluation left of it', () => {
  const first = { status: 'ok', setupMs: 300, computeMs: 1200, evalMs: 100 } as Parameters<typeof secondHalfTimeoutMs>[1];
  assert.equal(secondHalfTimeoutMs(5000, first), 3400);
  assert.equal(secondHalfTimeoutMs(5000, { ...first, evalMs: undefined }), 3500);
  // a first half that used it all leaves nothing: the run is past its timeout
  assert.equal(secondHalfTimeoutMs(1500, first), 0);
});
