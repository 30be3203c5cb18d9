/**
 * The pattern the sender follows, end to end with real BullMQ workers: reserve, wait in the
 * delayed set for the reserved slot, send, feed the reply back. Timings here are loose on
 * purpose (rates are measured by the benchmark, not asserted in a timed test); what is
 * asserted is who waits for whom and that nothing is lost.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix, waitUntil } from '@volley/testkit';
import { Shaper, parsePolicy, type ShapingEvent } from '../src/index.ts';

/** How long blocked.example's rule suspends it. */
const SUSPENSION_MS = 1500;

const POLICY = parsePolicy(
  `
defaults:
  rate: unlimited
providers:
  slowmail:
    mx: [slowmail.example]
    rate: 50/s
    burst: 5
domains:
  blocked.example: { rate: 100/s, burst: 1 }
adaptive:
  - name: try-later
    match: { code: 4xx, text: 'try again later' }
    threshold: 3
    action: slow
    factor: 0.5
    duration: 1s
    recovery: { step: 0.5, every: 500ms }
  - name: blocked
    match: { text: 'blocked' }
    threshold: 2
    action: suspend
    duration: ${SUSPENSION_MS}ms
`,
  'bullmq-test.yaml',
);

const MX: Record<string, string[]> = { 'slow.example': ['mx.slowmail.example'] };

interface BatchJob {
  domain: string;
  campaignId: string;
  /** Message numbers still to send. */
  messages: number[];
  /** Redis time of the slot this job holds while it waits, and how many messages it covers. */
  held?: { since: number; startAt: number; count: number };
}

let server: LocalRedis;
let redis: RedisClient;
before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'bullmq-test' });
});
after(async () => {
  await redis.quit();
  await server.stop();
});

