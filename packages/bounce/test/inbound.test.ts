// The bounce domain's SMTP server over real SMTP (Volley's own client as the sending MTA),
// against a real redis-server: which addresses take mail, and what each report changes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { CampaignStore, Feedback, Retention, SuppressionList } from '@volley/campaigns';
import { Keys } from '@volley/contracts';
import { createToken, verpAddress } from '@volley/message';
import { bounceMetrics } from '@volley/metrics';
import { connectRedis, startLocalRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { SmtpTestClient, startRedis, uniquePrefix, waitUntil } from '@volley/testkit';
import { startBounceServer, type BounceServerOptions } from '../src/inbound/index.ts';
import { TLS_CERT, TLS_KEY } from '@volley/smtp/test-servers';
import { arf, autoReply, dsn, sentCampaign, unsubscribeMail } from './reports.ts';

const SECRET = 'inbound-test-secret-0123456789';
const DOMAIN = 'bounce.volley.test';
const TENANT = 't1';

let server: LocalRedis;
let redis: RedisClient;

before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'inbound-test', maxRetriesPerRequest: 2 });
  await redis.ping();
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

interface World {
  redis: RedisClient;
  keys: Keys;
  store: CampaignStore;
  list: SuppressionList;
  registry: Registry;
  port: number;
  close(): Promise<void>;
}

async function world(
  opts: Partial<BounceServerOptions> & { redis?: RedisClient } = {},
): Promise<World> {
  const keys = new Keys(uniquePrefix('in'));
  const r = opts.redis ?? redis;
  const registry = new Registry();
  const smtp = await startBounceServer({
    host: '127.0.0.1',
    port: 0,
    domain: DOMAIN,
    secret: SECRET,
    feedback: new Feedback(r, keys, { softBounceLimit: 3, softBounceWindowMs: 86_400_000 }),
    metrics: bounceMetrics(registry),
    logger: pino({ level: 'silent' }),
    maxMessageBytes: 1024 * 1024,
    maxClients: 20,
    rateLimit: 0,
    ...opts,
  });
  return {
    redis: r,
    keys,
    store: new CampaignStore(r, keys),
    list: new SuppressionList(r, keys),
    registry,
    port: smtp.port,
    close: () => smtp.close(),
  };
}

/** A campaign of `n` recipients `r<i>@example.org`, every one of them sent. */
function campaign(w: World, n: number): Promise<string> {
  const emails = Array.from({ length: n }, (_v, i) => `r${i}@example.org`);
  return sentCampaign(w.store, TENANT, emails);
}

const verp = (id: string, i: number, secret = SECRET): string => verpAddress(secret, DOMAIN, id, i);
const unsubscribe = (id: string, i: number): string =>
  `unsubscribe+${createToken(SECRET, 'unsubscribe', id, i)}@${DOMAIN}`;
const mid = (id: string, i: number): string => `<${id}.${i}@sender.example>`;

type Answer = { code: number; enhanced: string | undefined; stage: string };

/** One message over one SMTP session, as an MTA sends it; the server's answer. */
async function submit(w: World, to: string, raw: string, from = ''): Promise<Answer> {
  const client = new SmtpTestClient({ port: w.port, ignoreTLS: true });
  try {
    const { code, enhanced, stage } =
      (await client.connect()) ?? (await client.send({ from, to }, raw));
    return { code, enhanced, stage };
  } finally {
    await client.quit();
  }
}

/** Everything a report could change for a campaign and its tenant. */
async function snapshot(w: World, id: string): Promise<unknown> {
  return {
    campaign: await w.redis.hgetall(w.keys.campaign(id)),
    reasons: await w.store.reasonCounts(id),
    events: await w.redis.xlen(w.keys.events(id)),
    list: (await w.list.page(TENANT, { limit: 1000 })).entries,
  };
}

async function metric(w: World, name: string, labels: Record<string, string>): Promise<number> {
  const m = w.registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((s, v) => s + v.value, 0);
}

