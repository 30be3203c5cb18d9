import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from 'bullmq';
import { createQueues, type Queues } from '@volley/campaigns';
import { Keys, type SendBatchJob } from '@volley/contracts';
import { connectRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { Retries } from '../src/retry.ts';

let server: Awaited<ReturnType<typeof startRedis>>;
let redis: RedisClient;
let queues: Queues;

before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'retries-test' });
  queues = createQueues(redis, new Keys(uniquePrefix('retries')));
});
after(async () => {
  await queues.close();
  await redis.quit();
  await server.stop();
});

const HOUR = 3_600_000;

function batch(attempt: number, firstAttemptAt: number): SendBatchJob {
  return {
    batchId: `b-${attempt}`,
    campaignId: 'c1',
    tenant: 'default',
    domain: 'slow.example',
    recipients: [{ i: 0, email: 'a@slow.example', vars: {} }],
    attempt,
    firstAttemptAt,
  };
}

async function requeued(data: SendBatchJob): Promise<SendBatchJob> {
  const retries = new Retries({ queues, shaper: undefined, retryBaseMs: 1000, retryMaxMs: 2000 });
  const job = { id: `j-${data.batchId}`, data } as Job<SendBatchJob>;
  const deferred = [...data.recipients];
  await retries.requeueDeferred(job, deferred);
  assert.equal(deferred.length, 0, 'the deferred recipients are handed over');
  const [next] = await queues.send.getDelayed();
  assert.ok(next, 'a retry job is queued');
  await next.remove();
  return next.data;
}

test('a batch queued long before its first attempt counts its age from that attempt', async () => {
  // Queued two hours ago behind a destination's rate limit, tried and deferred just now: with
  // a one-hour maximum age it must still get its retries.
  const queuedAt = Date.now() - 2 * HOUR;
  const before = Date.now();
  const next = await requeued(batch(1, queuedAt));
  assert.equal(next.attempt, 2);
  assert.ok(
    next.firstAttemptAt >= before && next.firstAttemptAt <= Date.now(),
    `first attempt at ${next.firstAttemptAt}, queued at ${queuedAt}`,
  );
});

test('later retries keep the time of the first attempt', async () => {
  const first = Date.now() - HOUR;
  const next = await requeued(batch(3, first));
  assert.equal(next.attempt, 4);
  assert.equal(next.firstAttemptAt, first);
});
