import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';
import { Keys } from '@volley/contracts';
import { createQueues } from '@volley/campaigns';
import { connectRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { buildApp } from '../src/app.ts';
import { TenantStore, hashApiKey } from '../src/tenants.ts';
import {
  DKIM_SECRET,
  addSendingDomain,
  apiFixture,
  auth,
  runAdminCli as cli,
  type ApiFixture,
} from './fixture.ts';

const ADMIN = 'admin-key-fedcba9876543210';
const adminAuth = { authorization: `Bearer ${ADMIN}` };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

let fx: ApiFixture;
let app: FastifyInstance;
let redis: RedisClient;

before(async () => {
  fx = await apiFixture({ adminKey: ADMIN });
  ({ app, redis } = fx);
});

after(() => fx.close());

const draft = {
  from: 'News <news@sender.example>',
  subject: 'Hi {{name}}',
  html: '<p>Hello {{name}}</p>',
  draft: true,
  recipients: [{ email: 'first@one.example', vars: { name: 'A' } }],
};

/** The draft from `<tenant>.example`, the sending domain each tenant that creates campaigns gets. */
const draftOf = (tenant: string) => ({ ...draft, from: `News <news@${tenant}.example>` });

interface CreatedKey {
  id: string;
  tenant: string;
  name?: string;
  createdAt: string;
  key: string;
}

async function createTenant(id: string, name?: string): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/admin/tenants',
    headers: adminAuth,
    payload: name === undefined ? { id } : { id, name },
  });
  assert.equal(res.statusCode, 201, res.body);
}

