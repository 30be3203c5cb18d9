import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Queue, QueueEvents } from 'bullmq';
import { QUEUES, type SendBatchJob } from '@volley/contracts';
import { connectRedis } from '@volley/redis';
import { waitUntil } from '@volley/testkit';
import { CAMPAIGN, Harness, sharedRedis } from './harness.ts';

let shared: Awaited<ReturnType<typeof sharedRedis>>;
before(async () => {
  shared = await sharedRedis();
});
after(async () => {
  await shared.stop();
});

function policyFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'volley-policy-'));
  const path = join(dir, 'shaping.yaml');
  writeFileSync(path, yaml);
  return path;
}

/** Redis stamps events, the senders stamp delays: the same host clock, read a moment apart. */
const CLOCK_SLACK_MS = 5;

const list = (n: number, domain: string) =>
  Array.from({ length: n }, (_, i) => ({ email: `u${i}@${domain}`, vars: { name: `N${i}` } }));

describe('traffic shaping in the sender', () => {
  test('a limited domain is held to its rate across two senders while an unlimited one runs at full speed', async (t) => {
    const RATE = 20;
    const BURST = 5;
    const arrivals: { email: string; domain: string; at: number }[] = [];
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 2,
      env: {
        VOLLEY_SHAPING_POLICY: policyFile(
          `version: 1\ndefaults: { rate: unlimited }\ndomains:\n  slow.example: { rate: ${RATE}/s, burst: ${BURST} }\n`,
        ),
      },
      capture: {
        keep: false,
        onMessage: (m) => {
          const email = m.to[0] ?? '';
          arrivals.push({ email, domain: email.split('@')[1] ?? '', at: m.receivedAt });
        },
      },
    });
    const eventsRedis = connectRedis(shared.url, {
      name: 'queue-events',
      maxRetriesPerRequest: null,
    });
    const queueOpts = { connection: eventsRedis, prefix: h.keys.bullPrefix(QUEUES.send) };
    const events = new QueueEvents(QUEUES.send, queueOpts);
    const queue = new Queue(QUEUES.send, queueOpts);
    /** Per domain, the batches BullMQ held back for a later slot (read while they wait). */
    const heldBack = new Map<string, number>();
    /**
     * slow.example's rate slots as the batches were queued with them (the Redis time each
     * starts at and the messages it covers), by slot, and the slot of each recipient.
     */
    const slots = new Map<string, { startAt: number; count: number }>();
    const slotOf = new Map<string, number>();
    const lookups: Promise<void>[] = [];
    // Read while the job waits: a slot is never due at once (it is reserved with half the
    // burst), and the job is removed only once its messages reached the sink in this process.
    events.on('added', ({ jobId }) => {
      lookups.push(
        Job.fromId<SendBatchJob>(queue, jobId).then((job) => {
          const slot = job?.data.shaping;
          if (!job || job.data.domain !== 'slow.example' || !slot) return;
          slots.set(`${slot.heldSince}/${slot.startAt}`, {
            startAt: slot.startAt,
            count: slot.count,
          });
          for (const r of job.data.recipients)
            if (!slotOf.has(r.email)) slotOf.set(r.email, slot.startAt);
        }),
      );
    });
    events.on('delayed', ({ jobId }) => {
      lookups.push(
        Job.fromId<{ domain?: string }>(queue, jobId).then((job) => {
          const domain = job?.data.domain ?? '(gone)';
          heldBack.set(domain, (heldBack.get(domain) ?? 0) + 1);
        }),
      );
    });
    try {
      await events.waitUntilReady();
      const created = Date.now();
      const id = await h.create({
        ...CAMPAIGN,
        recipients: [...list(100, 'slow.example'), ...list(600, 'fast.example')],
      });
      await h.completed(id, 60_000);
      await Promise.all(lookups);
      const slow = arrivals.filter((a) => a.domain === 'slow.example');
      const fast = arrivals.filter((a) => a.domain === 'fast.example');
      assert.equal(slow.length, 100);
      assert.equal(fast.length, 600);

      // The rate is judged on the schedule the senders share in Redis, not on arrival times at
      // the sink: those also carry how late a loaded machine sends (a late batch arrives with
      // the next one), which admission makes up for later but cannot undo. Every message was
      // queued with a slot, and none reached the sink before its slot started.
      const schedule = [...slots.values()].sort((x, y) => x.startAt - y.startAt);
      assert.equal(
        schedule.reduce((n, s) => n + s.count, 0),
        100,
        "slots cover slow.example's 100 messages",
      );
      const early = slow.filter((a) => a.at < (slotOf.get(a.email) ?? Infinity) - CLOCK_SLACK_MS);
      assert.deepEqual(
        early.map((a) => `${a.email} ${(slotOf.get(a.email) ?? 0) - a.at} ms before its slot`),
        [],
        'no message went out before its slot',
      );
      // GCRA: at most rate x W + burst messages start in any window W (here 1 s, closed), and
      // so 100 messages span at least (100 - burst) / rate = 4.75 s of slots. (Redis writes the
      // times to the microsecond, hence the 0.001 ms.) Without shaping there are no slots, and
      // with each sender keeping its own rate there would be twice as many in a second.
      let maxInWindow = 0;
      for (const [i, first] of schedule.entries()) {
        const inWindow = schedule
          .slice(i)
          .filter((s) => s.startAt - first.startAt <= 1000 + 0.001)
          .reduce((n, s) => n + s.count, 0);
        maxInWindow = Math.max(maxInWindow, inWindow);
      }
      const span = (schedule.at(-1)?.startAt ?? 0) - (schedule[0]?.startAt ?? 0);
      const arrivedSpan = (slow.at(-1)?.at ?? 0) - (slow[0]?.at ?? 0);
      t.diagnostic(
        `slow.example: ${schedule.length} slots over ${(span / 1000).toFixed(3)} s, at most ${maxInWindow} messages in any 1 s of slots ` +
          `(limit ${RATE}/s + burst ${BURST}); arrived over ${(arrivedSpan / 1000).toFixed(2)} s, the first ${((slow[0]?.at ?? 0) - created) / 1000} s ` +
          `after the campaign was created; fast.example's 600 done ${(((fast.at(-1)?.at ?? 0) - created) / 1000).toFixed(2)} s after it`,
      );
      assert.ok(
        maxInWindow <= RATE + BURST,
        `${maxInWindow} messages in 1 s of slots, above ${RATE}/s + burst ${BURST}`,
      );
      assert.ok(
        span >= ((100 - BURST) / RATE) * 1000 - 0.001,
        `slow.example's slots span ${span} ms: faster than ${RATE}/s`,
      );
      // No head-of-line blocking: slow.example's batches wait for their slots in BullMQ's delayed
      // set, never in a worker, and no fast.example batch is ever held back for one. (Judged by
      // the queue rather than by finishing times, which depend on how fast the machine is.)
      t.diagnostic(`batches held for a slot: ${JSON.stringify(Object.fromEntries(heldBack))}`);
      assert.equal(heldBack.get('fast.example') ?? 0, 0, 'fast.example waited for slow.example');
      assert.ok((heldBack.get('slow.example') ?? 0) > 0, "slow.example's batches waited for slots");
    } finally {
      await events.close();
      await queue.close();
      eventsRedis.disconnect();
      await h.stop();
    }
  });

  test("a window's batches wait in the delayed set for slots reserved when it was expanded: none is taken up before its slot", async (t) => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 2,
      env: {
        VOLLEY_SHAPING_POLICY: policyFile(
          'version: 1\ndefaults: { rate: unlimited }\ndomains:\n  paced.example: { rate: 20/s, burst: 5 }\n',
        ),
      },
      capture: { keep: false },
    });
    const eventsRedis = connectRedis(shared.url, {
      name: 'queue-events',
      maxRetriesPerRequest: null,
    });
    const events = new QueueEvents(QUEUES.send, {
      connection: eventsRedis,
      prefix: h.keys.bullPrefix(QUEUES.send),
    });
    try {
      await events.waitUntilReady();
      const taken = new Map<string, number>();
      /** Per job, when BullMQ's delayed set will next hand it out (Redis clock). */
      const due = new Map<string, number>();
      /** Runs before the job's slot, or before it had one (taken up only to reserve). */
      const early: string[] = [];
      let undelayed = 0;
      events.on('delayed', ({ jobId, delay }) => due.set(jobId, Number(delay)));
      // Events arrive in stream order, and a stream id starts with the Redis time it was added.
      events.on('active', ({ jobId }, streamId) => {
        const at = Number(streamId.split('-')[0]);
        const runs = (taken.get(jobId) ?? 0) + 1;
        taken.set(jobId, runs);
        const when = due.get(jobId);
        if (when === undefined) {
          // Added due at once: its slot was free when the window was expanded.
          if (runs === 1) undelayed++;
          else early.push(`${jobId}: run ${runs} with no slot`);
        } else if (at < when - CLOCK_SLACK_MS) {
          early.push(`${jobId}: run ${runs} ${when - at} ms before its slot`);
        }
      });
      const id = await h.create({ ...CAMPAIGN, recipients: list(100, 'paced.example') });
      await h.completed(id, 60_000);
      // 100 recipients in batches of one burst (5): 20 batches, 5 s of backlog at 20/s.
      const runs = [...taken.values()];
      const total = runs.reduce((a, b) => a + b, 0);
      t.diagnostic(
        `${taken.size} batch jobs taken up ${total} times; ${undelayed} added due at once`,
      );
      assert.equal(taken.size, 20);
      // Taken up before its slot, to reserve one, every batch would run twice. Judged by when
      // each run began against the slot BullMQ held it for, not by how many runs there were:
      // a batch that wakes late on a loaded machine may be pushed back and run once more.
      assert.deepEqual(early, [], 'no batch taken up before its slot');
      // Only the first slots (half the burst of 5, so the first batch) are due at expansion.
      assert.ok(undelayed <= 1, `${undelayed} batches were not held for a slot`);
    } finally {
      await events.close();
      eventsRedis.disconnect();
      await h.stop();
    }
  });

  test('repeated "421 try again later" suspends the domain: nothing is attempted until the suspension ends, then all are delivered', async (t) => {
    const attempts: number[] = [];
    let rejected = 0;
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      env: {
        // Two batch slots: when the rule fires, at most the other slot's batch (one message:
        // batches carry the burst) can be past admission.
        VOLLEY_SENDER_CONCURRENCY: '2',
        VOLLEY_RETRY_BASE: '100ms',
        VOLLEY_RETRY_MAX: '200ms',
        VOLLEY_SHAPING_POLICY: policyFile(
          [
            'version: 1',
            'defaults: { rate: 50/s, burst: 1 }',
            'adaptive:',
            "  - { name: later, match: { code: 4xx, text: 'try again later' }, threshold: 3, action: suspend, duration: 3s }",
            '',
          ].join('\n'),
        ),
      },
      capture: {
        keep: false,
        onRecipient: (addr) => {
          if (!addr.endsWith('@busy.example')) return undefined;
          attempts.push(Date.now());
          if (rejected < 3) {
            rejected++;
            return { code: 421, message: '4.7.0 try again later' };
          }
          return undefined;
        },
      },
    });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: list(30, 'busy.example') });
      await h.completed(id, 60_000);
      assert.equal((await h.store.get(id))?.counts.sent, 30);
      const third = attempts[2] ?? 0;
      const next = attempts[3] ?? 0;
      // The rule fires after the sink answered the third 421, so the suspension ends 3 s or
      // more after `third`: anything before third + 2.8 s is during it. A message already past
      // admission when the rule fired may still arrive, however late a loaded machine makes
      // it: at most one, from the other batch slot. Judged by count, not by how soon.
      const during = attempts.filter((a) => a > third && a < third + 2800);
      t.diagnostic(
        `after the third 421: ${during.length} attempt(s) during the suspension, the next at +${next - third} ms (suspension 3 s)`,
      );
      assert.ok(
        during.length <= 1,
        `${during.length} attempts during the suspension, at ${during.map((a) => a - third).join(', ')} ms after the third 421`,
      );
      assert.ok(
        attempts.some((a) => a >= third + 2800),
        'sending resumed after the suspension',
      );
    } finally {
      await h.stop();
    }
  });

  test('a slowed destination sends its batches in parts; recipients deferred in several parts are all retried and delivered', async (t) => {
    const tries = new Map<string, number>();
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      env: {
        VOLLEY_RETRY_BASE: '100ms',
        VOLLEY_RETRY_MAX: '200ms',
        VOLLEY_SHAPING_POLICY: policyFile(
          [
            'version: 1',
            'defaults: { rate: unlimited }',
            'domains:',
            '  parts.example: { rate: 40/s, burst: 8 }',
            'adaptive:',
            // Slowed at once and for the whole test: a batch of 8 gets slots of 4 at a time.
            "  - { name: later, match: { code: 4xx, text: 'try again later' }, threshold: 1, action: slow, factor: 0.5, duration: 60s }",
            '',
          ].join('\n'),
        ),
      },
      capture: {
        keep: false,
        onRecipient: (addr) => {
          if (!addr.endsWith('@parts.example')) return undefined;
          const k = (tries.get(addr) ?? 0) + 1;
          tries.set(addr, k);
          // Odd recipients are deferred twice: every part of every batch defers some, and so
          // do the retries those parts queue.
          const i = Number(addr.slice(1, addr.indexOf('@')));
          if (i % 2 === 1 && k <= 2) return { code: 421, message: '4.7.0 try again later' };
          return undefined;
        },
      },
    });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: list(64, 'parts.example') });
      await h.completed(id, 60_000);
      const rec = await h.store.get(id);
      assert.equal(rec?.counts.sent, 64);
      const odd = [...tries].filter(([a]) => Number(a.slice(1, a.indexOf('@'))) % 2 === 1);
      assert.equal(odd.length, 32);
      assert.ok(
        odd.every(([, k]) => k === 3),
        'each deferred recipient was tried until delivered, once more',
      );
      t.diagnostic(`64 recipients delivered; ${odd.length} of them deferred twice each`);
    } finally {
      await h.stop();
    }
  });
});

