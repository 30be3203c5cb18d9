/** Summary (medians, ratios) and Markdown report of `npm run bench:upload`. */
import type { UploadBenchOptions, UploadFormat } from './upload-args.ts';
import { spread, type Spread } from './stats.ts';
import { cell, fmt, repCells } from './format.ts';
import { machineSection, type Machine } from './machine.ts';

/**
 * - `upload`: POST /v1/campaigns/{id}/recipients into a fresh draft (the thing measured).
 * - `parse`: the same bytes, parsed and validated by the same code, stored nowhere.
 * - `lines`: the same bytes split into lines, each through JSON.parse (NDJSON) or split(',')
 *   (CSV): the floor of any reader, in code the upload's changes do not touch.
 * - `discard`: the same bytes, read and thrown away by the same process.
 */
export type UploadRunKind = 'upload' | 'parse' | 'lines' | 'discard';

export const KINDS: UploadRunKind[] = ['discard', 'lines', 'parse', 'upload'];

export interface UploadRun {
  kind: UploadRunKind;
  format: UploadFormat;
  rep: number;
  startedAt: string;
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerS: number;
  mbPerS: number;
  /** CPU seconds (user + system) of the API process and of redis-server during the request. */
  apiCpuS: number;
  redisCpuS: number;
  /** The API's VmRSS just before the request, and the highest sampled during it. */
  rssBeforeMiB: number;
  rssPeakMiB: number;
}

export type UploadEnvironment = Machine;

export interface FormatSummary {
  rowsPerS: Record<UploadRunKind, Spread>;
  /** CPU of the API process per row, for each kind: less sensitive to a busy machine than rates. */
  apiCpuUsPerRowByKind: Record<UploadRunKind, Spread>;
  /** Upload rows/s ÷ baseline rows/s within each repetition (adjacent in time), then the median. */
  ratioToDiscard: Spread;
  ratioToLines: Spread;
  ratioToParse: Spread;
  apiCpuUsPerRow: Spread;
  redisCpuUsPerRow: Spread;
  rssPeakMiB: Spread;
  rssGrowthMiB: Spread;
}

export interface UploadSummary {
  byFormat: Partial<Record<UploadFormat, FormatSummary>>;
  /** VmHWM of the API process at the end: its peak RSS over the whole benchmark. */
  apiVmHwmMiB: number;
}

function pick(runs: UploadRun[], format: UploadFormat, kind: UploadRunKind): UploadRun[] {
  return runs.filter((r) => r.format === format && r.kind === kind).sort((a, b) => a.rep - b.rep);
}

function ratio(runs: UploadRun[], base: UploadRun[]): Spread {
  const out: number[] = [];
  for (const r of runs) {
    const b = base.find((x) => x.rep === r.rep);
    if (b) out.push(r.rowsPerS / b.rowsPerS);
  }
  return spread(out);
}

export function summarizeUploads(
  runs: UploadRun[],
  formats: UploadFormat[],
  apiVmHwmMiB: number,
): UploadSummary {
  const byFormat: UploadSummary['byFormat'] = {};
  for (const f of formats) {
    const up = pick(runs, f, 'upload');
    const rowsPerS = {} as Record<UploadRunKind, Spread>;
    const apiCpu = {} as Record<UploadRunKind, Spread>;
    for (const k of KINDS) {
      rowsPerS[k] = spread(pick(runs, f, k).map((r) => r.rowsPerS));
      apiCpu[k] = spread(pick(runs, f, k).map((r) => (r.apiCpuS / r.rows) * 1e6));
    }
    byFormat[f] = {
      rowsPerS,
      apiCpuUsPerRowByKind: apiCpu,
      ratioToDiscard: ratio(up, pick(runs, f, 'discard')),
      ratioToLines: ratio(up, pick(runs, f, 'lines')),
      ratioToParse: ratio(up, pick(runs, f, 'parse')),
      apiCpuUsPerRow: spread(up.map((r) => (r.apiCpuS / r.rows) * 1e6)),
      redisCpuUsPerRow: spread(up.map((r) => (r.redisCpuS / r.rows) * 1e6)),
      rssPeakMiB: spread(up.map((r) => r.rssPeakMiB)),
      rssGrowthMiB: spread(up.map((r) => r.rssPeakMiB - r.rssBeforeMiB)),
    };
  }
  return { byFormat, apiVmHwmMiB };
}

export function uploadFlagLine(o: UploadBenchOptions): string {
  return [
    o.quick ? '--quick' : '',
    `--rows ${o.rows}`,
    `--reps ${o.reps}`,
    `--formats ${o.formats.join(',')}`,
  ]
    .filter(Boolean)
    .join(' ');
}

const LABEL: Record<UploadFormat, string> = { ndjson: 'NDJSON', csv: 'CSV' };

