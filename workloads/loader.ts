/**
 * The data loader of workloads/types.ts (Loader), as pure functions: the dataset and its labels, the
 * per-epoch order, one sample's draw and its augmentation, and which draw each sample gets in each
 * mode. The loaders that run them — worker threads in JS (harness/run/loader.ts), a real
 * torch.utils.data.DataLoader in Python (harness/backends/torch/datalayer.py) — only decide who
 * computes what and in which order batches arrive.
 *
 * Every operation here is exactly rounded (see harness/rng.ts), so a batch is the same bits on every
 * machine given the same draws.
 */
import { normalStream, tensorKey, uniformStream } from '../harness/rng.js';
import type { Mode } from '../harness/protocol.js';
import { teacherLabels } from './teacher.js';
import type { Loader, NamedTensor, TrainSpec } from './types.js';

export type LoaderSpec = TrainSpec & { loader: Loader };
export const hasLoader = (spec: TrainSpec): spec is LoaderSpec => spec.loader !== undefined;

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** [H + 2·pad, W + 2·pad, C]: one source image. */
export function sourceShape(spec: LoaderSpec): number[] {
  const [h, w, c] = spec.input.shape;
  return [h + 2 * spec.loader.pad, w + 2 * spec.loader.pad, c];
}

/** How many epochs `steps` batches reach into. */
export const epochsOf = (spec: LoaderSpec): number => Math.ceil((spec.steps * spec.batch) / spec.loader.examples);

/**
 * The dataset `dataset` [N, H + 2·pad, W + 2·pad, C] and each image's label `datasetLabels` [N]: the
 * teacher's label of its centre crop.
 */
export function datasetTensors(workloadId: string, seed: number, spec: LoaderSpec): NamedTensor[] {
  const n = spec.loader.examples;
  const shape = sourceShape(spec);
  const data = normalStream(tensorKey(workloadId, seed, 'dataset'), n * size(shape));
  const centre = new Float32Array(n * size(spec.input.shape));
  const noDraw: Draw = { dy: spec.loader.pad, dx: spec.loader.pad, flip: false, noise: null };
  for (let i = 0; i < n; i++) augment(spec, data, i, noDraw, centre, i * size(spec.input.shape));
  return [
    { name: 'dataset', shape: [n, ...shape], data },
    { name: 'datasetLabels', shape: [n], data: teacherLabels(workloadId, spec, centre, n, false) },
  ];
}

/** Epoch e's order of the N images: Fisher–Yates on the uniforms keyed by `loader.order.e<e>`. */
export function epochOrder(workloadId: string, seed: number, spec: LoaderSpec, epoch: number): Int32Array {
  const n = spec.loader.examples;
  const u = uniformStream(tensorKey(workloadId, seed, `loader.order.e${epoch}`), n);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let j = n - 1; j > 0; j--) {
    // u = k·2^-24, so u·(j + 1) is exact in float64 and its floor is in [0, j]
    const k = Math.floor(u[j] * (j + 1));
    [order[j], order[k]] = [order[k], order[j]];
  }
  return order;
}

/** One sample's random augmentation. `noise` null: none (the centre crop of the labels). */
export interface Draw {
  dy: number;
  dx: number;
  flip: boolean;
  noise: Float32Array | null;
}

/** The draw named `name` (Loader: three uniforms, then H·W·C normals scaled by noiseStd). */
export function drawOf(workloadId: string, seed: number, spec: LoaderSpec, name: string): Draw {
  const span = 2 * spec.loader.pad + 1;
  const u = uniformStream(tensorKey(workloadId, seed, `${name}.u`), 3);
  const noise = normalStream(tensorKey(workloadId, seed, `${name}.noise`), size(spec.input.shape));
  for (let i = 0; i < noise.length; i++) noise[i] = noise[i] * spec.loader.noiseStd; // rounded once, to float32
  return { dy: Math.floor(u[0] * span), dx: Math.floor(u[1] * span), flip: u[2] < 0.5, noise };
}

/** The name of a sample's draw in det: keyed by (seed, epoch, image index). */
export const detDrawName = (epoch: number, index: number) => `loader.e${epoch}.i${index}`;

/** The name of a worker's k-th draw in nondet (worker null: the calling thread, when there are no workers). */
export const workerDrawName = (worker: number | null, k: number) => `loader.${worker === null ? 'main' : `worker${worker}`}.draw${k}`;

/** x = crop(src_i, dy, dx), flipped horizontally or not, plus the noise, into out[offset…]. */
export function augment(spec: LoaderSpec, dataset: Float32Array, index: number, draw: Draw, out: Float32Array, offset: number): void {
  const [h, w, c] = spec.input.shape;
  const [, sw] = sourceShape(spec);
  const base = index * size(sourceShape(spec));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = draw.dx + (draw.flip ? w - 1 - x : x);
      const src = base + ((draw.dy + y) * sw + sx) * c;
      const dst = offset + (y * w + x) * c;
      // a float32 sum computed in float64 and rounded once is the correctly rounded float32 sum
      for (let ch = 0; ch < c; ch++) out[dst + ch] = draw.noise ? dataset[src + ch] + draw.noise[(y * w + x) * c + ch] : dataset[src + ch];
    }
  }
}

