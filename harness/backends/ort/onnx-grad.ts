/**
 * Reverse-mode differentiation over the workload primitives, emitting ONNX. A `Tape` records each
 * primitive as its forward rule writes it into the graph; `backward` then walks the tape from the
 * last primitive to the first, asks each rule for the gradients of its inputs given those of its
 * outputs, and adds up the gradients of values used more than once — in tape order, so the graph,
 * and the order of every float addition in it, is a pure function of the workload.
 */
import type { GraphBuilder, Value } from './onnx-graph.js';
import { RULES, type PrimitiveAttrs, type PrimitiveName } from './onnx-rules.js';

interface Entry {
  op: PrimitiveName;
  inputs: Value[];
  outputs: Value[];
  saved: Record<string, Value>;
  attrs: unknown;
}

export class Tape {
  private entries: Entry[] = [];
  private differentiable = new Set<string>();
  /** Every gradient the last `backward` accumulated, by value name. */
  private accumulated = new Map<string, Value>();

  constructor(readonly g: GraphBuilder) {}

  /** Marks a value as a variable to differentiate with respect to (a parameter). */
  variable(v: Value): Value {
    if (v.dtype !== 'float32') throw new Error(`${v.name}: only float32 values have gradients`);
    this.differentiable.add(v.name);
    return v;
  }

  /** Writes a primitive's forward rule into the graph and records it; returns its outputs. */
  apply<K extends PrimitiveName>(op: K, inputs: Value[], attrs: PrimitiveAttrs[K]): Value[] {
    return this.applySaved(op, inputs, attrs).outputs;
  }

  /** `apply`, with the intermediate values the rule keeps for its gradient (locating reports some, e.g. attention's softmax). */
  applySaved<K extends PrimitiveName>(op: K, inputs: Value[], attrs: PrimitiveAttrs[K]): { outputs: Value[]; saved: Record<string, Value> } {
    const rule = RULES[op];
    const { outputs, saved = {} } = rule.forward(this.g, inputs, attrs);
    if (inputs.some((v) => this.differentiable.has(v.name))) {
      for (const o of outputs) if (o.dtype === 'float32') this.differentiable.add(o.name);
      this.entries.push({ op, inputs, outputs, saved, attrs });
    }
    return { outputs, saved };
  }

  /** `apply` for a primitive with one output. */
  apply1<K extends PrimitiveName>(op: K, inputs: Value[], attrs: PrimitiveAttrs[K]): Value {
    return this.apply(op, inputs, attrs)[0];
  }

  /**
   * Vector–Jacobian products: the gradients of Σ seed·value (over every seeded value) with respect
   * to `wrt`. A variable nothing depends on gets zeros.
   */
  backward(seeds: Array<[Value, Value]>, wrt: Value[]): Value[] {
    const g = this.g;
    const grads = new Map<string, Value>();
    const accumulate = (v: Value, d: Value) => {
      if (d.shape.length !== v.shape.length || d.shape.some((x, i) => x !== v.shape[i])) {
        throw new Error(`gradient of ${v.name} has shape [${d.shape}], expected [${v.shape}]`);
      }
      const prev = grads.get(v.name);
      grads.set(v.name, prev ? g.add(prev, d) : d);
    };
    for (const [v, seed] of seeds) accumulate(v, seed);
    // only the entries a seeded value depends on, and only gradients towards variables
    const wanted = new Set(wrt.map((v) => v.name));
    const needed = this.neededFor(wanted);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      const dOutputs = e.outputs.map((o) => grads.get(o.name) ?? null);
      if (dOutputs.every((d) => d === null)) continue;
      const needs = e.inputs.map((v) => needed.has(v.name));
      if (!needs.some(Boolean)) continue;
      const rule = RULES[e.op] as (typeof RULES)[PrimitiveName];
      const dInputs = (rule.backward as (g: GraphBuilder, ctx: unknown, d: Array<Value | null>) => Array<Value | null>)(
        g,
        { inputs: e.inputs, outputs: e.outputs, saved: e.saved, attrs: e.attrs, needs },
        dOutputs,
      );
      e.inputs.forEach((v, j) => {
        const d = dInputs[j];
        if (needs[j] && d) accumulate(v, d);
      });
    }
    this.accumulated = grads;
    return wrt.map((v) => grads.get(v.name) ?? g.zeros(v.shape));
  }

  /** After `backward`: the gradient it accumulated for `v` (an intermediate value too), if any. */
  gradientOf(v: Value): Value | undefined {
    return this.accumulated.get(v.name);
  }

  /** Gradients of a scalar loss with respect to `wrt`. */
  gradients(loss: Value, wrt: Value[]): Value[] {
    if (loss.shape.length !== 0) throw new Error(`the loss must be a scalar, got [${loss.shape}]`);
    return this.backward([[loss, this.g.scalar(1)]], wrt);
  }

  /** Values on a path from a `wanted` variable: the only inputs whose gradients are worth writing. */
  private neededFor(wanted: Set<string>): Set<string> {
    const needed = new Set(wanted);
    for (const e of this.entries) {
      if (e.inputs.some((v) => needed.has(v.name))) for (const o of e.outputs) needed.add(o.name);
    }
    return needed;
  }
}
