/**
 * The site's charts as vega-lite specs: pure functions of a history (harness/analysis/history.ts).
 * The x axis is the night's number on its machine (1 = the oldest given), the same on every chart of
 * a page; the tables under the charts give each night's date and run id.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { HistoryStep, SeriesHistory } from '../../harness/analysis/history.js';
import type { CellVerdict } from '../../harness/analysis/summary.js';
import { SCHEMA } from '../specs.js';

export interface SiteChart {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

/** The latest det verdict of a cell, as the index and the stability chart colour it. */
export const VERDICT_COLORS: ReadonlyArray<[CellVerdict, string, string]> = [
  ['bitwise-stable', 'bitwise stable', '#1a9850'],
  ['unstable', 'unstable', '#d73027'],
  ['failed', 'runs failed', '#542788'],
  ['unsupported', 'unsupported', '#bdbdbd'],
  ['unavailable', 'unavailable', '#d9d9d9'],
  ['no-data', 'no data', '#f0f0f0'],
];
export const verdictLabel = (v: CellVerdict) => VERDICT_COLORS.find(([x]) => x === v)![1];
const verdictScale = { domain: VERDICT_COLORS.map(([, label]) => label), range: VERDICT_COLORS.map(([, , color]) => color) };

/** Points and per-point marks are drawn up to this many nights; beyond, lines and bands only (pages stay small). */
export const POINTS_UP_TO = 200;

const WIDTH = 760;
const nightAxis = (n: number) => ({ field: 'night', type: 'quantitative' as const, title: 'night', scale: { domain: [0.5, Math.max(n, 1) + 0.5], nice: false }, axis: { format: 'd', tickMinStep: 1 } });

const stepNight = (s: SeriesHistory, st: HistoryStep) => s.points[st.at].night + 1;

function stability(s: SeriesHistory, nights: number): SiteChart {
  // one bar per run of consecutive nights with one result: 1,000 nights are a few bars, not 1,000
  const values: Array<{ x0: number; x1: number; result: string }> = [];
  for (const p of s.points.filter((x) => x.det)) {
    const result = verdictLabel(p.det!.verdict);
    const previous = values[values.length - 1];
    if (previous && previous.result === result && previous.x1 === p.night + 0.5) previous.x1 = p.night + 1.5;
    else values.push({ x0: p.night + 0.5, x1: p.night + 1.5, result });
  }
  const changes = s.steps.filter((st) => st.kind === 'results').map((st) => ({ night: stepNight(s, st) - 0.5, label: 'results changed' }));
  return {
    id: 'stability',
    title: 'Determinism, night by night',
    caption: 'The det cell night by night: green where its repeats were bit-for-bit identical, red where they were not; a black line marks a night from which the det result (its bits) changed.',
    spec: {
      $schema: SCHEMA,
      width: WIDTH,
      height: 46,
      layer: [
        {
          data: { values },
          mark: { type: 'rect' },
          encoding: { x: { ...nightAxis(nights), field: 'x0' }, x2: { field: 'x1' }, color: { field: 'result', type: 'nominal', scale: verdictScale, title: 'det result' } },
        },
        ...(changes.length
          ? [{
              data: { values: changes },
              layer: [
                { mark: { type: 'rule' as const, color: '#111', strokeWidth: 2 }, encoding: { x: { field: 'night', type: 'quantitative' as const } } },
                { mark: { type: 'text' as const, align: 'left' as const, dx: 3, dy: -30, fontSize: 10 }, encoding: { x: { field: 'night', type: 'quantitative' as const }, text: { field: 'label' } } },
              ],
            }]
          : []),
      ],
    } as TopLevelSpec,
  };
}

/** A measure's median and CI per night, its steps as vertical rules and its segment levels as horizontal ones. */
function timing(s: SeriesHistory, nights: number): SiteChart {
  const values = s.points.flatMap((p) =>
    (['det', 'nondet'] as const).flatMap((mode) => {
      const t = p[mode]?.time;
      return t ? [{ night: p.night + 1, mode, median: t.median, low: t.low ?? t.median, high: t.high ?? t.median }] : [];
    }),
  );
  const steps = s.steps.filter((st) => st.kind === 'timing' && st.measure === 'computeMs').map((st) => ({ night: stepNight(s, st) - 0.5, label: st.kind === 'timing' ? `${st.mode} ${st.ratio.toFixed(2)}×` : '' }));
  return {
    id: 'time',
    title: 'Compute time, night by night',
    caption: 'The median compute time of each night’s repeats, det and nondet, with its 95% CI as a band (log scale); a dashed line marks where the step detection found the time stepped, labelled with the size of the step.',
    spec: layered(values, steps, nights, { title: 'compute time (ms, log)', color: { field: 'mode', type: 'nominal', scale: { domain: ['det', 'nondet'], range: ['#2166ac', '#f4a582'] } } }),
  };
}

function slowdown(s: SeriesHistory, nights: number, threshold: number): SiteChart {
  const values = s.points.filter((p) => p.slowdown).map((p) => ({ night: p.night + 1, mode: 'det/nondet', median: p.slowdown!.value, low: p.slowdown!.low, high: p.slowdown!.high }));
  const steps = s.steps.filter((st) => st.kind === 'timing' && st.measure === 'slowdownRatio').map((st) => ({ night: stepNight(s, st) - 0.5, label: st.kind === 'timing' ? `${st.ratio.toFixed(2)}×` : '' }));
  return {
    id: 'slowdown',
    title: 'Cost of determinism, night by night',
    caption: `The det/nondet compute-time ratio of each night (median of the paired repeats) with its bootstrap 95% CI as a band (log scale); the black line is 1.0 (determinism costs nothing), the red dashed one the ${threshold}× threshold.`,
    spec: layered(values, steps, nights, { title: 'det / nondet time (log)', color: { value: '#542788' } }, [1, threshold]),
  };
}

