/**
 * The report's charts as vega-lite specs: pure functions of summary.json. Each chart comes with one
 * sentence on how to read it (shown under the chart in the HTML report).
 */
import type { TopLevelSpec } from 'vega-lite';
import { INVARIANCE_AXES, type CellSummary, type Summary } from '../harness/analysis/summary.js';
import type { LocateResult } from '../harness/analysis/locate.js';
import { axisValue, type AxisId, type AxisValues } from '../harness/axes.js';
import { AXIS_WORDS, sayAxisValue, shortAxisValue } from './findings.js';
import { ULP_BUCKETS } from '../harness/analysis/diff.js';

export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export const STATUSES = ['bitwise stable', 'within tolerance', 'unstable', 'unsupported', 'error', 'no data'] as const;
export type MatrixStatus = (typeof STATUSES)[number];
const STATUS_COLORS = ['#1a9850', '#a6d96a', '#d73027', '#bdbdbd', '#542788', '#f0f0f0'];

export interface Chart {
  id: string;
  title: string;
  /** How to read it, in one sentence. */
  caption: string;
  spec: TopLevelSpec;
}

/** One row of small multiples per workload, its name on the left. */
const byWorkload = { row: { field: 'workload', type: 'nominal' as const, title: null, header: { labelAngle: 0, labelAlign: 'left' as const } } };

/** What a backend's label must add to tell cells apart: the device (several GPUs), the axes whose values vary. */
export interface LabelParts {
  axes: AxisId[];
  devices: boolean;
}
export const BACKEND_ONLY: LabelParts = { axes: [], devices: false };

const label = (c: { backend: string; device: string } & Partial<AxisValues>, parts: LabelParts) =>
  `${c.backend}${parts.devices ? ` ${c.device}` : ''}${parts.axes.map((a) => ` ${shortAxisValue(a, axisValue(c, a))}`).join('')}`;

export function matrixStatus(c: CellSummary): MatrixStatus {
  switch (c.verdict) {
    case 'bitwise-stable':
      return 'bitwise stable';
    case 'unstable':
      return c.withinTolerance ? 'within tolerance' : 'unstable';
    case 'unsupported':
    case 'unavailable':
      return 'unsupported';
    case 'failed':
      return 'error';
    default:
      return 'no data';
  }
}

/** A chart with nothing to show still renders one text mark saying so. */
function empty(text: string): TopLevelSpec {
  return { $schema: SCHEMA, data: { values: [{ text }] }, mark: { type: 'text', fontSize: 13, color: '#555' }, encoding: { text: { field: 'text' } }, width: 400, height: 40 };
}

/** A faceted chart of `values`, or the `none` sentence when there are no values. */
function chart(id: string, title: string, caption: string, values: object[], none: string, body: Record<string, unknown>): Chart {
  const spec = values.length ? ({ $schema: SCHEMA, data: { values }, ...body } as TopLevelSpec) : empty(none);
  return { id, title, caption, spec };
}

function determinismMatrix(summary: Summary, parts: LabelParts): Chart {
  const values = summary.cells.map((c) => ({
    workload: c.workload,
    backend: label(c, parts),
    mode: c.mode,
    status: matrixStatus(c),
    distinct: c.distinctDigests > 0 ? String(c.distinctDigests) : '',
  }));
  return {
    id: 'determinism-matrix',
    title: 'Determinism matrix',
    caption: 'Each square is one workload on one backend: green is bit-for-bit identical across repeats, light green differs only within the workload tolerance, red differs beyond it; the number is how many distinct results the repeats gave.',
    spec: {
      $schema: SCHEMA,
      data: { values },
      facet: { column: { field: 'mode', type: 'nominal', title: 'mode', sort: ['det', 'nondet'] } },
      spec: {
        width: { step: 90 },
        height: { step: 28 },
        encoding: {
          x: { field: 'backend', type: 'nominal', title: null, axis: { labelAngle: -30 } },
          y: { field: 'workload', type: 'nominal', title: null },
        },
        layer: [
          {
            mark: { type: 'rect', stroke: 'white', strokeWidth: 2 },
            encoding: {
              color: { field: 'status', type: 'nominal', scale: { domain: [...STATUSES], range: STATUS_COLORS }, title: 'result' },
            },
          },
          { mark: { type: 'text', fontSize: 12 }, encoding: { text: { field: 'distinct' }, color: { value: '#111' } } },
        ],
      },
    },
  };
}

