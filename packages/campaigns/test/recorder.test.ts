import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Keys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { CampaignStore, Recorder } from '../src/index.ts';

let server: LocalRedis;
let redis: RedisClient;

before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'recorder-test' });
  await redis.ping();
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

async function runningCampaign(store: CampaignStore, n: number): Promise<string> {
  const id = store.newId();
  await store.create(id, { tenant: 't1', from: 'a@example.com', subject: 's', text: 'x' });
  await store.addRecipients(
    id,
    Array.from({ length: n }, (_v, i) => ({ email: `r${i}@example.org` })),
  );
  await store.start(id);
  return id;
}

async function finalizeCalls(): Promise<number> {
  const info = await redis.info('commandstats');
  const calls = (name: string) =>
    Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return calls('evalsha') + calls('eval');
}

describe('Recorder', () => {
  test('outcomes arriving together are recorded in one round trip per campaign (and one suppression of its hard bounces), each once', async () => {
    const keys = new Keys(uniquePrefix('rec'));
    const store = new CampaignStore(redis, keys);
    const a = await runningCampaign(store, 40);
    const b = await runningCampaign(store, 10);
    // A long flush interval: everything below is recorded by the size trigger or one flush.
    const recorder = new Recorder(store, { lowWater: 0, flushMs: 50, maxBatch: 1000 });
    // Loads the scripts (finalize, suppress) outside the counted span.
    await store.finalize(
      await runningCampaign(store, 1),
      'warm-up',
      {
        index: 0,
        email: 'x@example.org',
        outcome: 'bounced',
        reason: 'userunknown',
        suppress: true,
      },
      0,
    );
    const before = await finalizeCalls();
    const results = await Promise.all([
      ...Array.from({ length: 40 }, (_v, i) =>
        recorder.record(a, 't1', {
          index: i,
          email: `r${i}@example.org`,
          outcome: i < 30 ? 'sent' : 'bounced',
          reason: i < 30 ? 'delivered' : 'userunknown',
          suppress: i >= 30,
        }),
      ),
      ...Array.from({ length: 10 }, (_v, i) =>
        recorder.record(b, 't1', { index: i, email: `r${i}@example.org`, outcome: 'sent' }),
      ),
    ]);
    // The suppression list is the tenant's (another slot of a cluster than the campaign's keys):
    // one more call, for the campaign whose outcomes hold hard bounces.
    assert.equal(
      (await finalizeCalls()) - before,
      3,
      'one script call per campaign, and one suppression call for the hard bounces',
    );
    assert.ok(results.every((r) => r.recorded));
    // The completion is reported once per campaign, on one result.
    assert.equal(results.filter((r) => r.completed).length, 2);

    const rec = await store.get(a);
    assert.equal(rec?.status, 'completed');
    assert.equal(rec?.counts.sent, 30);
    assert.equal(rec?.counts.bounced, 10);
    assert.deepEqual(await store.reasonCounts(a), {
      'sent:delivered': 30,
      'bounced:userunknown': 10,
    });
    assert.equal(await redis.scard(keys.suppression('t1')), 10);
    assert.equal(await redis.xlen(keys.events(a)), 40);
  });

  test('an outcome recorded twice (a job run again) counts once', async () => {
    const store = new CampaignStore(redis, new Keys(uniquePrefix('rec')));
    const id = await runningCampaign(store, 3);
    const recorder = new Recorder(store, { lowWater: 0, flushMs: 1 });
    const entry = { index: 1, email: 'r1@example.org', outcome: 'sent' as const };
    const [first, second] = await Promise.all([
      recorder.record(id, 't1', entry),
      recorder.record(id, 't1', entry),
    ]);
    assert.equal(first?.recorded, true);
    assert.equal(second?.recorded, false);
    const third = await recorder.record(id, 't1', entry);
    assert.equal(third.recorded, false);
    assert.equal((await store.get(id))?.counts.sent, 1);
  });

  test('a deferred recipient that ends delivered leaves the deferred count', async () => {
    const store = new CampaignStore(redis, new Keys(uniquePrefix('rec')));
    const id = await runningCampaign(store, 2);
    await store.defer(id, 0, 'r0@example.org', {
      reason: 'toomanyconn',
      detail: '421',
      lowWater: 0,
    });
    assert.equal((await store.get(id))?.counts.deferred, 1);
    const recorder = new Recorder(store, { lowWater: 0 });
    await recorder.record(id, 't1', { index: 0, email: 'r0@example.org', outcome: 'sent' });
    const rec = await store.get(id);
    assert.equal(rec?.counts.deferred, 0);
    assert.equal(rec?.counts.sent, 1);
  });

  test('the rate is final outcomes per second over the last whole seconds', async () => {
    const store = new CampaignStore(redis, new Keys(uniquePrefix('rec')));
    const id = await runningCampaign(store, 100);
    const t0 = 1_800_000_000_000;
    // 20 outcomes in each of the 5 seconds before t0 + 5 s.
    for (let s = 0; s < 5; s++) {
      const entries = Array.from({ length: 20 }, (_v, k) => ({
        index: s * 20 + k,
        email: `r${s * 20 + k}@example.org`,
        outcome: 'sent' as const,
      }));
      await store.finalizeMany(id, 't1', entries, 0, t0 + s * 1000 + 10);
    }
    assert.equal(await store.recentRate(id, 5, t0 + 5000), 20);
    assert.equal(await store.recentRate(id, 10, t0 + 5000), 10);
    // Seconds that fell out of the window no longer count.
    assert.equal(await store.recentRate(id, 5, t0 + 20_000), 0);
  });

  test('a failed write rejects every outcome waiting on it', async () => {
    const store = new CampaignStore(redis, new Keys(uniquePrefix('rec')));
    const id = await runningCampaign(store, 2);
    // A reasons key of the wrong type (a string, not a hash) makes the script fail.
    await redis.set(store.keys.reasons(id), 'not a hash');
    const recorder = new Recorder(store, { lowWater: 0 });
    const results = await Promise.allSettled([
      recorder.record(id, 't1', { index: 0, email: 'r0@example.org', outcome: 'sent' }),
      recorder.record(id, 't1', { index: 1, email: 'r1@example.org', outcome: 'sent' }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });
});
