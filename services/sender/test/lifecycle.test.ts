import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '@volley/testkit';
import { CAMPAIGN, Harness, KEY, recipients, sharedRedis } from './harness.ts';

let shared: Awaited<ReturnType<typeof sharedRedis>>;
before(async () => {
  shared = await sharedRedis();
});
after(async () => {
  await shared.stop();
});

const ENV = {
  VOLLEY_BATCH_SIZE: '50',
  VOLLEY_EXPAND_WINDOW: '1000',
  VOLLEY_SENDER_CONCURRENCY: '4',
};

async function action(
  h: Harness,
  id: string,
  what: string,
): Promise<{ status: number; body: string }> {
  const res = await h.app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/${what}`,
    headers: { authorization: `Bearer ${KEY}` },
  });
  return { status: res.statusCode, body: res.body };
}

/** No send job is waiting or running: whatever is left sits in the delayed set. */
async function quiet(h: Harness): Promise<boolean> {
  const c = await h.queues.send.getJobCounts('waiting', 'active', 'prioritized');
  return (c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) === 0;
}

describe('campaign lifecycle across senders', () => {
  test('pause holds every remaining batch, resume sends only what was not sent: each recipient exactly once', async (t) => {
    const received = new Map<string, number>();
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 2,
      // The whole campaign in one window, so that there are batches left to park.
      env: { ...ENV, VOLLEY_EXPAND_WINDOW: '4000' },
      capture: {
        keep: false,
        onMessage: (m) => received.set(m.to[0] ?? '', (received.get(m.to[0] ?? '') ?? 0) + 1),
      },
    });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(4000) });
      await h.capture.waitFor(500, 60_000);
      const pausedAt = Date.now();
      const atPause = received.size;
      assert.deepEqual(await action(h, id, 'pause'), {
        status: 202,
        body: JSON.stringify({ id, status: 'paused' }),
      });
      await waitUntil(() => quiet(h), 'every batch to be parked', 30_000);
      const tookMs = Date.now() - pausedAt;
      t.diagnostic(
        `all batches parked ${tookMs} ms after the pause (${received.size - atPause} messages went out meanwhile)`,
      );
      // How soon a pause reaches a sender is judged on the cache's own clock (at most
      // STATUS_TTL_MS stale: packages/delivery/test/campaigns.test.ts); here, on a machine
      // whatever its load, that it reaches both senders and holds every remaining batch.
      const held = received.size;
      // Nothing in flight: every message the sink has is recorded, the rest sits parked.
      assert.equal((await h.store.get(id))?.counts.sent, held);
      assert.ok(held < 4000, 'the campaign was paused mid-way');
      const parked = await shared.redis.scard(h.keys.parked(id));
      assert.ok(parked > 0, 'batches are parked');
      assert.equal((await h.store.get(id))?.status, 'paused');
      assert.equal((await action(h, id, 'pause')).status, 409, 'pausing twice is a conflict');

      assert.equal((await action(h, id, 'resume')).status, 202);
      await h.completed(id);
      assert.equal(received.size, 4000);
      assert.ok(
        [...received.values()].every((n) => n === 1),
        'no recipient received two messages',
      );
      assert.equal((await h.store.get(id))?.counts.sent, 4000);
    } finally {
      await h.stop();
    }
  });

  test('cancel stops sending across senders and reports what was never sent', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 2, env: ENV, capture: { keep: false } });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(4000) });
      await h.capture.waitFor(500, 60_000);
      assert.equal((await action(h, id, 'cancel')).status, 202);
      await waitUntil(() => quiet(h), 'no batch waiting or running', 30_000);
      // Batches already delayed (none here) would be dropped when they come back.
      const delayed = await h.queues.send.getJobCounts('delayed');
      assert.equal(delayed.delayed ?? 0, 0);
      const c = await h.store.get(id);
      assert.equal(c?.status, 'cancelled');
      assert.ok((c?.counts.sent ?? 0) < 4000);
      assert.equal((c?.counts.sent ?? 0) + (c?.counts.cancelled ?? 0), 4000);
      assert.equal(c?.counts.queued, 0);
      assert.equal((await action(h, id, 'resume')).status, 409);
      assert.ok(
        !(await shared.redis.sismember(h.keys.running, id)),
        'a cancelled campaign is not swept',
      );
    } finally {
      await h.stop();
    }
  });
  test('cancel is exact: after the 202 only messages in an open transaction reach SMTP, no count goes down, every message the server took counts as sent, and the time of the cancel is kept', async (t) => {
    const h = new Harness(shared.redis, shared.url);
    const SENDERS = 2;
    const POOL = 5;
    let received = 0;
    // A slow receiver: each sender has its batches' claimed messages (4 batches of 50) queued
    // for its 5 connections when the cancel lands, so most claimed messages wait.
    await h.start({
      senders: SENDERS,
      env: { ...ENV, VOLLEY_SMTP_POOL_SIZE: String(POOL) },
      capture: { keep: false, replyDelayMs: 50, onMessage: () => received++ },
    });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(4000) });
      await h.capture.waitFor(300, 60_000);
      const asked = Date.now();
      assert.equal((await action(h, id, 'cancel')).status, 202);
      const answered = Date.now();
      const atCancel = received;
      const FINAL = ['cancelled', 'sent', 'bounced', 'suppressed', 'failed'] as const;
      let last: Record<string, number> | undefined;
      const drops: string[] = [];
      const settled = async (): Promise<boolean> => {
        const c = await h.store.get(id);
        assert.ok(c);
        const counts: Record<string, number> = {
          ...c.counts,
          'cancelled+sent': c.counts.cancelled + c.counts.sent,
        };
        for (const k of [...FINAL, 'cancelled+sent']) {
          const was = last?.[k];
          if (was !== undefined && (counts[k] ?? 0) < was)
            drops.push(`${k} ${was} -> ${counts[k]}`);
        }
        last = counts;
        return c.counts.queued === 0 && (await quiet(h));
      };
      await waitUntil(settled, 'the messages in flight at the cancel to be answered', 30_000);
      assert.deepEqual(drops, [], 'no count went down');
      // What may still reach the server after the 202, per connection: the message whose
      // commands were pipelined behind the one awaiting its reply (the pool hands a connection
      // to the next message once a body is written), and one more handed over in the event
      // loop turn in which the sender reads the cancel. The cancel's script publishes the
      // cancel before it answers the API, so the sender has it before the 202; a third message
      // would need another reply from this server, 50 ms later.
      const bound = SENDERS * POOL * 2;
      const after = received - atCancel;
      t.diagnostic(`${after} messages reached the server after the 202 (bound ${bound})`);
      assert.ok(
        after <= bound,
        `${after} messages reached the server after the 202, more than the ${bound} that can be in an open transaction`,
      );
      const c = await h.store.get(id);
      assert.equal(c?.status, 'cancelled');
      assert.ok((c?.counts.cancelled ?? 0) > 0);
      assert.equal(c?.counts.sent, received, 'what the server took counts as sent');
      assert.equal((c?.counts.sent ?? 0) + (c?.counts.cancelled ?? 0), 4000);

      const view = await h.app.inject({
        url: `/v1/campaigns/${id}`,
        headers: { authorization: `Bearer ${KEY}` },
      });
      const at = Date.parse(view.json<{ cancelledAt?: string }>().cancelledAt ?? '');
      assert.ok(at >= asked - 1000 && at <= answered + 1000, view.body);
    } finally {
      await h.stop();
    }
  });
});
