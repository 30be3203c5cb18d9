/**
 * The running set and the finished index (what retention sweeps) are single keys beside the
 * campaigns' own, in other slots of a Redis Cluster than any campaign: the scripts that change
 * a campaign's status leave them to their callers, which update them here.
 */
import type { Keys } from '@volley/contracts';
import type { RedisClient } from '@volley/redis';

/**
 * Takes a campaign out of the running set; with `finishedAt`, it completed or was cancelled
 * then, and is indexed for retention first. A crash in between leaves it listed as running,
 * and the sweep that finds it finished comes here again (the first time indexed stands).
 */
export async function leaveRunning(
  redis: RedisClient,
  keys: Keys,
  id: string,
  finishedAt?: number,
): Promise<void> {
  if (finishedAt !== undefined) await redis.zadd(keys.finished, 'NX', finishedAt, id);
  await redis.srem(keys.running, id);
}
