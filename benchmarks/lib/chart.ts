/**
 * The throughput chart, as SVG drawn by Vega-Lite: messages per second accepted by the sink over
 * time, one line per run, with each kind's median as a dashed rule. Volley and the naive loop
 * share the top panel; the wire ceiling, several times faster, has its own panel below so that
 * it does not flatten the other two.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { LABELS } from './report.ts';
import type { RunKind, RunResult } from './runs.ts';

const COLORS: Record<RunKind, string> = {
  volley: '#1f77b4',
  naive: '#e66e14',
  wire: '#3c963c',
};

const WIDTH = 1000;

interface Panel {
  title: string;
  kinds: RunKind[];
  height: number;
}

/** One panel: a line per run, a dashed rule per kind at its median, the legend above. */
function panel(
  p: Panel,
  runs: RunResult[],
  medians: Record<RunKind, number>,
  labels: Record<RunKind, string>,
) {
  const kinds = p.kinds.filter((k) => runs.some((r) => r.kind === k));
  const legend = (k: RunKind): string =>
    `${labels[k]}: median ${Math.round(medians[k]).toLocaleString('en-US')}/s`;
  const color = {
    field: 'series',
    type: 'nominal' as const,
    scale: { domain: kinds.map(legend), range: kinds.map((k) => COLORS[k]) },
    legend: {
      title: null,
      orient: 'top' as const,
      direction: 'horizontal' as const,
      labelLimit: 0,
      symbolStrokeWidth: 3,
    },
  };
  return {
    title: { text: p.title, anchor: 'start' as const },
    width: WIDTH,
    height: p.height,
    layer: [
      {
        data: {
          values: runs
            .filter((r) => kinds.includes(r.kind))
            .flatMap((r) =>
              r.series.map((pt) => ({
                series: legend(r.kind),
                rep: r.rep,
                t: pt.t,
                rate: pt.rate,
              })),
            ),
        },
        mark: { type: 'line' as const, strokeWidth: 1.5 },
        encoding: {
          // From 0, the submit: a run's slow start is part of what the chart shows.
          x: {
            field: 't',
            type: 'quantitative' as const,
            title: 'seconds',
            scale: { zero: true },
          },
          y: { field: 'rate', type: 'quantitative' as const, title: 'messages/s' },
          color,
          detail: { field: 'rep', type: 'nominal' as const },
        },
      },
      {
        data: {
          values: kinds
            .filter((k) => Number.isFinite(medians[k]))
            .map((k) => ({ series: legend(k), median: medians[k] })),
        },
        mark: { type: 'rule' as const, strokeDash: [6, 4], strokeWidth: 1 },
        encoding: { y: { field: 'median', type: 'quantitative' as const }, color },
      },
    ],
  };
}

export async function throughputChart(
  runs: RunResult[],
  medians: Record<RunKind, number>,
  senders: number,
  subtitle: string,
): Promise<string> {
  const labels: Record<RunKind, string> = {
    volley: `Volley, ${senders} sender${senders === 1 ? '' : 's'}`,
    naive: LABELS.naive,
    wire: 'smtp-source',
  };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Messages per second accepted by smtp-sink, over time (1-s windows)',
      subtitle,
      anchor: 'start',
    },
    background: 'white',
    padding: 16,
    vconcat: [
      panel(
        { title: 'Volley vs naive loop', kinds: ['volley', 'naive'], height: 380 },
        runs,
        medians,
        labels,
      ),
      panel(
        { title: 'Wire ceiling: smtp-source → smtp-sink', kinds: ['wire'], height: 200 },
        runs,
        medians,
        labels,
      ),
    ],
    // Each panel has its own series and its own legend above it.
    resolve: { scale: { color: 'independent' } },
    config: { font: 'sans-serif', view: { stroke: null } },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
