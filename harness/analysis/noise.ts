/**
 * The noise decomposition (`--suite noise`), after Summers & Dinneen, "Nondeterminism and
 * Instability in Neural Network Optimization" (ICML 2021): how much do final loss and weights vary
 * across (a) seeds with determinism on, (b) one seed with determinism off, (c) one seed with
 * determinism on and a single initial weight moved by 1 ULP? Each spread comes with a bootstrap
 * 95% CI; a Brown–Forsythe test says whether the final-loss spread of (b) and (c) differs from (a).
 */
import { cellKey, isOk, type NoiseArm, type OkRecord, type RunRecord } from '../protocol.js';
import { groupBy } from './group.js';
import { pairwiseChurn } from './churn.js';
import { bootstrapCI, brownForsythe, type Interval, type VarianceTest } from './stats.js';

export interface ArmSpread {
  arm: NoiseArm;
  runs: number;
  /** Sample standard deviation of the final loss across runs. */
  lossSd: Interval | null;
  /** Mean pairwise distance of the runs' final weights, ‖wᵢ − wⱼ‖ / mean(‖wᵢ‖, ‖wⱼ‖). */
  weightSpread: Interval | null;
  distinctResults: number;
  /** Sample standard deviation of the evaluation loss on the held-out set (null without evaluations). */
  evalLossSd: Interval | null;
  /** Mean pairwise prediction churn on the held-out set (Summers & Dinneen's measure; churn.ts). */
  churn: Interval | null;
}

export interface NoiseDecomposition {
  workload: string;
  backend: string;
  device: string;
  arms: ArmSpread[];
  /** Brown–Forsythe on final loss: implementation vs seeds, ulp vs seeds (null when undefined, e.g. no spread at all). */
  versusSeeds: { implementation: VarianceTest | null; ulp: VarianceTest | null };
}

function sd(xs: number[]): number {
  // identical values have no spread, although their float64 mean need not equal them exactly
  if (xs.every((x) => x === xs[0])) return 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
}

/** Pairwise relative distances of final weights, computed once; bootstraps index into it. */
function pairwiseDistances(weights: Float32Array[]): number[][] {
  const norms = weights.map((w) => Math.sqrt(w.reduce((a, x) => a + x * x, 0)));
  return weights.map((wi, i) =>
    weights.map((wj, j) => {
      if (i === j) return 0;
      let d = 0;
      for (let k = 0; k < wi.length; k++) d += (wi[k] - wj[k]) ** 2;
      const scale = (norms[i] + norms[j]) / 2;
      return scale === 0 ? 0 : Math.sqrt(d) / scale;
    }),
  );
}

/** Mean distance over pairs of distinct runs in a (re)sample; a run drawn twice is not a pair. */
function meanPairDistance(distances: number[][], indices: number[]): number {
  let sum = 0, pairs = 0;
  for (let a = 0; a < indices.length; a++) {
    for (let b = a + 1; b < indices.length; b++) {
      if (indices[a] === indices[b]) continue;
      sum += distances[indices[a]][indices[b]];
      pairs++;
    }
  }
  return pairs === 0 ? 0 : sum / pairs;
}

export function analyzeNoise(runs: RunRecord[], load: (digest: string) => Float32Array): NoiseDecomposition[] {
  const armRuns = runs.filter((r): r is OkRecord => isOk(r) && !r.warmup && r.arm !== undefined);
  const out: NoiseDecomposition[] = [];
  for (const group of groupBy(armRuns, (r) => cellKey(r, ['workload', 'backend', 'device'])).values()) {
    const losses: Partial<Record<NoiseArm, number[]>> = {};
    const arms: ArmSpread[] = (['seeds', 'implementation', 'ulp'] as const).map((arm) => {
      const mine = group.filter((r) => r.arm === arm);
      const loss = mine.map((r) => r.loss).filter((l): l is number => l !== null);
      losses[arm] = loss;
      const distances = pairwiseDistances(mine.map((r) => load(r.artifact.sha256)));
      // the held-out set is the same for every seed (workloads/teacher.ts), so churn compares like with like
      const evaluated = mine.flatMap((r) => (r.evaluation ? [r.evaluation] : []));
      const evalLoss = evaluated.map((e) => e.loss);
      const churns = evaluated.length === mine.length ? pairwiseChurn(evaluated.map((e) => load(e.predictions))) : [];
      return {
        arm,
        runs: mine.length,
        lossSd: loss.length >= 2 ? bootstrapCI(loss.length, (idx) => sd(idx.map((i) => loss[i])), 1000, 0, `loss-${arm}`) : null,
        weightSpread: distances.length >= 2 ? bootstrapCI(distances.length, (idx) => meanPairDistance(distances, idx), 1000, 0, `weights-${arm}`) : null,
        distinctResults: new Set(mine.map((r) => r.artifact.sha256)).size,
        evalLossSd: evalLoss.length >= 2 ? bootstrapCI(evalLoss.length, (idx) => sd(idx.map((i) => evalLoss[i])), 1000, 0, `eval-loss-${arm}`) : null,
        churn: churns.length >= 2 ? bootstrapCI(churns.length, (idx) => meanPairDistance(churns, idx), 1000, 0, `churn-${arm}`) : null,
      };
    });
    const seeds = losses.seeds ?? [];
    out.push({
      workload: group[0].workload,
      backend: group[0].backend,
      device: group[0].device,
      arms,
      versusSeeds: {
        implementation: brownForsythe([seeds, losses.implementation ?? []]),
        ulp: brownForsythe([seeds, losses.ulp ?? []]),
      },
    });
  }
  return out;
}

const ARM_LABELS: Record<NoiseArm, string> = {
  seeds: 'seeds (det on, different seeds)',
  implementation: 'implementation (det off, one seed)',
  ulp: '1 ULP (det on, one weight ±1 ULP)',
};

/** `value [low, high]` in exponent notation, or – when there is no interval. */
export const formatInterval = (i: Interval | null) => (i ? `${i.value.toExponential(2)} [${i.low.toExponential(2)}, ${i.high.toExponential(2)}]` : '–');

export function noiseText(decompositions: NoiseDecomposition[]): string {
  const lines: string[] = [];
  for (const d of decompositions) {
    lines.push(`Noise decomposition (Summers & Dinneen 2021): ${d.workload} on ${d.backend} (${d.device}), final-loss sd, mean pairwise relative weight distance, held-out loss sd and prediction churn, with 95% CIs:`);
    for (const a of d.arms) {
      const test = a.arm === 'seeds' ? null : d.versusSeeds[a.arm];
      const vs = a.arm === 'seeds' ? '' : test ? `  Brown–Forsythe vs seeds: p = ${test.pValue.toPrecision(2)} (${test.equalAt5Percent ? 'not distinguishable' : 'different spread'})` : '  Brown–Forsythe vs seeds: undefined (no spread)';
      lines.push(`  ${ARM_LABELS[a.arm].padEnd(36)} ${a.runs} runs, ${a.distinctResults} distinct  loss sd ${formatInterval(a.lossSd)}  weights ${formatInterval(a.weightSpread)}  eval loss sd ${formatInterval(a.evalLossSd ?? null)}  churn ${formatInterval(a.churn ?? null)}${vs}`);
    }
  }
  return lines.join('\n');
}
