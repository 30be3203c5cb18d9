/**
 * Helpers for tests against real parts: a redis-server per test file on a free port, a
 * unique key prefix per test, and service processes started as a deployment starts them.
 */
import { spawn } from 'node:child_process';
import { superviseChild, type ChildHandle } from '@volley/runtime';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { startLocalRedis, type LocalRedis } from '@volley/redis';

export { startCaptureServer, type CaptureServer, type CapturedMessage } from '@volley/mail-capture';
export {
  startDnsStub,
  type DnsStub,
  type DnsZone,
  type ZoneEntry,
  type DnsQuery,
} from './dns-stub.ts';
export { sharedDir, SharedDirError } from './shared.ts';

export const ROOT = resolve(import.meta.dirname, '../../..');

export function startRedis(): Promise<LocalRedis> {
  return startLocalRedis();
}

/** A Redis key prefix no other test uses, so tests can share one server side by side. */
export function uniquePrefix(name = 't'): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}

/** A service process started as a deployment starts it; see `superviseChild`. */
export type ServiceProcess = ChildHandle;

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
  // Tests assert on the whole output of a run, so keep more than the default.
  return superviseChild(name, child, 100_000);
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