/** Count and sum of the mailto unsubscribe latencies observed so far. */
async function mailtoLatency(w: World): Promise<{ count: number; sum: number }> {
  const m = w.registry.getSingleMetric('volley_unsubscribe_suppression_seconds');
  const values = m ? (await m.get()).values : [];
  const of = (suffix: string) =>
    values.find(
      (v) =>
        v.labels.source === 'mailto' &&
        (v as { metricName?: string }).metricName ===
          `volley_unsubscribe_suppression_seconds${suffix}`,
    )?.value ?? 0;
  return { count: of('_count'), sum: of('_sum') };
}

const effects = (w: World, effect: string, reason: string): Promise<number> =>
  metric(w, 'volley_bounce_effects_total', { effect, reason });

describe('bounce SMTP server: addresses', () => {
  let w: World;
  before(async () => (w = await world()));
  after(() => w.close());

  test('takes VERP, unsubscribe and fbl addresses from the null sender; refuses everything else with 550 5.1.1 and counts why', async () => {
    const id = await campaign(w, 2);
    const token = createToken(SECRET, 'verp', id, 1);
    const flipped = `${token.slice(0, 10)}${token[10] === 'a' ? 'b' : 'a'}${token.slice(11)}`;
    const accepted = [verp(id, 0), verp(id, 0).toUpperCase(), unsubscribe(id, 1), `FBL@${DOMAIN}`];
    for (const to of accepted) {
      const a = await submit(w, to, autoReply('someone@example.org'));
      assert.deepEqual(a, { code: 250, enhanced: '2.6.0', stage: 'message' }, to);
    }
    const refused: [string, string][] = [
      [`fbl@other.example`, 'not_bounce_domain'],
      [`${verp(id, 0).split('@')[0]}@sub.${DOMAIN}`, 'not_bounce_domain'],
      [`postmaster@${DOMAIN}`, 'unknown_address'],
      [`bounces@${DOMAIN}`, 'unknown_address'],
      [`bounces+short@${DOMAIN}`, 'malformed_token'],
      [`bounces+${token}x@${DOMAIN}`, 'malformed_token'],
      [`bounces+${'a'.repeat(40)}@${DOMAIN}`, 'invalid_token'],
      [`bounces+${flipped}@${DOMAIN}`, 'invalid_token'],
      [verp(id, 1, 'another-deployments-secret-0123'), 'invalid_token'],
      // A token made for one purpose does not open the other address.
      [`unsubscribe+${token}@${DOMAIN}`, 'invalid_token'],
      [`bounces+${createToken(SECRET, 'unsubscribe', id, 1)}@${DOMAIN}`, 'invalid_token'],
    ];
    for (const [to, reason] of refused) {
      const before = await metric(w, 'volley_bounce_refused_total', { reason });
      const a = await submit(w, to, dsn({ recipient: 'r1@example.org', status: '5.1.1' }));
      assert.deepEqual(a, { code: 550, enhanced: '5.1.1', stage: 'rcpt' }, to);
      assert.equal(await metric(w, 'volley_bounce_refused_total', { reason }), before + 1, to);
    }
    assert.equal(await metric(w, 'volley_bounce_messages_total', {}), accepted.length);
  });

  test('a forged or altered token changes nothing, whatever the report says', async () => {
    const id = await campaign(w, 2);
    const before = await snapshot(w, id);
    const token = createToken(SECRET, 'verp', id, 0);
    for (let i = 0; i < token.length; i += 7) {
      const altered = `${token.slice(0, i)}${token[i] === 'z' ? 'y' : 'z'}${token.slice(i + 1)}`;
      const report = dsn({ recipient: 'r0@example.org', status: '5.1.1', messageId: mid(id, 0) });
      const a = await submit(w, `bounces+${altered}@${DOMAIN}`, report);
      assert.equal(a.code, 550);
    }
    // At fbl@, a report that names no message of ours is accepted and changes nothing.
    const a = await submit(
      w,
      `fbl@${DOMAIN}`,
      dsn({ recipient: 'r0@example.org', status: '5.1.1' }),
    );
    assert.equal(a.code, 250);
    assert.equal(await effects(w, 'unmatched', 'no_match'), 1);
    assert.deepEqual(await snapshot(w, id), before);
  });
});

