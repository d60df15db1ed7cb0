/// <reference types="@webgpu/types" />
/**
 * The WebGPU backends computing for real, on a software adapter: Mesa's lavapipe (llvmpipe) from
 * Debian bookworm-backports (Mesa ≥ 24; bookworm's own 22.3 is refused by Dawn), which `.ci/run`
 * installs. It is real WebGPU — Dawn, Tint, every kernel — run by CPU threads, so these tests check
 * the numbers of tfjs-webgpu, ort-webgpu and the WGSL control; GPU-specific behaviour needs a GPU host.
 */
import assert from 'node:assert/strict';
import { dawn } from '../../harness/backends/webgpu/dawn.ts';
import { findBackend } from '../../harness/backends/index.ts';
import { supportOf } from '../../harness/backends/types.ts';
import { webgpuHost } from '../../harness/backends/webgpu/webgpu-host.ts';
import { atomicSumProgram } from '../../harness/backends/webgpu/wgsl-atomic-sum.ts';
import { describeTolerance, judgeRun } from '../../harness/analysis/tolerance.ts';
import { normalStream, tensorKey } from '../../harness/rng.ts';
import { DEFAULT_WORKLOAD_IDS, findWorkload, resolveWorkload } from '../../workloads/index.ts';
import { systemTest } from './components.ts';
import { executeQuick as execute, flatOutputs as flat } from '../fixtures/execute.ts';

systemTest('without DETBENCH_WEBGPU_SOFTWARE a software adapter is not offered as a GPU; with it, it is device cpu', 'lavapipe', async () => {
  delete process.env.DETBENCH_WEBGPU_SOFTWARE;
  const refused = await webgpuHost('adapter');
  assert.ok(!refused.ok, 'expected only a software adapter on this machine');
  assert.match(refused.reason, /^Dawn's only adapter is a software one \(llvmpipe.*set DETBENCH_WEBGPU_SOFTWARE=1$/);
  process.env.DETBENCH_WEBGPU_SOFTWARE = '1';
  const host = await webgpuHost('tfjs');
  assert.ok(host.ok, host.ok ? '' : host.reason);
  assert.deepEqual(host.devices, ['cpu']);
  const ort = await findBackend('ort-webgpu')!.probe();
  assert.ok(ort.available && ort.devices[0] === 'cpu', JSON.stringify(ort));
});



systemTest('tfjs-webgpu and ort-webgpu compute every workload they express within tolerance of tfjs-cpu', 'lavapipe', async () => {
  process.env.DETBENCH_WEBGPU_SOFTWARE = '1';
  const checked: string[] = [];
  const ids = DEFAULT_WORKLOAD_IDS.filter((w) => w !== 'dataparallel-train');
  for (const id of ids) {
    const reference = flat(await execute('tfjs-cpu', id));
    for (const backendId of ['tfjs-webgpu', 'ort-webgpu']) {
      if (!supportOf(findBackend(backendId)!, resolveWorkload(findWorkload(id)!, 'quick').spec).ok) continue;
      const v = judgeRun(resolveWorkload(findWorkload(id)!, 'quick'), 0, reference, flat(await execute(backendId, id)));
      assert.ok(v.within, `${id} on ${backendId}: ${v.distance} beyond ${describeTolerance(findWorkload(id)!.tolerance)}`);
      checked.push(`${id}/${backendId}`);
    }
  }
  // tfjs-webgpu and ort-webgpu run every one of them (the data-parallel control runs on CPU worker threads)
  assert.deepEqual(checked, ids.flatMap((id) => [`${id}/tfjs-webgpu`, `${id}/ort-webgpu`]));
});

systemTest('the WGSL atomic-sum control: the right sum, and run-to-run different (≥ 2 distinct in 100 runs of 4M elements)', 'lavapipe', async () => {
  const device = await (await (await dawn()).requestAdapter())!.requestDevice();
  const x = normalStream(tensorKey('atomic-sum', 0, 'x'), 1 << 22);
  const exact = x.reduce((s, v) => s + v, 0); // float64
  const program = atomicSumProgram(device, x);
  const seen = new Set<number>();
  for (let i = 0; i < 100; i++) {
    const sum = (await program.execute()).outputs[0].data[0];
    assert.ok(Math.abs(sum - exact) <= 1e-4 * Math.sqrt(x.length), `sum ${sum} vs ${exact}`);
    seen.add(sum);
  }
  program.dispose();
  device.destroy();
  // measured on this project's 2-core VM: 42–53 distinct of 100 (three trials), modal share ≤ 49 %,
  // so 1 distinct in 100 would have a probability near 0.5^99
  assert.ok(seen.size >= 2, `${seen.size} distinct sums in 100 runs`);
});
