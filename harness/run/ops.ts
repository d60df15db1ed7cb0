/**
 * The op sink of a located run (backends/types.ts OpSink): every op output a backend reports is
 * digested at once, and its values are kept step by step from step 0 for as long as they fit in
 * `maxValueBytes` (a step that does not fit whole is dropped, and no later step is kept), so a large
 * model costs digests, not memory. Names are checked against the workload's declared ops: a name
 * that is not one of them is a bug in the backend, never a guess.
 */
import { createHash } from 'node:crypto';
import type { OpCapture } from '../protocol.js';
import type { OpSink } from '../backends/types.js';
import { declaredOps } from '../../workloads/ops.js';
import type { WorkloadSpec } from '../../workloads/types.js';

/** The first 16 hex digits of the sha256 of a float32 array's bytes (as runs' step digests are). */
export const opDigest = (data: Float32Array) => createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex').slice(0, 16);

interface Recorded {
  digest: string;
  elements: number;
  values: Float32Array | null;
}

export class OpRecorder implements OpSink {
  private readonly order: Map<string, number>;
  private readonly steps: Array<Map<string, Recorded>> = [];
  private keptBytes = 0;
  /** Steps from this one on keep no values. */
  private valuesUntil = Infinity;

  constructor(spec: WorkloadSpec, private readonly maxValueBytes: number) {
    this.order = new Map(declaredOps(spec).map((op, i) => [op.name, i]));
  }

  record(step: number, op: string, data: Float32Array): void {
    if (!this.order.has(op)) throw new Error(`op ${JSON.stringify(op)} is not an op of this workload (workloads/ops.ts declares ${[...this.order.keys()].slice(0, 6).join(', ')}, …)`);
    if (!Number.isInteger(step) || step < 0) throw new Error(`op ${op}: step ${step} is not a step`);
    while (this.steps.length <= step) this.steps.push(new Map());
    const ops = this.steps[step];
    if (ops.has(op)) throw new Error(`op ${op} reported twice in step ${step}`);
    let values: Float32Array | null = null;
    if (step < this.valuesUntil) {
      if (this.keptBytes + data.byteLength <= this.maxValueBytes) {
        values = Float32Array.from(data);
        this.keptBytes += data.byteLength;
      } else {
        // this step cannot be kept whole: drop what it kept, and keep nothing after it
        for (const r of ops.values()) {
          if (r.values) this.keptBytes -= r.values.byteLength;
          r.values = null;
        }
        this.valuesUntil = step;
      }
    }
    ops.set(op, { digest: opDigest(data), elements: data.length, values });
  }

  /** What was captured, in declared order; null when the backend reported no op. */
  result(): OpCapture | null {
    const used = this.steps.filter((s) => s.size > 0);
    if (used.length === 0) return null;
    const rank = (op: string) => this.order.get(op)!;
    const ops = [...this.steps[0].keys()].sort((a, b) => rank(a) - rank(b));
    this.steps.forEach((s, step) => {
      const mine = [...s.keys()].sort((a, b) => rank(a) - rank(b));
      if (mine.join() !== ops.join()) throw new Error(`step ${step} reported ops ${mine.join(', ') || 'none'}, step 0 reported ${ops.join(', ')}: a backend reports the same ops every step`);
    });
    const elements = ops.map((op) => this.steps[0].get(op)!.elements);
    const digests = this.steps.map((s) => ops.map((op) => s.get(op)!.digest));
    const values: Float32Array[] = [];
    for (const [step, s] of this.steps.entries()) {
      if (step >= this.valuesUntil) break;
      const total = ops.reduce((n, op) => n + s.get(op)!.elements, 0);
      const flat = new Float32Array(total);
      let offset = 0;
      for (const op of ops) {
        const r = s.get(op)!;
        if (r.elements !== elements[ops.indexOf(op)]) throw new Error(`op ${op} has ${r.elements} elements in step ${step} and ${elements[ops.indexOf(op)]} in step 0`);
        flat.set(r.values!, offset);
        offset += r.elements;
      }
      values.push(flat);
    }
    return { ops, elements, digests, values };
  }
}
