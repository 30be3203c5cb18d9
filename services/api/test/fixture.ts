import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { Keys } from '@volley/contracts';
import { CampaignStore, createQueues, type Queues } from '@volley/campaigns';
import { connectRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { buildApp, type AppDeps } from '../src/app.ts';

export const KEY = 'test-key-0123456789abcdef';
export const auth = { authorization: `Bearer ${KEY}` };

/** An RFC 9457 problem as the API answers it. */
export interface Problem {
  status: number;
  title: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

export interface ApiFixture {
  app: FastifyInstance;
  redis: RedisClient;
  keys: Keys;
  store: CampaignStore;
  queues: Queues;
  close(): Promise<void>;
}

/**
 * The API built in process (`app.inject`) against a real redis-server of its own, with a key
 * prefix no other test uses. `extra` builds more dependencies (a Shaper, say) on the fixture's
 * Redis and key prefix.
 */
export async function apiFixture(
  config: Partial<AppDeps['config']> = {},
  extra: (redis: RedisClient, keys: Keys) => Partial<AppDeps> = () => ({}),
): Promise<ApiFixture> {
  const server = await startRedis();
  const redis = connectRedis(server.url, { name: 'api-test' });
  await redis.ping();
  const keys = new Keys(uniquePrefix('api'));
  const queues = createQueues(redis, keys);
  const app = await buildApp({
    config: { apiKey: KEY, bodyLimit: 256 * 1024, maxInlineRecipients: 1000, ...config },
    redis,
    keys,
    queues,
    registry: new Registry(),
    logger: false,
    ...extra(redis, keys),
  });
  return {
    app,
    redis,
    keys,
    store: new CampaignStore(redis, keys),
    queues,
    async close() {
      await app.close();
      await queues.close();
      redis.disconnect();
      await server.stop();
    },
  };
}
