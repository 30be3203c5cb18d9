// The bounce service killed (SIGKILL) while a real MTA hands it a DSN: in the middle of the
// message's body, after the whole message arrived but before anything was stored, and after
// its effects were stored but before the 250. Postfix is the sending MTA: it must get no 250
// for what was not durably taken, keep the message and deliver it again once the service is
// back, and the address must end suppressed with the bounce counted exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CampaignStore, SuppressionList } from '@volley/campaigns';
import { Keys } from '@volley/contracts';
import { verpAddress } from '@volley/message';
import { connectRedis, freePort, type RedisClient } from '@volley/redis';
import { dsn, sentCampaign } from '@volley/bounce/test-reports';
import {
  SmtpTestClient,
  loopbackNexthop,
  startPostfix,
  startRedis,
  uniquePrefix,
  waitUntil,
  type PostfixInstance,
} from '@volley/testkit';
import { startGate, type Conversation, type Gate, type HoldRule } from './gate.ts';
import { DOMAIN, SECRET, sample, startBounceService, type BounceService } from './service.ts';

const TENANT = 'default';

let redisServer: Awaited<ReturnType<typeof startRedis>>;
let redis: RedisClient;
let keys: Keys;
let store: CampaignStore;
let list: SuppressionList;
/** Between Postfix and the bounce service: stops in the middle of a message. */
let smtpGate: Gate;
/** Between the bounce service and Redis: stops before a command or before its answer. */
let redisGate: Gate;
let pf: PostfixInstance;
let smtpPort: number;
let bounce: BounceService | undefined;

/** The service on its fixed port, so that Postfix's next hop stays the same across restarts. */
async function startService(): Promise<BounceService> {
  bounce = await startBounceService({
    REDIS_URL: `redis://127.0.0.1:${redisGate.port}`,
    VOLLEY_REDIS_PREFIX: keys.prefix,
    VOLLEY_BOUNCE_SMTP_PORT: String(smtpPort),
  });
  return bounce;
}

async function kill(): Promise<void> {
  assert.ok(bounce);
  const code = await bounce.proc.stop('SIGKILL');
  assert.equal(code, null, 'killed by the signal, not exited on its own');
  bounce = undefined;
}

before(async () => {
  redisServer = await startRedis();
  redis = connectRedis(redisServer.url, { name: 'bounce-crash-test' });
  keys = new Keys(uniquePrefix('crash'));
  store = new CampaignStore(redis, keys);
  list = new SuppressionList(redis, keys);
  redisGate = await startGate(Number(new URL(redisServer.url).port));
  smtpPort = await freePort();
  smtpGate = await startGate(smtpPort);
  pf = await startPostfix({ transport: { [DOMAIN]: loopbackNexthop(smtpGate.port) } });
  await startService();
  // One report before any crash: the service's effects script is then loaded in Redis, so a
  // stop after the script's call is a stop after its effects (not after a NOSCRIPT reply).
  const warm = await bounceOf('warm-up@dest.test');
  await mta(warm);
  await waitUntil(async () => (await suppressedEntries(warm.email)) === 1, 'the warm-up bounce');
});

after(async () => {
  await bounce?.proc.stop('SIGTERM', 10_000);
  await pf?.stop();
  await smtpGate?.close();
  await redisGate?.close();
  redis?.disconnect();
  await redisServer?.stop();
});

interface Bounce {
  id: string;
  email: string;
  verp: string;
  raw: string;
}

/** A sent campaign of one recipient, and the DSN its receiving server would write for it. */
async function bounceOf(email: string): Promise<Bounce> {
  const id = await sentCampaign(store, TENANT, [email]);
  const verp = verpAddress(SECRET, DOMAIN, id, 0);
  const raw = dsn({
    returnPath: verp,
    recipient: email,
    status: '5.1.1',
    messageId: `<${id}.0@sender.example>`,
  });
  return { id, email, verp, raw };
}

/** Hands the DSN to Postfix, addressed to the VERP return path, as the remote MTA did. */
async function mta(b: Bounce): Promise<void> {
  const client = new SmtpTestClient({ port: pf.port, ignoreTLS: true });
  try {
    await client.connect();
    const answer = await client.send({ from: '', to: b.verp }, b.raw);
    assert.equal(answer.code, 250, `Postfix queued the DSN: ${answer.text}`);
  } finally {
    await client.quit();
  }
}