describe('bounce SMTP server: effects', () => {
  // A world per test: the tests share recipient addresses, and suppression is per tenant.
  let w: World;
  beforeEach(async () => (w = await world()));
  afterEach(() => w.close());

  test('a DSN at a VERP address suppresses a hard bounce at once and counts a soft one', async () => {
    const id = await campaign(w, 3);
    const hard = dsn({ recipient: 'r0@example.org', status: '5.1.1', messageId: mid(id, 0) });
    assert.equal((await submit(w, verp(id, 0), hard)).code, 250);
    assert.deepEqual(await w.store.suppressedFlags(TENANT, ['r0@example.org']), [true]);
    const entry = await w.list.get(TENANT, 'r0@example.org');
    assert.deepEqual(
      [entry?.source, entry?.reason, entry?.campaignId],
      ['bounce', 'userunknown', id],
    );

    const soft = dsn({
      recipient: 'r1@example.org',
      status: '5.2.2',
      replyCode: 552,
      text: 'Mailbox full',
    });
    assert.equal((await submit(w, verp(id, 1), soft)).code, 250);
    assert.deepEqual(await w.store.suppressedFlags(TENANT, ['r1@example.org']), [false]);
    assert.equal(await redis.zcard(w.keys.softBounces(TENANT, 'r1@example.org')), 1);

    const { events } = await w.store.events(id, undefined, 100);
    const bounced = events.filter((e) => e.outcome === 'bounced');
    assert.deepEqual(
      bounced.map((e) => [
        e.index,
        e.reason,
        e.hardBounce,
        e.status,
        e.replyCode,
        e.source,
        e.late,
      ]),
      [
        [0, 'userunknown', true, '5.1.1', 550, 'dsn', true],
        [1, 'mailboxfull', false, '5.2.2', 552, 'dsn', true],
      ],
    );
    const rec = await w.store.get(id);
    assert.deepEqual([rec?.counts.sent, rec?.counts.lateBounced], [3, 2]);
    assert.equal(await effects(w, 'hard_bounce', 'userunknown'), 1);
    assert.equal(await effects(w, 'soft_bounce', 'mailboxfull'), 1);

    // The same DSN again (an MTA that retried after a lost 250) changes nothing.
    const before = await snapshot(w, id);
    assert.equal((await submit(w, verp(id, 0), hard)).code, 250);
    assert.deepEqual(await snapshot(w, id), before);
    assert.equal(await effects(w, 'repeated', 'userunknown'), 1);
  });

  test('an ARF report at fbl@ is a complaint: by the VERP path it quotes, or by Message-ID only for the address it names', async () => {
    const id = await campaign(w, 4);
    // Redacted: no recipient named, but the quoted return path is signed.
    const byPath = arf({ returnPath: verp(id, 0), messageId: mid(id, 0) });
    assert.equal((await submit(w, `fbl@${DOMAIN}`, byPath, 'fbl@mailbox.example')).code, 250);
    const c0 = await w.list.get(TENANT, 'r0@example.org');
    assert.deepEqual([c0?.source, c0?.reason], ['complaint', 'abuse']);

    const byId = arf({ rcptTo: 'r1@example.org', messageId: mid(id, 1), feedbackType: 'fraud' });
    assert.equal((await submit(w, `fbl@${DOMAIN}`, byId)).code, 250);
    const c1 = await w.list.get(TENANT, 'r1@example.org');
    assert.deepEqual([c1?.source, c1?.reason], ['complaint', 'fraud']);

    // A Message-ID names recipient 2, but the report is about someone else's address: a forged
    // id, or a report about a message that was not ours. Nothing changes for recipient 2.
    const before = await snapshot(w, id);
    const forged = arf({ rcptTo: 'mallory@evil.example', messageId: mid(id, 2) });
    assert.equal((await submit(w, `fbl@${DOMAIN}`, forged)).code, 250);
    const redacted = arf({ messageId: mid(id, 2) });
    assert.equal((await submit(w, `fbl@${DOMAIN}`, redacted)).code, 250);
    assert.deepEqual(await snapshot(w, id), before);
    assert.equal(await effects(w, 'unmatched', 'address_mismatch'), 2);

    // A "not spam" vote is no complaint.
    const notSpam = arf({ returnPath: verp(id, 3), feedbackType: 'not-spam' });
    assert.equal((await submit(w, `fbl@${DOMAIN}`, notSpam)).code, 250);
    assert.deepEqual(await snapshot(w, id), before);

    const { events } = await w.store.events(id, undefined, 100);
    assert.deepEqual(
      events.filter((e) => e.outcome === 'complained').map((e) => [e.index, e.reason, e.source]),
      [
        [0, 'abuse', 'arf'],
        [1, 'fraud', 'arf'],
      ],
    );
  });

  test('mail to unsubscribe+<token> unsubscribes the address (mailto), once', async () => {
    const id = await campaign(w, 2);
    const to = unsubscribe(id, 1);
    const timed = await mailtoLatency(w);
    const started = process.hrtime.bigint();
    assert.equal(
      (await submit(w, to, unsubscribeMail('r1@example.org', to), 'r1@example.org')).code,
      250,
    );
    const session = Number(process.hrtime.bigint() - started) / 1e9;
    const e = await w.list.get(TENANT, 'r1@example.org');
    assert.deepEqual([e?.source, e?.reason], ['unsubscribe', 'mailto']);
    // Its time to the suppression list is observed (source mailto), from within the session.
    const first = await mailtoLatency(w);
    assert.equal(first.count, timed.count + 1);
    const took = first.sum - timed.sum;
    assert.ok(took > 0 && took <= session, `${took} s within the ${session} s session`);
    const before = await snapshot(w, id);
    assert.equal((await submit(w, to, unsubscribeMail('r1@example.org', to))).code, 250);
    assert.deepEqual(await snapshot(w, id), before);
    // Asked again, the address is on the list again as fast: timed as a one-click repeat is.
    assert.equal((await mailtoLatency(w)).count, timed.count + 2);
    const rec = await w.store.get(id);
    assert.equal(rec?.counts.unsubscribed, 1);
    assert.deepEqual(await w.store.suppressedFlags(TENANT, ['r0@example.org']), [false]);
  });

  test('auto-replies, delay warnings and success notices change nothing and are counted', async () => {
    const id = await campaign(w, 1);
    const before = await snapshot(w, id);
    const cases: [string, string][] = [
      [autoReply('r0@example.org'), 'vacation'],
      [dsn({ recipient: 'r0@example.org', status: '4.4.1', action: 'delayed' }), 'delayed'],
      [dsn({ recipient: 'r0@example.org', status: '2.0.0', action: 'delivered' }), 'delivered'],
      ['Subject: hello\r\n\r\njust a message\r\n', 'not_report'],
    ];
    for (const [raw, reason] of cases) {
      assert.equal((await submit(w, verp(id, 0), raw)).code, 250, reason);
      assert.equal(await effects(w, 'no_effect', reason), 1, reason);
    }
    // An out-of-office notice that reaches the unsubscribe address is not a request to leave,
    // and no unsubscribe is timed.
    const timed = await mailtoLatency(w);
    assert.equal((await submit(w, unsubscribe(id, 0), autoReply('r0@example.org'))).code, 250);
    assert.deepEqual(await snapshot(w, id), before);
    assert.deepEqual(await mailtoLatency(w), timed);
  });

  test('a bounce forwarded to fbl@ with no return path in it acts by its Message-ID, only for the address it names', async () => {
    const id = await campaign(w, 2);
    // Someone forwards the DSN they got: no VERP address anywhere, only the returned headers.
    const forwarded = dsn({ recipient: 'r1@example.org', status: '5.1.1', messageId: mid(id, 1) });
    assert.doesNotMatch(forwarded, /bounces\+/);
    assert.equal((await submit(w, `fbl@${DOMAIN}`, forwarded, 'someone@example.net')).code, 250);
    const entry = await w.list.get(TENANT, 'r1@example.org');
    assert.deepEqual(
      [entry?.source, entry?.reason, entry?.campaignId],
      ['bounce', 'userunknown', id],
    );
    assert.equal(await effects(w, 'hard_bounce', 'userunknown'), 1);

    // The same, but the Message-ID is recipient 0's while the report names someone else.
    const before = await snapshot(w, id);
    const other = dsn({
      recipient: 'stranger@example.org',
      status: '5.1.1',
      messageId: mid(id, 0),
    });
    assert.equal((await submit(w, `fbl@${DOMAIN}`, other)).code, 250);
    assert.deepEqual(await snapshot(w, id), before);
    assert.equal(await effects(w, 'unmatched', 'address_mismatch'), 1);
  });

  test("a bounce at another message's VERP address acts on the message it returns, only for that message's address", async () => {
    const id = await campaign(w, 3);
    // Recipient 0's return path, recipient 1's message and address: a forwarded bounce.
    const forwarded = dsn({ recipient: 'r1@example.org', status: '5.1.1', messageId: mid(id, 1) });
    assert.equal((await submit(w, verp(id, 0), forwarded)).code, 250);
    assert.deepEqual(await w.store.suppressedFlags(TENANT, ['r0@example.org', 'r1@example.org']), [
      false,
      true,
    ]);
    // Recipient 0's token with a Message-ID of recipient 2 and recipient 0's own address: the
    // id is not signed, and recipient 2 is not the address the report names.
    const before = await snapshot(w, id);
    const crossed = dsn({ recipient: 'r0@example.org', status: '5.1.1', messageId: mid(id, 2) });
    assert.equal((await submit(w, verp(id, 0), crossed)).code, 250);
    assert.deepEqual(await snapshot(w, id), before);
  });
});

