/**
 * The PNG chart: messages per second accepted by the sink over time, one line per run. Volley
 * and the naive loop share the top panel; the wire ceiling, several times faster, has its own
 * panel below so that it does not flatten the other two.
 */
import { Raster, type Rgb } from './png.ts';
import { LABELS } from './report.ts';
import type { RunKind, RunResult } from './runs.ts';

const COLORS: Record<RunKind, Rgb> = {
  volley: [31, 119, 180],
  naive: [230, 110, 20],
  wire: [60, 150, 60],
};
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];
const MUTED: Rgb = [110, 110, 110];

const WIDTH = 1200;
const LEFT = 120;
const RIGHT = 30;
const S = 2; // font scale: 10x14-pixel characters

/** A round axis maximum at or above `max`, with `ticks` equal steps of 1, 2, 2.5 or 5 x 10^k. */
function niceAxis(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * pow >= raw) ?? 10) * pow;
  return { top: step * Math.ceil(max / step), step };
}

/** A tick label: whole numbers with separators, or as many decimals as the step needs. */
function fmt(n: number, step = 1): string {
  let digits = 0;
  while (digits < 3 && Math.abs(step * 10 ** digits - Math.round(step * 10 ** digits)) > 1e-9)
    digits++;
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

interface Panel {
  title: string;
  runs: RunResult[];
  medians: Partial<Record<RunKind, number>>;
  labels: Partial<Record<RunKind, string>>;
}

function drawPanel(r: Raster, top: number, height: number, p: Panel): void {
  const plotTop = top + 40;
  const plotBottom = top + height - 50;
  const plotLeft = LEFT;
  const plotRight = WIDTH - RIGHT;
  r.text(plotLeft, top + 8, p.title, INK, S);
  const maxRate = Math.max(1, ...p.runs.flatMap((run) => run.series.map((pt) => pt.rate)));
  const maxT = Math.max(1, ...p.runs.flatMap((run) => run.series.map((pt) => pt.t)));
  const y = niceAxis(maxRate * 1.1);
  const x = niceAxis(maxT, 10);
  const px = (t: number): number => plotLeft + (t / x.top) * (plotRight - plotLeft);
  const py = (v: number): number => plotBottom - (v / y.top) * (plotBottom - plotTop);

  for (let v = 0; v <= y.top + 1e-9; v += y.step) {
    r.line(plotLeft, py(v), plotRight, py(v), GRID);
    const label = fmt(v, y.step);
    r.text(plotLeft - 10 - Raster.textWidth(label, S), py(v) - 7, label, MUTED, S);
  }
  for (let t = 0; t <= x.top + 1e-9; t += x.step) {
    r.line(px(t), plotBottom, px(t), plotBottom + 6, INK);
    const label = fmt(t, x.step);
    r.text(px(t) - Raster.textWidth(label, S) / 2, plotBottom + 12, label, MUTED, S);
  }
  r.line(plotLeft, plotTop, plotLeft, plotBottom, INK);
  r.line(plotLeft, plotBottom, plotRight, plotBottom, INK);
  r.text(plotRight - Raster.textWidth('SECONDS', S), plotBottom + 32, 'SECONDS', MUTED, S);

  for (const run of p.runs) {
    const c = COLORS[run.kind];
    for (let i = 1; i < run.series.length; i++) {
      const a = run.series[i - 1];
      const b = run.series[i];
      if (a && b) r.line(px(a.t), py(a.rate), px(b.t), py(b.rate), c, 2);
    }
  }
  // The legend sits on the title line, right-aligned, so it never hides a line of the plot.
  let legendRight = plotRight;
  const entries = (Object.entries(p.medians) as [RunKind, number][])
    .filter(([, m]) => Number.isFinite(m))
    .reverse();
  for (const [kind, m] of entries) {
    r.line(plotLeft, py(m), plotRight, py(m), COLORS[kind], 1, 6);
    const label = `${p.labels[kind] ?? LABELS[kind]}: MEDIAN ${fmt(m)}/S`;
    const lx = legendRight - Raster.textWidth(label, S);
    r.fillRect(lx - 22, top + 10, 14, 10, COLORS[kind]);
    r.text(lx, top + 8, label, INK, S);
    legendRight = lx - 44;
  }
}

export function throughputChart(
  runs: RunResult[],
  medians: Record<RunKind, number>,
  senders: number,
  subtitle: string,
): Buffer {
  const height = 860;
  const r = new Raster(WIDTH, height);
  r.text(LEFT, 14, 'MESSAGES PER SECOND ACCEPTED BY SMTP-SINK, OVER TIME (1-S WINDOWS)', INK, S);
  r.text(LEFT, 38, subtitle, MUTED, S);
  const volleyLabel = `VOLLEY, ${senders} SENDER${senders === 1 ? '' : 'S'}`;
  drawPanel(r, 60, 470, {
    title: 'VOLLEY VS NAIVE LOOP',
    runs: runs.filter((x) => x.kind !== 'wire'),
    medians: { volley: medians.volley, naive: medians.naive },
    labels: { volley: volleyLabel, naive: 'NAIVE LOOP' },
  });
  drawPanel(r, 540, 310, {
    title: 'WIRE CEILING: SMTP-SOURCE → SMTP-SINK',
    runs: runs.filter((x) => x.kind === 'wire'),
    medians: { wire: medians.wire },
    labels: { wire: 'SMTP-SOURCE' },
  });
  return r.toPng();
}