async function suppressedEntries(email: string): Promise<number> {
  const page = await list.page(TENANT, { limit: 1000 });
  return page.entries.filter((e) => e.email === email).length;
}

/** Everything the DSN can change: the campaign, its events and reasons, the tenant's list. */
async function effects(b: Bounce): Promise<unknown> {
  const rec = await store.get(b.id);
  const { events } = await store.events(b.id, undefined, 100);
  return {
    counts: rec?.counts,
    reasons: await store.reasonCounts(b.id),
    events: events.map((e) => [e.outcome, e.reason, e.late ?? false]),
    suppressed: await suppressedEntries(b.email),
    entry: await list.get(TENANT, b.email).then((e) => e && [e.source, e.reason, e.campaignId]),
  };
}

/** What one applied hard bounce leaves, and nothing more. */
function appliedOnce(b: Bounce, rec: unknown): unknown {
  const counts = (rec as { counts: Record<string, number> }).counts;
  return {
    counts: { ...counts, sent: 1, lateBounced: 1 },
    reasons: { 'sent:delivered': 1, 'lateBounced:userunknown': 1 },
    events: [
      ['sent', 'delivered', false],
      ['bounced', 'userunknown', true],
    ],
    suppressed: 1,
    entry: ['bounce', 'userunknown', b.id],
  };
}

/** Postfix still holds the DSN for the VERP address (`deferred`: after a failed attempt). */
async function queued(b: Bounce, deferred = false): Promise<boolean> {
  const q = await pf.queue();
  return q.some((m) =>
    m.recipients.some((r) => r.address === b.verp && (!deferred || r.delayReason !== undefined)),
  );
}

/** The replies on a conversation after its DATA's 354: a 250 there would take the message. */
function afterData(c: Conversation): string {
  const at = c.replies.indexOf('\r\n354 ');
  assert.ok(at >= 0, `the service answered DATA with 354:\n${c.replies}`);
  return c.replies.slice(at + 2);
}

/** `p`, or a failure naming `what` after 30 s: a stop that never comes must not hang the test. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 30_000);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends `b` through Postfix, stops at `rule` on `gate`, kills the service there; returns the
 * stopped conversation between Postfix and the service.
 */
async function crashAt(b: Bounce, gate: Gate, rule: HoldRule): Promise<Conversation> {
  // A test that failed before its restart leaves no service behind for the next one.
  if (!bounce) await startService();
  const stopped = gate.hold(rule);
  const before = smtpGate.conversations.length;
  await mta(b);
  await within(stopped, `the gate stops at ${String(Object.values(rule)[0])}\n${pf.logTail(10)}`);
  await kill();
  // The conversation Postfix had with the service: the last one that carried the message.
  const talks = smtpGate.conversations.slice(before).filter((c) => c.requests.includes(b.verp));
  const talk = talks.at(-1);
  assert.ok(talk, 'Postfix opened a session with the service for the DSN');
  await waitUntil(
    () => queued(b, true),
    `Postfix keeps the DSN, deferred, after the crash\n${pf.logTail(10)}`,
  );
  return talk;
}

/**
 * Restarts the service and lets Postfix deliver the DSN again. Postfix retries on its own every
 * second here; the queue is flushed as well because its queue manager puts a message aside for
 * 60 s when it finds it still locked by the delivery agent that just deferred it, which one-second
 * retries make likely.
 */
async function restartAndRetry(b: Bounce): Promise<BounceService> {
  const s = await startService();
  try {
    await waitUntil(
      async () => {
        if (!(await queued(b))) return true;
        await pf.flush();
        return false;
      },
      'Postfix delivers the DSN after the restart',
      60_000,
      2_000,
    );
  } catch (err) {
    const talks = JSON.stringify(smtpGate.conversations.slice(-3), null, 1);
    throw new Error(
      `${(err as Error).message}\n${pf.logTail(20)}\n${s.proc.lines.slice(-10).join('\n')}\n${talks}`,
      { cause: err },
    );
  }
  return s;
}

