/**
 * Child-process probe of one onnxruntime execution provider (see probeExecutionProvider): prints
 * {"ok":true} or {"ok":false,"error":"…"} as its last line.
 */
import { inferGraph } from './onnx-model.js';
import { loadOrt } from './ort-common.js';

const ep = process.argv[2];
try {
  const ort = await loadOrt();
  const graph = inferGraph({ kind: 'infer', op: 'matmul', m: 2, k: 2, n: 2 });
  const session = await ort.InferenceSession.create(graph.model, {
    executionProviders: [ep],
    logSeverityLevel: 4,
    // a provider that cannot take the graph must fail here, not run it on the CPU in silence
    extra: { session: { disable_cpu_ep_fallback: '1' } },
  });
  const x = new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [2, 2]);
  const out = await session.run({ a: x, b: x });
  const data = out[graph.output].data as Float32Array;
  if (data[0] !== 7 || data[3] !== 22) throw new Error(`${ep} computed a wrong 2×2 product: ${Array.from(data).join(', ')}`);
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: (err as Error).message.split('\n')[0].slice(0, 400) }));
}
