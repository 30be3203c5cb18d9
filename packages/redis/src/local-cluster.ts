import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, startLocalRedis, type LocalRedis } from './local.ts';

/** Slots of a Redis Cluster (CLUSTER KEYSLOT answers 0 to 16383). */
const SLOTS = 16_384;

export interface LocalCluster {
  /** The masters' URLs, in slot order. */
  urls: string[];
  /** `urls` comma-separated: what REDIS_URL takes with VOLLEY_REDIS_CLUSTER=true. */
  url: string;
  /** The masters' server processes (ports, PIDs). */
  nodes: LocalRedis[];
  /** Stops every node (by its PID) and removes their folders. */
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  /** @defaultValue 3, the fewest a Redis Cluster is run with */
  masters?: number;
  /** How long the nodes may take to agree that the cluster is up. @defaultValue 30 s */
  timeoutMs?: number;
}

/**
 * Starts a Redis Cluster of `masters` redis-server processes on free loopback ports, each with
 * its own temporary folder and cluster config file, the slots split evenly between them, and
 * waits until every node reports the cluster up. No replicas: the tests and benchmarks need
 * the sharding, not failover. For tests and benchmarks; never a mock.
 */
export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const count = opts.masters ?? 3;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const nodes: LocalRedis[] = [];
  const dirs: string[] = [];
  const busPorts: number[] = [];
  const admin: Redis[] = [];
  const stop = async (): Promise<void> => {
    for (const c of admin) c.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'volley-cluster-'));
      dirs.push(dir);
      // The bus port is chosen too: the default (port + 10000) may be taken on a shared machine.
      const busPort = await freePort();
      busPorts.push(busPort);
      nodes.push(
        await startLocalRedis({
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            '--cluster-port',
            String(busPort),
            '--dir',
            dir,
            // Short enough that a test notices a lost node; the default (15 s) is for networks.
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      );
    }
    for (const n of nodes) admin.push(new Redis(n.url, { maxRetriesPerRequest: 2 }));
    const per = Math.ceil(SLOTS / count);
    await Promise.all(
      admin.map((c, i) =>
        c.call('CLUSTER', 'ADDSLOTSRANGE', i * per, Math.min(SLOTS, (i + 1) * per) - 1),
      ),
    );
    const [first, ...rest] = admin;
    for (const [i] of rest.entries()) {
      const port = (nodes[i + 1] as LocalRedis).port;
      await first?.call('CLUSTER', 'MEET', '127.0.0.1', port, busPorts[i + 1] as number);
    }
    // The nodes agree by gossip, which has no event a client can wait on: ask until they do.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(admin.map((c) => c.call('CLUSTER', 'INFO')));
      const up = infos.every(
        (info) =>
          String(info).includes('cluster_state:ok') &&
          String(info).includes(`cluster_known_nodes:${count}`),
      );
      if (up) break;
      if (Date.now() > deadline) {
        throw new Error(
          `the local Redis Cluster was not up after ${timeoutMs} ms: ${String(infos[0])}`,
        );
      }
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  for (const c of admin) c.disconnect();
  admin.length = 0;
  const urls = nodes.map((n) => n.url);
  return { urls, url: urls.join(','), nodes, stop };
}
