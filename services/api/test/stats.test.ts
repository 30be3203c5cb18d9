import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPServer } from 'smtp-server';
import type { FastifyInstance } from 'fastify';
import { waitUntil } from '@volley/testkit';
import { Shaper, defaultPolicy } from '@volley/shaping';
import { Harness, sharedRedis } from '@volley/sender/test-harness';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

interface Stats {
  id: string;
  status: string;
  at: string;
  counts: Record<string, number>;
  reasons: Record<'sent' | 'bounced' | 'suppressed' | 'failed', Record<string, number>>;
  progress: { done: number; remaining: number; fraction: number };
  rate: { perSecond: number; windowSeconds: number };
  eta: {
    at: string | null;
    seconds: number | null;
    note?: string;
    limitedBy?: { destination: string; remaining: number; ratePerSec: number };
  };
}

let fx: ApiFixture;
let shared: Awaited<ReturnType<typeof sharedRedis>>;

before(async () => {
  [fx, shared] = await Promise.all([apiFixture(), sharedRedis()]);
});
after(async () => {
  await Promise.all([fx.close(), shared.stop()]);
});

const CONTENT = { from: 'news@sender.example', subject: 'Hi {{name}}', text: 'Hello {{name}}' };

async function create(app: FastifyInstance, payload: Record<string, unknown>): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/campaigns', headers: auth, payload });
  assert.equal(res.statusCode, 202, res.body);
  return res.json<{ id: string }>().id;
}

async function stats(app: FastifyInstance, id: string): Promise<Stats> {
  const res = await app.inject({ url: `/v1/campaigns/${id}/stats`, headers: auth });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Stats>();
}

function people(n: number, domain = 'one.example'): { email: string; vars: { name: string } }[] {
  return Array.from({ length: n }, (_, i) => ({
    email: `p${i}@${domain}`,
    vars: { name: `P${i}` },
  }));
}

/** SMTP replies the sink gives at RCPT TO, by address; any other address is accepted. */
const REFUSALS: Record<string, { code: number; message: string }> = {
  'gone1@one.example': { code: 550, message: '5.1.1 user unknown' },
  'gone2@two.example': { code: 550, message: '5.1.1 user unknown' },
  'gone3@three.example': { code: 550, message: '5.1.1 user unknown' },
  'full1@one.example': { code: 552, message: '5.2.2 mailbox full' },
  'full2@two.example': { code: 552, message: '5.2.2 mailbox full' },
};

interface Sink {
  port: number;
  accepted: number;
  /** Answers every message held so far and stops holding. */
  release(): void;
  close(): Promise<void>;
}

/**
 * A receiving server (npm smtp-server) that refuses the addresses in REFUSALS with their reply
 * and accepts the others. With `holdAfter`, it answers the first `holdAfter` messages at once
 * and keeps the DATA reply of the rest until `release()`: the campaign stays running for as
 * long as the test needs, whatever the machine's speed.
 */