describe('bounce SMTP server: limits', () => {
  test('Redis unavailable: the message is answered 451, and applied when the MTA sends it again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'volley-inbound-'));
    let own = await startLocalRedis({ dataDir });
    const r = connectRedis(own.url, { name: 'inbound-451', maxRetriesPerRequest: 1 });
    r.on('error', () => {
      // Connection refused while Redis is stopped: what the test is about.
    });
    await r.ping();
    const w = await world({ redis: r });
    try {
      const id = await campaign(w, 1);
      const report = dsn({ recipient: 'r0@example.org', status: '5.1.1' });
      await own.stop();
      const a = await submit(w, verp(id, 0), report);
      assert.deepEqual(a, { code: 451, enhanced: '4.3.0', stage: 'message' });
      assert.equal(await metric(w, 'volley_bounce_temporary_failures_total', {}), 1);
      assert.equal(await metric(w, 'volley_bounce_effects_total', {}), 0, 'nothing counted yet');

      // A graceful restart keeps the data (AOF); the MTA's retry is then applied.
      own = await startLocalRedis({ dataDir, port: own.port });
      await r.ping();
      assert.equal((await submit(w, verp(id, 0), report)).code, 250);
      assert.deepEqual(await w.store.suppressedFlags(TENANT, ['r0@example.org']), [true]);
      assert.equal(await effects(w, 'hard_bounce', 'userunknown'), 1);
    } finally {
      await w.close();
      r.disconnect();
      await own.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a client over its rate gets 421 until its bucket refills; other clients are not affected', async () => {
    let now = 1_000_000;
    const w = await world({ rateLimit: 4, now: () => now });
    try {
      const id = await campaign(w, 1);
      // Each session costs two tokens: the connection and its message.
      assert.equal((await submit(w, verp(id, 0), autoReply('a@example.org'))).code, 250);
      assert.equal((await submit(w, verp(id, 0), autoReply('a@example.org'))).code, 250);
      const refused = await submit(w, verp(id, 0), autoReply('a@example.org'));
      assert.deepEqual([refused.code, refused.stage], [421, 'greeting']);
      assert.equal(await metric(w, 'volley_bounce_refused_total', { reason: 'rate_limited' }), 1);
      now += 30_000; // half a minute: 2 of the 4 tokens back
      assert.equal((await submit(w, verp(id, 0), autoReply('a@example.org'))).code, 250);
    } finally {
      await w.close();
    }
  });

  test('connections beyond the limit are answered 421 at the greeting; a freed slot takes the next one', async () => {
    const w = await world({ maxClients: 2 });
    const held = [0, 1].map(() => new SmtpTestClient({ port: w.port, ignoreTLS: true }));
    const extra: SmtpTestClient[] = [];
    try {
      for (const c of held) assert.equal(await c.connect(), undefined, 'within the limit');
      const third = new SmtpTestClient({ port: w.port, ignoreTLS: true });
      extra.push(third);
      const refused = await third.connect();
      assert.deepEqual([refused?.code, refused?.stage], [421, 'greeting']);
      await held[0]?.quit();
      // The server forgets a session when its socket closes, which the client does not see.
      await waitUntil(async () => {
        const c = new SmtpTestClient({ port: w.port, ignoreTLS: true });
        extra.push(c);
        return (await c.connect()) === undefined;
      }, 'a connection taken after one of the two ended');
      const id = await campaign(w, 1);
      const last = extra.at(-1);
      const a = await last?.send({ from: '', to: verp(id, 0) }, autoReply('a@example.org'));
      assert.equal(a?.code, 250);
    } finally {
      for (const c of [...held, ...extra]) await c.quit();
      await w.close();
    }
  });

  test('a message over the size limit is refused with 552 and changes nothing', async () => {
    const w = await world({ maxMessageBytes: 64 * 1024 });
    try {
      const id = await campaign(w, 1);
      const before = await snapshot(w, id);
      const big =
        dsn({ recipient: 'r0@example.org', status: '5.1.1' }) + 'x'.repeat(70_000) + '\r\n';
      // A client that declares the size (SIZE=, RFC 1870) is refused before it sends it ...
      const declared = await rawSession(w.port, [
        'EHLO mta.example',
        `MAIL FROM:<> SIZE=${Buffer.byteLength(big)}`,
        'QUIT',
      ]);
      assert.match(declared[2] ?? '', /^552 /);
      // ... and one that does not, once the data has passed the limit.
      const replies = await rawSession(w.port, [
        'EHLO mta.example',
        'MAIL FROM:<>',
        `RCPT TO:<${verp(id, 0)}>`,
        'DATA',
        `${big}.`,
        'QUIT',
      ]);
      assert.match(replies[5] ?? '', /^552 5\.3\.4 /);
      assert.equal(await metric(w, 'volley_bounce_refused_total', { reason: 'too_large' }), 1);
      assert.deepEqual(await snapshot(w, id), before);
    } finally {
      await w.close();
    }
  });

  test('STARTTLS is offered with a certificate and not without one', async () => {
    const plain = await world();
    const tls = await world({ tls: { cert: TLS_CERT, key: TLS_KEY } });
    try {
      const ehlo = async (port: number): Promise<string> =>
        (await rawSession(port, ['EHLO mta.example', 'QUIT']))[1] ?? '';
      assert.doesNotMatch(await ehlo(plain.port), /STARTTLS/);
      assert.match(await ehlo(tls.port), /STARTTLS/);
      const client = new SmtpTestClient({ port: tls.port, tls: { rejectUnauthorized: false } });
      try {
        await client.connect();
        assert.equal(client.secure, true, 'the session is upgraded');
        const id = await campaign(tls, 1);
        const reply = await client.send(
          { from: '', to: verp(id, 0) },
          dsn({ recipient: 'r0@example.org', status: '5.1.1' }),
        );
        assert.equal(reply.code, 250);
      } finally {
        await client.quit();
      }
    } finally {
      await plain.close();
      await tls.close();
    }
  });
});

