import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { Keys } from '@volley/contracts';
import { createQueues, type Queues } from '@volley/campaigns';
import { connectRedis, type RedisClient } from '@volley/redis';
import { Shaper, parsePolicy } from '@volley/shaping';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { buildApp } from '../src/app.ts';

const KEY = 'test-key-0123456789abcdef';
let stopRedis: () => Promise<void>;
let redis: RedisClient;
let queues: Queues;
let shaper: Shaper;
let app: FastifyInstance;

before(async () => {
  const server = await startRedis();
  stopRedis = () => server.stop();
  redis = connectRedis(server.url, { name: 'api-shaping-test' });
  await redis.ping();
  const keys = new Keys(uniquePrefix('shp'));
  queues = createQueues(redis, keys);
  shaper = new Shaper({
    redis,
    prefix: keys.prefix,
    policy: parsePolicy(
      [
        'version: 1',
        'defaults: { rate: unlimited }',
        'domains:',
        '  slow.example: { rate: 20/s, burst: 5, connections: 2 }',
        'adaptive:',
        "  - { name: later, match: { code: 4xx, text: 'try again later' }, threshold: 2, action: suspend, duration: 10m }",
        '',
      ].join('\n'),
      'policy.yaml',
    ),
  });
  app = await buildApp({
    config: { apiKey: KEY, bodyLimit: 1024 * 1024, maxInlineRecipients: 10 },
    redis,
    keys,
    queues,
    registry: new Registry(),
    logger: false,
    shaper,
  });
});
after(async () => {
  await app.close();
  await shaper.close();
  await queues.close();
  redis.disconnect();
  await stopRedis();
});

test('GET /v1/shaping shows current limits and suspended destinations', async () => {
  const plan = shaper.plan('busy.example');
  for (let i = 0; i < 2; i++)
    await shaper.observe(plan, { code: 421, text: '4.7.0 try again later' });
  const res = await app.inject({ url: '/v1/shaping', headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(res.statusCode, 200);
  const body = res.json<{
    enabled: boolean;
    destinations: {
      key: string;
      ratePerSec?: number;
      connections?: number;
      suspensions: unknown[];
    }[];
  }>();
  assert.equal(body.enabled, true);
  const slow = body.destinations.find((d) => d.key === 'domain:slow.example');
  assert.equal(slow?.ratePerSec, 20);
  assert.equal(slow?.connections, 2);
  const busy = body.destinations.find((d) => d.key === 'default:busy.example');
  assert.equal(busy?.suspensions.length, 1, JSON.stringify(body.destinations));
});
