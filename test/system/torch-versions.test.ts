/**
 * The torch worker against what PyTorch 2.x changed since Debian's 1.13, checked on 1.13 by taking
 * away what 2.x no longer offers: numpy (pip's PyTorch does not require it) and the per-device
 * autocast getters (deprecated in 2.4 for get_autocast_dtype/is_autocast_enabled(device_type)).
 * A GPU host (torch 2.11) runs the real thing through scripts/gpu-check.sh.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { systemTest, TORCH_PYTHON } from './components.ts';

const WORKER_DIR = fileURLToPath(new URL('../../harness/backends/torch/', import.meta.url));

/** Runs a Python script with the worker importable; returns its stdout, or fails with its stderr. */
function python(script: string): string {
  const r = spawnSync(TORCH_PYTHON, ['-c', script, WORKER_DIR], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DETBENCH_TORCH_MODE: 'det' } });
  assert.equal(r.status, 0, (r.stderr ?? '').trim().split('\n').slice(-4).join('\n'));
  return r.stdout.trim();
}

systemTest('torch worker: raw float32 bytes without numpy and without a Python float per element (tolist)', 'torch', () => {
  const out = python(`
import struct, sys
sys.modules["numpy"] = None  # as on a PyTorch 2.x wheel install without numpy
sys.path.insert(0, sys.argv[1])
import torch
def no_tolist(self, *args, **kwargs):
    raise AssertionError("tolist: a Python float per element")
torch.Tensor.tolist = no_tolist
import worker
x = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.1 - 0.3
cases = [(x, x), (x.t(), x.t().contiguous()), (x.double() / 3, (x.double() / 3).float()), (x.bfloat16(), x.bfloat16().float()), (torch.zeros(0), torch.zeros(0))]
for t, expected in cases:
    values = [float(v) for v in expected.reshape(-1)]
    assert worker.raw_float32(t) == struct.pack("<%df" % len(values), *values), t
print(len(cases))
`);
  assert.equal(out.split('\n').at(-1), '5');
}, { timeout: 120_000 });

systemTest('torch worker: autocast is read back through get_autocast_dtype/is_autocast_enabled(device_type) where PyTorch has them (2.4+)', 'torch', () => {
  const out = python(`
import sys
sys.path.insert(0, sys.argv[1])
import torch
import worker
real = torch

class Torch24:
    """torch as 2.4+ offers it to the worker: the device-type getters, without the per-device ones."""
    def __getattr__(self, name):
        if name in ("get_autocast_gpu_dtype", "get_autocast_cpu_dtype", "is_autocast_cpu_enabled"):
            raise AttributeError("torch.%s is deprecated since 2.4" % name)
        return getattr(real, name)
    def get_autocast_dtype(self, device_type):
        return real.get_autocast_cpu_dtype() if device_type == "cpu" else real.get_autocast_gpu_dtype()
    def is_autocast_enabled(self, device_type):
        return real.is_autocast_cpu_enabled() if device_type == "cpu" else real.is_autocast_enabled()

worker.torch = Torch24()
states = []
for numerics in ("bf16", "fp32"):
    worker.NUMERICS = numerics
    states.append(worker.autocast_state(real.device("cpu")))
print(" ".join(states))
`);
  assert.equal(out.split('\n').at(-1), 'bfloat16 off');
}, { timeout: 120_000 });