/** Where one sample of a batch comes from: its position in the epochs laid end to end, epoch and image. */
export interface SampleRef {
  position: number;
  epoch: number;
  index: number;
}

/** The samples of training step `step`, in batch order. `orders` caches each epoch's permutation. */
export function stepSamples(workloadId: string, seed: number, spec: LoaderSpec, step: number, orders = new Map<number, Int32Array>()): SampleRef[] {
  const n = spec.loader.examples;
  return Array.from({ length: spec.batch }, (_, j) => {
    const position = step * spec.batch + j;
    const epoch = Math.floor(position / n);
    let order = orders.get(epoch);
    if (!order) orders.set(epoch, (order = epochOrder(workloadId, seed, spec, epoch)));
    return { position, epoch, index: order[position % n] };
  });
}

/** What a loader needs to build batches: the workload, its dataset and the mode's rule for draws. */
export interface LoaderTask {
  workloadId: string;
  seed: number;
  spec: LoaderSpec;
  mode: Mode;
  dataset: Float32Array;
  labels: Int32Array;
}

/**
 * Batch `step` (x [batch, H, W, C], y [batch]) as the given worker builds it. In nondet its draws
 * continue that worker's generator from its k-th draw on (`next` is advanced); in det `worker` and
 * `next` are ignored.
 */
export function buildBatch(task: LoaderTask, step: number, worker: number | null, next: { k: number }, orders?: Map<number, Int32Array>): { x: Float32Array; y: Int32Array } {
  const { spec } = task;
  const per = size(spec.input.shape);
  const x = new Float32Array(spec.batch * per);
  const y = new Int32Array(spec.batch);
  stepSamples(task.workloadId, task.seed, spec, step, orders).forEach((s, j) => {
    const name = task.mode === 'det' ? detDrawName(s.epoch, s.index) : workerDrawName(worker, next.k++);
    augment(spec, task.dataset, s.index, drawOf(task.workloadId, task.seed, spec, name), x, j * per);
    y[j] = task.labels[s.index];
  });
  return { x, y };
}

/** Which worker builds batch b (of those from `first` on): round robin, as torch's DataLoader deals them. */
export const workerOf = (b: number, first: number, workers: number): number => (b - first) % workers;

/**
 * Steps [first, steps) built in the calling thread, in step order: the loader without workers
 * (nondet draws from the calling thread's generator, `loader.main`), and det's reference batches.
 */
export function loadInThread(task: LoaderTask, first: number): { x: Float32Array; y: Int32Array } {
  const { spec } = task;
  const per = size(spec.input.shape);
  const steps = spec.steps - first;
  const x = new Float32Array(steps * spec.batch * per);
  const y = new Int32Array(steps * spec.batch);
  const next = { k: 0 };
  const orders = new Map<number, Int32Array>();
  for (let s = first; s < spec.steps; s++) {
    const batch = buildBatch(task, s, null, next, orders);
    x.set(batch.x, (s - first) * spec.batch * per);
    y.set(batch.y, (s - first) * spec.batch);
  }
  return { x, y };
}

/**
 * det's draws of every (epoch, image) the steps reach, as tables for a loader in another language
 * (torch's Dataset reads its sample's draw by epoch and image index): `loader.order` [E, N] int32,
 * `loader.crop` [E, N, 2] int32 (dy, dx), `loader.flip` [E, N] int32 (1: flipped), `loader.noise`
 * [E, N, H, W, C] float32.
 */
export function detDrawTables(workloadId: string, seed: number, spec: LoaderSpec): NamedTensor[] {
  const epochs = epochsOf(spec), n = spec.loader.examples, per = size(spec.input.shape);
  const order = new Int32Array(epochs * n), crop = new Int32Array(epochs * n * 2), flip = new Int32Array(epochs * n);
  const noise = new Float32Array(epochs * n * per);
  for (let e = 0; e < epochs; e++) {
    order.set(epochOrder(workloadId, seed, spec, e), e * n);
    for (let i = 0; i < n; i++) {
      const d = drawOf(workloadId, seed, spec, detDrawName(e, i));
      const row = e * n + i;
      crop[2 * row] = d.dy;
      crop[2 * row + 1] = d.dx;
      flip[row] = d.flip ? 1 : 0;
      noise.set(d.noise!, row * per);
    }
  }
  return [
    { name: 'loader.order', shape: [epochs, n], data: order },
    { name: 'loader.crop', shape: [epochs, n, 2], data: crop },
    { name: 'loader.flip', shape: [epochs, n], data: flip },
    { name: 'loader.noise', shape: [epochs, n, ...spec.input.shape], data: noise },
  ];
}
