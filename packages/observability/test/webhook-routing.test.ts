// Which webhook endpoint gets which event (issue 12: per tenant endpoints and event types):
// the collector's event consumer against a real Redis and BullMQ queue, reading a campaign's
// real event stream.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { CampaignStore } from '@volley/campaigns';
import { Keys, type WebhookJob } from '@volley/contracts';
import { collectorMetrics } from '@volley/metrics';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { WebhookStore, webhookQueue } from '@volley/webhooks';
import type { Queue } from 'bullmq';
import { EventConsumer } from '../src/events.ts';

let server: LocalRedis;
let redis: RedisClient;
before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'webhook-routing-test' });
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

/** A started campaign of `tenant` whose recipients ended as `outcomes` say; its id. */
async function campaign(
  store: CampaignStore,
  tenant: string,
  outcomes: ('sent' | 'bounced')[],
): Promise<string> {
  const id = store.newId();
  await store.create(id, { tenant, from: 'news@sender.example', subject: 's', text: 'x' });
  const emails = outcomes.map((_o, i) => `r${i}@example.org`);
  await store.addRecipients(
    id,
    emails.map((email) => ({ email })),
  );
  await store.start(id);
  await store.advanceCursor(id, 0, emails.length);
  await store.finalizeMany(
    id,
    tenant,
    outcomes.map((outcome, index) => ({
      index,
      email: emails[index] ?? '',
      outcome,
      reason: outcome === 'sent' ? 'delivered' : 'userunknown',
    })),
    0,
  );
  return id;
}

async function deliveries(queue: Queue<WebhookJob>): Promise<WebhookJob[]> {
  const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
  return jobs.map((j) => j.data);
}

test("each endpoint gets its own tenant's events of the types it asked for, each event once even when read again", async () => {
  const keys = new Keys(uniquePrefix('hooks'));
  const store = new CampaignStore(redis, keys);
  const webhookStore = new WebhookStore(redis, keys);
  const queue = webhookQueue(redis, keys);
  try {
    const bouncesOnly = await webhookStore.create('default', {
      url: 'https://hooks.a.example/bounces',
      events: ['bounced'],
    });
    const everything = await webhookStore.create('default', {
      url: 'https://hooks.a.example/all',
      events: ['*'],
    });
    const otherTenant = await webhookStore.create('tb', {
      url: 'https://hooks.b.example/all',
      events: ['*'],
    });
    const id = await campaign(store, 'default', ['sent', 'bounced', 'sent', 'bounced', 'bounced']);
    const consumer = new EventConsumer({
      redis,
      keys,
      store,
      webhookStore,
      webhooks: queue,
      metrics: collectorMetrics(new Registry()),
      providerOf: () => 'other',
      horizonMs: 86_400_000,
      holdMs: 60_000,
    });
    assert.equal((await consumer.round()).consumed, 5);

    const jobs = await deliveries(queue);
    const of = (endpointId: string): string[] =>
      jobs
        .filter((j) => j.endpointId === endpointId)
        .map((j) => `${j.event.type} ${String(j.event.data.email)}`)
        .sort();
    assert.deepEqual(of(bouncesOnly.id), [
      'bounced r1@example.org',
      'bounced r3@example.org',
      'bounced r4@example.org',
    ]);
    assert.equal(of(everything.id).length, 5);
    assert.deepEqual(of(otherTenant.id), [], "no event of another tenant's campaign");
    assert.ok(jobs.every((j) => j.tenant === 'default' && j.event.campaignId === id));

    // A collector that died before storing its position reads the stream again: the
    // deliveries keep their ids, so nothing is queued twice.
    await redis.hdel(keys.eventPositions, id);
    assert.equal((await consumer.round()).consumed, 5);
    assert.equal((await deliveries(queue)).length, jobs.length);
  } finally {
    await queue.close();
  }
});

test('the collector holds each stream at what it read, and counts events the cap removed before it read them', async () => {
  const keys = new Keys(uniquePrefix('hooks'));
  // A cap of 10, so that a few events are enough to pass it.
  const store = new CampaignStore(redis, keys, { eventsMaxLen: 10 });
  const queue = webhookQueue(redis, keys);
  const metrics = collectorMetrics(new Registry());
  try {
    const consumer = new EventConsumer({
      redis,
      keys,
      store,
      webhookStore: new WebhookStore(redis, keys),
      webhooks: queue,
      metrics,
      providerOf: () => 'other',
      horizonMs: 86_400_000,
      holdMs: 60_000,
    });
    const sent = (from: number, to: number) =>
      Array.from({ length: to - from }, (_v, k) => ({
        index: from + k,
        email: `r${from + k}@example.org`,
        outcome: 'sent' as const,
        reason: 'delivered',
      }));
    const id = store.newId();
    await store.create(id, {
      tenant: 'default',
      from: 'news@sender.example',
      subject: 's',
      text: 'x',
    });
    await store.addRecipients(id, sent(0, 50));
    await store.start(id);
    await store.advanceCursor(id, 0, 50);
    await store.finalizeMany(id, 'default', sent(0, 5), 0);
    assert.equal((await consumer.round()).consumed, 5);
    const [[last] = []] = await redis.xrevrange(keys.events(id), '+', '-', 'COUNT', 1);
    assert.equal(await redis.hget(keys.eventHold(id), 'p'), last, 'held at the last event read');
    // More events than the cap while it holds the stream: none lost, and all read next round.
    await store.finalizeMany(id, 'default', sent(5, 20), 0);
    assert.equal((await consumer.round()).consumed, 15);
    assert.equal((await metrics.eventsDroppedUnread.get()).values[0]?.value ?? 0, 0);
    // Its hold lapses (a collector that stopped): the cap removes 20 events it never read, and
    // the next round says so.
    const [[pos] = []] = await redis.xrevrange(keys.events(id), '+', '-', 'COUNT', 1);
    await store.holdEvents(id, pos, 0);
    await store.finalizeMany(id, 'default', sent(20, 50), 0);
    assert.equal((await consumer.round()).consumed, 10);
    assert.equal((await metrics.eventsDroppedUnread.get()).values[0]?.value, 20);
  } finally {
    await queue.close();
  }
});
