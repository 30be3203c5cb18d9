import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { readLinkToken, readToken, readVerpAddress, tokenNames } from '@volley/message';
import { freePort } from '@volley/redis';
import { startCaptureServer, startDnsStub, type ServiceProcess } from '@volley/testkit';
import { CAMPAIGN, DOMAINS, Harness, recipients, sentCount, sharedRedis } from './harness.ts';

/** Redis stamps events, the sender stamps a batch's first attempt: one host clock, read a moment apart. */
const CLOCK_SLACK_MS = 5;

let shared: Awaited<ReturnType<typeof sharedRedis>>;
before(async () => {
  shared = await sharedRedis();
});
after(async () => {
  await shared.stop();
});

describe('sender', () => {
  test('1,000 recipients over 5 domains are each delivered exactly once with their own content', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 1 });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(1000) });
      await h.completed(id);
      const c = await h.store.get(id);
      assert.equal(c?.counts.sent, 1000);
      assert.equal(h.capture.messages.length, 1000);
      const seen = new Map<string, number>();
      for (const m of h.capture.messages) {
        assert.equal(m.to.length, 1);
        const to = m.to[0] ?? '';
        seen.set(to, (seen.get(to) ?? 0) + 1);
        const parsed = await simpleParser(m.raw);
        const n = Number(/^user(\d+)@/.exec(to)?.[1]);
        assert.equal(parsed.subject, `Hello Name${n}`);
        assert.match(String(parsed.html), new RegExp(`Hi Name${n}, you are number ${n}\\.`));
        assert.match(parsed.text ?? '', new RegExp(`Hi Name${n}, you are number ${n}\\.`));
        assert.equal(parsed.messageId, `<${id}.${n}@sender.example>`);
      }
      assert.equal(seen.size, 1000);
      assert.ok(
        [...seen.values()].every((v) => v === 1),
        'no recipient received two messages',
      );
      assert.deepEqual(new Set([...seen.keys()].map((e) => e.split('@')[1])), new Set(DOMAINS));
      assert.equal(sentCount(await h.metricsOf(h.senders[0] as ServiceProcess)), 1000);
    } finally {
      await h.stop();
    }
  });

  test('a second sender process shares the work without sending anything twice', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 2 });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(3000) });
      await h.completed(id);
      const tos = h.capture.messages.map((m) => m.to[0]);
      assert.equal(tos.length, 3000);
      assert.equal(new Set(tos).size, 3000, 'every recipient exactly once');
      const perProcess = await Promise.all(
        h.senders.map(async (s) => sentCount(await h.metricsOf(s))),
      );
      assert.equal(
        perProcess.reduce((a, b) => a + b, 0),
        3000,
      );
      assert.ok(
        perProcess.every((n) => n > 0),
        `both senders delivered some messages: ${perProcess.join(', ')}`,
      );
    } finally {
      await h.stop();
    }
  });

  test('a render failure fails that recipient only, with a clear reason', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      // The render budget would stop the 250,000 iterations below first; raised, this stays a
      // test of the message size limit (the budget has its own, budget.test.ts).
      env: {
        VOLLEY_MAX_MESSAGE_SIZE: '100000',
        VOLLEY_TEMPLATE_MAX_ITERATIONS: '1000000',
        VOLLEY_TEMPLATE_TIME_BUDGET: '500ms',
      },
    });
    try {
      // Nested loops over a recipient's own list: harmless for most, a 250 KB message for one.
      const rows = Array.from({ length: 500 }, () => 'x');
      const id = await h.create({
        ...CAMPAIGN,
        html: '<p>Hi {{name}}</p>{{#each rows}}{{#each ../rows}}{{this}}{{/each}}{{/each}}',
        recipients: [
          { email: 'ok1@one.example', vars: { name: 'A', rows: ['a', 'b'] } },
          { email: 'bad@two.example', vars: { name: 'B', rows } },
          { email: 'ok2@three.example', vars: { name: 'C' } },
        ],
      });
      await h.completed(id);
      const c = await h.store.get(id);
      assert.equal(c?.counts.sent, 2);
      assert.equal(c?.counts.failed, 1);
      const { events } = await h.store.events(id, undefined, 10);
      const bad = events.find((e) => e.email === 'bad@two.example');
      assert.equal(bad?.outcome, 'failed');
      assert.equal(bad?.reason, 'template');
      assert.match(bad?.detail ?? '', /over VOLLEY_MAX_MESSAGE_SIZE/);
      assert.deepEqual(h.capture.messages.map((m) => m.to[0]).sort(), [
        'ok1@one.example',
        'ok2@three.example',
      ]);
    } finally {
      await h.stop();
    }
  });

  test('an inline 5xx bounces and suppresses, a 4xx is retried and delivered, a rate-limit 5xx is deferred', async () => {
    const tries = new Map<string, number>();
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      env: { VOLLEY_RETRY_BASE: '100ms', VOLLEY_RETRY_MAX: '500ms' },
      capture: {
        onRecipient(addr) {
          const n = (tries.get(addr) ?? 0) + 1;
          tries.set(addr, n);
          if (addr.startsWith('gone@'))
            return { code: 550, message: '5.1.1 <gone@two.example>: user unknown' };
          if (addr.startsWith('busy@') && n === 1)
            return { code: 451, message: '4.3.0 try again later' };
          if (addr.startsWith('limited@') && n === 1)
            return { code: 550, message: '5.7.1 rate limited, try again later' };
          return undefined;
        },
      },
    });
    try {
      const id = await h.create({
        ...CAMPAIGN,
        recipients: [
          { email: 'gone@two.example', vars: { name: 'G' } },
          { email: 'busy@three.example', vars: { name: 'B' } },
          { email: 'limited@four.example', vars: { name: 'L' } },
          { email: 'fine@one.example', vars: { name: 'F' } },
        ],
      });
      await h.completed(id);
      const c = await h.store.get(id);
      assert.deepEqual(
        { sent: c?.counts.sent, bounced: c?.counts.bounced, deferred: c?.counts.deferred },
        { sent: 3, bounced: 1, deferred: 0 },
      );
      assert.equal(tries.get('busy@three.example'), 2);
      assert.equal(tries.get('limited@four.example'), 2);
      assert.equal(tries.get('gone@two.example'), 1, 'a hard bounce is not retried');
      const { events } = await h.store.events(id, undefined, 20);
      const gone = events.find((e) => e.email === 'gone@two.example');
      assert.equal(gone?.outcome, 'bounced');
      assert.equal(gone?.reason, 'userunknown');
      assert.deepEqual(
        events
          .filter((e) => e.outcome === 'deferred')
          .map((e) => e.email)
          .sort(),
        ['busy@three.example', 'limited@four.example'],
      );
      assert.deepEqual(
        await h.store.suppressedFlags('default', ['gone@two.example', 'fine@one.example']),
        [true, false],
      );

      // The suppressed address is skipped before any connection in the next campaign.
      const id2 = await h.create({
        ...CAMPAIGN,
        recipients: [{ email: 'gone@two.example', vars: { name: 'G' } }],
      });
      await h.completed(id2);
      assert.equal((await h.store.get(id2))?.counts.suppressed, 1);
      assert.equal(tries.get('gone@two.example'), 1);
    } finally {
      await h.stop();
    }
  });

  test('direct to MX: each domain goes to its own MX host, a null MX bounces without a connection', async () => {
    const port = await freePort();
    const mx1 = await startCaptureServer({ host: '127.0.0.2', port });
    const mx2 = await startCaptureServer({ host: '127.0.0.3', port });
    const dns = await startDnsStub({
      'alpha.example': { mx: [{ preference: 10, exchange: 'mx.alpha.example' }] },
      'mx.alpha.example': { a: ['127.0.0.2'] },
      'beta.example': { mx: [{ preference: 10, exchange: 'mx.beta.example' }] },
      'mx.beta.example': { a: ['127.0.0.3'] },
      'nomail.example': { mx: [{ preference: 0, exchange: '' }], a: ['127.0.0.2'] },
    });
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      env: {
        VOLLEY_DELIVERY: 'mx',
        VOLLEY_DNS_SERVERS: `127.0.0.1:${dns.port}`,
        VOLLEY_MX_PORT: String(port),
      },
    });
    try {
      const list = [
        ...Array.from({ length: 30 }, (_, i) => ({
          email: `a${i}@alpha.example`,
          vars: { name: 'A' },
        })),
        ...Array.from({ length: 20 }, (_, i) => ({
          email: `b${i}@beta.example`,
          vars: { name: 'B' },
        })),
        { email: 'x@nomail.example', vars: { name: 'X' } },
      ];
      const id = await h.create({ ...CAMPAIGN, recipients: list });
      await h.completed(id);
      assert.equal(mx1.messages.length, 30);
      assert.ok(mx1.messages.every((m) => m.to[0]?.endsWith('@alpha.example')));
      assert.equal(mx2.messages.length, 20);
      assert.ok(mx2.messages.every((m) => m.to[0]?.endsWith('@beta.example')));
      const c = await h.store.get(id);
      assert.equal(c?.counts.sent, 50);
      assert.equal(c?.counts.bounced, 1);
      const { events } = await h.store.events(id, undefined, 100);
      assert.equal(events.find((e) => e.email === 'x@nomail.example')?.reason, 'notaccept');
      assert.ok(
        !dns.queries.some((q) => q.name === 'nomail.example' && q.type === 'A'),
        'null MX: no address lookup',
      );
    } finally {
      await h.stop();
      await Promise.all([mx1.close(), mx2.close(), dns.close()]);
    }
  });

  test('a message deferred past the maximum age is retried, then bounces as expired, and is not suppressed', async (t) => {
    // Generous against the retry delay (100-200 ms), so that the order judged below does not
    // depend on how soon a loaded machine runs a retry; how soon one expires is judged on an
    // injected clock (packages/delivery/test/retries.test.ts).
    const MAX_AGE_MS = 5000;
    let attempts = 0;
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      env: {
        VOLLEY_RETRY_BASE: '100ms',
        VOLLEY_RETRY_MAX: '200ms',
        VOLLEY_MAX_AGE: `${MAX_AGE_MS}ms`,
      },
      capture: {
        onRecipient: () => {
          attempts++;
          return { code: 421, message: '4.7.0 [TSS04] Messages temporarily deferred' };
        },
      },
    });
    try {
      const id = await h.create({
        ...CAMPAIGN,
        recipients: [{ email: 'slow@yahoo.example', vars: { name: 'S' } }],
      });
      await h.completed(id);
      const c = await h.store.get(id);
      assert.equal(c?.counts.bounced, 1);
      assert.equal(c?.counts.deferred, 0);
      const { events } = await h.store.events(id, undefined, 1000);
      // A stream id starts with the Redis time its event was added.
      const at = (e: { id: string }) => Number(e.id.split('-')[0]);
      const deferred = events.filter((e) => e.outcome === 'deferred');
      const last = events[events.length - 1];
      const first = deferred[0];
      assert.ok(first && last, 'the message was deferred and then expired');
      assert.equal(last.outcome, 'bounced');
      assert.equal(last.reason, 'expired');
      assert.equal(deferred.length, attempts, 'every attempt the server saw was a deferral');
      t.diagnostic(
        `${attempts} attempts; expired ${at(last) - at(first)} ms after the first deferral (maximum age ${MAX_AGE_MS} ms)`,
      );
      // The order: tried, deferred, tried again at least once, and expired only once the
      // maximum age had passed since the first attempt (its deferral comes before the age
      // starts; Redis and the sender read the same host clock, a moment apart).
      assert.ok(deferred.length >= 2, `retried before expiring (${deferred.length} attempts)`);
      assert.ok(
        deferred.every((e) => at(e) <= at(last)),
        'no attempt after the expiry',
      );
      assert.ok(
        at(last) - at(first) >= MAX_AGE_MS - CLOCK_SLACK_MS,
        `expired ${at(last) - at(first)} ms after the first attempt, before the maximum age of ${MAX_AGE_MS} ms`,
      );
      assert.deepEqual(await h.store.suppressedFlags('default', ['slow@yahoo.example']), [false]);
    } finally {
      await h.stop();
    }
  });

  test('with a bounce domain, unsubscribe URL and DKIM keys: VERP return path and one-click List-Unsubscribe per recipient, signatures verify as a receiver would', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), 'volley-dkim-'));
    const keyPath = join(dir, 'rsa1.pem');
    writeFileSync(keyPath, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const dns = await startDnsStub({
      'rsa1._domainkey.sender.example': {
        txt: [
          `v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
        ],
      },
    });
    const secret = 'verp-secret-0123456789';
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      env: {
        VOLLEY_BOUNCE_DOMAIN: 'bounce.sender.example',
        VOLLEY_VERP_SECRET: secret,
        VOLLEY_DKIM_KEYS: `sender.example:rsa1:${keyPath}`,
        VOLLEY_UNSUBSCRIBE_URL: 'https://unsub.sender.example/u/',
      },
    });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(20) });
      await h.completed(id);
      assert.equal(h.capture.messages.length, 20);
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([`127.0.0.1:${dns.port}`]);
      for (const m of h.capture.messages) {
        const n = Number(/^user(\d+)@/.exec(m.to[0] ?? '')?.[1]);
        assert.match(m.from, /^bounces\+[a-z2-7]+@bounce\.sender\.example$/);
        const verp = readVerpAddress(secret, m.from);
        assert.deepEqual([verp.campaignId, verp.index], [id, n]);
        assert.equal(tokenNames(secret, verp, m.to[0] ?? ''), true);
        const raw = m.raw.toString();
        const unsub =
          /\r\nList-Unsubscribe: <https:\/\/unsub\.sender\.example\/u\/([a-z2-7]+)>,\r\n <mailto:unsubscribe\+([a-z2-7]+)@bounce\.sender\.example>\r\n/.exec(
            raw,
          );
        assert.ok(unsub, 'List-Unsubscribe with the https and mailto targets');
        // The link carries the address encrypted, the mailto a keyed hash of it.
        assert.deepEqual(readLinkToken(secret, unsub[1] ?? ''), {
          campaignId: id,
          index: n,
          email: m.to[0],
        });
        const mailto = readToken(secret, 'unsubscribe', unsub[2] ?? '');
        assert.deepEqual([mailto.campaignId, mailto.index], [id, n]);
        assert.equal(tokenNames(secret, mailto, m.to[0] ?? ''), true);
        assert.match(raw, /\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n/);
        const res = (await dkimVerify(m.raw, {
          resolver: async (name: string, rr: string) =>
            (await resolver.resolve(name, rr)) as string[][],
        })) as unknown as { results: { status: { result: string } }[] };
        assert.equal(res.results[0]?.status.result, 'pass');
      }
    } finally {
      await h.stop();
      await dns.close();
    }
  });
});
