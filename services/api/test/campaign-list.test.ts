import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { listCampaigns } from '@volley/campaigns';
import { addSendingDomain, apiFixture, auth, type ApiFixture, type Problem } from './fixture.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface Item {
  id: string;
  status: string;
  createdAt: string;
  subject: string;
  counts: { total: number; queued: number; sent: number };
}
interface Page {
  campaigns: Item[];
  next?: string;
}

let fx: ApiFixture;
let acmeKey: string;

before(async () => {
  fx = await apiFixture({ adminKey: ADMIN });
  const t = await fx.app.inject({
    method: 'POST',
    url: '/v1/admin/tenants',
    headers: bearer(ADMIN),
    payload: { id: 'acme' },
  });
  assert.equal(t.statusCode, 201, t.body);
  const k = await fx.app.inject({
    method: 'POST',
    url: '/v1/admin/tenants/acme/keys',
    headers: bearer(ADMIN),
    payload: {},
  });
  acmeKey = k.json<{ key: string }>().key;
  await addSendingDomain(fx.redis, fx.keys, 'acme', 'acme.example');
});
after(() => fx.close());

async function create(
  headers: Record<string, string>,
  extra: Record<string, unknown>,
  from = 'News <news@sender.example>',
): Promise<string> {
  const res = await fx.app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers,
    payload: { from, subject: 'Hi', text: 'Hello', ...extra },
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json<{ id: string }>().id;
}

async function list(
  query: Record<string, string | string[]>,
  headers: Record<string, string> = auth,
): Promise<Page> {
  const res = await fx.app.inject({ url: '/v1/campaigns', query, headers });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Page>();
}

/** Every page, following `next`; `between` runs after each page but the last. */
async function walk(
  query: Record<string, string | string[]>,
  between: () => Promise<void> = async () => {},
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  let cursor = '';
  for (;;) {
    const page = await list({ ...query, cursor });
    pages++;
    ids.push(...page.campaigns.map((c) => c.id));
    if (!page.next) return { ids, pages };
    cursor = page.next;
    await between();
  }
}

/** The tenant's index, newest first, as the list must show it (same-millisecond ties by id). */
async function indexOrder(tenant: string): Promise<string[]> {
  return fx.redis.zrevrange(fx.keys.tenantCampaigns(tenant), 0, -1);
}

