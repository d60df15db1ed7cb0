/**
 * The torch adapter with a real PyTorch on the CPU: Debian's python3-torch (`.ci/run` installs it;
 * DETBENCH_PYTHON names another Python). The GPU half — CUDA, cuDNN, atomics — needs a GPU host.
 * The worker's protocol without torch needs only a Python.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { torchBackend } from '../../harness/backends/torch/torch.ts';
import { findBackend } from '../../harness/backends/index.ts';
import type { Execution } from '../../harness/backends/types.ts';
import { diffFloat32 } from '../../harness/analysis/diff.ts';
import { describeTolerance, judgeRun } from '../../harness/analysis/tolerance.ts';
import { paramShapes } from '../../workloads/params.ts';
import { DEFAULT_WORKLOAD_IDS, findWorkload, resolveWorkload } from '../../workloads/index.ts';
import { workloadInputs } from '../../workloads/inputs.ts';
import { PLAIN_PYTHON, systemTest, TORCH_PYTHON } from './components.ts';
import { flatOutputs as flat } from '../fixtures/execute.ts';

// the torch backend starts this Python (it reads the variable when it starts one)
process.env.DETBENCH_PYTHON ??= TORCH_PYTHON;
const python = TORCH_PYTHON;


async function run(backendId: string, workloadId: string, mode: 'det' | 'nondet', times = 1, trace = false): Promise<Execution[]> {
  const workload = resolveWorkload(findWorkload(workloadId)!, 'quick');
  const session = await findBackend(backendId)!.open({ mode, threads: 1, device: 'cpu' });
  const program = await session.prepare(workload, workloadInputs(workload, 0));
  const out: Execution[] = [];
  for (let i = 0; i < times; i++) out.push(await program.execute({ trace }));
  program.dispose();
  await session.close();
  return out;
}

/** The pids of the Python worker processes this process has started that are still running. */
function pythonWorkers(): number[] {
  const ps = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((line) => line.includes('worker.py')).map((line) => Number(line.trim().split(/\s+/)[0]));
}
const pythonChildren = () => pythonWorkers().length;

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(condition(), what);
}

systemTest('torch probe: available on the CPU with its version, and the facts the doctor needs; its worker is gone after it', 'torch', async () => {
  const a = await torchBackend.probe();
  assert.ok(a.available, a.available ? '' : a.reason);
  assert.match(a.version, /^\d+\.\d+/);
  assert.ok(a.devices.length > 0);
  // PyTorch's default, not the det worker's: cudnn.benchmark is off in a fresh process
  assert.deepEqual(Object.keys(a.stack ?? {}).sort(), ['cuda', 'cudnn', 'cudnnBenchmark']);
  assert.equal(a.stack!.cudnnBenchmark, false);
  await until(() => pythonChildren() === 0, 'the probe stopped the worker it started');
});

systemTest('torch workers started ahead: the probe asks the det one, sessions take them, endAhead stops the rest', 'torch', async () => {
  // every Python the backend starts goes through this wrapper, which logs the mode it starts in
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-torch-starts-'));
  const log = path.join(dir, 'starts');
  const wrapper = path.join(dir, 'python');
  fs.writeFileSync(wrapper, `#!/bin/sh\necho "$DETBENCH_TORCH_MODE" >> ${log}\nexec ${python} "$@"\n`, { mode: 0o755 });
  const starts = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).sort() : []);
  const before = process.env.DETBENCH_PYTHON;
  process.env.DETBENCH_PYTHON = wrapper;
  try {
    torchBackend.startAhead!(['det', 'nondet']);
    await until(() => starts().length === 2, 'a worker per mode started ahead');
    assert.ok((await torchBackend.probe()).available);
    const t1 = await torchBackend.open({ mode: 'det', threads: 1, device: 'cpu' });
    const t2 = await torchBackend.open({ mode: 'det', threads: 2, device: 'cpu' });
    // the probe asked the det worker, both det sessions took it: no Python started since
    assert.deepEqual(starts(), ['det', 'nondet']);
    assert.equal(pythonChildren(), 2);
    torchBackend.endAhead!();
    await until(() => pythonChildren() === 1, 'the nondet worker no session took is stopped');
    await Promise.all([t1.close(), t2.close()]);
    await until(() => pythonChildren() === 0, 'closing the sessions stops their worker');
    assert.deepEqual(starts(), ['det', 'nondet']);
  } finally {
    process.env.DETBENCH_PYTHON = before;
  }
});

