import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Registry } from 'prom-client';
import { ConfigError, loadApiConfig } from '@volley/config';
import { Keys } from '@volley/contracts';
import { createQueues, type Queues } from '@volley/campaigns';
import { connectRedis, type RedisClient } from '@volley/redis';
import { uniquePrefix } from '@volley/testkit';
import { buildApp } from '../src/app.ts';
import type { ApiContextConfig } from '../src/context.ts';
import { errorHandler } from '../src/problem.ts';
import { rateLimitKey, rateLimitOf, registerRateLimit } from '../src/ratelimit.ts';
import { apiFixture, auth, KEY, type ApiFixture } from './fixture.ts';

/** Small, so the tests reach it in a few requests; the window long enough never to roll over. */
const LIMIT = 5;
const WINDOW = 600;
const config: Partial<ApiContextConfig> = { rateLimit: LIMIT, rateWindowSeconds: WINDOW };

let fx: ApiFixture;
/** A second API replica: its own app and Redis connection, the same Redis and key prefix. */
let replica: { app: FastifyInstance; redis: RedisClient; queues: Queues };
/** The Redis counter of the environment key, VOLLEY_API_KEY. */
let counter: string;

before(async () => {
  fx = await apiFixture(config);
  const redis = connectRedis(fx.url, { name: 'ratelimit-test' });
  const queues = createQueues(redis, fx.keys);
  const app = await buildApp({
    config: { apiKey: KEY, bodyLimit: 256 * 1024, maxInlineRecipients: 1000, ...config },
    redis,
    keys: fx.keys,
    queues,
    registry: new Registry(),
    logger: false,
  });
  replica = { app, redis, queues };
  counter = `${fx.keys.rateLimit}key:default:env`;
});

after(async () => {
  await replica.app.close();
  await replica.queues.close();
  replica.redis.disconnect();
  await fx.close();
});

// Each test starts with a fresh window for the key.
beforeEach(() => fx.redis.del(counter));

const replicas = (): FastifyInstance[] => [fx.app, replica.app];

function get(app: FastifyInstance, url: string, headers = auth): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url, headers });
}

async function exhaust(): Promise<void> {
  for (let i = 0; i < LIMIT; i++) {
    const res = await get(replicas()[i % 2]!, '/v1/shaping');
    assert.equal(res.statusCode, 200, res.body);
  }
}

describe('rate limit per API key across replicas', () => {
  test('N requests spread over two replicas succeed; the next, on either, is a 429 problem with Retry-After', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const res = await get(replicas()[i % 2]!, '/v1/shaping');
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['ratelimit-limit'], String(LIMIT));
      assert.equal(res.headers['ratelimit-remaining'], String(LIMIT - i - 1));
    }
    for (const app of replicas()) {
      const res = await get(app, '/v1/shaping');
      assert.equal(res.statusCode, 429);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const retryAfter = Number(res.headers['retry-after']);
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= WINDOW,
        `Retry-After ${res.headers['retry-after']}`,
      );
      assert.equal(res.headers['ratelimit-limit'], String(LIMIT));
      assert.equal(res.headers['ratelimit-remaining'], '0');
      assert.equal(res.headers['ratelimit-reset'], String(retryAfter));
      const body = res.json<{ type: string; title: string; status: number; detail: string }>();
      assert.equal(body.type, 'https://volley.dev/problems/too-many-requests');
      assert.equal(body.title, 'Too many requests');
      assert.equal(body.status, 429);
      assert.match(body.detail, new RegExp(`more than ${LIMIT} requests in ${WINDOW} s`));
      assert.match(body.detail, new RegExp(`retry in ${retryAfter} s`));
    }
  });

  test('every /v1 route counts against the same key, whichever replica answers', async () => {
    await get(fx.app, '/v1/shaping');
    await get(replica.app, '/v1/campaigns/00000000000000000000');
    await fx.app.inject({ method: 'POST', url: '/v1/campaigns', headers: auth, payload: {} });
    assert.equal(await fx.redis.get(counter), '3');
  });

  test('a request without a valid key is answered 401, not 429, and is not counted', async () => {
    await exhaust();
    for (const app of replicas()) {
      const none = await app.inject({ method: 'GET', url: '/v1/shaping' });
      assert.equal(none.statusCode, 401);
      const wrong = await get(app, '/v1/shaping', {
        authorization: 'Bearer not-the-key-at-all-123',
      });
      assert.equal(wrong.statusCode, 401);
      for (const res of [none, wrong]) {
        assert.equal(res.headers['retry-after'], undefined);
        assert.equal(res.headers['ratelimit-limit'], undefined, 'the limiter never ran');
      }
    }
    assert.equal(await fx.redis.get(counter), String(LIMIT));
    assert.deepEqual(
      await fx.redis.keys(`${fx.keys.rateLimit}*`),
      [counter],
      'nothing else counted',
    );
  });

  test('/healthz and /readyz are never limited', async () => {
    await exhaust();
    assert.equal((await get(fx.app, '/v1/shaping')).statusCode, 429);
    for (const app of replicas()) {
      for (let i = 0; i < LIMIT + 1; i++) {
        for (const url of ['/healthz', '/readyz']) {
          const res = await app.inject({ url });
          assert.equal(res.statusCode, 200, url);
          assert.equal(res.headers['ratelimit-limit'], undefined);
        }
      }
    }
  });
});

