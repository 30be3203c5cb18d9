import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMPAIGN, Harness, recipients, sharedRedis } from './harness.ts';

let shared: Awaited<ReturnType<typeof sharedRedis>>;
before(async () => {
  shared = await sharedRedis();
});
after(async () => {
  await shared.stop();
});

const CONCURRENCY = 8;
const BATCH = 50;

/** A capture hook that counts the messages each recipient received, duplicates included. */
function countInto(received: Map<string, number>): (m: { to: string[] }) => void {
  return (m) => {
    const to = m.to[0] ?? '';
    received.set(to, (received.get(to) ?? 0) + 1);
  };
}

describe('sender under failure', () => {
  test('SIGKILLed repeatedly during a 20,000-recipient campaign: every recipient delivered, duplicates within the in-flight bound', async (t) => {
    const received = new Map<string, number>();
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      env: {
        // Short locks so a killed sender's batches come back quickly.
        VOLLEY_JOB_LOCK: '2s',
        VOLLEY_SENDER_CONCURRENCY: String(CONCURRENCY),
        VOLLEY_BATCH_SIZE: String(BATCH),
        VOLLEY_EXPAND_WINDOW: '2000',
      },
      capture: {
        keep: false,
        onMessage: countInto(received),
      },
    });
    try {
      const total = 20_000;
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(total) });
      const killsAt = [2500, 6000, 9500, 13_000, 16_500];
      for (const at of killsAt) {
        await h.capture.waitFor(at, 120_000);
        const victim = h.senders[h.senders.length - 1];
        assert.ok(victim);
        victim.child.kill('SIGKILL');
        await victim.exited;
        await h.addSender().waitForLine(/sender started/);
      }
      await h.completed(id, 180_000);
      const c = await h.store.get(id);
      assert.equal(c?.counts.sent, total, 'every recipient counted as sent once');
      assert.equal(received.size, total, 'every recipient received the message');
      const duplicates = [...received.values()].reduce((a, n) => a + n - 1, 0);
      const bound = killsAt.length * CONCURRENCY * BATCH;
      t.diagnostic(`kills=${killsAt.length} duplicates=${duplicates} bound=${bound}`);
      assert.ok(
        duplicates <= bound,
        `${duplicates} duplicates exceed the in-flight bound ${bound}`,
      );
    } finally {
      await h.stop();
    }
  });

  test('SIGTERM drains: in-flight messages finish and are recorded, and another sender finishes the campaign with no duplicates', async () => {
    const received = new Map<string, number>();
    const h = new Harness(shared.redis, shared.url);
    await h.start({
      senders: 1,
      env: { VOLLEY_JOB_LOCK: '2s', VOLLEY_BATCH_SIZE: '50', VOLLEY_EXPAND_WINDOW: '1000' },
      capture: {
        keep: false,
        onMessage: countInto(received),
      },
    });
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(5000) });
      await h.capture.waitFor(1000, 60_000);
      const first = h.senders[0];
      assert.ok(first);
      assert.equal(await first.stop('SIGTERM'), 0, 'a draining sender exits 0');
      await first.waitForLine(/"msg":"stopped"/);
      // Drained: every message the sink accepted so far is recorded as sent.
      const atExit = received.size;
      assert.equal((await h.store.get(id))?.counts.sent, atExit);
      assert.ok(atExit < 5000, 'the campaign was cut mid-way');

      await h.addSender().waitForLine(/sender started/);
      await h.completed(id);
      assert.equal(received.size, 5000);
      assert.ok(
        [...received.values()].every((n) => n === 1),
        'no recipient received two messages',
      );
    } finally {
      await h.stop();
    }
  });
});
