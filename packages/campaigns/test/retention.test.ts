/**
 * Retention against a real Redis, with the sweeper's clock injected: a finished campaign's
 * per-recipient data stays for the retention and goes after it; its summary stays.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Keys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { CampaignStore, Feedback, FeedbackError, Retention } from '../src/index.ts';

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

    let now = t0 + RETENTION - 1;
    const retention = new Retention(redis, keys, { retentionMs: RETENTION, clock: () => now });
    assert.deepEqual((await retention.sweep()).purged, [], 'not yet due');
    assert.equal(await redis.exists(keys.recipients(completed)), 1);

    now = t0 + RETENTION + 1;
    const swept = await retention.sweep();
    assert.deepEqual(swept.purged.sort(), [cancelled, completed].sort());
    // What is left of a finished campaign: its hash and its counts by reason. The running one
    // keeps everything, and nothing is left to sweep.
    const perCampaign = (id: string, parts: string[]) => parts.map((p) => `c:${id}${p}`);
    assert.deepEqual(
      await keysOf(keys),
      [
        ...perCampaign(completed, ['', ':why']),
        ...perCampaign(cancelled, ['', ':why']),
        ...perCampaign(running, ['', ':done', ':ev', ':pace', ':r', ':why']),
        'running',
        't:t1:campaigns',
        // The tenant's suppression list (the complaint) is the tenant's, not the campaign's.
        't:t1:suppressed',
        't:t1:suppressed:at',
        't:t1:suppressed:info',
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
      [5, 15],
    );
    assert.ok(Number(await redis.hget(keys.campaign(completed), 'purgedAt')) === now);
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

  test('event streams keep about their cap as they are written, the newest events', async () => {
    const keys = new Keys(uniquePrefix('ret'));
    const capped = new CampaignStore(redis, keys, { eventsMaxLen: 200 });
    const id = await campaign(capped, 2_000, 2_000, Date.now());
    const len = await redis.xlen(keys.events(id));
    // `~` trims whole stream nodes (100 entries by default): never under the cap, at most a
    // node over it.
    assert.ok(len >= 200 && len <= 300, `${len} events kept`);
    const [[, last] = ['', []]] = await redis.xrevrange(keys.events(id), '+', '-', 'COUNT', 1);
    assert.equal(last[last.indexOf('i') + 1], '1999');
    await capped.defer(id, 0, 'r0@example.org', { reason: 'x', detail: 'd', lowWater: 0 });
    assert.ok((await redis.xlen(keys.events(id))) <= 300);

    const uncapped = new CampaignStore(redis, keys, { eventsMaxLen: 0 });
    const all = await campaign(uncapped, 2_000, 2_000, Date.now());
    assert.equal(await redis.xlen(keys.events(all)), 2_000);
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
});
