/**
 * Child-process probe of WebGPU: Dawn finds an adapter and (unless the argument is `adapter`)
 * tfjs-backend-webgpu initialises on it and computes a 2×2 product right. Prints
 * {"ok":true,"adapter":…} or {"ok":false,"error":"…"} as its last line; Dawn's warnings go to stderr.
 */
import { defaultAdapter } from './dawn.js';
import { loadTfWebgpu } from './tfjs-webgpu.js';

try {
  const adapter = await defaultAdapter();
  if (!adapter) throw new Error('Dawn found no WebGPU adapter');
  if (process.argv[2] === 'adapter') {
    console.log(JSON.stringify({ ok: true, adapter }));
    process.exit(0);
  }
  const tf = await loadTfWebgpu();
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs-backend-webgpu failed to initialise on the adapter');
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const data = await tf.matMul(x, x).data();
  if (data[0] !== 7 || data[3] !== 22) throw new Error(`tfjs-webgpu computed a wrong 2×2 product: ${Array.from(data).join(', ')}`);
  console.log(JSON.stringify({ ok: true, adapter }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: (err as Error).message.split('\n')[0].slice(0, 400) }));
}
process.exit(0); // Dawn's instance keeps the event loop alive
