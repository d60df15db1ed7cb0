/** ort-cuda's device count under CUDA_VISIBLE_DEVICES (harness/backends/ort/ort-cuda.ts), as the CUDA runtime reads it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { visibleCudaDevices } from '../../harness/backends/ort/ort-cuda.ts';

test('CUDA_VISIBLE_DEVICES: indices and GPU/MIG UUIDs count, up to the first invalid entry; empty or -1 hides every GPU', () => {
  assert.equal(visibleCudaDevices(undefined), undefined);
  assert.equal(visibleCudaDevices('0'), 1);
  assert.equal(visibleCudaDevices('2, 3'), 2);
  assert.equal(visibleCudaDevices('GPU-8f6bd7c2-1d36-4f7a-9e5b-0c1e2a3b4c5d,GPU-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d'), 2);
  assert.equal(visibleCudaDevices('MIG-GPU-8f6bd7c2-1d36-4f7a-9e5b-0c1e2a3b4c5d/1/0'), 1);
  assert.equal(visibleCudaDevices('0,1,-1,2'), 2);
  assert.equal(visibleCudaDevices(''), 0);
  assert.equal(visibleCudaDevices('-1'), 0);
  assert.equal(visibleCudaDevices('NoDevFiles'), 0);
});