export function uploadMarkdown(
  o: UploadBenchOptions,
  env: UploadEnvironment,
  s: UploadSummary,
  bytes: Partial<Record<UploadFormat, number>>,
  startedAt: string,
  /** How many times over the discard baseline streams the body in one request. */
  discardRepeat: number,
): string {
  const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const repHead = Array.from({ length: o.reps }, (_v, i) => `rep ${i + 1}`);
  const lines: string[] = [];
  lines.push(`# Volley upload benchmark, ${o.quick ? 'quick' : 'full'} run of ${startedAt}`);
  lines.push('');
  lines.push(
    `${fmt(o.rows)} rows per upload, streamed over HTTP on 127.0.0.1 into the API running as its own ` +
      `process (one redis-server of its own), ${o.reps} repetition${o.reps === 1 ? '' : 's'} interleaved ` +
      `(discard, lines, parse, upload; per format). Figures are medians over repetitions, range in brackets.`,
  );
  lines.push('');
  lines.push('## Headline');
  lines.push('');
  lines.push(row(['', 'median (range)', ...repHead]));
  lines.push(row(['---', '---:', ...repHead.map(() => '---:')]));
  for (const f of o.formats) {
    const fs = s.byFormat[f];
    if (!fs) continue;
    lines.push(
      row([
        `${LABEL[f]} upload, rows/s`,
        cell(fs.rowsPerS.upload),
        ...repCells(fs.rowsPerS.upload, o.reps),
      ]),
    );
    lines.push(
      row([
        `${LABEL[f]} upload ÷ read-and-discard`,
        cell(fs.ratioToDiscard, 3, '×'),
        ...repCells(fs.ratioToDiscard, o.reps, 3, '×'),
      ]),
    );
    lines.push(
      row([
        `${LABEL[f]} upload ÷ split lines and ${f === 'csv' ? "split(',')" : 'JSON.parse'} each`,
        cell(fs.ratioToLines, 3, '×'),
        ...repCells(fs.ratioToLines, o.reps, 3, '×'),
      ]),
    );
    lines.push(
      row([
        `${LABEL[f]} upload ÷ parse-only (no Redis)`,
        cell(fs.ratioToParse, 3, '×'),
        ...repCells(fs.ratioToParse, o.reps, 3, '×'),
      ]),
    );
    lines.push(
      row([
        `${LABEL[f]} upload, API peak RSS`,
        cell(fs.rssPeakMiB, 0, ' MiB'),
        ...repCells(fs.rssPeakMiB, o.reps, 0, ' MiB'),
      ]),
    );
  }
  lines.push('');
  lines.push(
    "Which ratio to read: the lines baseline runs fixed code (split, then JSON.parse or split(',') per " +
      'line), CPU-bound like the upload, so upload ÷ lines is the figure to compare between versions and ' +
      'machines. Read-and-discard moves bytes at memory speed and swings with the client and the kernel; ' +
      "parse-only runs the upload's own parser, so it moves with every change to it, and shows what " +
      'Redis adds.',
  );
  lines.push('');
  lines.push(
    'The performance bar (benchmarks/README.md) asks for at least 100,000 recipients/s streamed in, with constant ' +
      'API memory. This report states where the upload stands; it asserts nothing.',
  );
  lines.push('');
  for (const f of o.formats) {
    const fs = s.byFormat[f];
    if (!fs) continue;
    lines.push(`## ${LABEL[f]} (${fmt((bytes[f] ?? 0) / 1e6, 1)} MB per upload)`);
    lines.push('');
    lines.push(row(['run', 'rows/s, median (range)', ...repHead, 'API CPU per row']));
    lines.push(row(['---', '---:', ...repHead.map(() => '---:'), '---:']));
    const what: Record<UploadRunKind, string> = {
      discard: `read and discard (baseline: HTTP and the bytes, body sent ${discardRepeat === 1 ? 'once' : `${discardRepeat} times over`})`,
      lines: `split lines, ${f === 'csv' ? "split(',')" : 'JSON.parse'} each (baseline: the least a reader does)`,
      parse: 'parse and validate, store nothing (baseline: no Redis)',
      upload: 'upload into a draft (POST /v1/campaigns/{id}/recipients)',
    };
    for (const k of KINDS) {
      lines.push(
        row([
          what[k],
          cell(fs.rowsPerS[k]),
          ...repCells(fs.rowsPerS[k], o.reps),
          cell(fs.apiCpuUsPerRowByKind[k], 2, ' µs'),
        ]),
      );
    }
    lines.push('');
    lines.push(row(['upload figure', 'median (range)']));
    lines.push(row(['---', '---:']));
    lines.push(row(['API CPU per row', cell(fs.apiCpuUsPerRow, 2, ' µs')]));
    lines.push(row(['redis-server CPU per row', cell(fs.redisCpuUsPerRow, 2, ' µs')]));
    lines.push(row(['API peak RSS during the upload', cell(fs.rssPeakMiB, 0, ' MiB')]));
    lines.push(row(['API RSS growth during the upload', cell(fs.rssGrowthMiB, 0, ' MiB')]));
    lines.push('');
  }
  lines.push(
    `API peak RSS over the whole benchmark (VmHWM): **${fmt(s.apiVmHwmMiB, 0)} MiB**, ` +
      'the baselines included.',
  );
  lines.push('');
  lines.push(...machineSection(env, [], uploadFlagLine(o)));
  lines.push(
    'The client, the API and Redis share the machine: the client only writes ready buffers, but its ' +
      'CPU and the kernel’s loopback copies are in every figure, baselines included. Compare ratios, ' +
      'not absolute rates, across machines or runs.',
  );
  lines.push('');
  return lines.join('\n');
}