function variance(summary: Summary, parts: LabelParts): Chart {
  const values = summary.cells.flatMap((c) => {
    const modal = c.runs.find((r) => r.diff === null);
    if (!modal) return [];
    const metric = (r: { loss: number | null; outputL2: number }) => r.loss ?? r.outputL2;
    const ref = metric(modal);
    return c.runs.map((r) => ({
      workload: c.workload,
      backend: label(c, parts),
      mode: c.mode,
      deviation: ref === 0 ? metric(r) - ref : (metric(r) - ref) / Math.abs(ref),
      ulp: r.diff?.maxUlp ?? 0,
      metric: c.runs[0].loss !== null ? 'final loss' : 'output L2 norm',
    }));
  });
  if (values.length === 0) return { id: 'variance', title: 'Run-to-run variance', caption: 'No successful runs to show.', spec: empty('no successful runs') };
  const panel = (field: 'deviation' | 'ulp', title: string) => ({
    width: 260,
    height: { step: 14 },
    mark: { type: 'tick' as const, thickness: 2 },
    encoding: {
      x: { field, type: 'quantitative' as const, title, scale: { type: 'symlog' as const }, axis: { format: '.2~g', labelOverlap: true } },
      y: { field: 'backend', type: 'nominal' as const, title: null },
      yOffset: { field: 'mode', type: 'nominal' as const, sort: ['det', 'nondet'] },
      color: { field: 'mode', type: 'nominal' as const, scale: { domain: ['det', 'nondet'], range: ['#2166ac', '#f4a582'] } },
    },
  });
  return {
    id: 'variance',
    title: 'Run-to-run variance',
    caption: 'One tick per repeat: left, how far its final loss (or output norm) lies from the most common run, relative; right, its largest element-wise distance from that run in ULPs. Ticks at 0 mean identical runs.',
    spec: {
      $schema: SCHEMA,
      data: { values },
      hconcat: [panel('deviation', 'relative deviation from the modal run'), panel('ulp', 'max ULP distance to the modal run')].map((spec) => ({
        facet: byWorkload,
        spec,
      })),
    },
  };
}

export function slowdownRows(summary: Summary, threshold: number, parts: LabelParts) {
  return summary.modes
    .filter((m) => m.slowdown)
    .map((m) => {
      const s = m.slowdown!;
      const verdict = s.low > threshold ? 'slower than threshold' : s.high < threshold ? 'within threshold' : 'inconclusive';
      return { workload: m.workload, backend: label(m, parts), ratio: s.ratio, low: s.low, high: s.high, verdict };
    });
}

function slowdown(summary: Summary, threshold: number, parts: LabelParts): Chart {
  const values = slowdownRows(summary, threshold, parts);
  const caption = `Median det/nondet compute-time ratio per backend and workload with its bootstrap 95% CI; the black line is 1.0 (no cost), the dashed line your threshold (${threshold}×); a CI that straddles the threshold is inconclusive.`;
  return chart('slowdown', 'Cost of determinism', caption, values, 'no paired det/nondet timings', {
    facet: byWorkload,
    spec: {
      width: 360,
      height: { step: 18 },
      layer: [
        {
          mark: { type: 'rule' },
          encoding: { y: { field: 'backend', type: 'nominal', title: null }, x: { field: 'low', type: 'quantitative', title: 'det / nondet time (log)', scale: { type: 'log' } }, x2: { field: 'high' } },
        },
        {
          mark: { type: 'point', filled: true, size: 60 },
          encoding: {
            y: { field: 'backend', type: 'nominal' },
            x: { field: 'ratio', type: 'quantitative' },
            color: { field: 'verdict', type: 'nominal', scale: { domain: ['within threshold', 'inconclusive', 'slower than threshold'], range: ['#1a9850', '#fdae61', '#d73027'] }, legend: { labelLimit: 240 } },
            shape: { field: 'verdict', type: 'nominal', scale: { domain: ['within threshold', 'inconclusive', 'slower than threshold'], range: ['circle', 'diamond', 'square'] } },
          },
        },
        { mark: { type: 'rule', color: 'black' }, encoding: { x: { datum: 1, type: 'quantitative' } } },
        { mark: { type: 'rule', color: '#d73027', strokeDash: [4, 3] }, encoding: { x: { datum: threshold, type: 'quantitative' } } },
      ],
    },
  });
}

