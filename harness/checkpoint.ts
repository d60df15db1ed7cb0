/**
 * The full training state of a run, as resume replay (`--resume-at K`) writes it after K steps and
 * restores it in a fresh process: every tensor named `<component>/<name>`, so a resumed run that
 * does not match the uninterrupted one can say which part differs.
 *
 * - `weights/<name>`: parameters and batch-norm statistics (the artifact's tensors);
 * - `optimizer/<param>.<slot>`: optimizer state — `velocity` (momentum), `m` and `v` (AdamW);
 * - `schedule/step`: steps done, which gives the next step's learning rate and AdamW's bias
 *   correction t;
 * - `data/position`: training samples delivered so far (step·batch; for a data loader, the position
 *   in its epochs laid end to end);
 * - `rng/dropout.step`: the counter of the dropout masks' Philox streams, keyed by step (models with
 *   dropout). det draws nothing else at random: a data loader's draws are keyed by (epoch, sample),
 *   which the data position gives.
 *
 * Scalars are stored as float32 ([] shape), exact below 2^24. Every backend writes and reads this
 * one format (torch's worker the same names, harness/backends/torch/datalayer.py).
 */
import type { NamedTensor, TrainSpec } from '../workloads/types.js';
import { modelLayout } from '../workloads/params.js';

export const STATE_COMPONENTS = ['weights', 'optimizer', 'schedule', 'data', 'rng'] as const;
export type StateComponent = (typeof STATE_COMPONENTS)[number];

/** A training state: tensors named `<component>/<name>`, weights first, in the order they were written. */
export interface TrainingState {
  tensors: NamedTensor[];
}

/** The component a state tensor belongs to, or null for a name outside the format. */
export function componentOf(name: string): StateComponent | null {
  const c = name.slice(0, name.indexOf('/'));
  return (STATE_COMPONENTS as readonly string[]).includes(c) ? (c as StateComponent) : null;
}

const scalar = (name: string, value: number): NamedTensor => ({ name, shape: [], data: Float32Array.of(value) });

/** The counters of a state after `steps` steps of `spec` (schedule, data, rng), the same for every backend. */
export function stateCounters(spec: TrainSpec, steps: number): NamedTensor[] {
  return [
    scalar('schedule/step', steps),
    scalar('data/position', steps * spec.batch),
    ...(modelLayout(spec).dropout.length ? [scalar('rng/dropout.step', steps)] : []),
  ];
}

/** A state tensor by name; a missing one is a damaged checkpoint. */
export function stateTensor(state: TrainingState, name: string): NamedTensor {
  const t = state.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`the checkpoint has no ${name}`);
  return t;
}

/**
 * Where a restored run starts: the step its schedule reached. The data position and the dropout
 * counter must agree with it (each restarts one part of the run), or the checkpoint is refused.
 */
export function resumeStep(spec: TrainSpec, state: TrainingState): number {
  const step = stateTensor(state, 'schedule/step').data[0];
  if (!Number.isInteger(step) || step < 1 || step >= spec.steps) throw new Error(`the checkpoint is at step ${step}, outside 1…${spec.steps - 1}`);
  const expected = stateCounters(spec, step);
  for (const t of expected) {
    const got = stateTensor(state, t.name).data[0];
    if (got !== t.data[0]) throw new Error(`the checkpoint's ${t.name} is ${got}, but its schedule is at step ${step} (expected ${t.data[0]})`);
  }
  return step;
}

/** A state as one float32 artifact and its tensor table (as ArtifactRef.tensors); int32 tensors are not allowed. */
export function packState(state: TrainingState): { data: Float32Array; tensors: Array<{ name: string; shape: number[]; offset: number }> } {
  const total = state.tensors.reduce((n, t) => n + t.data.length, 0);
  const data = new Float32Array(total);
  let offset = 0;
  const tensors = state.tensors.map((t) => {
    if (!(t.data instanceof Float32Array)) throw new Error(`state tensor ${t.name} is not float32`);
    data.set(t.data, offset);
    const entry = { name: t.name, shape: t.shape, offset };
    offset += t.data.length;
    return entry;
  });
  return { data, tensors };
}

/** The inverse of packState. */
export function unpackState(data: Float32Array, tensors: Array<{ name: string; shape: number[]; offset: number }>): TrainingState {
  return {
    tensors: tensors.map((t, i) => {
      const end = i + 1 < tensors.length ? tensors[i + 1].offset : data.length;
      return { name: t.name, shape: t.shape, data: data.slice(t.offset, end) };
    }),
  };
}
