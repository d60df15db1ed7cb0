/**
 * The teacher that labels training and evaluation data (teacher–student: the task is learnable, so a
 * long run amplifies differences as real training does, instead of memorising random labels). The
 * teacher is part of the workload, like a dataset: its weights come from Philox keyed by (workload,
 * TASK_SEED, `teacher.*`) whatever the run's seed, so runs with different seeds learn the same task
 * and are evaluated on the same held-out set (the noise suite's seed arm compares them). It is evaluated in float64 with exactly rounded
 * operations only (+ − × ÷, |·|, comparisons) in a fixed order, so the labels are the same on every
 * machine and Node.js version given the same input bits. The definition is in workloads/types.ts
 * (Teacher); the scale factors below keep each pre-activation near unit variance.
 */
import { normalStream, tensorKey } from '../harness/rng.js';
import type { TrainSpec } from './types.js';
import { sizeOf } from './types.js';

const softsign = (z: number) => z / (1 + Math.abs(z));

/** The seed of the task (teacher and held-out set): fixed, so the run seed varies only the run. */
export const TASK_SEED = 0;

/** Philox normal weights as float64, times `scale`. */
function weights(workloadId: string, name: string, n: number, scale: number): Float64Array {
  const z = normalStream(tensorKey(workloadId, TASK_SEED, `teacher.${name}`), n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = z[i] * scale;
  return out;
}

/**
 * Labels for `examples` examples laid out as `x` (row-major, `spec.input.shape` per example): one
 * class per example, or per token when `perToken` (then [examples, S]).
 */
export function teacherLabels(workloadId: string, spec: TrainSpec, x: Float32Array | Int32Array, examples: number, perToken: boolean): Int32Array {
  const { width, hidden } = spec.teacher;
  const classes = spec.classes;
  const w1 = weights(workloadId, 'w1', width * hidden, 1 / Math.sqrt(width));
  const w2 = weights(workloadId, 'w2', hidden * classes, 1);
  const features = featureFn(workloadId, spec, x, perToken);
  const units = perToken ? spec.input.shape[0] : 1;
  const labels = new Int32Array(examples * units);
  const f = new Float64Array(width);
  const h = new Float64Array(hidden);
  for (let e = 0; e < examples; e++) {
    for (let u = 0; u < units; u++) {
      features(e, u, f);
      for (let j = 0; j < hidden; j++) {
        let z = 0;
        for (let i = 0; i < width; i++) z += f[i] * w1[i * hidden + j];
        h[j] = softsign(z);
      }
      let best = 0, bestLogit = -Infinity;
      for (let c = 0; c < classes; c++) {
        let logit = 0;
        for (let j = 0; j < hidden; j++) logit += h[j] * w2[j * classes + c];
        if (logit > bestLogit) [best, bestLogit] = [c, logit];
      }
      labels[e * units + u] = best;
    }
  }
  return labels;
}

type Features = (example: number, unit: number, out: Float64Array) => void;

function featureFn(workloadId: string, spec: TrainSpec, x: Float32Array | Int32Array, perToken: boolean): Features {
  const { width } = spec.teacher;
  const shape = spec.input.shape;
  const perExample = sizeOf(shape);
  if (spec.input.dtype === 'int32') {
    const vocab = spec.input.vocab;
    const length = shape[0];
    if (perToken) {
      // f_s = Σ_{j < window, j ≤ s} E_j[x_{s−j}]: the label of a token depends on it and the tokens before it
      const window = spec.teacher.window ?? 1;
      const tables = Array.from({ length: window }, (_, j) => weights(workloadId, `e${j}`, vocab * width, 1 / Math.sqrt(window)));
      return (e, s, out) => {
        out.fill(0);
        for (let j = 0; j < window && j <= s; j++) {
          const row = x[e * length + s - j] * width;
          for (let i = 0; i < width; i++) out[i] += tables[j][row + i];
        }
      };
    }
    // f = Σ_s E0[x_s] / √S: a bag of token embeddings
    const table = weights(workloadId, 'e0', vocab * width, 1);
    const norm = 1 / Math.sqrt(length);
    return (e, _u, out) => {
      out.fill(0);
      for (let s = 0; s < length; s++) {
        const row = x[e * length + s] * width;
        for (let i = 0; i < width; i++) out[i] += table[row + i];
      }
      for (let i = 0; i < width; i++) out[i] *= norm;
    };
  }
  if (shape.length === 3) {
    // f = Σ_positions softsign(conv3×3(x, K)) / √(H·W), "same" zero padding, NHWC
    const [height, imageWidth, channels] = shape;
    const kernel = weights(workloadId, 'conv', 9 * channels * width, 1 / Math.sqrt(9 * channels));
    const norm = 1 / Math.sqrt(height * imageWidth);
    const acc = new Float64Array(width);
    return (e, _u, out) => {
      out.fill(0);
      const base = e * perExample;
      for (let r = 0; r < height; r++) {
        for (let c = 0; c < imageWidth; c++) {
          acc.fill(0);
          for (let dy = 0; dy < 3; dy++) {
            const y = r + dy - 1;
            if (y < 0 || y >= height) continue;
            for (let dx = 0; dx < 3; dx++) {
              const xx = c + dx - 1;
              if (xx < 0 || xx >= imageWidth) continue;
              const pixel = base + (y * imageWidth + xx) * channels;
              const k = (dy * 3 + dx) * channels * width;
              for (let ch = 0; ch < channels; ch++) {
                const v = x[pixel + ch];
                const kk = k + ch * width;
                for (let i = 0; i < width; i++) acc[i] += v * kernel[kk + i];
              }
            }
          }
          for (let i = 0; i < width; i++) out[i] += softsign(acc[i]);
        }
      }
      for (let i = 0; i < width; i++) out[i] *= norm;
    };
  }
  if (shape.length !== 1 || shape[0] !== width) throw new Error(`teacher width ${width} must equal the feature count ${shape[0]} for feature inputs`);
  return (e, _u, out) => {
    for (let i = 0; i < width; i++) out[i] = x[e * perExample + i];
  };
}