/**
 * A tiny app whose requests name their own key (`x-key-id`), so per-key separation is tested
 * without depending on how keys are stored.
 */
async function tinyApp(limit: Partial<ApiContextConfig>): Promise<FastifyInstance> {
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  app.setErrorHandler(errorHandler);
  app.addHook('onRequest', async (req) => {
    const keyId = req.headers['x-key-id'];
    if (typeof keyId === 'string') req.principal = { tenant: 'default', keyId };
  });
  await registerRateLimit(app, {
    config: { apiKey: KEY, bodyLimit: 1024, maxInlineRecipients: 1, ...limit },
    redis: fx.redis,
    keys: new Keys(uniquePrefix('rl')),
  });
  app.get('/ping', async () => ({ ok: true }));
  await app.ready();
  return app;
}

describe('rate limit key', () => {
  test('requests are counted by tenant and key id; without a principal, by client address', async () => {
    const app = Fastify();
    app.addHook('onRequest', async (req) => {
      const [tenant, keyId] = String(req.headers['x-principal'] ?? '').split('/');
      if (tenant && keyId) req.principal = { tenant, keyId };
    });
    app.get('/', async (req) => rateLimitKey(req));
    const keyOf = async (principal?: string): Promise<string> =>
      (
        await app.inject({
          url: '/',
          remoteAddress: '192.0.2.7',
          headers: principal ? { 'x-principal': principal } : {},
        })
      ).body;
    try {
      assert.equal(await keyOf('t1/k1'), 'key:t1:k1');
      assert.notEqual(await keyOf('t1/k1'), await keyOf('t1/k2'));
      assert.notEqual(await keyOf('t1/k1'), await keyOf('t2/k1'));
      assert.equal(await keyOf(), 'ip:192.0.2.7');
    } finally {
      await app.close();
    }
  });

  test('two keys have separate counts: one key at its limit does not hold back another', async () => {
    const app = await tinyApp({ rateLimit: 2, rateWindowSeconds: WINDOW });
    const ping = (keyId: string): Promise<LightMyRequestResponse> =>
      app.inject({ url: '/ping', headers: { 'x-key-id': keyId } });
    try {
      assert.deepEqual(
        [(await ping('a')).statusCode, (await ping('a')).statusCode, (await ping('a')).statusCode],
        [200, 200, 429],
      );
      assert.deepEqual(
        [(await ping('b')).statusCode, (await ping('b')).statusCode, (await ping('b')).statusCode],
        [200, 200, 429],
      );
    } finally {
      await app.close();
    }
  });

  test('a limit of 0 turns the limiter off', async () => {
    const app = await tinyApp({ rateLimit: 0 });
    try {
      for (let i = 0; i < 10; i++) {
        const res = await app.inject({ url: '/ping', headers: { 'x-key-id': 'a' } });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['ratelimit-limit'], undefined);
      }
    } finally {
      await app.close();
    }
  });
});

describe('rate limit configuration', () => {
  const env = { REDIS_URL: 'redis://127.0.0.1:6379', VOLLEY_API_KEY: 'a-long-enough-key-123' };

  test('VOLLEY_API_RATE_LIMIT and VOLLEY_API_RATE_WINDOW set the limit; unset, 6000 a minute', () => {
    assert.deepEqual(rateLimitOf(loadApiConfig(env)), { max: 6000, windowSeconds: 60 });
    assert.deepEqual(
      rateLimitOf(
        loadApiConfig({ ...env, VOLLEY_API_RATE_LIMIT: '120', VOLLEY_API_RATE_WINDOW: '10' }),
      ),
      { max: 120, windowSeconds: 10 },
    );
    // Tests and embedders that build the app without the two fields get the same default.
    assert.deepEqual(rateLimitOf({ apiKey: KEY, bodyLimit: 1, maxInlineRecipients: 1 }), {
      max: 6000,
      windowSeconds: 60,
    });
  });

  test('0 or off turns rate limiting off', () => {
    for (const off of ['0', 'off', 'Off']) {
      assert.equal(rateLimitOf(loadApiConfig({ ...env, VOLLEY_API_RATE_LIMIT: off })), undefined);
    }
  });

  test('an invalid value stops the start with a message naming the variable', () => {
    assert.throws(
      () => loadApiConfig({ ...env, VOLLEY_API_RATE_LIMIT: 'fast', VOLLEY_API_RATE_WINDOW: '1h' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 2);
        assert.match(
          err.message,
          /VOLLEY_API_RATE_LIMIT="fast" must be a whole number from 0 to \d+, or off/,
        );
        assert.match(
          err.message,
          /VOLLEY_API_RATE_WINDOW="1h" must be a whole number from 1 to 86400: the length in seconds/,
        );
        return true;
      },
    );
  });
});
