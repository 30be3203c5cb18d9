import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from 'bullmq';
import { createQueues, type Queues } from '@volley/campaigns';
import { Keys, type SendBatchJob } from '@volley/contracts';
import { connectRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { Retries, expired } from '../src/retry.ts';

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

const RETRY_MAX_MS = 2000;

/** The retry `Retries` queues for `data` deferred at `clock` (the real one by default), and its delay. */
async function retryOf(
  data: SendBatchJob,
  clock?: () => number,
): Promise<{ data: SendBatchJob; delayMs: number }> {
  const retries = new Retries({
    queues,
    shaper: undefined,
    retryBaseMs: 1000,
    retryMaxMs: RETRY_MAX_MS,
    clock,
  });
  const job = { id: `j-${data.batchId}`, data } as Job<SendBatchJob>;
  const deferred = [...data.recipients];
  await retries.requeueDeferred(job, deferred);
  assert.equal(deferred.length, 0, 'the deferred recipients are handed over');
  const [next] = await queues.send.getDelayed();
  assert.ok(next, 'a retry job is queued');
  await next.remove();
  return { data: next.data, delayMs: next.opts.delay ?? 0 };
}

async function requeued(data: SendBatchJob): Promise<SendBatchJob> {
  return (await retryOf(data)).data;
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

test('on the retry clock: a first attempt never expires, a retry due within the maximum age is made, and the retry after it expires', async () => {
  const MAX_AGE = 10_000;
  let now = 1_000_000_000;
  const clock = () => now;
  // Queued two hours before its first attempt (a destination's backlog): still tried.
  const first = batch(1, now - 2 * HOUR);
  assert.equal(expired(first, now, MAX_AGE), false, 'a first attempt is always made');

  // Deferred at `now`: the retry's age counts from here.
  const { data: second, delayMs } = await retryOf(first, clock);
  assert.equal(second.attempt, 2);
  assert.equal(second.firstAttemptAt, now);
  assert.ok(delayMs > 0 && delayMs <= RETRY_MAX_MS, `retry delay ${delayMs} ms`);
  // Due well within the maximum age: made, not expired ...
  assert.equal(expired(second, now + delayMs, MAX_AGE), false, 'the retry is made');
  // ... and so is any run of it up to the maximum age, not one after it.
  assert.equal(expired(second, now + MAX_AGE, MAX_AGE), false);
  assert.equal(expired(second, now + MAX_AGE + 1, MAX_AGE), true);

  // Deferred again later: the age still counts from the first attempt.
  now += delayMs;
  const { data: third } = await retryOf(second, clock);
  assert.equal(third.attempt, 3);
  assert.equal(third.firstAttemptAt, second.firstAttemptAt);
  assert.equal(expired(third, second.firstAttemptAt + MAX_AGE + 1, MAX_AGE), true);
});