describe('connection caps in the sender', () => {
  test('two senders never hold more connections to a capped destination than its cap, and nothing waiting for a slot counts as deferred', async (t) => {
    const perSession = new Map<string, number>();
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 2,
      env: {
        VOLLEY_SHAPING_POLICY: policyFile(
          'version: 1\ndefaults: { rate: unlimited }\ndomains:\n  capped.example: { connections: 2, messagesPerConnection: 25 }\n',
        ),
      },
      capture: {
        keep: false,
        // A slow receiver: every sender has messages waiting and would open all it may.
        replyDelayMs: 5,
        onMessage: (m) => perSession.set(m.sessionId, (perSession.get(m.sessionId) ?? 0) + 1),
      },
    });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: list(400, 'capped.example') });
      await h.completed(id, 90_000);
      const capped = { ...h.capture.connections };
      const rec = await h.store.get(id);
      assert.equal(rec?.counts.sent, 400);
      const events = await h.store.events(id, undefined, 1000);
      assert.equal(events.events.filter((e) => e.outcome === 'deferred').length, 0);
      const most = Math.max(...perSession.values());
      t.diagnostic(
        `capped.example: ${capped.total} connections, at most ${capped.max} at once (cap 2), at most ${most} messages on one (limit 25)`,
      );
      assert.ok(capped.max <= 2, `${capped.max} connections open at once`);
      assert.ok(most <= 25, `${most} messages on one connection`);

      // The same load to a destination without a cap opens more: the cap above was the limit.
      perSession.clear();
      const free = await h.create({ ...CAMPAIGN, recipients: list(400, 'free.example') });
      await h.completed(free, 90_000);
      assert.ok(
        h.capture.connections.max > 2,
        `an uncapped destination got ${h.capture.connections.max} connections`,
      );
    } finally {
      await h.stop();
    }
  });

  test('batches waiting for a capped destination do not hold up other destinations', async (t) => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 2,
      env: {
        VOLLEY_SHAPING_POLICY: policyFile(
          'version: 1\ndefaults: { rate: unlimited }\ndomains:\n  narrow.example: { connections: 1 }\n',
        ),
      },
      capture: { keep: false, replyDelayMs: 5 },
    });
    const eventsRedis = connectRedis(shared.url, {
      name: 'queue-events',
      maxRetriesPerRequest: null,
    });
    const events = new QueueEvents(QUEUES.send, {
      connection: eventsRedis,
      prefix: h.keys.bullPrefix(QUEUES.send),
    });
    /** Send jobs that went back to the delayed set, by campaign (a batch's id starts with it). */
    const delayed: string[] = [];
    events.on('delayed', ({ jobId }) => delayed.push(jobId));
    let sampling = true;
    let sampler: Promise<void> | undefined;
    try {
      await events.waitUntilReady();
      // 24 batches for one connection, more than the two senders' 16 worker slots: without a
      // bound they would fill them all.
      const narrow = await h.create({ ...CAMPAIGN, recipients: list(480, 'narrow.example') });
      // Batches of the capped destination each sender is sending, from its metrics, a few
      // times a second (a loop without a pause would itself load the machine).
      let mostActive = 0;
      sampler = (async () => {
        while (sampling) {
          for (const p of h.senders) {
            const m = /volley_sender_batches_active\{[^}]*capped="true"[^}]*\} (\d+)/.exec(
              await h.metricsOf(p),
            );
            mostActive = Math.max(mostActive, Number(m?.[1] ?? 0));
          }
          await sleep(100);
        }
      })();
      await waitUntil(
        async () => ((await h.store.get(narrow))?.counts.sent ?? 0) > 0,
        'the capped campaign to start sending',
      );
      const wide = await h.create({ ...CAMPAIGN, recipients: list(400, 'wide.example') });
      await h.completed(wide, 120_000);
      const narrowSent = (await h.store.get(narrow))?.counts.sent ?? 0;
      await h.completed(narrow, 120_000);
      sampling = false;
      await sampler;
      const held = (id: string) => delayed.filter((j) => j.startsWith(`${id}-`)).length;
      t.diagnostic(
        `narrow.example had sent ${narrowSent} of 480 when wide.example was done; batches sent back to wait: ` +
          `narrow.example ${held(narrow)}, wide.example ${held(wide)}; narrow.example batches one sender sent at once: at most ${mostActive}`,
      );
      // Judged by what the queue did, not by which campaign finished first (that depends on
      // how fast the machine is): narrow.example's batches beyond its one connection went back
      // to BullMQ's delayed set instead of holding a worker slot, so a sender never had more
      // than one of them sending; wide.example's batches were never sent back to wait.
      assert.ok(held(narrow) > 0, "narrow.example's extra batches waited in the delayed set");
      assert.equal(held(wide), 0, 'a wide.example batch was held back');
      // One connection: one batch per sender at a time, not all 8 of its worker slots.
      assert.ok(mostActive >= 1, 'the sampling saw the capped batches');
      assert.ok(mostActive <= 1, `one sender sent ${mostActive} batches of narrow.example at once`);
    } finally {
      sampling = false;
      await sampler;
      await events.close();
      eventsRedis.disconnect();
      await h.stop();
    }
  });
});
