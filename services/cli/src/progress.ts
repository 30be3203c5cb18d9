/**
 * Progress of a file streamed to the API: a Transform that counts bytes and lines as fetch
 * pulls them (so what it shows is what has left, under the upload's own backpressure), and a
 * bar drawn from those counts on a timer.
 */
import { Transform, type TransformCallback } from 'node:stream';
import cliProgress from 'cli-progress';
import type { Output } from './output.ts';

/**
 * At most this many redraws a second: smooth to the eye, and a terminal (or a slow ssh link)
 * is never the bottleneck of a million-row upload.
 */
const REDRAWS_PER_SECOND = 10;

const NEWLINE = 0x0a;

export class Meter extends Transform {
  bytes = 0;
  lines = 0;
  readonly startedAt = Date.now();

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) this.lines++;
    done(null, chunk);
  }

  /** Lines per second since the start. */
  rate(now = Date.now()): number {
    const s = (now - this.startedAt) / 1000;
    return s > 0 ? this.lines / s : 0;
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m${String(r).padStart(2, '0')}s`
      : `${r}s`;
}

/** A bar, or nothing when the output is not live. */
export interface Bar {
  update(value: number, payload: Record<string, string>): void;
  /** Draws the last frame in its turn (see startBar) and stops. */
  stop(): Promise<void>;
}

const FRAME_MS = 1000 / REDRAWS_PER_SECOND;

/** A bar on stderr of `total` units; `format` uses cli-progress placeholders and the payload's. */
function startBar(out: Output, total: number, format: string): Bar {
  if (!out.live) return { update() {}, stop: async () => {} };
  const bar = new cliProgress.SingleBar({
    stream: out.streams.stderr,
    format,
    fps: REDRAWS_PER_SECOND,
    // Only the timer draws: drawing on updates too could exceed the rate above.
    synchronousUpdate: false,
    hideCursor: true,
    barsize: 24,
    etaBuffer: 50,
    clearOnComplete: false,
  });
  let lastFrameAt = 0;
  bar.on('redraw-post', () => (lastFrameAt = Date.now()));
  bar.start(Math.max(1, total), 0, {});
  return {
    update: (value, payload) => bar.update(value, payload),
    stop: async () => {
      // The last frame keeps the rate too: drawn right after another, it would be an eleventh
      // in a second. Waits at most one frame's time (100 ms).
      const wait = lastFrameAt + FRAME_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      bar.stop();
    },
  };
}

/** A bar with lines of text under it, redrawn together. */
export interface LiveView {
  update(value: number, payload: Record<string, string>, lines: string[]): void;
  /** Draws the last frame in its turn (see startBar) and stops; the frame stays on screen. */
  stop(): Promise<void>;
}

/**
 * A bar on stderr with `rows` lines of text under it (counts, reasons), or nothing when the
 * output is not live. One timer redraws the whole block, so the block keeps the bar's rate.
 * cli-progress turns the terminal's line wrapping off while it draws, so a line wider than the
 * terminal is cut at its edge (colour codes intact) and never pushes the block out of place.
 */
export function startLiveView(out: Output, total: number, format: string, rows: number): LiveView {
  if (!out.live) return { update() {}, stop: async () => {} };
  const multi = new cliProgress.MultiBar({
    stream: out.streams.stderr,
    format,
    fps: REDRAWS_PER_SECOND,
    hideCursor: true,
    barsize: 24,
    etaBuffer: 50,
    clearOnComplete: false,
  });
  let lastFrameAt = 0;
  multi.on('redraw-post', () => (lastFrameAt = Date.now()));
  const bar = multi.create(Math.max(1, total), 0, {});
  const texts = Array.from({ length: rows }, () =>
    multi.create(1, 0, { text: '' }, { format: '{text}' }),
  );
  return {
    update: (value, payload, lines) => {
      bar.update(value, payload);
      texts.forEach((t, i) => t.update(0, { text: lines[i] ?? '' }));
    },
    stop: async () => {
      const wait = lastFrameAt + FRAME_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      multi.stop();
    },
  };
}

/** Follows a meter on a bar until stopped. */
export function showUpload(out: Output, meter: Meter, size: number, label: string): Bar {
  const bar = startBar(
    out,
    size,
    `${label} {bar} {percentage}% | {sent} of {size} | {rows} rows, {rate} rows/s | ETA {eta_formatted}`,
  );
  const payload = (): Record<string, string> => ({
    sent: formatBytes(meter.bytes),
    size: formatBytes(size),
    rows: formatCount(meter.lines),
    rate: formatCount(meter.rate()),
  });
  // Updates are cheap (no drawing): the bar's timer draws at its own pace.
  const timer = setInterval(() => bar.update(meter.bytes, payload()), FRAME_MS);
  return {
    update: (value, payload) => bar.update(value, payload),
    stop: async () => {
      clearInterval(timer);
      bar.update(meter.bytes, payload());
      await bar.stop();
    },
  };
}
