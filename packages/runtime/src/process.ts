import type { ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';

/** A child process whose output is kept (bounded) and can be awaited line by line. */
/**
 * How long a wait for a child's line or port lasts by default. A guard against a child that
 * never gets there, not a measure of its speed: with the test suite, a benchmark and other
 * work on this 2-core machine (1-minute load about 30), a sender took over 30 s to print its
 * start line while tsx transpiled its modules.
 */
const DEFAULT_WAIT_MS = 120_000;

export interface ChildHandle {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last lines the process printed (stdout and stderr). */
  lines: string[];
  /** Resolves with the exit code (null when killed by a signal or never started). */
  exited: Promise<number | null>;
  running(): boolean;
  /** Resolves with the first line (past or future) that matches; rejects on timeout or exit. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once the process accepts TCP connections on 127.0.0.1:port; rejects on exit. */
  waitForPort(port: number, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (then SIGKILL after `graceMs`, if given); resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

export function tail(lines: string[], n = 30): string {
  return lines.slice(-n).join('\n');
}

/**
 * Watches a spawned child (stdio piped): keeps its last `keepLines` lines, hands every line to
 * `onLine`, and lets callers await a line, a listening port or the exit. `launch` is the way in.
 */
export function superviseChild(
  name: string,
  child: ChildProcess,
  keepLines = 200,
  onLine?: (line: string) => void,
): ChildHandle {
  const lines: string[] = [];
  const watchers: { re: RegExp; resolve: (l: string) => void }[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (l) => {
      onLine?.(l);
      lines.push(l);
      if (lines.length > keepLines) lines.shift();
      for (let i = watchers.length - 1; i >= 0; i--) {
        const w = watchers[i];
        if (w?.re.test(l)) {
          watchers.splice(i, 1);
          w.resolve(l);
        }
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    }
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid: child.pid ?? -1,
    child,
    lines,
    exited,
    running,
    waitForLine(re, timeoutMs = DEFAULT_WAIT_MS) {
      const hit = lines.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `${name}: no line matching ${re} within ${timeoutMs} ms; output:\n${tail(lines)}`,
            ),
          );
        }, timeoutMs);
        watchers.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(
            new Error(
              `${name} exited (${code}) before a line matched ${re}; output:\n${tail(lines)}`,
            ),
          );
        });
      });
    },
    async waitForPort(port, timeoutMs = DEFAULT_WAIT_MS) {
      try {
        await waitForPort(port, { what: name, timeoutMs, exited });
      } catch (err) {
        throw new Error(`${(err as Error).message}; output:\n${tail(lines)}`, { cause: err });
      }
    },
    async stop(signal = 'SIGTERM', graceMs) {
      if (!running()) return exited;
      child.kill(signal);
      const timer =
        graceMs === undefined
          ? undefined
          : setTimeout(() => {
              if (running()) child.kill('SIGKILL');
            }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Whether a server could listen on 127.0.0.1:port a moment ago (it is closed again). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Waits until something accepts TCP connections on 127.0.0.1:port. Rejects after `timeoutMs`
 * or as soon as `exited` settles (the server died before it listened).
 */
export function waitForPort(
  port: number,
  opts: { what: string; timeoutMs: number; exited?: Promise<unknown> },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let gone = false;
  void opts.exited?.then(() => (gone = true));
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (gone) {
        reject(new Error(`${opts.what} exited before listening on ${port}`));
        return;
      }
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline)
          reject(new Error(`${opts.what} did not listen on ${port} within ${opts.timeoutMs} ms`));
        // A port has no event to wait on; 20 ms keeps start-up quick without spinning.
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}
