/**
 * The batch-size axis (harness/axes.ts `batchSize`) at run time: an inference workload's examples
 * (workloads/batching.ts) evaluated in consecutive batches of `size` — the last one smaller when
 * `size` does not divide the count —, each batch a program and a call of its own, as a server answers
 * separate requests; the outputs are put back together in example order, so the artifact has the
 * shape it has without the axis and is compared bit for bit with it and across batch sizes.
 * Preparing each batch's program (its inputs, its graph) is setup; compute is the sum of the calls.
 */
import type { Execution, Session } from '../backends/types.js';
import { concatAxis, examplesOf, sliceAxis } from '../../workloads/batching.js';
import type { NamedTensor, ResolvedWorkload } from '../../workloads/types.js';

export async function executeInBatches(session: Session, workload: ResolvedWorkload, inputs: NamedTensor[], size: number): Promise<{ setupMs: number; execution: Execution }> {
  const examples = examplesOf(workload.spec);
  if (!examples) throw new Error(`${workload.id} has no examples to batch`);
  let setupMs = 0, computeMs = 0;
  const outputs: NamedTensor[][] = [];
  for (let start = 0; start < examples.count; start += size) {
    const end = Math.min(start + size, examples.count);
    const t0 = performance.now();
    const batch = inputs.map((t) => (t.name in examples.inputs ? sliceAxis(t, examples.inputs[t.name], start, end) : t));
    const program = await session.prepare({ ...workload, spec: examples.batch(end - start) }, batch);
    setupMs += performance.now() - t0;
    try {
      const e = await program.execute();
      computeMs += e.computeMs;
      outputs.push(e.outputs);
    } finally {
      program.dispose();
    }
  }
  const joined = outputs[0].map((_, i) => concatAxis(outputs.map((o) => o[i]), examples.output));
  return { setupMs, execution: { outputs: joined, computeMs, loss: null } };
}