export const bucketLabel = (k: number) => (k === 0 ? '0' : k === 1 ? '1' : `${2 ** (k - 1)}–${2 ** k - 1}`);

function ulpHistogram(summary: Summary, parts: LabelParts): Chart {
  const counts = new Map<string, { workload: string; backend: string; bucket: number; count: number }>();
  for (const c of summary.cells) {
    for (const r of c.runs) {
      r.diff?.ulpHistogram.forEach((n, k) => {
        if (n === 0) return;
        const key = `${c.workload}|${label(c, parts)}|${k}`;
        const entry = counts.get(key) ?? { workload: c.workload, backend: label(c, parts), bucket: k, count: 0 };
        entry.count += n;
        counts.set(key, entry);
      });
    }
  }
  const values = [...counts.values()].map((v) => ({ ...v, range: bucketLabel(v.bucket) }));
  const caption = 'For runs that differ from their cell’s most common run: how many elements lie 0 (±0), 1, 2–3, 4–7 … ULPs apart. Mass near 1 ULP is rounding-order noise; far right means results that really diverged.';
  return chart('ulp-histogram', 'ULP distances of differing runs', caption, values, 'no run differed from its modal run: nothing to histogram', {
    facet: byWorkload,
    spec: {
      width: 420,
      height: 90,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'range', type: 'ordinal', title: 'ULP distance', sort: Array.from({ length: ULP_BUCKETS }, (_, k) => bucketLabel(k)) },
        y: { field: 'count', type: 'quantitative', title: 'elements', scale: { type: 'symlog' } },
        color: { field: 'backend', type: 'nominal' },
        xOffset: { field: 'backend', type: 'nominal' },
      },
    },
  });
}

function crossBackend(summary: Summary): Chart {
  const values = summary.crossBackend
    .filter((x) => x.diff)
    .flatMap((x) => [
      { workload: x.workload, backend: `${x.backend} vs ${x.reference}`, measure: 'max ULP', value: x.diff!.maxUlp, status: x.status },
      { workload: x.workload, backend: `${x.backend} vs ${x.reference}`, measure: 'relative L2', value: x.diff!.relL2 ?? 0, status: x.status },
    ]);
  const caption = 'Each backend’s deterministic result against the reference backend’s: the largest element-wise distance in ULPs and the relative L2 norm of the difference; red bars exceed the workload’s tolerance.';
  return chart('cross-backend', 'Across backends', caption, values, 'fewer than two backends produced det results', {
    facet: { column: { field: 'measure', type: 'nominal', title: null }, ...byWorkload },
    spec: {
      width: 220,
      height: { step: 16 },
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'backend', type: 'nominal', title: null },
        x: { field: 'value', type: 'quantitative', title: null, scale: { type: 'symlog' }, axis: { format: '.2~g', labelOverlap: true } },
        color: { field: 'status', type: 'nominal', scale: { domain: ['bitwise-equal', 'within-tolerance', 'outside-tolerance'], range: ['#1a9850', '#a6d96a', '#d73027'] } },
      },
    },
    resolve: { scale: { x: 'independent' } },
  });
}

/**
 * One chart per invariance axis: det results at each group's base value against every other value.
 * The thread-count chart is always drawn (saying so when nothing ran at two thread counts); the
 * others only when their axis was run at several values.
 */
