import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { redisSeeds, redisTargetProblems } from '@volley/config';

/**
 * A connection to one Redis or to a Redis Cluster. Both take the same commands; a Lua script
 * or a MULTI on a cluster must touch keys of one slot (the key layout in @volley/contracts
 * sees to that), and commands about the server (INFO, SCRIPT LOAD) reach one node: see
 * {@link masterNodes}.
 */
export type RedisClient = Redis | Cluster;

interface ConnectOptions {
  /** Name shown by CLIENT LIST, so an operator can tell the services apart. */
  name: string;
  /**
   * BullMQ's blocking connections need `null` (retry forever); request/response clients
   * fail a command after a few reconnect attempts instead of hanging a request.
   * @defaultValue 20
   */
  maxRetriesPerRequest?: number | null;
  /**
   * `url` lists a Redis Cluster's seed nodes, comma-separated (VOLLEY_REDIS_CLUSTER).
   * @defaultValue false
   */
  cluster?: boolean | undefined;
}

/** REDIS_URL and the cluster flag do not go together (several URLs without the flag, say). */
class RedisTargetError extends Error {
  readonly code = 'REDIS_TARGET_INVALID';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'RedisTargetError';
  }
}

// Capped at 2 s: fast enough to notice a restarted Redis, slow enough not to storm it.
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2000);

/**
 * Opens a connection that reconnects with capped backoff, so a Redis restart (or a cluster
 * failover) is ridden out rather than crashing the service. The one place that builds
 * connections: every service, BullMQ's queues and workers included, gets them here.
 */
export function connectRedis(url: string, opts: ConnectOptions): RedisClient {
  const cluster = opts.cluster ?? false;
  const problems = redisTargetProblems(url, cluster);
  if (problems.length > 0) throw new RedisTargetError(problems);
  const common: RedisOptions = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.maxRetriesPerRequest === undefined ? 20 : opts.maxRetriesPerRequest,
  };
  if (!cluster) {
    return new Redis(url, { ...common, enableAutoPipelining: true, retryStrategy });
  }
  const seeds = redisSeeds(url).map((s) => new URL(s));
  const first = seeds[0] as URL;
  return new Cluster(
    seeds.map((u) => ({ host: u.hostname, port: Number(u.port || 6379) })),
    {
      enableAutoPipelining: true,
      clusterRetryStrategy: retryStrategy,
      redisOptions: {
        ...common,
        ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
        ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
        ...(first.protocol === 'rediss:' ? { tls: { servername: first.hostname } } : {}),
      },
    },
  );
}

/**
 * The servers that hold data: the client itself for one Redis, each master's connection for a
 * cluster. For what concerns every server (its INFO, a script to load everywhere).
 */
export function masterNodes(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}
