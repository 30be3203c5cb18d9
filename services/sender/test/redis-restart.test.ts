import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, startLocalRedis } from '@volley/redis';
import { waitUntil } from '@volley/testkit';
import { CAMPAIGN, Harness, recipients } from './harness.ts';

test('Redis restarted mid-campaign (AOF on): senders reconnect, every recipient is delivered, none lost', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'volley-aof-'));
  let server = await startLocalRedis({ dataDir });
  const redis = connectRedis(server.url, { name: 'restart-test' });
  await redis.ping();
  const seen = new Map<string, number>();
  const h = new Harness(redis, server.url);
  try {
    await h.start({
      senders: 2,
      capture: {
        keep: false,
        onMessage: (m) => {
          for (const to of m.to) seen.set(to, (seen.get(to) ?? 0) + 1);
        },
      },
    });
    const total = 4000;
    const id = await h.create({ ...CAMPAIGN, recipients: recipients(total) });
    await waitUntil(async () => seen.size >= 800, '800 messages before the restart', 60_000);

    // A graceful restart: Redis writes its AOF on SIGTERM and loads it on start.
    await server.stop();
    const atStop = seen.size;
    server = await startLocalRedis({ dataDir, port: server.port });
    t.diagnostic(`Redis restarted after ${atStop} recipients had been accepted`);

    await h.completed(id, 120_000);
    const rec = await h.store.get(id);
    assert.equal(rec?.counts.sent, total, 'every recipient recorded as sent');
    assert.equal(seen.size, total, 'every recipient reached the SMTP server');
    const duplicates = [...seen.values()].reduce((n, c) => n + c - 1, 0);
    // Messages in flight when Redis went away may be sent again: senders × concurrency × batch.
    const bound = 2 * 8 * 20;
    t.diagnostic(`duplicates ${duplicates} (bound ${bound})`);
    assert.ok(duplicates <= bound, `${duplicates} duplicates`);
    for (const s of h.senders) assert.equal(s.child.exitCode, null, 'senders kept running');
  } finally {
    await h.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