async function startSink(holdAfter = Infinity): Promise<Sink> {
  const held: (() => void)[] = [];
  let holding = true;
  const sink = {
    port: 0,
    accepted: 0,
    release() {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      const refusal = REFUSALS[address.address];
      if (!refusal) return callback();
      callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        const answer = () => {
          sink.accepted++;
          callback();
        };
        if (holding && sink.accepted + held.length >= holdAfter) held.push(answer);
        else answer();
      });
    },
  });
  server.on('error', () => {
    // Per-connection protocol errors; the sink keeps serving.
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.server.address();
  sink.port = typeof addr === 'object' && addr ? addr.port : 0;
  return sink;
}

const MIXED = [
  ...people(15),
  ...Object.keys(REFUSALS).map((email) => ({ email, vars: { name: 'X' } })),
];

describe('GET /v1/campaigns/:id/stats', () => {
  test('counts, reasons, progress, rate and ETA follow the recorded outcomes; deferred recipients are not done', async () => {
    const id = await create(fx.app, { ...CONTENT, recipients: people(100) });
    for (let i = 20; i < 25; i++) {
      await fx.store.defer(id, i, `p${i}@one.example`, {
        reason: 'systemfull',
        detail: '452 4.2.2 try later',
        lowWater: 0,
      });
    }

    // Outcomes recorded 2 s ago, just before the GET: in a whole second of the 10 s rate
    // window (never the current, uncounted one) unless the GET takes more than 7 s.
    const at = Date.now() - 2000;
    const entries = [
      ...Array.from({ length: 15 }, (_, i) => ({
        outcome: 'sent' as const,
        reason: 'delivered',
        i,
      })),
      ...[15, 16, 17].map((i) => ({ outcome: 'bounced' as const, reason: 'userunknown', i })),
      ...[18, 19].map((i) => ({ outcome: 'bounced' as const, reason: 'mailboxfull', i })),
    ];
    await fx.store.finalizeMany(
      id,
      'default',
      entries.map((e) => ({
        index: e.i,
        email: `p${e.i}@one.example`,
        outcome: e.outcome,
        reason: e.reason,
      })),
      0,
      at,
    );

    const before = Date.now();
    const s = await stats(fx.app, id);
    const afterMs = Date.now();
    assert.equal(s.status, 'running');
    assert.deepEqual(
      [s.counts.total, s.counts.sent, s.counts.bounced, s.counts.deferred, s.counts.queued],
      [100, 15, 5, 5, 75],
    );
    assert.deepEqual(s.reasons, {
      sent: { delivered: 15 },
      bounced: { userunknown: 3, mailboxfull: 2 },
      suppressed: {},
      failed: {},
    });
    assert.deepEqual(s.progress, { done: 20, remaining: 80, fraction: 0.2 });
    assert.deepEqual(s.rate, { perSecond: 2, windowSeconds: 10 });
    assert.equal(s.eta.seconds, 40, '80 remaining at 2 per second');
    const eta = Date.parse(s.eta.at ?? '');
    assert.ok(eta >= before + 40_000 && eta <= afterMs + 40_000, s.eta.at ?? 'no eta');
  });

  test('a campaign that is not running has no ETA, and says why', async () => {
    const draft = await create(fx.app, { ...CONTENT, draft: true, recipients: people(3) });
    const d = await stats(fx.app, draft);
    assert.equal(d.status, 'draft');
    assert.deepEqual(d.progress, { done: 0, remaining: 3, fraction: 0 });
    assert.equal(d.rate.perSecond, 0);
    assert.deepEqual([d.eta.at, d.eta.seconds], [null, null]);
    assert.match(d.eta.note ?? '', /not started/);

    const paused = await create(fx.app, { ...CONTENT, recipients: people(3) });
    await fx.store.finalize(
      paused,
      'default',
      { index: 0, email: 'p0@one.example', outcome: 'sent', reason: 'delivered' },
      0,
      Date.now() - 2000,
    );
    await fx.app.inject({ method: 'POST', url: `/v1/campaigns/${paused}/pause`, headers: auth });
    const p = await stats(fx.app, paused);
    assert.equal(p.status, 'paused');
    assert.ok(p.rate.perSecond > 0, 'the rate still shows what was sent before the pause');
    assert.equal(p.eta.at, null);
    assert.match(p.eta.note ?? '', /paused/);
  });

  test("another tenant's campaign is a 404", async () => {
    const id = fx.store.newId();
    await fx.store.create(id, { tenant: 'someone-else', ...CONTENT });
    const res = await fx.app.inject({ url: `/v1/campaigns/${id}/stats`, headers: auth });
    assert.equal(res.statusCode, 404, res.body);
  });

  test('bounces are counted by the reason the receiving server gave; a completed campaign has progress 1', async () => {
    const sink = await startSink();
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 1, env: { VOLLEY_SMTP_RELAY: `smtp://127.0.0.1:${sink.port}` } });
    try {
      const id = await create(h.app, { ...CONTENT, recipients: MIXED });
      await h.completed(id);
      const s = await stats(h.app, id);
      assert.equal(s.status, 'completed');
      assert.deepEqual(s.reasons, {
        sent: { delivered: 15 },
        bounced: { userunknown: 3, mailboxfull: 2 },
        suppressed: {},
        failed: {},
      });
      assert.equal(sink.accepted, 15);
      assert.deepEqual([s.counts.sent, s.counts.bounced, s.counts.queued], [15, 5, 0]);
      assert.deepEqual(s.progress, { done: 20, remaining: 0, fraction: 1 });
      assert.deepEqual([s.eta.at, s.eta.seconds], [null, null]);
      assert.match(s.eta.note ?? '', /completed/);
    } finally {
      await h.stop();
      await sink.close();
    }
  });

  test('while messages are being sent the rate is above zero and there is an ETA', async () => {
    // Five messages are answered at once; the rest wait until the test has seen the rate.
    const sink = await startSink(5);
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 1, env: { VOLLEY_SMTP_RELAY: `smtp://127.0.0.1:${sink.port}` } });
    try {
      const id = await create(h.app, { ...CONTENT, recipients: MIXED });
      let seen: Stats | undefined;
      await waitUntil(async () => {
        seen = await stats(h.app, id);
        return seen.rate.perSecond > 0;
      }, 'a rate above zero while the campaign runs');
      const s = seen as Stats;
      assert.equal(s.status, 'running', 'held messages keep the campaign running');
      assert.ok(s.progress.remaining > 0 && s.progress.fraction < 1, JSON.stringify(s.progress));
      assert.ok(s.eta.seconds !== null && s.eta.seconds > 0, JSON.stringify(s.eta));
      assert.ok(Date.parse(s.eta.at ?? '') > Date.parse(s.at), JSON.stringify(s.eta));
      assert.equal(s.eta.note, undefined);

      sink.release();
      await h.completed(id);
      const done = await stats(h.app, id);
      assert.equal(done.progress.fraction, 1);
      assert.equal(done.counts.sent, 15);
    } finally {
      sink.release();
      await h.stop();
      await sink.close();
    }
  });
});