describe('bounce service killed while an MTA delivers a DSN', () => {
  test('in the middle of the body: no 250, nothing stored; applied once when Postfix retries after the restart', async () => {
    const b = await bounceOf('mid-body@dest.test');
    const untouched = await effects(b);
    // The DSN's machine-readable part starts mid-body: its first line passes, the rest waits.
    const talk = await crashAt(b, smtpGate, {
      requestsAfter: 'Content-Type: message/delivery-status',
    });
    assert.doesNotMatch(afterData(talk), /^250 /m, 'no 250 after the DATA');
    assert.doesNotMatch(talk.requests, /\r\n\.\r\n/, 'the message never ended');
    assert.deepEqual(await effects(b), untouched, 'nothing stored');

    const s = await restartAndRetry(b);
    assert.deepEqual(await effects(b), appliedOnce(b, untouched));
    const m = await s.metrics();
    assert.equal(sample(m, 'volley_bounce_effects_total', { effect: 'hard_bounce' }), 1);
  });

  test('after the whole message, before anything is stored: no 250; applied once after the restart', async () => {
    const b = await bounceOf('received@dest.test');
    const untouched = await effects(b);
    // The service's first Redis command after the message ends is held back: it parsed the
    // report and is about to act on it.
    const talk = await crashAt(b, redisGate, { requests: 'next' });
    assert.match(talk.requests, /\r\n\.\r\n/, 'the whole message reached the service');
    assert.doesNotMatch(afterData(talk), /^250 /m, 'no 250 for it');
    assert.deepEqual(await effects(b), untouched, 'nothing stored');

    const s = await restartAndRetry(b);
    assert.deepEqual(await effects(b), appliedOnce(b, untouched));
    const m = await s.metrics();
    assert.equal(sample(m, 'volley_bounce_effects_total', { effect: 'hard_bounce' }), 1);
  });

  test('between the address and the recipient scripts: no 250; the address suppressed, the recipient recorded once after the restart', async () => {
    const b = await bounceOf('between@dest.test');
    const untouched = await effects(b);
    // The address script (the tenant's keys, another slot of a cluster than the campaign's)
    // runs; its answer, and so the recipient script, never come.
    const talk = await crashAt(b, redisGate, { repliesAfter: /\r\nevalsha\r\n/i });
    assert.match(talk.requests, /\r\n\.\r\n/, 'the whole message reached the service');
    assert.doesNotMatch(afterData(talk), /^250 /m, 'no 250 for it');
    type Seen = { counts: unknown; events: unknown; suppressed: number };
    const [before, between] = [untouched as Seen, (await effects(b)) as Seen];
    assert.equal(between.suppressed, 1, 'the address script ran');
    assert.deepEqual(between.counts, before.counts, 'the recipient was not recorded yet');
    assert.deepEqual(between.events, before.events, 'no event yet');

    const s = await restartAndRetry(b);
    assert.deepEqual(await effects(b), appliedOnce(b, untouched));
    const m = await s.metrics();
    assert.equal(sample(m, 'volley_bounce_effects_total', { effect: 'hard_bounce' }), 1);
  });

  test('after its effects are stored, before the 250: Postfix sends it again, and it counts once', async () => {
    const b = await bounceOf('stored@dest.test');
    const untouched = await effects(b);
    // The last effects script (the recipient's: its keys name the campaign's done bitmap)
    // reaches Redis and runs; its answer never reaches the service.
    const talk = await crashAt(b, redisGate, {
      repliesAfter: /\r\nevalsha\r\n[\s\S]*\}:done\r\n/i,
    });
    assert.match(talk.requests, /\r\n\.\r\n/, 'the whole message reached the service');
    assert.doesNotMatch(afterData(talk), /^250 /m, 'no 250 for it');
    const stored = await effects(b);
    assert.deepEqual(stored, appliedOnce(b, untouched), 'the effects were stored before the kill');

    const s = await restartAndRetry(b);
    assert.deepEqual(await effects(b), stored, 'the second delivery changed nothing');
    const m = await s.metrics();
    assert.equal(
      sample(m, 'volley_bounce_effects_total', { effect: 'repeated', reason: 'userunknown' }),
      1,
      'the service saw the second delivery and recognised it',
    );
    assert.equal(sample(m, 'volley_bounce_effects_total', { effect: 'hard_bounce' }), 0);
  });
});
