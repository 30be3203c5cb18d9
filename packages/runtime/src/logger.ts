/**
 * Every service's logger: pino, with an ISO time on each record, written as JSON lines, or as
 * short readable lines when the output is a terminal (VOLLEY_LOG_FORMAT overrides).
 *
 * Lines are written to the file descriptor straight away, and an output nobody reads any more
 * (the pipe of a supervisor that was killed) drops them: pino's own destination retries such a
 * write forever while the process exits, so a service whose supervisor died could never stop.
 */
import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';

export type LogFormat = 'pretty' | 'json';

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

const COLORS: Record<string, string> = {
  volley: '1',
  redis: '31',
  api: '36',
  sender: '32',
  bounce: '35',
  collector: '33',
};

/** Clock time with milliseconds in the local zone: what a person compares with their watch. */
function clock(t: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}.${p(t.getMilliseconds(), 3)}`;
}

function timeOf(value: unknown): Date {
  if (typeof value === 'number' || typeof value === 'string') {
    const t = new Date(value);
    if (!Number.isNaN(t.getTime())) return t;
  }
  return new Date();
}

/** `[name]`, in the service's colour on a terminal. */
function tag(name: string, color: boolean): string {
  return color ? `\x1b[${COLORS[name] ?? '0'}m[${name}]\x1b[0m` : `[${name}]`;
}

/** One log record as a readable line: time, service, level (unless info), message, fields. */
export function prettyRecord(record: Record<string, unknown>, color: boolean): string {
  const { level, msg, time, pid: _p, hostname: _h, service, ...rest } = record;
  const text = typeof msg === 'string' ? msg : JSON.stringify(msg ?? '');
  const lvl = Number(level) === 30 ? '' : `${LEVELS[Number(level)] ?? String(level)}: `;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const name = typeof service === 'string' ? service : 'volley';
  return `${clock(timeOf(time))} ${tag(name, color)} ${lvl}${text}${fields ? `  ${fields}` : ''}`;
}

/** A log record parsed from a line, or undefined for plain text. */
export function parseRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The format VOLLEY_LOG_FORMAT names, or pretty on a terminal and JSON anywhere else. */
export function resolveLogFormat(configured: LogFormat | undefined, fd = 1): LogFormat {
  if (configured) return configured;
  return (fd === 2 ? process.stderr : process.stdout).isTTY ? 'pretty' : 'json';
}

/** Most time one line may wait for a full pipe to drain before it is dropped. */
const FULL_PIPE_WAIT_MS = 1000;
/** Pause between two attempts to write to a full pipe. */
const FULL_PIPE_PAUSE_MS = 10;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes whole lines to `fd`, waiting a bounded time for a full pipe, dropping them once nobody reads. */
export function lineWriter(fd: number): (line: string) => void {
  let broken = false;
  return (line) => {
    if (broken) return;
    let buf = Buffer.from(line);
    const deadline = Date.now() + FULL_PIPE_WAIT_MS;
    while (buf.length > 0) {
      try {
        buf = buf.subarray(writeSync(fd, buf));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code === 'EAGAIN' || code === 'EBUSY') && Date.now() < deadline) {
          Atomics.wait(pause, 0, 0, FULL_PIPE_PAUSE_MS);
          continue;
        }
        // EPIPE and the like: the reader is gone; there is nowhere left to report it.
        if (code !== 'EAGAIN' && code !== 'EBUSY') broken = true;
        return;
      }
    }
  };
}

export interface LoggerOptions {
  level: string;
  format?: LogFormat | undefined;
  /** Fields on every record besides `service`. */
  base?: Record<string, unknown>;
}

export function createLogger(service: string, opts: LoggerOptions): Logger {
  const format = resolveLogFormat(opts.format);
  const write = lineWriter(1);
  const color = format === 'pretty' && Boolean(process.stdout.isTTY);
  const destination = {
    write(line: string): void {
      if (format === 'json') return write(line);
      const record = parseRecord(line);
      write(record ? `${prettyRecord(record, color)}\n` : line);
    },
  };
  return pino(
    {
      level: opts.level,
      base: { service, ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