test('a throttled, slowed or suspended domain waits in the delayed set; others run at full speed; nothing is lost', async () => {
  const prefix = uniquePrefix('bq');
  const events: { at: number; ev: ShapingEvent }[] = [];
  const shaper = new Shaper({
    redis,
    prefix,
    policy: POLICY,
    tickMs: 50,
    onEvent: (ev) => events.push({ at: Date.now(), ev }),
  });
  shaper.start();
  /** Each accepted message, with the Redis time its batch was admitted at. */
  const sink: { domain: string; n: number; at: number; admittedAt: number }[] = [];
  const replied = new Map<string, number>();
  /** The receiving servers: slowmail defers its first 3 messages, blocked.example blocks 2. */
  const reply = (domain: string): { code: number; text: string } => {
    const k = (replied.get(domain) ?? 0) + 1;
    replied.set(domain, k);
    if (domain === 'slow.example' && k <= 3) return { code: 421, text: '4.7.0 try again later' };
    if (domain === 'blocked.example' && k <= 2) return { code: 554, text: '5.7.1 blocked' };
    return { code: 250, text: '2.0.0 ok' };
  };

  const queue = new Queue<BatchJob>('send', { connection: redis, prefix });
  const workerConnection = connectRedis(server.url, {
    name: 'bullmq-worker',
    maxRetriesPerRequest: null,
  });
  const worker = new Worker<BatchJob>(
    'send',
    async (job: Job<BatchJob>, token?: string) => {
      const d = job.data;
      const plan = shaper.plan(d.domain, MX[d.domain] ?? []);
      let todo = d.messages;
      let held = d.held;
      while (todo.length > 0) {
        const n = Math.min(todo.length, plan.maxBatch, held?.count ?? Infinity);
        const slot = await shaper.reserve(plan, n, {
          campaignId: d.campaignId,
          held,
          admitWithinMs: 0,
        });
        if (slot.status === 'suspended' || !slot.admitted) {
          // Wait for the slot in the delayed set (no attempt used); on waking, the job
          // presents the slot it holds instead of reserving again.
          const keep: BatchJob = { ...d, messages: todo };
          if (slot.status === 'suspended') delete keep.held;
          else keep.held = { since: slot.heldSince, startAt: slot.startAt, count: slot.granted };
          await job.updateData(keep);
          await job.moveToDelayed(Date.now() + slot.delayMs, token);
          throw new DelayedError();
        }
        held = undefined;
        const now = todo.slice(0, slot.granted);
        todo = todo.slice(slot.granted);
        const deferred: number[] = [];
        for (const m of now) {
          const r = reply(d.domain);
          if (r.code === 250) {
            sink.push({ domain: d.domain, n: m, at: Date.now(), admittedAt: slot.reservedAt });
          } else deferred.push(m);
          await shaper.observe(plan, r, d.campaignId);
        }
        if (deferred.length > 0) {
          // A deferral is retried as a new job, as the sender does.
          await queue.add('retry', {
            domain: d.domain,
            campaignId: d.campaignId,
            messages: deferred,
          });
        }
      }
    },
    {
      connection: workerConnection,
      prefix,
      concurrency: 20,
    },
  );
  const failures: string[] = [];
  worker.on('failed', (job, err) => failures.push(`${job?.id}: ${err.message}`));
  /** Per domain, the runs of its jobs that ended in the delayed set (a completed job has made one attempt). */
  const delayedRuns = new Map<string, number>();
  worker.on('completed', (job) =>
    delayedRuns.set(
      job.data.domain,
      (delayedRuns.get(job.data.domain) ?? 0) + job.attemptsStarted - job.attemptsMade,
    ),
  );
  const attempts: number[] = [];
  worker.on('completed', (job) => attempts.push(job.attemptsMade));

  const jobs = (domain: string, total: number, per: number) =>
    Array.from({ length: total / per }, (_, b) => ({
      name: 'batch',
      data: {
        domain,
        campaignId: 'c1',
        messages: Array.from({ length: per }, (_, i) => b * per + i),
      },
    }));
  const started = Date.now();
  await queue.addBulk([
    ...jobs('slow.example', 100, 10),
    ...jobs('blocked.example', 20, 1),
    ...jobs('fast.example', 200, 20),
  ]);

  const count = (domain: string) => sink.filter((s) => s.domain === domain).length;
  const has = (type: ShapingEvent['type']) => events.some((e) => e.ev.type === type);
  try {
    await waitUntil(
      () =>
        count('slow.example') === 100 &&
        count('blocked.example') === 20 &&
        count('fast.example') === 200 &&
        has('recovered') &&
        has('resumed'),
      'every message delivered and the destinations recovered',
      30_000,
    );
  } finally {
    await worker.close();
    await queue.close();
    await workerConnection.quit();
    await shaper.close();
  }
  assert.deepEqual(failures, []);
  // Jobs ran again after waiting in the delayed set, and none of those runs used an attempt.
  assert.ok((delayedRuns.get('slow.example') ?? 0) > 0);
  assert.deepEqual([...new Set(attempts)], [1], 'only the run that completed counts');

  // Nothing lost, nothing twice.
  for (const [domain, total] of [
    ['slow.example', 100],
    ['blocked.example', 20],
    ['fast.example', 200],
  ] as const) {
    const ns = sink.filter((s) => s.domain === domain).map((s) => s.n);
    assert.deepEqual(
      [...new Set(ns)].sort((x, y) => x - y),
      Array.from({ length: total }, (_, i) => i),
      `${domain}: every message exactly once`,
    );
  }

  // The unlimited domain is not held up by the others' backlog.
  const lastFast = Math.max(...sink.filter((s) => s.domain === 'fast.example').map((s) => s.at));
  const lastSlow = Math.max(...sink.filter((s) => s.domain === 'slow.example').map((s) => s.at));
  // Judged by what happened to its jobs, not by when: each ran once, never waiting for others.
  assert.equal(delayedRuns.get('fast.example') ?? 0, 0, 'the unlimited domain never waited');

  // The 421s slowed slowmail, which recovered after the duration.
  const slowed = events.find((e) => e.ev.type === 'slowed');
  assert.equal(slowed?.ev.type === 'slowed' && slowed.ev.factor, 0.5);
  assert.equal((await shaper.state('provider:slowmail')).factor, 1);

  // Nothing was admitted to blocked.example while it was suspended. Judged on Redis' clock,
  // which decides both: the suspension runs from the rule's firing to `until`, and a batch
  // admitted before it fired may still arrive during it, however late a loaded machine runs.
  const suspended = events.find((e) => e.ev.type === 'suspended');
  const until = suspended?.ev.type === 'suspended' ? suspended.ev.until : 0;
  assert.ok(suspended && until > 0);
  const from = until - SUSPENSION_MS;
  const during = sink.filter(
    (s) => s.domain === 'blocked.example' && s.admittedAt >= from && s.admittedAt < until,
  );
  assert.deepEqual(during, [], 'nothing admitted during the suspension');
  assert.ok(
    sink.some((s) => s.domain === 'blocked.example' && s.admittedAt >= until),
    'it resumed after the suspension',
  );

  const rate = (domain: string, from: number, to: number) =>
    sink.filter((s) => s.domain === domain && s.at >= from && s.at < to).length /
    ((to - from) / 1000);
  console.log(
    `sender pattern: fast.example done in ${lastFast - started} ms; slow.example done in ` +
      `${lastSlow - started} ms (${rate('slow.example', started, lastSlow).toFixed(1)}/s ` +
      `overall against 50/s, halved for 1 s after the 421s); blocked.example suspended ` +
      `${Math.round(until - suspended.at)} ms`,
  );
});
