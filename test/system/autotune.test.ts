/**
 * The autotune axis with a real PyTorch worker on the CPU (Debian's python3-torch): the plan never
 * runs `on` on a CPU device, but the worker's half of it can be checked here — hello with autotune
 * "on" turns cudnn.benchmark on in det with deterministic algorithms kept, and reads it back. What
 * cuDNN then picks needs a GPU (scripts/gpu-check.sh).
 */
import assert from 'node:assert/strict';
import { torchBackend } from '../../harness/backends/torch/torch.ts';
import { systemTest, TORCH_PYTHON } from './components.ts';

process.env.DETBENCH_PYTHON ??= TORCH_PYTHON;

systemTest('torch worker: det at autotune on reads back cudnn.benchmark on with deterministic algorithms kept; at off, off', 'torch', async () => {
  const read = async (autotune?: 'on') => {
    const session = await torchBackend.open({ mode: 'det', threads: 1, device: 'cpu', ...(autotune ? { autotune } : {}) });
    await session.close();
    return Object.fromEntries(session.determinism.switches.filter((s) => ['cudnn.benchmark', 'use_deterministic_algorithms', 'cudnn.deterministic'].includes(s.name)).map((s) => [s.name, [s.value, s.verified]]));
  };
  assert.deepEqual(await read('on'), { use_deterministic_algorithms: ['true', true], 'cudnn.deterministic': ['true', true], 'cudnn.benchmark': ['true', true] });
  assert.deepEqual(await read(), { use_deterministic_algorithms: ['true', true], 'cudnn.deterministic': ['true', true], 'cudnn.benchmark': ['false', true] });
}, { timeout: 120_000 });