function invarianceCharts(summary: Summary): Chart[] {
  return INVARIANCE_AXES.flatMap((axis) => {
    const words = AXIS_WORDS[axis];
    const values = summary.invariance.filter((t) => t.axis === axis).map((t) => ({
      workload: t.workload,
      backend: t.backend,
      comparison: `${sayAxisValue(axis, t.base)} vs ${sayAxisValue(axis, t.value)}`,
      result: t.bitwiseEqual ? 'bitwise equal' : 'differ',
      label: t.bitwiseEqual ? '=' : `≤${t.diff?.maxUlp ?? '?'} ULP`,
    }));
    if (!values.length && axis !== 'threads') return [];
    return [chart(axis === 'threads' ? 'threads' : `invariance-${axis}`, words.title, words.caption, values, words.none, {
      width: { step: 120 },
      height: { step: 26 },
      encoding: {
        x: { field: 'backend', type: 'nominal', title: null },
        y: { field: 'workload', type: 'nominal', title: null },
        ...(new Set(values.map((v) => v.comparison)).size > 1 ? { xOffset: { field: 'comparison', type: 'nominal', title: null } } : {}),
      },
      layer: [
        { mark: { type: 'rect', stroke: 'white', strokeWidth: 2 }, encoding: { color: { field: 'result', type: 'nominal', scale: { domain: ['bitwise equal', 'differ'], range: ['#1a9850', '#d73027'] } } } },
        { mark: { type: 'text', fontSize: 11 }, encoding: { text: { field: 'label' } } },
      ],
    })];
  });
}

/** How a located pair is labelled in charts and tables: the cell, and what it was compared with. */
export const locatedLabel = (l: LocateResult) => (l.against === 'repeat' ? `${l.cell} (two runs)` : `${l.cell} vs ${l.referenceCell}`);

/**
 * Where located runs part: per located pair, the max ULP of every op's output along the step where
 * they part, in execution order, the first op beyond the budget marked. Only drawn when something
 * was located (`--locate`).
 */
export function locateProfile(summary: Summary): Chart {
  const values = summary.locate.filter((l) => l.status === 'located').flatMap((l) =>
    l.profile.map((p) => ({
      pair: locatedLabel(l),
      op: p.op,
      // (values stay in execution order: the x axis keeps it, sort: null)
      // log scale: an op that agrees bit for bit sits at the bottom, drawn as 0
      maxUlp: p.ulp ? p.ulp.maxUlp : 0,
      mark: p.op === l.firstOp ? 'first divergent op' : p.beyondBudget ? 'differs (later)' : p.ulp === null ? 'not compared' : 'agrees',
    })),
  );
  const caption = 'For each located pair, the largest ULP distance of every op’s output in the step where the two runs part, ops in execution order (forward, backward, update): bars left of the red one agree, the red bar is the first op that differs, and the bars after it show how far the difference spreads through the step.';
  return chart('locate-profile', 'Where runs part: max ULP per op', caption, values, 'nothing was located', {
    facet: { row: { field: 'pair', type: 'nominal', title: null, header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelLimit: 800 } } },
    spec: {
      width: { step: 11 },
      height: 120,
      encoding: {
        x: { field: 'op', type: 'ordinal', title: null, sort: null, axis: { labelAngle: -60, labelFontSize: 8, labelLimit: 160 } },
        y: { field: 'maxUlp', type: 'quantitative', title: 'max ULP', scale: { type: 'symlog' } },
        color: { field: 'mark', type: 'nominal', title: null, scale: { domain: ['agrees', 'first divergent op', 'differs (later)', 'not compared'], range: ['#1a9850', '#d73027', '#fdae61', '#bdbdbd'] } },
      },
      // a bar per op, and a tick on it so an op at 0 ULP shows too
      layer: [{ mark: { type: 'bar' } }, { mark: { type: 'tick', thickness: 2 } }],
    },
    resolve: { scale: { x: 'independent' } },
  });
}

export function charts(all: Summary, slowdownThreshold: number): Chart[] {
  // noise-decomposition cells have their own table in the HTML report, not these charts
  const summary: Summary = { ...all, cells: all.cells.filter((c) => !c.arm) };
  const parts: LabelParts = {
    axes: INVARIANCE_AXES.filter((a) => new Set(summary.cells.map((c) => axisValue(c, a))).size > 1),
    devices: new Set(summary.cells.map((c) => `${c.backend}|${c.device}`)).size > new Set(summary.cells.map((c) => c.backend)).size,
  };
  return [
    determinismMatrix(summary, parts),
    variance(summary, parts),
    slowdown(summary, slowdownThreshold, parts),
    ulpHistogram(summary, parts),
    crossBackend(summary),
    ...invarianceCharts(summary),
    ...(all.locate.length ? [locateProfile(all)] : []),
  ];
}
