import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { JOBS, Keys, type SendBatchJob } from '@volley/contracts';
import { createQueues } from '@volley/campaigns';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { BacklogReader } from '../src/backlog.ts';

let server: LocalRedis;
let redis: RedisClient;
before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'backlog-test' });
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

function batch(campaignId: string, n: number, extra: Partial<SendBatchJob> = {}): SendBatchJob {
  return {
    batchId: `${campaignId}-${n}-${Math.random()}`,
    campaignId,
    tenant: 'default',
    domain: 'one.example',
    // A variable named `i` inside vars must not count as a recipient.
    recipients: Array.from({ length: n }, (_, i) => ({
      i,
      email: `u${i}@one.example`,
      vars: { i: 1, email: 'x' },
    })),
    attempt: 1,
    firstAttemptAt: Date.now(),
    ...extra,
  };
}

test('the backlog split reads why each job waits from its queue and its data: sendable, throttled (rate slot, connection wait, suspension), retrying, paused', async () => {
  const keys = new Keys(uniquePrefix('backlog'));
  const queues = createQueues(redis, keys);
  try {
    await redis.hset(keys.campaign('run'), 'status', 'running');
    await redis.hset(keys.campaign('held'), 'status', 'paused');
    const add = (data: SendBatchJob, delay = 0) =>
      queues.send.add(JOBS.sendBatch, data, delay ? { delay } : {});
    const slot = { heldSince: 1, count: 2, startAt: 2, key: 'domain:one.example' };
    await add(batch('run', 3)); // in the wait list: sendable
    await add(batch('run', 2, { shaping: slot }), 60_000); // a reserved rate slot
    await add(batch('run', 6, { slotWaits: 2 }), 60_000); // waiting for a connection
    await add(batch('run', 4, { attempt: 2 }), 60_000); // retry backoff
    await add(batch('run', 1), 60_000); // first attempt, no slot: a suspension
    await add(batch('held', 5, { shaping: slot }), 60_000); // its campaign is paused
    await add(batch('run', 7, { attempt: 3 }), 1); // due: a sender will promote it
    const reader = new BacklogReader(redis, keys);
    const at = Date.now() + 5; // the 1 ms job is due by then
    const status = async (id: string) =>
      (await redis.hget(keys.campaign(id), 'status')) ?? undefined;
    const first = await reader.read(at, status);
    assert.deepEqual(first.messages, {
      sendable: 3 + 7,
      throttled: 2 + 6 + 1,
      retrying: 4,
      paused: 5,
    });
    assert.ok(
      first.oldestDueAt !== undefined && first.oldestDueAt <= at,
      'a due job dates the oldest sendable',
    );
  } finally {
    await queues.send.obliterate({ force: true });
    await queues.close();
  }
});

test("a demoted campaign's due batches, in BullMQ's prioritized set, are sendable and date the oldest sendable message", async () => {
  const keys = new Keys(uniquePrefix('backlog'));
  const queues = createQueues(redis, keys);
  try {
    await redis.hset(keys.campaign('run'), 'status', 'running');
    await redis.hset(keys.campaign('demoted'), 'status', 'running');
    // What retry.ts demote() queues (priority 1000) once it is due: BullMQ keeps it in its
    // prioritized set, not in the wait list, until no job without a priority is waiting.
    await queues.send.add(JOBS.sendBatch, batch('demoted', 8), { priority: 1000 });
    await queues.send.add(JOBS.sendBatch, batch('run', 3));
    const counts = await queues.send.getJobCounts('waiting', 'prioritized');
    assert.deepEqual(counts, { waiting: 1, prioritized: 1 }, 'the jobs are where the test says');
    const reader = new BacklogReader(redis, keys);
    const status = async (id: string) =>
      (await redis.hget(keys.campaign(id), 'status')) ?? undefined;
    const at = Date.now();
    const first = await reader.read(at, status);
    assert.deepEqual(first.messages, { sendable: 3 + 8, throttled: 0, retrying: 0, paused: 0 });
    assert.equal(first.oldestDueAt, at);

    // With the wait list empty, the prioritized batch alone keeps its first sighting as its age.
    const [waiting] = await queues.send.getWaiting();
    assert.ok(waiting?.id);
    await queues.send.remove(waiting.id);
    const second = await reader.read(at + 30_000, status);
    assert.deepEqual(second.messages, { sendable: 8, throttled: 0, retrying: 0, paused: 0 });
    assert.equal(second.oldestDueAt, at, 'the oldest sendable message has waited since `at`');
  } finally {
    await queues.send.obliterate({ force: true });
    await queues.close();
  }
});

test('an empty queue has no backlog and no oldest sendable message', async () => {
  const keys = new Keys(uniquePrefix('backlog'));
  const reader = new BacklogReader(redis, keys);
  const r = await reader.read(Date.now(), async () => undefined);
  assert.deepEqual(r, {
    messages: { sendable: 0, throttled: 0, retrying: 0, paused: 0 },
    oldestDueAt: undefined,
  });
});
