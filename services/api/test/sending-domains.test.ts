import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { TenantStore } from '../src/tenants.ts';
import { DKIM_SECRET, addSendingDomain, apiFixture, auth, type ApiFixture } from './fixture.ts';

const ADMIN = 'admin-key-fedcba9876543210';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

let fx: ApiFixture;
const keyOf: Record<string, string> = {};

before(async () => {
  fx = await apiFixture({ adminKey: ADMIN, dkimSecret: DKIM_SECRET });
  const tenants = new TenantStore(fx.redis, fx.keys);
  for (const t of ['acme', 'globex', 'bare']) {
    await tenants.createTenant(t);
    keyOf[t] = (await tenants.createKey(t)).key;
  }
  await addSendingDomain(fx.redis, fx.keys, 'acme', 'acme.example');
  await addSendingDomain(fx.redis, fx.keys, 'globex', 'globex.example');
});
after(() => fx.close());

const content = { subject: 'Hi {{name}}', html: '<p>Hello {{name}}</p>' };
const recipients = [
  { email: 'ada@rcpt.example', vars: { name: 'Ada' } },
  { email: 'bob@rcpt.example', vars: { name: 'Bob' } },
];

function create(
  tenant: string,
  payload: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return fx.app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers: { ...bearer(keyOf[tenant] ?? ''), ...headers },
    payload,
  });
}

function assertRefused(res: LightMyRequestResponse, domain: string, tenant: string): void {
  assert.equal(res.statusCode, 422, res.body);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  const p = res.json<{ title: string; detail: string; errors: { path: string }[] }>();
  assert.equal(p.title, 'Sending domain not allowed');
  assert.ok(p.detail.includes(domain), p.detail);
  assert.ok(p.detail.includes(`POST /v1/admin/tenants/${tenant}/domains`), p.detail);
  assert.ok(p.detail.includes(`npm run admin -- domains add ${tenant} ${domain}`), p.detail);
}

/**
 * Every key of the fixture's prefix but the setup (tenants, keys, domains) and the requests'
 * rate-limit counters: campaigns, recipients, queues, idempotency claims.
 */
async function campaignState(): Promise<string[]> {
  const all = await fx.redis.keys(`${fx.keys.prefix}:*`);
  const setup = [fx.keys.sendingDomains, fx.keys.tenants, fx.keys.apiKeys, fx.keys.apiKeyIds];
  return all
    .filter((k) => !setup.includes(k) && !k.endsWith(':domains'))
    .filter((k) => !k.startsWith(fx.keys.rateLimit))
    .sort();
}

async function queued(): Promise<number> {
  let n = 0;
  for (const q of [fx.queues.control, fx.queues.send]) {
    const counts = await q.getJobCounts();
    n += Object.values(counts).reduce((a, b) => a + b, 0);
  }
  return n;
}

