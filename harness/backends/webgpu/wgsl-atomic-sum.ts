/**
 * The WebGPU negative control: one float32 sum accumulated with atomic compare-exchange in WGSL.
 * Each invocation adds a contiguous chunk of `CHUNK` elements in order (that part is fixed), then
 * folds its partial sum into a single accumulator with a compare-exchange loop, so the order of
 * the final additions is the order in which GPU threads win the atomic: different run to run on a
 * GPU, by construction. WGSL has no float atomics, hence the u32 bit-cast loop.
 */
/// <reference types="@webgpu/types" />
import type { Execution, Program } from '../types.js';

const CHUNK = 64;
const WORKGROUP = 256;

export const ATOMIC_SUM_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> total: atomic<u32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = arrayLength(&x);
  let start = gid.x * ${CHUNK}u;
  if (start >= n) { return; }
  var partial = 0.0;
  for (var i = start; i < min(start + ${CHUNK}u, n); i = i + 1u) { partial = partial + x[i]; }
  var seen = atomicLoad(&total);
  loop {
    let next = bitcast<u32>(bitcast<f32>(seen) + partial);
    let swap = atomicCompareExchangeWeak(&total, seen, next);
    if (swap.exchanged) { break; }
    seen = swap.old_value;
  }
}
`;

/** Compiles the kernel and uploads `x` once; each execution zeroes the accumulator, dispatches, and reads the sum back. */
export function atomicSumProgram(device: GPUDevice, x: Float32Array): Program {
  const input = device.createBuffer({ size: x.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(input, 0, x.buffer, x.byteOffset, x.byteLength);
  const total = device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const readback = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: ATOMIC_SUM_WGSL }), entryPoint: 'main' } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: input } },
      { binding: 1, resource: { buffer: total } },
    ],
  });
  const invocations = Math.ceil(x.length / CHUNK);
  const workgroups = Math.ceil(invocations / WORKGROUP);
  if (workgroups > device.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`atomic-sum: ${x.length} elements need ${workgroups} workgroups, more than this GPU's ${device.limits.maxComputeWorkgroupsPerDimension}: lower its length`);
  }
  const zero = new Uint32Array(1);
  return {
    async execute(): Promise<Execution> {
      const start = performance.now();
      device.queue.writeBuffer(total, 0, zero);
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(workgroups);
      pass.end();
      encoder.copyBufferToBuffer(total, 0, readback, 0, 4);
      device.queue.submit([encoder.finish()]);
      await readback.mapAsync(GPUMapMode.READ); // resolves once the GPU has finished: the timing includes it
      const out = new Float32Array(readback.getMappedRange().slice(0));
      readback.unmap();
      return { outputs: [{ name: 'out', shape: [1], data: out }], computeMs: performance.now() - start, loss: null };
    },
    dispose() {
      [input, total, readback].forEach((b) => b.destroy());
    },
  };
}
