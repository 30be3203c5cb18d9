/**
 * Helpers for tests against real parts: a redis-server per test file on a free port, a
 * unique key prefix per test, service processes started as a deployment starts them, and a
 * private Postfix relay on a loopback port; an SMTP client that plays the sending MTA.
 */
import { randomBytes } from 'node:crypto';
import { launchService, type ChildHandle } from '@volley/runtime';
import {
  startLocalCluster,
  startLocalRedis,
  type LocalCluster,
  type LocalRedis,
} from '@volley/redis';

export { startCaptureServer, type CaptureServer, type CapturedMessage } from '@volley/mail-capture';
export { startDnsStub, type DnsStub, type DnsZone } from './dns-stub.ts';
export { sharedDir, SharedDirError } from './shared.ts';
export { startPostfix, loopbackNexthop, type PostfixInstance } from './postfix.ts';
export { freePortBlock } from './ports.ts';
export { SmtpTestClient } from './smtp-client.ts';

export { ROOT, TSX_NODE_ARGS } from '@volley/runtime';

export function startRedis(): Promise<LocalRedis> {
  return startLocalRedis();
}

/**
 * A Redis Cluster of three masters on free loopback ports (cluster mode, a temporary folder
 * each), up and agreed on its slots; `stop()` stops each node by its PID.
 */
export function startRedisCluster(): Promise<LocalCluster> {
  return startLocalCluster({ masters: 3 });
}

/** A Redis key prefix no other test uses, so tests can share one server side by side. */
export function uniquePrefix(name = 't'): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}

/** A service process started as a deployment starts it; see `launchService`. */
export type ServiceProcess = ChildHandle;

/**
 * Starts `services/<name>/src/main.ts` in its own Node process with the given environment;
 * `nodeArgs` go to Node itself (a heap limit, say). The process is killed if the test file's
 * process exits without stopping it.
 */
export function spawnService(
  name: string,
  env: Record<string, string>,
  opts: { nodeArgs?: string[] } = {},
): ServiceProcess {
  // Tests assert on the whole output of a run, so keep more than the default.
  return launchService(name, { env, keepLines: 100_000, ...opts });
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

/**
 * CPU time (user and system, in ms) this process spent running `fn`. Unlike wall time it
 * barely moves when other processes load the machine, so a test can bound how much work
 * something takes (a parser that must stay linear, say) without failing by chance.
 */
export function cpuTimeMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}