describe('sending as a domain', () => {
  test("a campaign of tenant A with From in tenant B's domain is a 422 and nothing is stored or queued", async () => {
    const before = await campaignState();
    assert.equal(await queued(), 0);
    // Inline recipients and no draft: accepted, this would start at once.
    const plain = await create('acme', {
      ...content,
      from: 'News <news@globex.example>',
      recipients,
    });
    assertRefused(plain, 'globex.example', 'acme');
    const sub = await create('acme', { ...content, from: 'x@mail.globex.example', recipients });
    assertRefused(sub, 'mail.globex.example', 'acme');
    // Refused before the Idempotency-Key is claimed: a retry is refused again, not replayed.
    const keyed = { 'idempotency-key': 'k-1' };
    const first = await create('acme', { ...content, from: 'n@globex.example', recipients }, keyed);
    assertRefused(first, 'globex.example', 'acme');
    assert.deepEqual(await campaignState(), before);
    assert.equal(await fx.redis.exists(fx.keys.tenantCampaigns('acme')), 0);
    assert.equal(await queued(), 0);

    // Its own domain, and subdomains of it, are accepted as before.
    const own = await create('acme', { ...content, from: 'News <news@acme.example>', recipients });
    assert.equal(own.statusCode, 202, own.body);
    assert.equal(own.json<{ status: string }>().status, 'running');
    const ownSub = await create('acme', { ...content, from: 'n@Mail.Acme.Example', draft: true });
    assert.equal(ownSub.statusCode, 202, ownSub.body);
    assert.ok((await queued()) > 0, 'the accepted campaign was queued');
  });

  test('a tenant without sending domains is told it has none and how to add one', async () => {
    const res = await create('bare', { ...content, from: 'n@bare.example', draft: true });
    assertRefused(res, 'bare.example', 'bare');
    assert.match(res.json<{ detail: string }>().detail, /tenant bare has no sending domains/);
  });

  test('a draft whose domain was removed since cannot start or be test-sent; re-adding it allows both', async () => {
    await addSendingDomain(fx.redis, fx.keys, 'acme', 'later.example');
    const made = await create('acme', {
      ...content,
      from: 'n@later.example',
      draft: true,
      recipients,
    });
    assert.equal(made.statusCode, 202, made.body);
    const id = made.json<{ id: string }>().id;
    const del = await fx.app.inject({
      method: 'DELETE',
      url: '/v1/admin/tenants/acme/domains/later.example',
      headers: bearer(ADMIN),
    });
    assert.equal(del.statusCode, 200, del.body);

    const jobsBefore = await queued();
    const start = await fx.app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/start`,
      headers: bearer(keyOf.acme ?? ''),
    });
    assertRefused(start, 'later.example', 'acme');
    const testSend = await fx.app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/test`,
      headers: bearer(keyOf.acme ?? ''),
      payload: { recipients: [{ email: 'qa@rcpt.example' }] },
    });
    assertRefused(testSend, 'later.example', 'acme');
    assert.equal(await fx.store.status(id), 'draft');
    assert.equal(await fx.redis.exists(fx.keys.testSends(id)), 0);
    assert.equal(await queued(), jobsBefore);

    await addSendingDomain(fx.redis, fx.keys, 'acme', 'later.example');
    const again = await fx.app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/start`,
      headers: bearer(keyOf.acme ?? ''),
    });
    assert.equal(again.statusCode, 202, again.body);
  });

  test("a paused campaign whose domain became another tenant's cannot resume; given back, it can", async () => {
    await addSendingDomain(fx.redis, fx.keys, 'acme', 'moved.example');
    const made = await create('acme', { ...content, from: 'n@moved.example', recipients });
    assert.equal(made.statusCode, 202, made.body);
    const id = made.json<{ id: string }>().id;
    const act = (action: string) =>
      fx.app.inject({
        method: 'POST',
        url: `/v1/campaigns/${id}/${action}`,
        headers: bearer(keyOf.acme ?? ''),
      });
    assert.equal((await act('pause')).statusCode, 202);
    const moveTo = async (from: string, to: string) => {
      const del = await fx.app.inject({
        method: 'DELETE',
        url: `/v1/admin/tenants/${from}/domains/moved.example`,
        headers: bearer(ADMIN),
      });
      assert.equal(del.statusCode, 200, del.body);
      await addSendingDomain(fx.redis, fx.keys, to, 'moved.example');
    };
    await moveTo('acme', 'globex');
    const jobsBefore = await queued();
    assertRefused(await act('resume'), 'moved.example', 'acme');
    assert.equal(await fx.store.status(id), 'paused');
    assert.equal(await queued(), jobsBefore, 'nothing promoted or queued');
    await moveTo('globex', 'acme');
    const resumed = await act('resume');
    assert.equal(resumed.statusCode, 202, resumed.body);
    assert.equal(await fx.store.status(id), 'running');
  });

  test('a Sender header cannot name another domain: it is refused like every header Volley writes, and nothing is stored', async () => {
    const before = await campaignState();
    for (const name of ['Sender', 'sender', 'SENDER']) {
      const res = await create('acme', {
        ...content,
        from: 'news@acme.example',
        headers: { [name]: 'news@globex.example' },
        recipients,
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json<{ detail: string }>().detail, /is set by Volley and cannot be given/);
    }
    assert.deepEqual(await campaignState(), before);
  });

  test('an internationalized domain is matched in any spelling, Unicode or punycode', async () => {
    await addSendingDomain(fx.redis, fx.keys, 'acme', 'Bücher.example');
    for (const from of ['n@bücher.example', 'n@BÜCHER.example', 'n@news.xn--bcher-kva.example']) {
      const res = await create('acme', { ...content, from, draft: true });
      assert.equal(res.statusCode, 202, `${from}: ${res.body}`);
    }
    const other = await create('globex', { ...content, from: 'n@bücher.example', draft: true });
    assertRefused(other, 'xn--bcher-kva.example', 'globex');
  });

  test('Idempotency-Key: a refused create leaves no claim, and an answered create is replayed after its domain is removed', async () => {
    const headers = { 'idempotency-key': 'idem-domain-1' };
    const payload = { ...content, from: 'n@idem.example', draft: true };
    assertRefused(await create('acme', payload, headers), 'idem.example', 'acme');
    assert.equal(await fx.redis.exists(fx.keys.idempotency('acme', 'idem-domain-1')), 0);

    // The same key and body once the domain is added: created now, not a replay of the 422.
    await addSendingDomain(fx.redis, fx.keys, 'acme', 'idem.example');
    const made = await create('acme', payload, headers);
    assert.equal(made.statusCode, 202, made.body);
    assert.equal(made.headers['idempotent-replayed'], undefined);
    const id = made.json<{ id: string }>().id;

    const del = await fx.app.inject({
      method: 'DELETE',
      url: '/v1/admin/tenants/acme/domains/idem.example',
      headers: bearer(ADMIN),
    });
    assert.equal(del.statusCode, 200, del.body);
    const retry = await create('acme', payload, headers);
    assert.equal(retry.statusCode, 202, retry.body);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(retry.body, made.body);
    assert.equal(retry.json<{ id: string }>().id, id);
    // Without the key, the same request is a new create, and refused.
    assertRefused(await create('acme', payload), 'idem.example', 'acme');
  });

  test('the default tenant without sending domains sends as any domain, except one a tenant has', async () => {
    const any = await fx.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { ...content, from: 'n@anything.example', draft: true },
    });
    assert.equal(any.statusCode, 202, any.body);
    const taken = await fx.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { ...content, from: 'n@acme.example', draft: true },
    });
    assertRefused(taken, 'acme.example', 'default');
  });

  test('with VOLLEY_DKIM_KEYS, or a stored domain, the default tenant sends only as those', async () => {
    const withStatic = await apiFixture({
      dkimKeys: [{ domain: 'static.example', selector: 's', keyPath: '/unused.pem' }],
    });
    const withStored = await apiFixture({ dkimSecret: DKIM_SECRET });
    try {
      await addSendingDomain(withStored.redis, withStored.keys, 'default', 'stored.example');
      for (const [f, own] of [
        [withStatic, 'news.static.example'],
        [withStored, 'stored.example'],
      ] as const) {
        const post = (from: string) =>
          f.app.inject({
            method: 'POST',
            url: '/v1/campaigns',
            headers: auth,
            payload: { ...content, from: `n@${from}`, draft: true },
          });
        assert.equal((await post(own)).statusCode, 202);
        const res = await post('elsewhere.example');
        assertRefused(res, 'elsewhere.example', 'default');
        assert.match(
          res.json<{ detail: string }>().detail,
          /elsewhere\.example is not a sending domain of tenant default/,
        );
      }
    } finally {
      await withStatic.close();
      await withStored.close();
    }
  });
});
