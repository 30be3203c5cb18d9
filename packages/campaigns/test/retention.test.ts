/**
 * Retention against a real Redis, with the sweeper's clock injected: a finished campaign's
 * per-recipient data stays for the retention and goes after it; its summary stays.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { JOBS, Keys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { Worker, type Queue } from 'bullmq';
import { CampaignStore, Feedback, FeedbackError, Retention, createQueues } from '../src/index.ts';

let server: LocalRedis;
let redis: RedisClient;

before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'retention-test' });
  await redis.ping();
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

const DAY = 86_400_000;
const RETENTION = 30 * DAY;

/** A started campaign of `n` recipients; the first `final` of them sent at `at`. */
async function campaign(
  store: CampaignStore,
  n: number,
  final: number,
  at: number,
): Promise<string> {
  const id = store.newId();
  await store.create(id, { tenant: 't1', from: 'a@example.com', subject: 's', text: 'x' }, at);
  await store.addRecipients(
    id,
    Array.from({ length: n }, (_v, i) => ({ email: `r${i}@example.org`, vars: { n: i } })),
  );
  await store.start(id, at);
  await store.advanceCursor(id, 0, n);
  const entries = Array.from({ length: final }, (_v, i) => ({
    index: i,
    email: `r${i}@example.org`,
    outcome: 'sent' as const,
    reason: 'delivered',
  }));
  if (entries.length > 0) await store.finalizeMany(id, 't1', entries, 0, at);
  return id;
}

/** Every key under the prefix, without it. */
async function keysOf(keys: Keys): Promise<string[]> {
  const all = await redis.keys(`${keys.prefix}:*`);
  return all.map((k) => k.slice(keys.prefix.length + 1)).sort();
}