function layered(values: object[], steps: object[], nights: number, y: { title: string; color: object }, references: number[] = []): TopLevelSpec {
  if (values.length === 0) return { $schema: SCHEMA, data: { values: [{ text: 'no timings' }] }, mark: { type: 'text', fontSize: 13, color: '#555' }, encoding: { text: { field: 'text' } }, width: WIDTH, height: 40 } as TopLevelSpec;
  const x = nightAxis(nights);
  // the data's own range: a "nice" log scale would stretch it to whole powers of ten
  const scale = { type: 'log' as const, zero: false, nice: false };
  const encodingColor = 'field' in y.color ? { color: y.color } : {};
  const markColor = 'value' in y.color ? { color: (y.color as { value: string }).value } : {};
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: 180,
    layer: [
      {
        data: { values },
        layer: [
          { mark: { type: 'area', opacity: 0.25, ...markColor }, encoding: { x, y: { field: 'low', type: 'quantitative', title: y.title, scale }, y2: { field: 'high' }, ...encodingColor } },
          { mark: { type: 'line', strokeWidth: 1.5, ...markColor }, encoding: { x, y: { field: 'median', type: 'quantitative' }, ...encodingColor } },
          ...(values.length <= POINTS_UP_TO ? [{ mark: { type: 'point' as const, filled: true, size: 18, ...markColor }, encoding: { x, y: { field: 'median', type: 'quantitative' as const }, ...encodingColor } }] : []),
        ],
      },
      ...references.map((r, i) => ({ data: { values: [{}] }, mark: { type: 'rule' as const, color: i === 0 ? '#111' : '#d73027', strokeDash: i === 0 ? [] : [4, 3] }, encoding: { y: { datum: r, type: 'quantitative' as const } } })),
      ...(steps.length ? [{ data: { values: steps }, mark: { type: 'rule' as const, color: '#444', strokeDash: [6, 3] }, encoding: { x: { field: 'night', type: 'quantitative' as const } } }] : []),
      // a label row per step (a text layer each), so two steps of one night do not print over each other
      ...steps.map((step, row) => ({
        data: { values: [step] },
        mark: { type: 'text' as const, align: 'left' as const, dx: 3, baseline: 'top' as const, fontSize: 10 },
        encoding: { x: { field: 'night', type: 'quantitative' as const }, y: { value: 2 + 12 * row }, text: { field: 'label' } },
      })),
    ],
  } as TopLevelSpec;
}

/** A cell page's charts. */
export function cellCharts(s: SeriesHistory, nights: number, threshold: number): SiteChart[] {
  return [stability(s, nights), timing(s, nights), slowdown(s, nights, threshold)];
}

/** The index's chart: the latest det verdict of every workload × backend, one panel per machine. */
export function latestChart(rows: Array<{ machine: string; workload: string; backend: string; verdict: CellVerdict }>): SiteChart {
  return {
    id: 'latest',
    title: 'Latest verdicts',
    caption: 'The latest night’s det result of each workload (rows) on each backend (columns), one panel per machine: green is bit-for-bit identical across repeats.',
    spec: {
      $schema: SCHEMA,
      data: { values: rows.map((r) => ({ ...r, result: verdictLabel(r.verdict) })) },
      facet: { row: { field: 'machine', type: 'nominal', title: null, header: { labelAngle: 0, labelAlign: 'left', labelLimit: 400 } } },
      spec: {
        width: { step: 90 },
        height: { step: 22 },
        mark: { type: 'rect', stroke: 'white', strokeWidth: 2 },
        encoding: {
          x: { field: 'backend', type: 'nominal', title: null, axis: { labelAngle: -30 } },
          y: { field: 'workload', type: 'nominal', title: null },
          color: { field: 'result', type: 'nominal', scale: verdictScale, title: 'latest det result' },
        },
      },
      resolve: { scale: { x: 'independent', y: 'independent' } },
    } as TopLevelSpec,
  };
}

/** A machine page's chart: det cells bitwise stable per night. */
export function machineChart(nights: Array<{ night: number; detStable: number; detCells: number }>): SiteChart {
  const values = nights.flatMap((n) => [{ night: n.night, count: n.detStable, what: 'bitwise stable' }, { night: n.night, count: n.detCells - n.detStable, what: 'unstable' }]);
  return {
    id: 'machine',
    title: 'Det cells per night',
    caption: 'How many det cells were bit-for-bit identical across repeats each night (green), and how many were not (red).',
    spec: {
      $schema: SCHEMA,
      width: WIDTH,
      height: 120,
      data: { values },
      mark: { type: 'bar' },
      encoding: {
        x: { ...nightAxis(nights.length), type: 'quantitative' },
        y: { field: 'count', type: 'quantitative', title: 'det cells', stack: 'zero' },
        color: { field: 'what', type: 'nominal', scale: { domain: ['bitwise stable', 'unstable'], range: ['#1a9850', '#d73027'] }, title: null },
      },
    } as TopLevelSpec,
  };
}
