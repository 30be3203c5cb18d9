import { Redis } from 'ioredis';

export type RedisClient = Redis;

export interface ConnectOptions {
  /** Name shown by CLIENT LIST, so an operator can tell the services apart. */
  name: string;
  /**
   * BullMQ's blocking connections need `null` (retry forever); request/response clients
   * fail a command after a few reconnect attempts instead of hanging a request.
   * @defaultValue 20
   */
  maxRetriesPerRequest?: number | null;
}

/**
 * Opens a connection that reconnects with capped backoff, so a Redis restart is ridden
 * out rather than crashing the service.
 */
export function connectRedis(url: string, opts: ConnectOptions): Redis {
  return new Redis(url, {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.maxRetriesPerRequest === undefined ? 20 : opts.maxRetriesPerRequest,
    enableAutoPipelining: true,
    // Capped at 2 s: fast enough to notice a restarted Redis, slow enough not to storm it.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  });
}
