/**
 * What the store's tests against a real Redis share: a Redis of their own for the file, and a
 * running campaign of `n` recipients (`r<i>@example.org`).
 */
import { after, before } from 'node:test';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis } from '@volley/testkit';
import type { CampaignStore } from '../src/index.ts';

/** Starts a Redis before the file's tests and stops it after them; the client, once started. */
export function redisForFile(name: string): () => RedisClient {
  let server: LocalRedis | undefined;
  let redis: RedisClient | undefined;
  before(async () => {
    server = await startRedis();
    redis = connectRedis(server.url, { name });
    await redis.ping();
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  return () => {
    if (!redis) throw new Error('Redis is not started yet (use it inside a test)');
    return redis;
  };
}

export async function runningCampaign(store: CampaignStore, n: number): Promise<string> {
  const id = store.newId();
  await store.create(id, { tenant: 't1', from: 'a@example.com', subject: 's', text: 'x' }, 1);
  await store.addRecipients(
    id,
    Array.from({ length: n }, (_v, i) => ({ email: `r${i}@example.org` })),
  );
  await store.start(id, 2);
  return id;
}
