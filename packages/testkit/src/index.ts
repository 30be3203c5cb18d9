/**
 * Helpers for tests against real parts: a redis-server per test file on a free port, a
 * unique key prefix per test, and service processes started as a deployment starts them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { startLocalRedis, type LocalRedis } from '@volley/redis';

export { startCaptureServer, type CaptureServer, type CapturedMessage } from '@volley/mail-capture';
export {
  startDnsStub,
  type DnsStub,
  type DnsZone,
  type ZoneEntry,
  type DnsQuery,
} from './dns-stub.ts';

export const ROOT = resolve(import.meta.dirname, '../../..');

export function startRedis(): Promise<LocalRedis> {
  return startLocalRedis();
}

/** A Redis key prefix no other test uses, so tests can share one server side by side. */
export function uniquePrefix(name = 't'): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}

export interface ServiceProcess {
  child: ChildProcess;
  pid: number;
  /** Every line the process printed, for assertions and for failure messages. */
  lines: string[];
  /** Resolves with the first line (past or future) that matches. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Starts `services/<name>/src/main.ts` in its own Node process with the given environment. */
export function spawnService(name: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(ROOT, `services/${name}/src/main.ts`)],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        VOLLEY_LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const watchers: { re: RegExp; resolve: (l: string) => void }[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (l) => {
      lines.push(l);
      for (let i = watchers.length - 1; i >= 0; i--) {
        const w = watchers[i];
        if (w?.re.test(l)) {
          watchers.splice(i, 1);
          w.resolve(l);
        }
      }
    });
  }
  const exited = new Promise<number | null>((res) => {
    if (child.exitCode !== null) res(child.exitCode);
    else child.once('exit', (code) => res(code));
  });
  return {
    child,
    pid: child.pid ?? -1,
    lines,
    exited,
    waitForLine(re, timeoutMs = 30_000) {
      const hit = lines.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise<string>((res, rej) => {
        const timer = setTimeout(() => {
          rej(
            new Error(
              `no line matching ${re} within ${timeoutMs} ms; output:\n${lines.slice(-30).join('\n')}`,
            ),
          );
        }, timeoutMs);
        watchers.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            res(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          rej(
            new Error(
              `process exited (${code}) before a line matched ${re}; output:\n${lines.slice(-30).join('\n')}`,
            ),
          );
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Waits for a condition that has no event of its own (a counter in Redis, say), checking it
 * every `everyMs`. Fails with `what` after the timeout.
 */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
