import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { DomainView } from '@volley/domains';
import type { CapturedMessage } from '@volley/testkit';
import { spawnService, startDnsStub, waitUntil, type DnsZone } from '@volley/testkit';
import { DOMAINS, Harness, sharedRedis } from './harness.ts';

const ADMIN = 'admin-key-fedcba9876543210';
const SECRET = 'sender-test-dkim-secret-0123456789abcdef';
/** Short, so the test sees a rotation soon; the default is 10 s. */
const CACHE_TTL = '300ms';

let shared: Awaited<ReturnType<typeof sharedRedis>>;
before(async () => {
  shared = await sharedRedis();
});
after(async () => {
  await shared.stop();
});

interface Signature {
  signingDomain: string;
  selector: string;
  status: { result: string };
}

describe('sending domains end to end', () => {
  test("each tenant's mail verifies under its own selector, before and after a rotation made while the sender runs; another tenant's domain is refused", async () => {
    const zone: DnsZone = {};
    const dns = await startDnsStub(zone);
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${dns.port}`]);
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      api: { adminKey: ADMIN, dkimSecret: SECRET },
      env: { VOLLEY_DKIM_SECRET: SECRET, VOLLEY_DKIM_CACHE_TTL: CACHE_TTL },
    });
    const inject = async (
      method: 'GET' | 'POST' | 'DELETE',
      url: string,
      key: string,
      payload?: object,
    ): Promise<{ status: number; body: string }> => {
      const res = await h.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        payload,
      });
      return { status: res.statusCode, body: res.body };
    };
    /** Publishes a domain's DKIM records in the DNS stub, as the operator would. */
    const publish = (v: DomainView) => {
      for (const r of v.records) if (r.purpose === 'dkim') zone[r.name] = { txt: [r.value] };
    };
    const signatures = async (m: CapturedMessage): Promise<Signature[]> => {
      const res = (await dkimVerify(m.raw, {
        resolver: async (name: string, rr: string) =>
          (await resolver.resolve(name, rr)) as string[][],
      })) as unknown as { results: Signature[] };
      return res.results;
    };
    /** Sends a campaign of `n` recipients named `<tag>-<i>` and returns their messages. */
    const send = async (key: string, from: string, tag: string, n: number) => {
      const res = await inject('POST', '/v1/campaigns', key, {
        from,
        subject: 'Hi {{name}}',
        html: '<p>Hello {{name}}</p>',
        recipients: Array.from({ length: n }, (_, i) => ({
          email: `${tag}-${i}@${DOMAINS[i % DOMAINS.length]}`,
          vars: { name: `N${i}` },
        })),
      });
      assert.equal(res.status, 202, res.body);
      await h.completed((JSON.parse(res.body) as { id: string }).id);
      const mine = h.capture.messages.filter((m) => m.to[0]?.startsWith(`${tag}-`));
      assert.equal(mine.length, n);
      return mine;
    };
    const expectSigned = async (msgs: CapturedMessage[], domain: string, selector: string) => {
      for (const m of msgs) {
        const sigs = await signatures(m);
        assert.deepEqual(
          sigs.map((s) => [s.signingDomain, s.selector, s.status.result]),
          [[domain, selector, 'pass']],
          `${m.to[0]} signed once, by ${selector}._domainkey.${domain}, and verifies`,
        );
      }
    };
    try {
      const keyOf: Record<string, string> = {};
      const domainOf: Record<string, DomainView> = {};
      for (const [tenant, domain, keyType] of [
        ['acme', 'acme.example', 'rsa'],
        ['globex', 'globex.example', 'ed25519'],
      ] as const) {
        assert.equal(
          (await inject('POST', '/v1/admin/tenants', ADMIN, { id: tenant })).status,
          201,
        );
        const key = await inject('POST', `/v1/admin/tenants/${tenant}/keys`, ADMIN, {});
        keyOf[tenant] = (JSON.parse(key.body) as { key: string }).key;
        const added = await inject('POST', `/v1/admin/tenants/${tenant}/domains`, ADMIN, {
          domain,
          keyType,
        });
        assert.equal(added.status, 201, added.body);
        domainOf[tenant] = JSON.parse(added.body) as DomainView;
        publish(domainOf[tenant]);
      }
      const acmeKey = keyOf.acme ?? '';
      const acmeSelector = domainOf.acme?.activeSelector ?? '';

      // Tenant acme as globex's domain: refused, nothing stored or queued.
      const jobs = async () =>
        Object.values(await h.queues.control.getJobCounts()).reduce((a, b) => a + b, 0);
      const queuedBefore = await jobs();
      const refused = await inject('POST', '/v1/campaigns', acmeKey, {
        from: 'News <news@globex.example>',
        subject: 's',
        text: 't',
        recipients: [{ email: 'victim@one.example' }],
      });
      assert.equal(refused.status, 422, refused.body);
      assert.match(refused.body, /globex\.example is not a sending domain of tenant acme/);
      assert.equal(await shared.redis.exists(h.keys.tenantCampaigns('acme')), 0);
      assert.equal(await jobs(), queuedBefore);

      await expectSigned(
        await send(acmeKey, 'Acme <news@acme.example>', 'a1', 20),
        'acme.example',
        acmeSelector,
      );
      // A subdomain of globex's domain, signed by globex's Ed25519 key (relaxed alignment).
      await expectSigned(
        await send(keyOf.globex ?? '', 'Globex <news@mail.globex.example>', 'g1', 10),
        'globex.example',
        domainOf.globex?.activeSelector ?? '',
      );

      const sender = h.senders[0];
      assert.ok(sender);
      const pid = sender.pid;
      const rotated = await inject(
        'POST',
        '/v1/admin/tenants/acme/domains/acme.example/rotate',
        ADMIN,
        {},
      );
      assert.equal(rotated.status, 201, rotated.body);
      const view = JSON.parse(rotated.body) as DomainView;
      assert.notEqual(view.activeSelector, acmeSelector);
      publish(view);
      // Until the sender's cache time passes it may still sign with the old selector, which
      // stays published: every message verifies either way. Probe until the new one is used.
      let probes = 0;
      await waitUntil(
        async () => {
          const [m] = await send(acmeKey, 'news@acme.example', `probe${probes++}`, 1);
          const [sig] = m ? await signatures(m) : [];
          assert.equal(sig?.status.result, 'pass');
          assert.ok([acmeSelector, view.activeSelector].includes(sig.selector));
          return sig.selector === view.activeSelector;
        },
        'the sender to sign with the rotated key',
        20_000,
        0,
      );
      await expectSigned(
        await send(acmeKey, 'Acme <news@acme.example>', 'a2', 20),
        'acme.example',
        view.activeSelector,
      );
      assert.equal(sender.pid, pid);
      assert.ok(sender.running(), 'the same sender process, never restarted');
      assert.equal(h.senders.length, 1);

      // A scheduled campaign whose From domain becomes another tenant's before it starts: its
      // recipients fail (sending-domain), none is sent, signed or not.
      const moved = await inject('POST', '/v1/admin/tenants/acme/domains', ADMIN, {
        domain: 'moved.example',
      });
      assert.equal(moved.status, 201, moved.body);
      const scheduled = await inject('POST', '/v1/campaigns', acmeKey, {
        from: 'Acme <news@moved.example>',
        subject: 's',
        text: 't',
        // Time enough to move the domain (two admin calls) before it is due.
        sendAt: new Date(Date.now() + 5_000).toISOString(),
        recipients: Array.from({ length: 5 }, (_, i) => ({ email: `m-${i}@one.example` })),
      });
      assert.equal(scheduled.status, 202, scheduled.body);
      const id = (JSON.parse(scheduled.body) as { id: string }).id;
      assert.equal(
        (await inject('DELETE', '/v1/admin/tenants/acme/domains/moved.example', ADMIN)).status,
        200,
      );
      const taken = await inject('POST', '/v1/admin/tenants/globex/domains', ADMIN, {
        domain: 'moved.example',
      });
      assert.equal(taken.status, 201, taken.body);
      assert.equal(await h.store.status(id), 'scheduled', 'moved before it was due');
      await h.completed(id);
      assert.deepEqual(await h.store.reasonCounts(id), { 'failed:sending-domain': 5 });
      assert.deepEqual(
        h.capture.messages.filter((m) => m.to[0]?.startsWith('m-')),
        [],
        'nothing sent as the other tenant',
      );
    } finally {
      await h.stop();
      await dns.close();
    }
  });

  test('with sending domains stored, a sender will not start without VOLLEY_DKIM_SECRET', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 0, api: { adminKey: ADMIN, dkimSecret: SECRET } });
    try {
      const added = await h.app.inject({
        method: 'POST',
        url: '/v1/admin/tenants/default/domains',
        headers: { authorization: `Bearer ${ADMIN}` },
        payload: { domain: 'default.example', keyType: 'ed25519' },
      });
      assert.equal(added.statusCode, 201, added.body);
      const p = spawnService('sender', {
        REDIS_URL: shared.url,
        VOLLEY_REDIS_PREFIX: h.keys.prefix,
        VOLLEY_METRICS_PORT: '0',
      });
      assert.equal(await p.exited, 1);
      const out = p.lines.join('\n');
      assert.match(out, /volley sender: invalid configuration/);
      assert.match(out, /VOLLEY_DKIM_SECRET is not set, and 1 sending domain is stored/);
    } finally {
      await h.stop();
    }
  });
});