describe('retention', () => {
  test("a finished campaign's per-recipient data stays for the retention and then goes; its summary stays", async () => {
    const keys = new Keys(uniquePrefix('ret'));
    const store = new CampaignStore(redis, keys);
    const feedback = new Feedback(redis, keys, { softBounceLimit: 3, softBounceWindowMs: DAY });
    const t0 = Date.now();
    const completed = await campaign(store, 50, 50, t0);
    const cancelled = await campaign(store, 20, 5, t0);
    // Two recipients in flight when the cancel comes: their claims are a bitmap of their own.
    assert.equal(await store.claim(cancelled, [5, 6]), true);
    assert.equal(
      (await store.transition(cancelled, ['running'], 'cancelled', t0 + 1)).changed,
      true,
    );
    const running = await campaign(store, 10, 3, t0);
    // A complaint after completion: the feedback bitmap exists too.
    await feedback.apply(
      { campaignId: completed, index: 1 },
      { kind: 'complained', feedbackType: 'abuse', source: 'arf' },
      t0 + 2,
    );
    assert.equal((await store.get(completed))?.status, 'completed');
    assert.deepEqual(await redis.zrange(keys.finished, '0', '-1', 'WITHSCORES'), [
      completed,
      String(t0),
      cancelled,
      String(t0 + 1),
    ]);

    // The collector's position in the completed campaign's stream goes with the stream.
    await redis.hset(keys.eventPositions, completed, '1-0');
    let now = t0 + RETENTION - 1;
    const retention = new Retention(redis, keys, { retentionMs: RETENTION, clock: () => now });
    assert.deepEqual((await retention.sweep()).purged, [], 'not yet due');
    assert.equal(await redis.exists(keys.recipients(completed)), 1);

    now = t0 + RETENTION + 1;
    const swept = await retention.sweep();
    assert.deepEqual(swept.purged.sort(), [cancelled, completed].sort());
    // What is left of a finished campaign: its hash and its counts by reason. The running one
    // keeps everything, and nothing is left to sweep.
    const perCampaign = (id: string, parts: string[]) => parts.map((p) => `c:{${id}}${p}`);
    assert.deepEqual(
      await keysOf(keys),
      [
        ...perCampaign(completed, ['', ':why']),
        ...perCampaign(cancelled, ['', ':why']),
        ...perCampaign(running, ['', ':dest', ':done', ':ev', ':pace', ':r', ':why']),
        // Where the look for campaigns finished before retention existed got to: done.
        'retention:backfill',
        'running',
        't:{t1}:campaigns',
        // The tenant's suppression list (the complaint) is the tenant's, not the campaign's.
        't:{t1}:suppressed',
        't:{t1}:suppressed:at',
        't:{t1}:suppressed:info',
      ].sort(),
    );
    const summary = await store.get(completed);
    assert.equal(summary?.status, 'completed');
    assert.deepEqual([summary?.counts.total, summary?.counts.sent], [50, 50]);
    assert.equal(summary?.counts.complained, 1);
    assert.deepEqual(await store.reasonCounts(completed), {
      'sent:delivered': 50,
      'complained:abuse': 1,
    });
    assert.deepEqual(
      [(await store.get(cancelled))?.counts.sent, (await store.get(cancelled))?.counts.cancelled],
      [5, 13],
    );
    assert.ok(Number(await redis.hget(keys.campaign(completed), 'purgedAt')) === now);
    assert.deepEqual(await redis.hkeys(keys.eventPositions), [], 'no position kept');
    assert.deepEqual((await retention.sweep()).purged, [], 'removed once');

    // A report that arrives later finds no recipient, and writes nothing back.
    await assert.rejects(
      feedback.apply(
        { campaignId: completed, index: 2 },
        { kind: 'unsubscribed', source: 'one-click' },
      ),
      (err: unknown) => err instanceof FeedbackError && err.code === 'FEEDBACK_UNKNOWN_RECIPIENT',
    );
    assert.equal(await redis.exists(keys.feedback(completed), keys.events(completed)), 0);
  });

  test("after retention, feedback with the address a verified token carries suppresses it for the campaign's tenant", async () => {
    const keys = new Keys(uniquePrefix('ret'));
    const store = new CampaignStore(redis, keys);
    const feedback = new Feedback(redis, keys, { softBounceLimit: 2, softBounceWindowMs: DAY });
    const t0 = Date.now();
    const id = await campaign(store, 10, 10, t0);
    const running = await campaign(store, 10, 3, t0);
    // Before retention a carried address changes nothing: the recipient list decides.
    const before = await feedback.apply(
      { campaignId: id, index: 1, carried: 'someone-else@example.org' },
      { kind: 'unsubscribed', source: 'one-click' },
      t0 + 1,
    );
    assert.deepEqual([before.email, before.afterRetention], ['r1@example.org', undefined]);
    const now = t0 + RETENTION + 1;
    const retention = new Retention(redis, keys, { retentionMs: RETENTION, clock: () => now });
    assert.deepEqual((await retention.sweep()).purged, [id]);
    assert.deepEqual(await feedback.afterRetention(id), { tenant: 't1' });
    assert.equal(await feedback.afterRetention(running), undefined, 'still has its recipients');
    assert.equal(await feedback.afterRetention(store.newId()), undefined, 'no such campaign');
    const countsBefore = (await store.get(id))?.counts;

    const unsub = await feedback.apply(
      { campaignId: id, index: 2, carried: 'R2@Example.org' },
      { kind: 'unsubscribed', source: 'one-click' },
      now,
    );
    assert.deepEqual(
      [unsub.applied, unsub.suppressed, unsub.afterRetention, unsub.tenant, unsub.email],
      [true, true, true, 't1', 'r2@example.org'],
    );
    const hard = await feedback.apply(
      { campaignId: id, index: 3, carried: 'r3@example.org' },
      { kind: 'bounced', reason: 'userunknown', hardBounce: true, source: 'dsn', status: '5.1.1' },
      now,
    );
    assert.deepEqual([hard.applied, hard.suppressed], [true, true]);
    // The same report again changes nothing.
    const again = await feedback.apply(
      { campaignId: id, index: 2, carried: 'r2@example.org' },
      { kind: 'unsubscribed', source: 'mailto' },
      now,
    );
    assert.deepEqual([again.applied, again.suppressed], [false, false]);
    // Soft bounces still count per message, once each.
    const soft = {
      kind: 'bounced',
      reason: 'mailboxfull',
      hardBounce: false,
      source: 'dsn',
    } as const;
    const s1 = await feedback.apply(
      { campaignId: id, index: 4, carried: 'r4@example.org' },
      soft,
      now,
    );
    const s1again = await feedback.apply(
      { campaignId: id, index: 4, carried: 'r4@example.org' },
      soft,
      now,
    );
    assert.deepEqual([s1.softBounces, s1.suppressed, s1again.applied], [1, false, false]);

    const entries = await redis.hmget(
      keys.suppressionInfo('t1'),
      'r2@example.org',
      'r3@example.org',
    );
    assert.ok(
      entries.every((e) => e?.includes(id)),
      'the suppression entries name the campaign',
    );
    assert.deepEqual(
      new Set(await redis.smembers(keys.suppression('t1'))),
      new Set(['r1@example.org', 'r2@example.org', 'r3@example.org']),
    );
    // Counts and events stay as retention left them; nothing per recipient comes back.
    assert.deepEqual((await store.get(id))?.counts, countsBefore);
    assert.equal(await redis.exists(keys.feedback(id), keys.events(id), keys.recipients(id)), 0);
    // Without a carried address, or for a campaign that does not exist, nothing is done.
    for (const target of [
      { campaignId: id, index: 5 },
      { campaignId: store.newId(), index: 0, carried: 'r5@example.org' },
    ]) {
      await assert.rejects(
        feedback.apply(target, { kind: 'unsubscribed', source: 'one-click' }, now),
        (err: unknown) => err instanceof FeedbackError && err.code === 'FEEDBACK_UNKNOWN_RECIPIENT',
      );
    }
    assert.equal(await redis.sismember(keys.suppression('t1'), 'r5@example.org'), 0);
  });

  test('event streams keep their cap as they are written, the newest events', async () => {
    const keys = new Keys(uniquePrefix('ret'));
    const capped = new CampaignStore(redis, keys, { eventsMaxLen: 200 });
    const id = await campaign(capped, 2_000, 2_000, Date.now());
    // Never over the cap, and the newest kept.
    assert.equal(await redis.xlen(keys.events(id)), 200);
    const [[, last] = ['', []]] = await redis.xrevrange(keys.events(id), '+', '-', 'COUNT', 1);
    assert.equal(last[last.indexOf('i') + 1], '1999');
    await capped.defer(id, 0, 'r0@example.org', { reason: 'x', detail: 'd', lowWater: 0 });
    assert.equal(await redis.xlen(keys.events(id)), 200);

    const uncapped = new CampaignStore(redis, keys, { eventsMaxLen: 0 });
    const all = await campaign(uncapped, 2_000, 2_000, Date.now());
    assert.equal(await redis.xlen(keys.events(all)), 2_000);
  });

  test('while a collector holds a stream, the cap removes only what it read; up to twice the cap, then counted', async () => {
    const keys = new Keys(uniquePrefix('ret'));
    const store = new CampaignStore(redis, keys, { eventsMaxLen: 100 });
    const id = await campaign(store, 400, 50, Date.now());
    const ids = (await redis.xrange(keys.events(id), '-', '+')).map(([eid]) => eid);
    // The collector has read the first 20 events and renews its hold (it does every round).
    const LEASE = 60_000;
    assert.equal(await store.holdEvents(id, ids[19], LEASE), 0);
    const sent = (from: number, to: number) =>
      Array.from({ length: to - from }, (_v, k) => ({
        index: from + k,
        email: `r${from + k}@example.org`,
        outcome: 'sent' as const,
        reason: 'delivered',
      }));
    const stream = async () => (await redis.xrange(keys.events(id), '-', '+')).map(([e]) => e);
    // 150 events against a cap of 100: only the 20 read ones go, every unread one stays.
    await store.finalizeMany(id, 't1', sent(50, 150), 0);
    let now = await stream();
    assert.equal(now.length, 130);
    assert.equal(now[0], ids[20], 'the oldest unread event is still there');
    // Another 100 unread: past twice the cap the oldest go all the same, and are counted once.
    await store.finalizeMany(id, 't1', sent(150, 250), 0);
    now = await stream();
    assert.equal(now.length, 200);
    assert.equal(await store.holdEvents(id, ids[19], LEASE), 30);
    assert.equal(await store.holdEvents(id, ids[19], LEASE), 0, 'counted once');
    // The collector catches up: the next write brings the stream back to its cap.
    const last = now[now.length - 1];
    assert.ok(last);
    await store.holdEvents(id, last, LEASE);
    await store.defer(id, 250, 'r250@example.org', { reason: 'x', detail: 'd', lowWater: 0 });
    assert.equal(await redis.xlen(keys.events(id)), 100);
    assert.equal(await store.holdEvents(id, last, LEASE), 0, 'what it read is no loss');

    // The collector stopped: its hold lapses, the cap applies again, and what it had not read
    // is counted for it (or for the next collector) to report.
    await store.holdEvents(id, last, 0);
    await store.finalizeMany(id, 't1', sent(251, 400), 0);
    assert.equal(await redis.xlen(keys.events(id)), 100);
    // 150 written after its position, 100 kept: 50 it never read.
    assert.equal(await store.holdEvents(id, last, LEASE), 50);

    // A stream no collector holds is capped as it is written, and nothing is counted.
    const free = await campaign(store, 300, 300, Date.now());
    assert.equal(await redis.xlen(keys.events(free)), 100);
    assert.equal(await redis.exists(keys.eventHold(free)), 0);
  });

  test("a running campaign's events older than the retention are trimmed", async () => {
    const keys = new Keys(uniquePrefix('ret'));
    const store = new CampaignStore(redis, keys);
    const id = await campaign(store, 100, 40, Date.now());
    let now = Date.now();
    const retention = new Retention(redis, keys, { retentionMs: RETENTION, clock: () => now });
    assert.equal((await retention.sweep()).trimmed, 1);
    assert.equal(await redis.xlen(keys.events(id)), 40, 'younger than the retention');
    // Stream ids hold Redis's time of each event: past the retention, all of them are older.
    now += RETENTION + 1000;
    await retention.sweep();
    assert.equal(await redis.xlen(keys.events(id)), 0);
    assert.equal((await store.get(id))?.counts.sent, 40, 'counts do not come from the stream');
  });

  test('events older than the retention stay until a running collector consumed them, then go', async () => {
    const keys = new Keys(uniquePrefix('ret'));
    const store = new CampaignStore(redis, keys);
    const id = await campaign(store, 100, 40, Date.now());
    const ids = (await redis.xrange(keys.events(id), '-', '+')).map(([eid]) => eid);
    const consumed = ids[24];
    assert.ok(consumed);
    // A collector holds its lock and has handled the first 25 events of the stream.
    await redis.set(keys.collectorLock, 'collector-1', 'PX', 60_000);
    await redis.hset(keys.eventPositions, id, consumed);
    const now = Date.now() + RETENTION + 1000;
    const retention = new Retention(redis, keys, { retentionMs: RETENTION, clock: () => now });
    await retention.sweep();
    // MINID keeps the consumed event itself: 15 unconsumed and the last consumed one stay.
    assert.deepEqual(
      (await redis.xrange(keys.events(id), '-', '+')).map(([eid]) => eid),
      ids.slice(24),
    );
    // A stream the collector has not started on keeps everything while it runs.
    const unread = await campaign(store, 10, 9, Date.now());
    await retention.sweep();
    assert.equal(await redis.xlen(keys.events(unread)), 9);
    // Without a collector, age alone decides.
    await redis.del(keys.collectorLock);
    await retention.sweep();
    assert.deepEqual(
      [await redis.xlen(keys.events(id)), await redis.xlen(keys.events(unread))],
      [0, 0],
    );
  });

  test('campaigns that finished before retention existed are found and swept, a batch a pass', async () => {
    const keys = new Keys(uniquePrefix('ret'));
    const store = new CampaignStore(redis, keys);
    const t0 = Date.now();
    // 1,203 campaigns finished "before": the finished set and the backfill marks are removed
    // as if an older version had written them. Two tenants, one in the tenants hash.
    await redis.hset(keys.tenants, 't1', '{}');
    const old: string[] = [];
    for (let i = 0; i < 1_203; i++) {
      const id = await campaign(store, 2, 2, t0);
      old.push(id);
    }
    // Created last, so the first pass's 1,000 are all finished ones.
    const running = await campaign(store, 5, 1, t0 + 1);
    await redis.del(keys.finished);
    assert.equal(await redis.zcard(keys.tenantCampaigns('t1')), 1_204);
    const now = t0 + RETENTION + 1;
    const retention = new Retention(redis, keys, { retentionMs: RETENTION, clock: () => now });
    const first = await retention.sweep();
    // The backfill looks at 1,000 campaigns a pass; the purge removes at most 100 a pass.
    assert.equal(first.backfilled, 1_000);
    assert.equal(first.purged.length, 100);
    let purged = first.purged.length;
    let backfilled = first.backfilled;
    for (let pass = 0; pass < 20 && purged < old.length; pass++) {
      const r = await retention.sweep();
      purged += r.purged.length;
      backfilled += r.backfilled;
    }
    assert.deepEqual([backfilled, purged], [1_203, 1_203]);
    for (const id of [old[0], old[1_202]]) {
      assert.ok(id);
      assert.equal(await redis.exists(keys.recipients(id), keys.done(id), keys.events(id)), 0);
      assert.equal((await store.get(id))?.counts.sent, 2);
    }
    assert.equal(await redis.exists(keys.recipients(running)), 1, 'a running one is left alone');
    // Once every index was looked through, a pass no longer reads them.
    assert.equal((await retention.sweep()).backfilled, 0);
    assert.equal(await redis.hget(keys.retentionBackfill, '*'), '1');
  });

  test(
    "a removed campaign's jobs leave BullMQ's failed and completed sets; other campaigns' stay",
    { timeout: 120_000 },
    async () => {
      const keys = new Keys(uniquePrefix('ret'));
      const store = new CampaignStore(redis, keys);
      const queues = createQueues(redis, keys);
      const t0 = Date.now();
      const gone = await campaign(store, 10, 10, t0);
      const kept = await campaign(store, 10, 9, t0);
      // Jobs as senders leave them: failed batches (one a retry's), a failed expansion, and a
      // completed batch kept by a queue that keeps completed jobs; one failed batch of a campaign
      // still running.
      const jobs: [Queue, string, boolean][] = [
        [queues.send, `${gone}-0-0`, false],
        [queues.send, `${gone}-0-0.r3n2`, false],
        [queues.send, `${gone}-0-1`, true],
        [queues.control, `expand-${gone}-0`, false],
        [queues.send, `${kept}-0-0`, false],
      ];
      for (const [queue, jobId, ok] of jobs) {
        await queue.add(
          JOBS.sendBatch,
          { ok },
          {
            jobId,
            attempts: 1,
            removeOnFail: false,
            removeOnComplete: false,
          },
        );
      }
      const settled = (q: Queue) => q.getJobCountByTypes('completed', 'failed');
      const connections: RedisClient[] = [];
      const workers = [queues.send, queues.control].map((q) => {
        const connection = connectRedis(server.url, {
          name: 'retention-worker',
          maxRetriesPerRequest: null,
        });
        connections.push(connection);
        return new Worker(
          q.name,
          async (job) => {
            if (!(job.data as { ok?: boolean }).ok) throw new Error('fails for the test');
          },
          { connection, prefix: keys.bullPrefix(q.name) },
        );
      });
      try {
        // Until BullMQ has settled every job: 4 of the send queue, 1 of the control queue.
        await Promise.all(
          workers.map(
            (w, k) =>
              new Promise<void>((resolve) => {
                const q = k === 0 ? queues.send : queues.control;
                const want = k === 0 ? 4 : 1;
                const check = async () => {
                  if ((await settled(q)) >= want) resolve();
                };
                w.on('failed', () => void check());
                w.on('completed', () => void check());
                void check();
              }),
          ),
        );
      } finally {
        await Promise.all(workers.map((w) => w.close()));
        // A connection given to a worker stays the caller's to close.
        for (const c of connections) c.disconnect();
      }
      const now = t0 + RETENTION + 1;
      const retention = new Retention(redis, keys, {
        retentionMs: RETENTION,
        queues,
        clock: () => now,
      });
      const swept = await retention.sweep();
      assert.deepEqual(swept.purged, [gone]);
      assert.equal(swept.jobsRemoved, 4);
      assert.deepEqual(await queues.send.getFailed().then((j) => j.map((x) => x.id)), [
        `${kept}-0-0`,
      ]);
      assert.equal(await settled(queues.control), 0);
      assert.equal(await queues.send.getCompletedCount(), 0);
      assert.equal(
        await redis.exists(`${keys.bullPrefix(queues.send.name)}:${queues.send.name}:${gone}-0-0`),
        0,
      );
      await queues.close();
    },
  );
});
