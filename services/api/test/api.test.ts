import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Keys } from '@volley/contracts';
import type { Queues } from '@volley/campaigns';
import type { RedisClient } from '@volley/redis';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

let fx: ApiFixture;
let redis: RedisClient;
let keys: Keys;
let queues: Queues;
let app: FastifyInstance;

before(async () => {
  fx = await apiFixture();
  ({ redis, keys, queues, app } = fx);
});

after(() => fx.close());

const valid = {
  from: 'News <news@sender.example>',
  subject: 'Hi {{name}}',
  html: '<p>Hello {{name}}</p>',
  recipients: [{ email: 'a@one.example', vars: { name: 'A' } }],
};

async function sendJobCount(): Promise<number> {
  const counts = await queues.send.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
  const control = await queues.control.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
  return [...Object.values(counts), ...Object.values(control)].reduce((a, b) => a + b, 0);
}

describe('authentication', () => {
  test('a request without a key is refused with 401 and says how to authenticate', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/campaigns', payload: valid });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.match(res.json<{ detail: string }>().detail, /Authorization: Bearer/);
  });

  test('a wrong key is refused with 401', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/campaigns/00000000000000000000',
      headers: { authorization: 'Bearer not-the-key-at-all-123' },
    });
    assert.equal(res.statusCode, 401);
  });

  test('health endpoints need no key', async () => {
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
  });
});

describe('POST /v1/campaigns', () => {
  test('answers 202 with an id and status running, and GET shows its counts', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: valid,
    });
    assert.equal(res.statusCode, 202);
    const body = res.json<{ id: string; status: string }>();
    assert.match(body.id, /^[a-f0-9]{20}$/);
    assert.equal(body.status, 'running');
    const got = await app.inject({ url: `/v1/campaigns/${body.id}`, headers: auth });
    assert.equal(got.statusCode, 200);
    const c = got.json<{ status: string; counts: Record<string, number> }>();
    assert.equal(c.counts.total, 1);
    assert.equal(c.counts.queued, 1);
    assert.equal(c.counts.sent, 0);
  });

  test('a template syntax error is a 400 at submit naming the field, and nothing is stored or queued', async () => {
    const before = await redis.keys(`${keys.prefix}:c:*`);
    const jobsBefore = await sendJobCount();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { ...valid, html: '<p>{{#if name}}unclosed</p>' },
    });
    assert.equal(res.statusCode, 400);
    const p = res.json<{ detail: string; errors: { path: string }[] }>();
    assert.equal(p.errors[0]?.path, 'body.html');
    assert.match(p.detail, /template syntax error/);
    assert.deepEqual(await redis.keys(`${keys.prefix}:c:*`), before);
    assert.equal(await sendJobCount(), jobsBefore);
  });

  test('an invalid recipient address is rejected naming its index', async () => {
    const recipients = [
      { email: 'ok@one.example' },
      { email: 'ok2@two.example' },
      { email: 'not an address' },
    ];
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { ...valid, recipients },
    });
    assert.equal(res.statusCode, 400);
    const p = res.json<{ errors: { path: string; message: string }[] }>();
    assert.equal(p.errors[0]?.path, 'body.recipients[2].email');
    assert.match(p.errors[0]?.message ?? '', /not a valid address/);
  });

  test('unknown properties are refused instead of silently dropped', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { ...valid, form: 'typo' },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ detail: string }>().detail, /unknown property "form"/);
  });

  test('malformed JSON is a 400 problem, not a crash', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"from": "a@b.example", ',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  });

  test('__proto__ keys in JSON are refused', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: `{"from":"a@b.example","subject":"x","text":"y","__proto__":{"polluted":true}}`,
    });
    assert.equal(res.statusCode, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('CR/LF in a custom header value is refused', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { ...valid, headers: { 'X-Campaign': 'a\r\nBcc: victim@evil.example' } },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ detail: string }>().detail, /CR, LF/);
  });

  test('a body over the limit is a 413 that says what to do', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { ...valid, html: 'x'.repeat(300 * 1024) },
    });
    assert.equal(res.statusCode, 413);
  });

  test('the same Idempotency-Key returns the first campaign, never a second one', async () => {
    const headers = { ...auth, 'idempotency-key': `k-${Date.now()}` };
    const a = await app.inject({ method: 'POST', url: '/v1/campaigns', headers, payload: valid });
    const b = await app.inject({ method: 'POST', url: '/v1/campaigns', headers, payload: valid });
    assert.equal(a.statusCode, 202);
    assert.equal(b.statusCode, 202);
    assert.equal(a.json<{ id: string }>().id, b.json<{ id: string }>().id);
    assert.equal(b.headers['idempotent-replayed'], 'true');
  });

  test('a draft takes no work until started', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { ...valid, draft: true },
    });
    assert.equal(res.json<{ status: string }>().status, 'draft');
    const id = res.json<{ id: string }>().id;
    const start = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/start`,
      headers: auth,
    });
    assert.equal(start.statusCode, 202);
    assert.equal(start.json<{ status: string }>().status, 'running');
    const again = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/start`,
      headers: auth,
    });
    assert.equal(again.statusCode, 409);
  });

  test('duplicate recipients are sent once (addresses compared with the domain lower-cased)', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: {
        ...valid,
        recipients: [
          { email: 'x@Dup.Example' },
          { email: 'x@dup.example' },
          { email: 'y@dup.example' },
        ],
      },
    });
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json<{ recipients: unknown }>().recipients, { added: 2, duplicates: 1 });
  });

  test('an unknown campaign is a 404', async () => {
    const res = await app.inject({ url: '/v1/campaigns/0123456789abcdef0123', headers: auth });
    assert.equal(res.statusCode, 404);
  });
});
