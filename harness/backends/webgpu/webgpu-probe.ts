/**
 * Child-process probe of WebGPU, shared by tfjs-webgpu and ort-webgpu: which adapter Dawn offers, and
 * whether tfjs-backend-webgpu initialises on it and computes a 2×2 product right. Prints
 * {"ok":true,"adapter":…,"tfjsError"?:"…"} or, with no adapter, {"ok":false,"error":"…"} as its last
 * line; Dawn's warnings go to stderr.
 */
import { defaultAdapter } from './dawn.js';
import { loadTfWebgpu } from '../tfjs/tfjs-webgpu.js';

async function tfjsComputes(): Promise<void> {
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
  try {
    await tfjsComputes();
  } catch (err) {
    tfjsError = firstLine(err);
  }
  console.log(JSON.stringify({ ok: true, adapter, ...(tfjsError ? { tfjsError } : {}) }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: firstLine(err) }));
}
process.exit(0); // Dawn's instance keeps the event loop alive
