import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Shaper, parsePolicy } from '@volley/shaping';
import { TenantStore } from '../src/tenants.ts';
import { addSendingDomain, apiFixture, auth, type ApiFixture } from './fixture.ts';

const ADMIN = 'admin-key-0123456789abcdef';

const POLICY = [
  'version: 1',
  'defaults: { rate: unlimited }',
  'domains:',
  '  slow.example: { rate: 20/s, burst: 5, connections: 2 }',
  'adaptive:',
  "  - { name: later, match: { code: 4xx, text: 'try again later' }, threshold: 2, action: suspend, duration: 10m }",
  "  - { name: blocked, match: { code: 5xx, text: 'campaign blocked' }, threshold: 1, action: suspend, scope: campaign, duration: 10m }",
  '',
].join('\n');

let fx: ApiFixture;
let shaper: Shaper;

before(async () => {
  fx = await apiFixture({ adminKey: ADMIN }, (redis, keys) => {
    shaper = new Shaper({ redis, prefix: keys.prefix, policy: parsePolicy(POLICY, 'policy.yaml') });
    return { shaper };
  });
});
after(async () => {
  await shaper.close();
  await fx.close();
});

test('GET /v1/shaping shows current limits and suspended destinations', async () => {
  const plan = shaper.plan('busy.example');
  for (let i = 0; i < 2; i++)
    await shaper.observe(plan, { code: 421, text: '4.7.0 try again later' });
  const res = await fx.app.inject({ url: '/v1/shaping', headers: auth });
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

interface Snapshot {
  destinations: { key: string; suspensions: { campaignId?: string; rule: string }[] }[];
}

describe('tenants see their own campaigns in the shaping state', () => {
  const tenantKeys: Record<string, string> = {};
  const campaignOf: Record<string, string> = {};

  before(async () => {
    const tenants = new TenantStore(fx.redis, fx.keys);
    for (const t of ['acme', 'globex']) {
      await tenants.createTenant(t);
      tenantKeys[t] = (await tenants.createKey(t)).key;
      await addSendingDomain(fx.redis, fx.keys, t, `${t}.example`);
      const res = await fx.app.inject({
        method: 'POST',
        url: '/v1/campaigns',
        headers: { authorization: `Bearer ${tenantKeys[t]}` },
        payload: { from: `n@${t}.example`, subject: 's', text: 't', draft: true },
      });
      assert.equal(res.statusCode, 202, res.body);
      campaignOf[t] = res.json<{ id: string }>().id;
    }
    const blocked = { code: 550, text: '5.7.1 campaign blocked' };
    // Both tenants' campaigns suspended at one shared destination; globex's also at a domain
    // only it sends to, named in no policy.
    await shaper.observe(shaper.plan('shared.example'), blocked, campaignOf.acme);
    await shaper.observe(shaper.plan('shared.example'), blocked, campaignOf.globex);
    await shaper.observe(shaper.plan('globex-only.example'), blocked, campaignOf.globex);
    // A destination suspended for everyone: shared infrastructure, shown to every tenant.
    for (let i = 0; i < 2; i++) {
      await shaper.observe(shaper.plan('down.example'), { code: 421, text: 'try again later' });
    }
  });

  async function shapingAs(tenant: string): Promise<{ body: string; snap: Snapshot }> {
    const res = await fx.app.inject({
      url: '/v1/shaping',
      headers: { authorization: `Bearer ${tenantKeys[tenant]}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    return { body: res.body, snap: res.json<Snapshot>() };
  }

  const find = (snap: Snapshot, key: string) => snap.destinations.find((d) => d.key === key);

  test("a tenant sees its campaigns' suspensions and destination-wide ones, never another tenant's campaigns", async () => {
    for (const [me, other] of [
      ['acme', 'globex'],
      ['globex', 'acme'],
    ] as const) {
      const { body, snap } = await shapingAs(me);
      assert.ok(
        !body.includes(campaignOf[other] ?? '?'),
        `${me} sees ${other}'s campaign: ${body}`,
      );
      assert.deepEqual(
        find(snap, 'default:shared.example')?.suspensions.map((s) => s.campaignId),
        [campaignOf[me]],
      );
      const down = find(snap, 'default:down.example');
      assert.equal(down?.suspensions.length, 1);
      assert.equal(down?.suspensions[0]?.campaignId, undefined);
      // Named in no policy and listed only for globex's campaign: not there for acme at all
      // (its name would tell acme where globex sends).
      assert.equal(find(snap, 'default:globex-only.example') !== undefined, me === 'globex', me);
    }
  });

  test('the admin key sees the whole state at /v1/admin/shaping; an API key cannot', async () => {
    const res = await fx.app.inject({
      url: '/v1/admin/shaping',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    const snap = res.json<Snapshot>();
    assert.deepEqual(
      find(snap, 'default:shared.example')
        ?.suspensions.map((s) => s.campaignId)
        .sort(),
      [campaignOf.acme, campaignOf.globex].sort(),
    );
    assert.equal(find(snap, 'default:globex-only.example')?.suspensions.length, 1);
    const asTenant = await fx.app.inject({
      url: '/v1/admin/shaping',
      headers: { authorization: `Bearer ${tenantKeys.acme}` },
    });
    assert.equal(asTenant.statusCode, 401);
  });
});