describe('GET /v1/campaigns', () => {
  test("pages through the caller's campaigns newest first, unmoved by campaigns created meanwhile", async () => {
    for (let i = 0; i < 7; i++) await create(auth, { draft: true, subject: `draft ${i}` });
    const before = await indexOrder('default');
    assert.ok(before.length >= 7);
    const added: string[] = [];
    const { ids, pages } = await walk({ limit: '3' }, async () => {
      added.push(await create(auth, { draft: true }));
    });
    assert.ok(pages >= 3, `walked ${pages} pages`);
    assert.deepEqual(ids, before, 'every campaign of the start of the walk, once, newest first');
    for (const id of added) assert.ok(!ids.includes(id));
    // A fresh walk starts with the ones created meanwhile.
    const fresh = await list({ limit: String(added.length) });
    assert.deepEqual(
      fresh.campaigns.map((c) => c.id),
      [...added].reverse(),
    );
  });

  test('campaigns created in the same millisecond are neither repeated nor skipped across pages', async () => {
    const at = Date.parse('2026-01-02T03:04:05.006Z');
    const ids = Array.from({ length: 5 }, (_, k) => `${'ab'.repeat(9)}0${k}`);
    for (const id of ids) {
      await fx.store.create(id, { tenant: 'tie', from: 'a@tie.example', subject: 's' }, at);
    }
    await fx.store.create(
      'ff'.repeat(10),
      { tenant: 'tie', from: 'a@tie.example', subject: 's' },
      at + 1,
    );
    // Through the store: the tenant 'tie' has no key, and the route is a thin map over it.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listCampaigns(fx.store, 'tie', { limit: 2, cursor });
      seen.push(...page.campaigns.map((c) => c.id));
      cursor = page.next;
    } while (cursor);
    assert.deepEqual(seen, ['ff'.repeat(10), ...[...ids].reverse()]);
  });

  test('an empty cursor is the first page; each item carries the counts GET /v1/campaigns/{id} shows', async () => {
    const id = await create(auth, {
      recipients: [{ email: 'a@one.example' }, { email: 'b@one.example' }],
    });
    const page = await list({ cursor: '', limit: '1' });
    assert.equal(page.campaigns[0]?.id, id);
    assert.ok(page.next);
    const one = await fx.app.inject({ url: `/v1/campaigns/${id}`, headers: auth });
    assert.deepEqual(page.campaigns[0], one.json());
    assert.equal(page.campaigns[0]?.counts.total, 2);
    assert.ok(!('html' in (page.campaigns[0] ?? {})) && !('text' in (page.campaigns[0] ?? {})));
  });

  test('filters by status (one or several) and by creation time', async () => {
    const running = await create(auth, { recipients: [{ email: 'r@one.example' }] });
    const paused = await create(auth, { recipients: [{ email: 'p@one.example' }] });
    const cancelled = await create(auth, { draft: true });
    for (const [id, action] of [
      [paused, 'pause'],
      [cancelled, 'cancel'],
    ] as const) {
      const res = await fx.app.inject({
        method: 'POST',
        url: `/v1/campaigns/${id}/${action}`,
        headers: auth,
      });
      assert.equal(res.statusCode, 202, res.body);
    }
    const all = (await walk({ limit: '500' })).ids;
    const statusOf = async (id: string) =>
      (await fx.app.inject({ url: `/v1/campaigns/${id}`, headers: auth })).json<Item>().status;
    for (const status of ['paused', 'cancelled', 'draft']) {
      const got = (await walk({ status, limit: '2' })).ids;
      const want: string[] = [];
      for (const id of all) if ((await statusOf(id)) === status) want.push(id);
      assert.ok(want.length > 0);
      assert.deepEqual(got, want, status);
    }
    const several = (await walk({ status: ['paused', 'cancelled'] })).ids;
    assert.ok(
      several.includes(paused) && several.includes(cancelled) && !several.includes(running),
    );

    const created = async (id: string) =>
      Date.parse(
        (await fx.app.inject({ url: `/v1/campaigns/${id}`, headers: auth })).json<Item>().createdAt,
      );
    const from = (await created(running)) - 1;
    const to = (await created(cancelled)) + 1;
    const window = (
      await walk({
        createdAfter: new Date(from).toISOString(),
        createdBefore: new Date(to).toISOString(),
        limit: '2',
      })
    ).ids;
    const inWindow: string[] = [];
    for (const id of all) {
      const t = await created(id);
      if (t > from && t < to) inWindow.push(id);
    }
    assert.ok([running, paused, cancelled].every((id) => inWindow.includes(id)));
    assert.deepEqual(window, inWindow);
    const combined = (await walk({ status: 'paused', createdAfter: new Date(from).toISOString() }))
      .ids;
    assert.deepEqual(combined, [paused]);
    const none = await list({ createdBefore: '2000-01-01T00:00:00Z' });
    assert.deepEqual(none, { campaigns: [] });
  });

  test("shows only the caller's campaigns; the admin key is refused as on the other tenant routes", async () => {
    const mine = await create(bearer(acmeKey), { draft: true }, 'a@acme.example');
    const acme = (await walk({})).ids;
    assert.ok(!acme.includes(mine), "the default tenant does not see acme's campaign");
    const res = await fx.app.inject({ url: '/v1/campaigns', headers: bearer(acmeKey) });
    assert.deepEqual(
      res.json<Page>().campaigns.map((c) => c.id),
      [mine],
    );
    const admin = await fx.app.inject({ url: '/v1/campaigns', headers: bearer(ADMIN) });
    assert.equal(admin.statusCode, 401);
  });

  test('a campaign whose record is gone (removed by retention) is left out, not an error', async () => {
    const gone = await create(auth, { draft: true });
    const kept = await create(auth, { draft: true });
    await fx.redis.del(fx.keys.campaign(gone));
    const page = await list({ limit: '2' });
    assert.equal(page.campaigns[0]?.id, kept);
    assert.ok(!page.campaigns.some((c) => c.id === gone));
  });

  test('bad filters are a 400 problem naming the parameter, and change nothing', async () => {
    const index = await indexOrder('default');
    const newest = index[0] ?? '';
    const record = await fx.redis.hgetall(fx.keys.campaign(newest));
    const goodCursor = (await list({ limit: '1' })).next ?? '';
    const bad: [Record<string, string | string[]>, RegExp][] = [
      [{ status: 'sending' }, /status/],
      [{ status: ['draft', 'draft'] }, /status/],
      [{ createdAfter: 'yesterday' }, /createdAfter/],
      [{ createdBefore: '2026-13-01T00:00:00Z' }, /createdBefore/],
      [
        { createdAfter: '2026-02-01T00:00:00Z', createdBefore: '2026-01-01T00:00:00Z' },
        /createdAfter/,
      ],
      [{ limit: '0' }, /limit/],
      [{ limit: '501' }, /limit/],
      [{ limit: 'ten' }, /limit/],
      [{ sort: 'oldest' }, /sort/],
      [{ cursor: 'not a cursor!' }, /cursor/],
      [{ cursor: `${goodCursor}x` }, /cursor/],
      [{ cursor: Buffer.from('1:zz').toString('base64url') }, /cursor/],
    ];
    for (const [query, names] of bad) {
      const res = await fx.app.inject({ url: '/v1/campaigns', query, headers: auth });
      assert.equal(res.statusCode, 400, `${JSON.stringify(query)}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const p = res.json<Problem>();
      assert.match(`${p.detail} ${JSON.stringify(p.errors ?? [])}`, names, JSON.stringify(query));
    }
    assert.deepEqual(await indexOrder('default'), index);
    assert.deepEqual(await fx.redis.hgetall(fx.keys.campaign(newest)), record);
  });
});