systemTest('torch sessions that differ only in their thread count share one worker, and compute the bits each would alone', 'torch', async () => {
  // conv-train: its bits at 1 and 2 intra-op threads differ (checked first), so a thread count
  // leaking from one session into the other's runs would show
  const workload = resolveWorkload(findWorkload('conv-train')!, 'quick');
  const inputs = workloadInputs(workload, 0);
  const once = async (threads: number) => {
    const session = await torchBackend.open({ mode: 'det', threads, device: 'cpu' });
    const program = await session.prepare(workload, inputs);
    return { session, program, run: async () => flat(await program.execute()) };
  };
  const alone = async (threads: number) => {
    const s = await once(threads);
    const bits = await s.run();
    await s.session.close();
    return bits;
  };
  const expected = { 1: await alone(1), 2: await alone(2) };
  assert.ok(!diffFloat32(expected[1], expected[2]).bitwiseEqual, 'conv-train gives other bits at 1 and 2 threads');
  const [t1, t2] = [await once(1), await once(2)];
  assert.equal(pythonChildren(), 1);
  // switches verified at each session's own count; runs alternate between the counts
  for (const s of [t1, t2]) assert.ok(s.session.determinism.switches.every((w) => w.verified), JSON.stringify(s.session.determinism.switches));
  for (const [threads, s] of [[1, t1], [2, t2], [1, t1], [2, t2]] as const) {
    assert.ok(diffFloat32(expected[threads], await s.run()).bitwiseEqual, `a ${threads}-thread run in the shared worker gives the ${threads}-thread bits`);
  }
  // a worker that dies (here killed) is replaced for the next run of either session, greeted again
  const [pid] = pythonWorkers();
  process.kill(pid, 'SIGKILL');
  // reaped (no zombie left), so this process has seen it exit
  await until(() => spawnSync('ps', ['-o', 'pid=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim() === '', 'the worker is gone');
  assert.ok(diffFloat32(expected[2], await t2.run()).bitwiseEqual, 'the 2-thread session runs on in a new worker');
  assert.ok(diffFloat32(expected[1], await t1.run()).bitwiseEqual, 'and the 1-thread one shares it');
  assert.equal(pythonChildren(), 1);
  const nondet = await torchBackend.open({ mode: 'nondet', threads: 1, device: 'cpu' });
  assert.equal(pythonChildren(), 2, 'another mode gets a worker of its own');
  await t1.session.close();
  assert.equal(pythonChildren(), 2, 'the worker stays while a session uses it');
  await Promise.all([t2.session.close(), nondet.close()]);
  await until(() => pythonChildren() === 0, 'the last session to close stops the worker');
});

systemTest('torch det and nondet: every switch (with the CPU thread count) is read back from the worker and verified; versions are recorded', 'torch', async () => {
  for (const mode of ['det', 'nondet'] as const) {
    const session = await torchBackend.open({ mode, threads: 1, device: 'cpu' });
    const { determinism } = session;
    assert.equal(determinism.control, 'controlled');
    assert.deepEqual(determinism.switches.map((s) => [s.name, s.verified]), [
      ['use_deterministic_algorithms', true],
      ['cudnn.deterministic', true],
      ['cudnn.benchmark', true],
      ['CUBLAS_WORKSPACE_CONFIG', true],
      ['num_threads', true],
      // the numerics (fp32 by default): TF32 off for matmuls and cuDNN, no autocast
      ['cuda.matmul.allow_tf32', true],
      ['cudnn.allow_tf32', true],
      ['autocast', true],
    ]);
    assert.equal(determinism.switches[0].value, String(mode === 'det'));
    assert.match(determinism.summary, /^torch \d+\.\d+.*, CUDA .+, cuDNN .+:/);
    assert.deepEqual(session.warnings, []);
    await session.close();
  }
});

for (const workloadId of DEFAULT_WORKLOAD_IDS.filter((id) => id !== 'dataparallel-train')) {
  systemTest(`${workloadId}: torch agrees with tfjs-cpu within tolerance and gives the same bits twice in det`, 'torch', async () => {
    const [a, b] = await run('torch', workloadId, 'det', 2);
    assert.ok(diffFloat32(flat(a), flat(b)).bitwiseEqual);
    const [reference] = await run('tfjs-cpu', workloadId, 'det');
    const v = judgeRun(resolveWorkload(findWorkload(workloadId)!, 'quick'), 0, flat(reference), flat(a));
    assert.ok(v.within, `${workloadId}: ${v.distance} beyond ${describeTolerance(findWorkload(workloadId)!.tolerance)}`);
    if (findWorkload(workloadId)!.build(findWorkload(workloadId)!.presets.quick).kind === 'train') {
      assert.ok(a.loss !== null && Number.isFinite(a.loss));
      // the held-out logits, and the time the worker measured for them apart from the steps
      assert.ok(a.evalLogits && typeof a.evalMs === 'number' && a.evalMs >= 0, `evalMs ${a.evalMs}`);
    }
  });
}

systemTest('torch traces the weights after every training step, and the last step is the result', 'torch', async () => {
  const [e] = await run('torch', 'mlp-train', 'det', 1, true);
  const spec = resolveWorkload(findWorkload('mlp-train')!, 'quick').spec;
  assert.equal(spec.kind, 'train');
  if (spec.kind !== 'train') return;
  const perStep = paramShapes(spec).reduce((n, [, s]) => n + s.reduce((x, y) => x * y, 1), 0);
  assert.equal(e.trace?.length, spec.steps * perStep);
  assert.ok(diffFloat32(e.trace!.subarray((spec.steps - 1) * perStep), flat(e)).bitwiseEqual);
});

systemTest('a torch worker whose stdin closes mid-run leaves without finishing it (a timed-out run frees the GPU)', 'torch', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detbench-torch-exit-'));
  const n = 2048;
  const inputs = ['a', 'b'].map((name) => {
    const file = path.join(dir, `${name}.bin`);
    fs.writeFileSync(file, new Uint8Array(new Float32Array(n * n).fill(1).buffer));
    return { name, shape: [n, n], dtype: 'float32', path: file };
  });
  const run = { id: 1, op: 'run', spec: { kind: 'infer', op: 'matmul', m: n, k: n, n }, device: 'cpu', inputs, params: [], out: path.join(dir, 'out.f32') };
  const worker = fileURLToPath(new URL('../../harness/backends/torch/worker.py', import.meta.url));
  const env = { ...process.env, DETBENCH_TORCH_MODE: 'det' };
  // with a grace longer than the run, a request sent just before stdin closes is still answered (the
  // default grace, 10 s, was too short for this product on a busy 2-core machine) …
  const answered = spawnSync(python, ['-u', worker], { input: JSON.stringify(run) + '\n', encoding: 'utf8', timeout: 600_000, env: { ...env, DETBENCH_TORCH_EXIT_GRACE: '600' } });
  assert.equal(answered.stdout.trim().split('\n').length, 1, answered.stderr);
  assert.equal(JSON.parse(answered.stdout).ok, true);
  // … with no grace the process leaves at once: the 17-GFLOP product is never answered
  const left = spawnSync(python, ['-u', worker], { input: JSON.stringify(run) + '\n', encoding: 'utf8', timeout: 120_000, env: { ...env, DETBENCH_TORCH_EXIT_GRACE: '0' } });
  assert.equal(left.status, 0);
  assert.equal(left.stdout, '');
  fs.rmSync(dir, { recursive: true, force: true });
});

systemTest('PyTorch’s own "no deterministic implementation" error is recognised as unsupported; other errors are not', 'torch', () => {
  const dir = fileURLToPath(new URL('../../harness/backends/torch/', import.meta.url));
  const script = [
    'import sys, torch; sys.path.insert(0, sys.argv[1]); import worker',
    'try:\n  torch.zeros(3).put_(torch.tensor([0]), torch.tensor([1.0]))\nexcept Exception as e:\n  print(worker.unsupported(e), str(e).split(",")[0])',
    'print(worker.unsupported(RuntimeError("CUDA out of memory")))',
  ].join('\n');
  const r = spawnSync(python, ['-c', script, dir], { encoding: 'utf8', env: { ...process.env, DETBENCH_TORCH_MODE: 'det' } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['True put_ does not have a deterministic implementation', 'False']);
});

systemTest('the torch worker speaks its protocol even without torch: every request gets a reply naming the reason', 'python', () => {
  const worker = fileURLToPath(new URL('../../harness/backends/torch/worker.py', import.meta.url));
  // -S: no site-packages, so torch is not importable whatever this machine has installed
  const r = spawnSync(PLAIN_PYTHON, ['-S', '-u', worker], { input: '{"id": 7, "op": "hello"}\n{"id": 8, "op": "run"}\n', encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(replies.map((x) => [x.id, x.ok]), [[7, false], [8, false]]);
  assert.match(replies[0].error, /^torch is not importable: ModuleNotFoundError/);
});