describe('bounce SMTP server: after retention', () => {
  const DAY = 86_400_000;
  let w: World;
  let id: string;
  /** The return path a sender wrote for recipient `i` (`r<i>@example.org`), with its address tag. */
  const tagged = (i: number): string => verpAddress(SECRET, DOMAIN, id, i, `r${i}@example.org`);
  const suppressed = async (email: string): Promise<string | undefined> =>
    (await w.list.get(TENANT, email))?.reason;

  before(async () => {
    w = await world();
    id = await campaign(w, 6);
    const later = Date.now() + 31 * DAY;
    const retention = new Retention(w.redis, w.keys, { retentionMs: 30 * DAY, clock: () => later });
    assert.deepEqual((await retention.sweep()).purged, [id]);
  });
  after(() => w.close());

  test('a DSN naming the address only as Original-Recipient (forwarded to an alias) suppresses it', async () => {
    const report = dsn({
      returnPath: tagged(0),
      recipient: 'alias@forward.example',
      status: '5.1.1',
    }).replace(
      'Final-Recipient: rfc822; alias@forward.example',
      'Final-Recipient: rfc822; alias@forward.example\r\nOriginal-Recipient: rfc822; R0@Example.org',
    );
    assert.equal((await submit(w, tagged(0), report)).code, 250);
    assert.equal(await suppressed('r0@example.org'), 'userunknown');
    assert.equal(await suppressed('alias@forward.example'), undefined);
  });

  test("a DSN naming another address but returning headers whose To is the token's suppresses the To", async () => {
    const report = dsn({
      returnPath: tagged(1),
      recipient: 'alias@forward.example',
      status: '5.1.1',
    }).replace('To: alias@forward.example', 'To: r1@example.org');
    assert.equal((await submit(w, tagged(1), report)).code, 250);
    assert.equal(await suppressed('r1@example.org'), 'userunknown');
    assert.equal(await suppressed('alias@forward.example'), undefined);
  });

  test('a soft bounce counts towards the limit without suppressing; a delay warning changes nothing', async () => {
    const before = await snapshot(w, id);
    const delayed = dsn({
      returnPath: tagged(2),
      recipient: 'r2@example.org',
      status: '4.2.2',
      action: 'delayed',
    });
    assert.equal((await submit(w, tagged(2), delayed)).code, 250);
    const full = dsn({ returnPath: tagged(2), recipient: 'r2@example.org', status: '5.2.2' });
    assert.equal((await submit(w, tagged(2), full)).code, 250);
    assert.equal(await suppressed('r2@example.org'), undefined);
    assert.equal(await w.redis.zcard(w.keys.softBounces(TENANT, 'r2@example.org')), 1);
    assert.equal(
      await metric(w, 'volley_feedback_after_retention_total', { effect: 'soft_bounce' }),
      1,
    );
    // The campaign's summary, counts and events stay as retention left them.
    assert.deepEqual(await snapshot(w, id), before);
  });

  test('a token without an address tag (sent before they had one) names nobody after retention', async () => {
    const before = await snapshot(w, id);
    const unknown = await effects(w, 'unmatched', 'unknown_recipient');
    for (const [to, raw] of [
      [verp(id, 3), dsn({ returnPath: verp(id, 3), recipient: 'r3@example.org', status: '5.1.1' })],
      [unsubscribe(id, 4), unsubscribeMail('r4@example.org', unsubscribe(id, 4))],
    ] as const) {
      assert.equal((await submit(w, to, raw, 'r4@example.org')).code, 250);
    }
    assert.equal(await effects(w, 'unmatched', 'unknown_recipient'), unknown + 2);
    assert.deepEqual(await snapshot(w, id), before);
  });
});

/**
 * Speaks SMTP line by line, one command per reply, the way a minimal MTA does (no pipelining,
 * and SIZE= only when a command spells it); answers the greeting and each command's reply.
 */
function rawSession(port: number, commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const replies: string[] = [];
    let buf = '';
    let next = 0;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      // A reply is complete at a line whose code is followed by a space.
      for (let m = /^(\d{3}) [^\n]*\n/m.exec(buf); m; m = /^(\d{3}) [^\n]*\n/m.exec(buf)) {
        replies.push(buf.slice(0, m.index + m[0].length).trim());
        buf = buf.slice(m.index + m[0].length);
        const command = commands[next++];
        if (command === undefined) sock.end();
        else sock.write(`${command}\r\n`);
      }
    });
    sock.once('error', reject);
    sock.once('close', () => resolve(replies));
  });
}
