/**
 * Child-process probe of WebGPU, shared by tfjs-webgpu and ort-webgpu: which adapter Dawn offers, and
 * whether tfjs-backend-webgpu initialises on it and computes a 2×2 product right. Prints
 * {"ok":true,"adapter":…,"tfjsError"?:"…"} or, with no adapter, {"ok":false,"error":"…"} as its last
 * line; Dawn's warnings go to stderr. A software adapter is refused unless DETBENCH_WEBGPU_SOFTWARE=1
 * (see webgpu-host.ts), so then tfjs is not tried on it: loading tfjs and its gradients is most of
 * this probe's cost (≈ 1 s of CPU), spent on every command of a host without a GPU.
 */
import { defaultAdapter } from './dawn.js';

async function tfjsComputes(): Promise<void> {
  const { loadTfWebgpu } = await import('../tfjs/tfjs-webgpu.js');
  const tf = await loadTfWebgpu();
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs-backend-webgpu failed to initialise on the adapter');
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const data = await tf.matMul(x, x).data();
  if (data[0] !== 7 || data[3] !== 22) throw new Error(`tfjs-webgpu computed a wrong 2×2 product: ${Array.from(data).join(', ')}`);
}

const firstLine = (err: unknown) => (err as Error).message.split('\n')[0].slice(0, 400);
try {
  const adapter = await defaultAdapter();
  if (!adapter) throw new Error('Dawn found no WebGPU adapter');
  let tfjsError: string | undefined;
  if (!adapter.fallback || process.env.DETBENCH_WEBGPU_SOFTWARE === '1') {
    try {
      await tfjsComputes();
    } catch (err) {
      tfjsError = firstLine(err);
    }
  }
  console.log(JSON.stringify({ ok: true, adapter, ...(tfjsError ? { tfjsError } : {}) }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: firstLine(err) }));
}
process.exit(0); // Dawn's instance keeps the event loop alive
