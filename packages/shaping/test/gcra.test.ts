import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { ShapingKeys } from '@volley/contracts';
import { connectRedis, type LocalRedis } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { reserve, type ShapingContext } from '../src/index.ts';

let server: LocalRedis;
let conns: Redis[] = [];

before(async () => {
  server = await startRedis();
  conns = Array.from({ length: 4 }, (_, i) => connectRedis(server.url, { name: `gcra-${i}` }));
});
after(async () => {
  await Promise.all(conns.map((c) => c.quit()));
  await server.stop();
});

function ctxs(prefix: string, clock?: () => number): ShapingContext[] {
  return conns.map((redis) => ({ redis, keys: new ShapingKeys(prefix), clock }));
}

/** The most messages starting in any window [t, t + w) of the reserved schedule. */
function maxInWindow(events: { at: number; n: number }[], w: number): number {
  let max = 0;
  let sum = 0;
  let j = 0;
  for (let i = 0; i < events.length; i++) {
    const end = (events[i]?.at ?? 0) + w;
    while (j < events.length && (events[j]?.at ?? 0) < end) sum += events[j++]?.n ?? 0;
    max = Math.max(max, sum);
    sum -= events[i]?.n ?? 0;
  }
  return max;
}

describe('GCRA reservations', () => {
  test('the schedule follows the formula: a burst at once, then one per interval', async () => {
    const t0 = 1_700_000_000_000;
    let now = t0;
    const [ctx] = ctxs(uniquePrefix('gcra'), () => now);
    assert.ok(ctx);
    const req = { key: 'domain:a.example', ratePerSec: 10, burst: 3, n: 1 };
    const starts: number[] = [];
    for (let i = 0; i < 6; i++) starts.push((await reserve(ctx, req)).startAt - t0);
    assert.deepEqual(starts, [0, 0, 0, 100, 200, 300]);
    // Idle for a second: the burst is available again.
    now = t0 + 1400;
    const again = await reserve(ctx, { ...req, n: 3 });
    assert.deepEqual([again.startAt - t0, again.delayMs, again.granted], [1400, 0, 3]);
    const next = await reserve(ctx, req);
    assert.deepEqual([next.startAt - t0, next.delayMs, next.reservedAt - t0], [1500, 100, 1400]);
  });

  test('a batch above the burst is granted only the burst', async () => {
    const [ctx] = ctxs(uniquePrefix('gcra'));
    assert.ok(ctx);
    const slot = await reserve(ctx, { key: 'domain:b.example', ratePerSec: 50, burst: 10, n: 25 });
    assert.equal(slot.granted, 10);
    assert.equal(slot.delayMs, 0);
    await assert.rejects(
      reserve(ctx, { key: 'domain:b.example', ratePerSec: 50, burst: 10, n: 0 }),
      RangeError,
    );
  });

  test('state expires once the destination is idle; no limit means no key', async () => {
    const prefix = uniquePrefix('gcra');
    const [ctx] = ctxs(prefix);
    assert.ok(ctx);
    const keys = new ShapingKeys(prefix);
    await reserve(ctx, { key: 'domain:c.example', ratePerSec: 10, burst: 1, n: 1 });
    await reserve(ctx, { key: 'domain:c.example', ratePerSec: 10, burst: 1, n: 1 });
    const ttl = await ctx.redis.pttl(keys.gcra('domain:c.example'));
    assert.ok(ttl > 0 && ttl <= 202, `TAT key expires when it is past (pttl ${ttl})`);
    const free = await reserve(ctx, {
      key: 'domain:d.example',
      ratePerSec: undefined,
      burst: 1,
      n: 500,
    });
    assert.deepEqual([free.granted, free.delayMs], [500, 0]);
    assert.equal(await ctx.redis.exists(keys.gcra('domain:d.example')), 0);
  });

  test('4 concurrent clients: never above rate + burst in any window, long-run rate exact', async () => {
    const rate = 500;
    const burst = 50;
    const total = 20_000;
    const key = 'provider:big';
    const clients = ctxs(uniquePrefix('gcra'));
    const events: { at: number; n: number }[] = [];
    let asked = 0;
    // Each client keeps 8 reservations in flight, batches of 1 to 10 messages.
    await Promise.all(
      clients.flatMap((ctx) =>
        Array.from({ length: 8 }, async () => {
          while (asked < total) {
            const n = Math.min(1 + Math.floor(Math.random() * 10), total - asked);
            asked += n;
            const slot = await reserve(ctx, { key, ratePerSec: rate, burst, n });
            assert.equal(slot.granted, n);
            events.push({ at: slot.startAt, n });
          }
        }),
      ),
    );
    events.sort((a, b) => a.at - b.at);
    assert.equal(
      events.reduce((s, e) => s + e.n, 0),
      total,
    );
    for (const w of [1, 10, 100, 1000, 10_000]) {
      const max = maxInWindow(events, w);
      const bound = (rate * w) / 1000 + burst;
      assert.ok(max <= bound, `at most ${bound} in any ${w} ms window, saw ${max}`);
    }
    const first = events[0]?.at ?? 0;
    const last = events[events.length - 1]?.at ?? 0;
    // The first burst goes at once; after it, messages start at exactly the rate.
    const longRun = ((total - burst) * 1000) / (last - first);
    assert.ok(Math.abs(longRun / rate - 1) < 0.01, `long-run rate ${longRun.toFixed(2)}/s`);
    const windows: number[] = [];
    for (let t = first + 10_000; t + 10_000 <= last; t += 10_000) {
      windows.push(
        events.filter((e) => e.at >= t && e.at < t + 10_000).reduce((s, e) => s + e.n, 0),
      );
    }
    assert.ok(windows.length >= 2);
    for (const c of windows) {
      assert.ok(Math.abs(c / (rate * 10) - 1) <= 0.01, `10 s window after the first: ${c}`);
    }
    console.log(
      `GCRA conformance: ${total} messages from 4 clients at ${rate}/s burst ${burst}: ` +
        `long-run ${longRun.toFixed(2)}/s, 10 s windows ${windows.join(', ')}, ` +
        `max in 1 s ${maxInWindow(events, 1000)} (bound ${rate + burst})`,
    );
  });

  test('a destination idle between messages is not delayed', async () => {
    const clients = ctxs(uniquePrefix('gcra'));
    for (const ctx of clients) {
      const slot = await reserve(ctx, {
        key: 'domain:e.example',
        ratePerSec: 1e6,
        burst: 10,
        n: 1,
      });
      assert.equal(slot.delayMs, 0);
    }
  });
});