async function createKey(tenant: string, name?: string): Promise<CreatedKey> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/admin/tenants/${tenant}/keys`,
    headers: adminAuth,
    payload: name === undefined ? {} : { name },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<CreatedKey>();
}

async function createCampaign(key: string, body: object = draft): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers: bearer(key),
    payload: body,
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json<{ id: string }>().id;
}

/** Everything the admin path writes, to show a refused request changed none of it. */
async function adminState(): Promise<unknown> {
  const k = fx.keys;
  return {
    tenants: await redis.hgetall(k.tenants),
    apiKeys: await redis.hgetall(k.apiKeys),
    apiKeyIds: await redis.hgetall(k.apiKeyIds),
  };
}

function assertProblem(res: LightMyRequestResponse, status: number): void {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  const p = res.json<{ status: number; detail: string }>();
  assert.equal(p.status, status);
  assert.ok(p.detail.length > 0);
}

/** Every key name and value in the Redis server, whatever its type, as one string. */
async function dumpRedis(r: RedisClient): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, names] = await r.scan(cursor, 'COUNT', '1000');
    cursor = next;
    for (const name of names) {
      parts.push(name);
      const type = await r.type(name);
      if (type === 'string') parts.push((await r.get(name)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await r.hgetall(name)));
      else if (type === 'set') parts.push(JSON.stringify(await r.smembers(name)));
      else if (type === 'zset') parts.push(JSON.stringify(await r.zrange(name, '0', '-1')));
      else if (type === 'list') parts.push(JSON.stringify(await r.lrange(name, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await r.xrange(name, '-', '+')));
      else parts.push(`<${type}>`);
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('admin authentication', () => {
  test('admin routes refuse no key, a wrong key and an API key with 401, and create nothing', async () => {
    const before = await adminState();
    const attempts: InjectOptions[] = [
      { method: 'GET', url: '/v1/admin/tenants' },
      { method: 'POST', url: '/v1/admin/tenants', payload: { id: 'sneaky' } },
      {
        method: 'POST',
        url: '/v1/admin/tenants',
        payload: { id: 'sneaky' },
        headers: bearer('not-the-admin-key-0000'),
      },
      { method: 'POST', url: '/v1/admin/tenants', payload: { id: 'sneaky' }, headers: auth },
      { method: 'POST', url: '/v1/admin/tenants/default/keys', payload: {}, headers: auth },
    ];
    for (const a of attempts) assertProblem(await app.inject(a), 401);
    assert.deepEqual(await adminState(), before);
  });

  test('without VOLLEY_ADMIN_KEY every admin route answers 403 saying to set it', async () => {
    const off = await apiFixture();
    try {
      for (const [method, url] of [
        ['GET', '/v1/admin/tenants'],
        ['POST', '/v1/admin/tenants'],
        ['POST', '/v1/admin/tenants/acme/keys'],
        ['DELETE', '/v1/admin/keys/0123456789abcdef'],
      ] as const) {
        const res = await off.app.inject({ method, url, headers: auth, payload: { id: 'acme' } });
        assertProblem(res, 403);
        assert.match(res.json<{ detail: string }>().detail, /VOLLEY_ADMIN_KEY is not set/);
      }
      assert.equal(await off.redis.exists(off.keys.tenants), 0);
    } finally {
      await off.close();
    }
  });
});

describe('tenants and keys', () => {
  test('an admin creates a tenant and a key; the key authenticates as that tenant only', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: adminAuth,
      payload: { id: 'acme', name: 'Acme Inc' },
    });
    assert.equal(res.statusCode, 201);
    const tenant = res.json<{ id: string; name: string; createdAt: string }>();
    assert.equal(tenant.id, 'acme');
    assert.equal(tenant.name, 'Acme Inc');
    assert.ok(!Number.isNaN(Date.parse(tenant.createdAt)));

    const created = await createKey('acme', 'ci');
    await addSendingDomain(redis, fx.keys, 'acme', 'acme.example');
    assert.equal(created.tenant, 'acme');
    assert.equal(created.name, 'ci');
    assert.match(created.key, new RegExp(`^vk_${created.id}_[a-f0-9]{48}$`));

    const id = await createCampaign(created.key, draftOf('acme'));
    const own = await app.inject({ url: `/v1/campaigns/${id}`, headers: bearer(created.key) });
    assert.equal(own.statusCode, 200);
    assert.equal((await fx.store.get(id))?.tenant, 'acme');
    // The env key is the default tenant's: acme's campaign does not exist for it.
    assertProblem(await app.inject({ url: `/v1/campaigns/${id}`, headers: auth }), 404);

    const list = await app.inject({ url: '/v1/admin/tenants', headers: adminAuth });
    assert.equal(list.statusCode, 200);
    const ids = list.json<{ tenants: { id: string }[] }>().tenants.map((t) => t.id);
    assert.ok(ids.includes('acme'));
  });

  test('a duplicate tenant id is a 409 and the first tenant is kept', async () => {
    await createTenant('dup-co', 'First');
    const before = await adminState();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/admin/tenants',
      headers: adminAuth,
      payload: { id: 'dup-co', name: 'Second' },
    });
    assertProblem(res, 409);
    assert.deepEqual(await adminState(), before);
  });

  test('a revoked key is refused with 401 on the very next request; other keys keep working', async () => {
    await createTenant('revoke-co');
    const doomed = await createKey('revoke-co', 'doomed');
    const kept = await createKey('revoke-co', 'kept');
    const probe = (key: string) => app.inject({ url: '/v1/suppressions', headers: bearer(key) });
    assert.equal((await probe(doomed.key)).statusCode, 200);

    const del = await app.inject({
      method: 'DELETE',
      url: `/v1/admin/keys/${doomed.id}`,
      headers: adminAuth,
    });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.json<{ id: string; tenant: string }>().id, doomed.id);

    assertProblem(await probe(doomed.key), 401);
    assert.equal((await probe(kept.key)).statusCode, 200);
    assert.equal(await redis.hexists(fx.keys.apiKeys, hashApiKey(doomed.key)), 0);
    assert.equal(await redis.hexists(fx.keys.apiKeyIds, doomed.id), 0);
    // Revoking twice is a 404, not a silent success.
    assertProblem(
      await app.inject({
        method: 'DELETE',
        url: `/v1/admin/keys/${doomed.id}`,
        headers: adminAuth,
      }),
      404,
    );
  });

  test('keys are stored only as their SHA-256: the plaintext and its secret are nowhere in Redis', async () => {
    await createTenant('hash-co');
    const { key } = await createKey('hash-co');
    const secret = key.split('_')[2] ?? '';
    assert.equal(secret.length, 48);
    const everything = await dumpRedis(redis);
    assert.ok(!everything.includes(key), 'the key was found in Redis');
    assert.ok(!everything.includes(secret), 'the key secret was found in Redis');
    assert.equal(await redis.hexists(fx.keys.apiKeys, hashApiKey(key)), 1);
  });

  test('list endpoints show ids and names but never keys, secrets or hashes', async () => {
    await createTenant('list-co');
    const a = await createKey('list-co', 'one');
    const b = await createKey('list-co', 'two');
    const res = await app.inject({ url: '/v1/admin/tenants/list-co/keys', headers: adminAuth });
    assert.equal(res.statusCode, 200);
    for (const k of [a, b]) {
      assert.ok(!res.body.includes(k.key));
      assert.ok(!res.body.includes(k.key.split('_')[2] ?? '-'));
      assert.ok(!res.body.includes(hashApiKey(k.key)));
    }
    const keys = res.json<{ keys: Record<string, unknown>[] }>().keys;
    assert.deepEqual(
      keys.map((k) => [k.id, k.tenant, k.name]),
      [
        [a.id, 'list-co', 'one'],
        [b.id, 'list-co', 'two'],
      ],
    );
    for (const k of keys)
      assert.deepEqual(Object.keys(k).sort(), ['createdAt', 'id', 'name', 'tenant']);

    const tenants = await app.inject({ url: '/v1/admin/tenants', headers: adminAuth });
    for (const k of [a, b]) {
      assert.ok(!tenants.body.includes(k.key));
      assert.ok(!tenants.body.includes(hashApiKey(k.key)));
    }
  });

  test('keys made in the same millisecond list in the order they were made', async () => {
    const store = new TenantStore(redis, fx.keys);
    await createTenant('same-ms-co');
    const made: string[] = [];
    // One clock reading for all: only the order of creation can tell them apart, and 12 ids
    // drawn at random fall in creation order once in 12! (479 million).
    for (let i = 0; i < 12; i++)
      made.push((await store.createKey('same-ms-co', `k${i}`, 1_000)).record.id);
    assert.deepEqual(
      (await store.listKeys('same-ms-co')).map((k) => k.id),
      made,
    );
    const res = await app.inject({ url: '/v1/admin/tenants/same-ms-co/keys', headers: adminAuth });
    assert.deepEqual(
      res.json<{ keys: { id: string; name: string }[] }>().keys.map((k) => k.id),
      made,
    );
  });

  test('bad input is a 400 or 404 problem and changes nothing', async () => {
    await createTenant('valid-co');
    const before = await adminState();
    type Call = { method: 'GET' | 'POST' | 'DELETE'; url: string; payload?: object };
    const cases: [Call, number][] = [
      [{ method: 'POST', url: '/v1/admin/tenants', payload: { id: 'Bad_ID' } }, 400],
      [{ method: 'POST', url: '/v1/admin/tenants', payload: { id: '-leading' } }, 400],
      [{ method: 'POST', url: '/v1/admin/tenants', payload: { id: 'a'.repeat(64) } }, 400],
      [{ method: 'POST', url: '/v1/admin/tenants', payload: { id: 'x', extra: 1 } }, 400],
      [{ method: 'POST', url: '/v1/admin/tenants', payload: { id: 'x', name: 'a\nb' } }, 400],
      [{ method: 'POST', url: '/v1/admin/tenants' }, 400],
      [{ method: 'POST', url: '/v1/admin/tenants/ghost/keys', payload: {} }, 404],
      [{ method: 'POST', url: '/v1/admin/tenants/Bad_ID/keys', payload: {} }, 400],
      [{ method: 'POST', url: '/v1/admin/tenants/valid-co/keys' }, 400],
      [{ method: 'POST', url: '/v1/admin/tenants/valid-co/keys', payload: { name: '' } }, 400],
      [{ method: 'GET', url: '/v1/admin/tenants/ghost/keys' }, 404],
      [{ method: 'DELETE', url: '/v1/admin/keys/0000000000000000' }, 404],
      [{ method: 'DELETE', url: '/v1/admin/keys/not-a-key-id' }, 400],
    ];
    for (const [req, status] of cases) {
      const res = await app.inject({ ...req, headers: adminAuth });
      assert.equal(res.statusCode, status, `${req.method} ${req.url}: ${res.body}`);
      assertProblem(res, status);
    }
    assert.deepEqual(await adminState(), before);
  });
});

describe('tenant isolation', () => {
  let keyA: string;
  let keyB: string;

  before(async () => {
    await createTenant('iso-a');
    await createTenant('iso-b');
    keyA = (await createKey('iso-a')).key;
    keyB = (await createKey('iso-b')).key;
    await addSendingDomain(redis, fx.keys, 'iso-a', 'iso-a.example');
    await addSendingDomain(redis, fx.keys, 'iso-b', 'iso-b.example');
  });

  test("a key of tenant A gets 404 for tenant B's campaigns, events, uploads and lifecycle actions", async () => {
    const ownA = await createCampaign(keyA, draftOf('iso-a'));
    const draftB = await createCampaign(keyB, draftOf('iso-b'));
    const runningB = await createCampaign(keyB, { ...draftOf('iso-b'), draft: false });
    assert.equal((await fx.store.get(runningB))?.status, 'running');
    assert.equal(
      (await app.inject({ url: `/v1/campaigns/${ownA}`, headers: bearer(keyA) })).statusCode,
      200,
    );

    for (const id of [draftB, runningB]) {
      const asA = async (method: 'GET' | 'POST', path: string, extra: InjectOptions = {}) =>
        app.inject({ method, url: `/v1/campaigns/${id}${path}`, headers: bearer(keyA), ...extra });
      assertProblem(await asA('GET', ''), 404);
      assertProblem(await asA('GET', '/events'), 404);
      assertProblem(
        await app.inject({
          method: 'POST',
          url: `/v1/campaigns/${id}/recipients`,
          headers: { ...bearer(keyA), 'content-type': 'application/x-ndjson' },
          payload: '{"email":"intruder@evil.example"}\n',
        }),
        404,
      );
      for (const action of ['start', 'pause', 'resume', 'cancel']) {
        assertProblem(await asA('POST', `/${action}`), 404);
      }
      // The env key (default tenant) sees none of it either.
      assertProblem(await app.inject({ url: `/v1/campaigns/${id}`, headers: auth }), 404);
    }

    const b1 = await fx.store.get(draftB);
    const b2 = await fx.store.get(runningB);
    assert.equal(b1?.status, 'draft');
    assert.equal(b1?.counts.total, 1);
    assert.equal(b2?.status, 'running');
    assert.equal(b2?.counts.total, 1);
    const own = await app.inject({ url: `/v1/campaigns/${draftB}`, headers: bearer(keyB) });
    assert.equal(own.statusCode, 200);
  });

  test("a key of tenant A never sees or removes tenant B's suppression entries", async () => {
    const add = await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: bearer(keyB),
      payload: { emails: ['only-b@two.example'] },
    });
    assert.equal(add.statusCode, 200);

    const listA = await app.inject({ url: '/v1/suppressions', headers: bearer(keyA) });
    assert.equal(listA.statusCode, 200);
    assert.deepEqual(listA.json<{ emails: string[] }>().emails, []);
    assertProblem(
      await app.inject({
        method: 'DELETE',
        url: '/v1/suppressions/only-b@two.example',
        headers: bearer(keyA),
      }),
      404,
    );

    const listB = await app.inject({ url: '/v1/suppressions', headers: bearer(keyB) });
    assert.deepEqual(listB.json<{ emails: string[] }>().emails, ['only-b@two.example']);
    assert.deepEqual(await fx.store.suppressedFlags('iso-b', ['only-b@two.example']), [true]);
    assert.deepEqual(await fx.store.suppressedFlags('iso-a', ['only-b@two.example']), [false]);
  });
});

describe('suppressions', () => {
  async function freshKey(tenant: string): Promise<string> {
    await createTenant(tenant);
    return (await createKey(tenant)).key;
  }

  test('POST stores addresses lower-cased, as the sender checks them, and says which were new', async () => {
    const key = await freshKey('sup-add');
    const res = await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: bearer(key),
      payload: { emails: ['Mixed.Case@Example.COM', 'b@two.example', 'B@two.example'] },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { added: 2, existing: 0 });
    assert.deepEqual((await redis.smembers(fx.keys.suppression('sup-add'))).sort(), [
      'b@two.example',
      'mixed.case@example.com',
    ]);
    assert.deepEqual(await fx.store.suppressedFlags('sup-add', ['MIXED.case@example.com']), [true]);

    const again = await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: bearer(key),
      payload: { emails: ['mixed.case@example.com', 'new@three.example'] },
    });
    assert.deepEqual(again.json(), { added: 1, existing: 1 });
  });

  test('one invalid address refuses the request, names its index and adds nothing', async () => {
    const key = await freshKey('sup-bad');
    for (const payload of [
      { emails: ['ok@one.example', 'not an address'] },
      { emails: [] },
      {},
      { emails: ['ok@one.example'], extra: true },
    ]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/suppressions',
        headers: bearer(key),
        payload,
      });
      assertProblem(res, 400);
      if (payload.emails?.length === 2) {
        const p = res.json<{ errors: { path: string }[] }>();
        assert.equal(p.errors[0]?.path, 'body.emails[1]');
      }
    }
    assert.equal(await redis.exists(fx.keys.suppression('sup-bad')), 0);
  });

  test('GET pages through a long list with its cursor and returns every address', async () => {
    const key = await freshKey('sup-page');
    // More than Redis' compact set encoding holds (128), so SCAN really pages.
    const all = Array.from({ length: 300 }, (_v, i) => `user${i}@page.example`);
    const add = await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: bearer(key),
      payload: { emails: all },
    });
    assert.deepEqual(add.json(), { added: 300, existing: 0 });

    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await app.inject({
        url: '/v1/suppressions',
        query: cursor ? { limit: '40', cursor } : { limit: '40' },
        headers: bearer(key),
      });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<{ emails: string[]; next?: string }>();
      for (const e of page.emails) seen.add(e);
      cursor = page.next;
      pages++;
      assert.ok(pages < 100, 'the cursor never ended');
    } while (cursor);
    assert.ok(pages > 1, 'expected more than one page');
    assert.deepEqual([...seen].sort(), [...all].sort());

    const bad: Record<string, string>[] = [{ limit: '0' }, { limit: '5000' }, { cursor: 'abc' }];
    for (const query of bad) {
      assertProblem(
        await app.inject({ url: '/v1/suppressions', query, headers: bearer(key) }),
        400,
      );
    }
  });

  test('DELETE removes an address given in any case; a missing or invalid one is a problem', async () => {
    const key = await freshKey('sup-del');
    await app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: bearer(key),
      payload: { emails: ['gone@four.example', 'stays@four.example'] },
    });
    const del = await app.inject({
      method: 'DELETE',
      url: `/v1/suppressions/${encodeURIComponent('Gone@Four.example')}`,
      headers: bearer(key),
    });
    assert.equal(del.statusCode, 204, del.body);
    assert.deepEqual(await redis.smembers(fx.keys.suppression('sup-del')), ['stays@four.example']);
    assertProblem(
      await app.inject({
        method: 'DELETE',
        url: '/v1/suppressions/gone@four.example',
        headers: bearer(key),
      }),
      404,
    );
    assertProblem(
      await app.inject({
        method: 'DELETE',
        url: '/v1/suppressions/not-an-address',
        headers: bearer(key),
      }),
      400,
    );
    assert.deepEqual(await redis.smembers(fx.keys.suppression('sup-del')), ['stays@four.example']);
  });
});

describe('admin CLI', () => {
  let server: Awaited<ReturnType<typeof startRedis>>;
  let client: RedisClient;
  let cliApp: FastifyInstance;
  let queues: ReturnType<typeof createQueues>;
  let env: Record<string, string>;

  before(async () => {
    server = await startRedis();
    const prefix = uniquePrefix('cli');
    env = { REDIS_URL: server.url, VOLLEY_REDIS_PREFIX: prefix };
    client = connectRedis(server.url, { name: 'cli-test' });
    const keys = new Keys(prefix);
    queues = createQueues(client, keys);
    cliApp = await buildApp({
      config: {
        apiKey: 'cli-test-env-key-0123456789',
        bodyLimit: 64 * 1024,
        maxInlineRecipients: 10,
      },
      redis: client,
      keys,
      queues,
      registry: new Registry(),
      logger: false,
    });
  });

  after(async () => {
    await cliApp.close();
    await queues.close();
    client.disconnect();
    await server.stop();
  });

  test('a key made by `keys create` authenticates against an API on the same Redis and prefix, until `keys revoke`', async () => {
    const tenant = await cli(['tenants', 'create', 'cli-co', '--name', 'CLI Co'], env);
    assert.equal(tenant.code, 0, tenant.stderr);
    assert.match(tenant.stdout, /created tenant cli-co \(CLI Co\)/);

    const made = await cli(['keys', 'create', 'cli-co', '--name', 'deploy'], env);
    assert.equal(made.code, 0, made.stderr);
    const key = made.stdout.trim();
    assert.match(key, /^vk_[a-f0-9]{16}_[a-f0-9]{48}$/);
    assert.match(made.stderr, /only time the key is shown/);
    const keyId = key.split('_')[1] ?? '';

    const domain = await cli(
      ['domains', 'add', 'cli-co', 'sender.example', '--key-type', 'ed25519'],
      { ...env, VOLLEY_DKIM_SECRET: DKIM_SECRET },
    );
    assert.equal(domain.code, 0, domain.stderr);

    const probe = () => cliApp.inject({ url: '/v1/suppressions', headers: bearer(key) });
    assert.equal((await probe()).statusCode, 200);
    const created = await cliApp.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: bearer(key),
      payload: draft,
    });
    assert.equal(created.statusCode, 202, created.body);

    const listed = await cli(['keys', 'list', 'cli-co'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${keyId}\\s+deploy`));
    assert.ok(!listed.stdout.includes(key.split('_')[2] ?? '-'));
    const tenants = await cli(['tenants', 'list', '--json'], env);
    assert.deepEqual(
      (JSON.parse(tenants.stdout) as { id: string }[]).map((t) => t.id),
      ['cli-co'],
    );

    const revoked = await cli(['keys', 'revoke', keyId], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked key ${keyId} of tenant cli-co`));
    assert.equal((await probe()).statusCode, 401);
  });

  test('wrong usage exits 2 with the usage; a failed command exits 1 saying why and changes nothing', async () => {
    const keys = new Keys(env.VOLLEY_REDIS_PREFIX);
    const before = [await client.hgetall(keys.tenants), await client.hgetall(keys.apiKeys)];
    // Independent processes, run side by side: each pays Node and tsx start-up.
    const usage = [[], ['tenants'], ['keys', 'frobnicate', 'x'], ['tenants', 'list', '--bogus']];
    const [ghost, badId, noRedis, ...wrong] = await Promise.all([
      cli(['keys', 'create', 'ghost-co'], env),
      cli(['tenants', 'create', 'Not_Valid'], env),
      cli(['tenants', 'list'], {}),
      ...usage.map((args) => cli(args, env)),
    ]);
    wrong.forEach((r, i) => {
      assert.equal(r.code, 2, `${usage[i]?.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: npm run admin/);
    });
    assert.equal(ghost?.code, 1);
    assert.match(ghost?.stderr ?? '', /tenant "ghost-co" does not exist/);
    assert.equal(ghost?.stdout, '');
    assert.equal(badId?.code, 1);
    assert.match(badId?.stderr ?? '', /must match/);
    assert.equal(noRedis?.code, 1);
    assert.match(noRedis?.stderr ?? '', /REDIS_URL is not set/);
    assert.deepEqual(
      [await client.hgetall(keys.tenants), await client.hgetall(keys.apiKeys)],
      before,
    );
  });
});