describe('ETA per destination', () => {
  let shaped: ApiFixture;
  before(async () => {
    // The default policy, as a deployment runs it: Microsoft's consumer domains share 50/s,
    // every other domain has 50/s of its own.
    shaped = await apiFixture(
      { bodyLimit: 1024 * 1024, maxInlineRecipients: 5000 },
      (redis, keys) => ({
        shaper: new Shaper({ redis, prefix: keys.prefix, policy: defaultPolicy() }),
      }),
    );
  });
  after(() => shaped.close());

  const FAST = ['a', 'b', 'c', 'd', 'e', 'f'].map((l) => `${l}.example`);
  const list = [
    ...FAST.flatMap((d) => people(500, d)),
    // The tail: 2,000 recipients at Microsoft, whose domains share one limit.
    ...people(1000, 'hotmail.com'),
    ...people(1000, 'outlook.com'),
  ];

  /** Records outcomes `ms` ago, as the senders do, in calls of a few hundred. */
  async function sent(id: string, indexes: number[], ms: number): Promise<void> {
    const at = Date.now() - ms;
    for (let i = 0; i < indexes.length; i += 500) {
      await shaped.store.finalizeMany(
        id,
        'default',
        indexes.slice(i, i + 500).map((index) => ({
          index,
          email: list[index]?.email ?? '',
          outcome: 'sent' as const,
          reason: 'delivered',
        })),
        0,
        at,
      );
    }
  }
  const range = (from: number, to: number): number[] =>
    Array.from({ length: to - from }, (_, i) => from + i);

  test("a list whose tail is a rate-limited provider gets that provider's backlog over its rate, not remaining / overall rate; the ETA shrinks as it is sent", async () => {
    const id = await create(shaped.app, { ...CONTENT, recipients: list });
    // The six fast domains sent in full, 3,000 outcomes in the rate window: 300/s overall.
    await sent(id, range(0, 3000), 2000);
    const early = await stats(shaped.app, id);
    assert.equal(early.rate.perSecond, 300);
    assert.equal(early.progress.remaining, 2000);
    const overall = early.progress.remaining / early.rate.perSecond;
    assert.ok(Math.abs(overall - 6.7) < 0.1, 'what the overall rate alone predicts');
    assert.equal(early.eta.seconds, 40, "Microsoft's 2,000 at their shared 50/s");
    assert.deepEqual(early.eta.limitedBy, {
      destination: 'provider:microsoft',
      remaining: 2000,
      ratePerSec: 50,
    });

    // Half of Microsoft's recipients sent: its backlog, and the ETA, halve.
    await sent(id, [...range(3000, 3500), ...range(4000, 4500)], 1500);
    const later = await stats(shaped.app, id);
    assert.equal(later.progress.remaining, 1000);
    assert.equal(later.eta.seconds, 20);
    assert.equal(later.eta.limitedBy?.remaining, 1000);

    // Microsoft throttles (451 4.7.650, five times: the policy halves its rate): the ETA
    // follows the rate in force.
    const shaper = new Shaper({
      redis: shaped.redis,
      prefix: shaped.keys.prefix,
      policy: defaultPolicy(),
    });
    const plan = shaper.plan('hotmail.com');
    for (let i = 0; i < 5; i++) {
      await shaper.observe(plan, {
        code: 451,
        text: '451 4.7.650 The mail server has been temporarily rate limited due to IP reputation',
      });
    }
    const slowed = await stats(shaped.app, id);
    assert.equal(slowed.eta.seconds, 40, '1,000 left at 25/s');
    assert.equal(slowed.eta.limitedBy?.ratePerSec, 25);

    // Everything sent: no backlog is left behind in Redis.
    await sent(id, [...range(3500, 4000), ...range(4500, 5000)], 1000);
    const done = await stats(shaped.app, id);
    assert.equal(done.status, 'completed');
    assert.equal(await shaped.redis.exists(shaped.keys.destinations(id)), 0);
  });
});
