import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapingKeys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import fc from 'fast-check';
import { reserve, reserveMany, startedLate, type ShapingContext } from '../src/index.ts';

let server: LocalRedis;
let conns: RedisClient[] = [];

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
  test('the schedule follows the formula: half the burst at once, then one per interval', async () => {
    const t0 = 1_700_000_000_000;
    let now = t0;
    const [ctx] = ctxs(uniquePrefix('gcra'), () => now);
    assert.ok(ctx);
    const req = { key: 'domain:a.example', ratePerSec: 10, burst: 4, n: 1 };
    const starts: number[] = [];
    for (let i = 0; i < 6; i++) starts.push((await reserve(ctx, req)).startAt - t0);
    // Slots are reserved with half the burst (2): admission keeps the other half as room for
    // batches that wake late (see the admission tests below).
    assert.deepEqual(starts, [0, 0, 100, 200, 300, 400]);
    // Idle for a second: half the burst is available again.
    now = t0 + 1400;
    const again = await reserve(ctx, { ...req, n: 2 });
    assert.deepEqual([again.startAt - t0, again.delayMs, again.granted], [1400, 0, 2]);
    const next = await reserve(ctx, req);
    assert.deepEqual([next.startAt - t0, next.delayMs, next.reservedAt - t0], [1500, 100, 1400]);
  });

  test('slots are reserved with half the burst; from a burst of 20 on, so are batches', async () => {
    const t0 = 1_700_000_000_000;
    const now = t0;
    const [ctx] = ctxs(uniquePrefix('gcra'), () => now);
    assert.ok(ctx);
    const req = { key: 'domain:big.example', ratePerSec: 100, burst: 40 };
    const w = await reserveMany(ctx, { ...req, sizes: [20, 20, 20] });
    assert.deepEqual(
      w.slots.map((x) => [x.startAt - t0, x.granted]),
      [
        [0, 20],
        [200, 20],
        [400, 20],
      ],
    );
    // A single reservation may still ask for the whole burst; what is above half waits.
    const all = await reserve(ctx, { ...req, key: 'domain:other.example', n: 40 });
    assert.deepEqual([all.granted, all.delayMs], [40, 200]);
  });

  test('a batch above the burst is granted only the burst', async () => {
    const [ctx] = ctxs(uniquePrefix('gcra'));
    assert.ok(ctx);
    const slot = await reserve(ctx, { key: 'domain:b.example', ratePerSec: 50, burst: 10, n: 25 });
    assert.equal(slot.granted, 10);
    // Half the burst may start at once; the other 5 are 5 intervals (of 20 ms) later.
    assert.equal(slot.delayMs, 100);
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
    // At 1/s the second slot's time is 2 s out: long enough that no pause of a loaded
    // machine between these calls lets the key lapse before it is read.
    await reserve(ctx, { key: 'domain:c.example', ratePerSec: 1, burst: 1, n: 1 });
    await reserve(ctx, { key: 'domain:c.example', ratePerSec: 1, burst: 1, n: 1 });
    const ttl = await ctx.redis.pttl(keys.gcra('domain:c.example'));
    assert.ok(ttl > 0 && ttl <= 2002, `TAT key expires when it is past (pttl ${ttl})`);
    const free = await reserve(ctx, {
      key: 'domain:d.example',
      ratePerSec: undefined,
      burst: 1,
      n: 500,
    });
    assert.deepEqual([free.granted, free.delayMs], [500, 0]);
    assert.equal(await ctx.redis.exists(keys.gcra('domain:d.example')), 0);
  });

  test('with an injected clock, state lasts a minute of real time, however near its own end', async () => {
    // The test clock stands still while real time passes between calls; a key that lapsed
    // 20 real ms after a 50/s slot was lost between two calls on a loaded machine.
    const prefix = uniquePrefix('gcra');
    const T0 = Date.UTC(2030, 0, 1);
    const [ctx] = ctxs(prefix, () => T0);
    assert.ok(ctx);
    const keys = new ShapingKeys(prefix);
    await reserve(ctx, { key: 'domain:e.example', ratePerSec: 50, burst: 1, n: 1 });
    const ttl = await ctx.redis.pttl(keys.gcra('domain:e.example'));
    assert.ok(ttl > 59_000 && ttl <= 60_000, `pttl ${ttl}`);
    const next = await reserve(ctx, { key: 'domain:e.example', ratePerSec: 50, burst: 1, n: 1 });
    assert.equal(next.startAt - T0, 20, 'the second slot follows the first');
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

/** Fixed, so that a failure reproduces; printed by fast-check with the counterexample. */
const SEED = 20261128;

describe('admission of the messages that start', () => {
  test('a window reserved at once gets the same schedule as one reservation per batch', async () => {
    const t0 = 1_700_000_000_000;
    const now = t0;
    const [one, many] = [
      ctxs(uniquePrefix('gcra'), () => now)[0],
      ctxs(uniquePrefix('gcra'), () => now)[0],
    ];
    assert.ok(one && many);
    const key = 'domain:w.example';
    const sizes = [3, 3, 1, 2, 3, 3];
    const each: number[] = [];
    for (const n of sizes)
      each.push((await reserve(one, { key, ratePerSec: 10, burst: 3, n })).startAt - t0);
    const all = await reserveMany(many, { key, ratePerSec: 10, burst: 3, sizes });
    assert.deepEqual(
      all.slots.map((x) => x.startAt - t0),
      each,
    );
    // Half the burst of 3 is 1: a batch of 3 starts 2 intervals after the schedule's head.
    assert.deepEqual(each, [200, 500, 600, 800, 1100, 1400]);
    assert.deepEqual(
      all.slots.map((x) => x.granted),
      sizes,
    );
    // Nothing is admitted by the window's reservation: the first batch is admitted when it
    // presents its slot.
    const first = await reserve(many, {
      key,
      ratePerSec: 10,
      burst: 3,
      n: 3,
      held: { since: all.reservedAt, startAt: all.slots[0]?.startAt ?? 0 },
      admitWithinMs: 250,
    });
    assert.deepEqual([first.status, first.admitted, first.delayMs], ['held', true, 200]);
  });

  test('a late batch is admitted into the room its unused slot left; the next waits one interval', async () => {
    const t0 = 1_700_000_000_000;
    let now = t0;
    const [ctx] = ctxs(uniquePrefix('gcra'), () => now);
    assert.ok(ctx);
    const key = 'domain:late.example';
    const req = { key, ratePerSec: 10, burst: 1 };
    const w = await reserveMany(ctx, { ...req, sizes: [1, 1, 1, 1] });
    const slot = (i: number) => {
      const x = w.slots[i];
      assert.ok(x);
      return { since: w.reservedAt, startAt: x.startAt };
    };
    const present = (i: number) =>
      reserve(ctx, { ...req, n: 1, held: slot(i), admitWithinMs: 250 });
    // Slot 1 (at 100 ms) is missed: its batch waits for a connection and comes back at 250 ms.
    const got: [number, number][] = [];
    for (const [at, i] of [
      [0, 0],
      [200, 2],
      [250, 1],
      [300, 3],
    ] as const) {
      now = t0 + at;
      const r = await present(i);
      assert.equal(r.status, 'held');
      assert.ok(r.admitted, `slot ${i} presented at ${at} ms is admitted`);
      got.push([i, r.startAt - t0]);
    }
    // Nothing was given up, and no two messages start closer than the interval.
    assert.deepEqual(got, [
      [0, 0],
      [2, 200],
      [1, 300],
      [3, 400],
    ]);
    // Further behind than admitWithinMs: not admitted, told when to come back; nothing counted.
    now = t0 + 400;
    const far = await reserve(ctx, { ...req, n: 1, held: slot(3), admitWithinMs: 50 });
    assert.deepEqual([far.admitted, far.startAt - t0, far.delayMs], [false, 500, 100]);
    const again = await reserve(ctx, { ...req, n: 1, held: slot(3), admitWithinMs: 100 });
    assert.deepEqual([again.admitted, again.startAt - t0], [true, 500]);
  });

  test('in a backlog, a batch that wakes up to one interval late starts at once and pushes nobody back', async () => {
    const t0 = 1_700_000_000_000;
    let now = t0;
    // One batch every 200 ms. Wake-ups: on time, 150 ms late, on time, 190 ms late,
    // on time, ...
    const wakeLate = [0, 150, 0, 190, 0, 120, 0, 199];
    const run = async (ratePerSec: number, burst: number, size: number): Promise<number[]> => {
      const [ctx] = ctxs(uniquePrefix('gcra'), () => now);
      assert.ok(ctx);
      const req = { key: 'domain:room.example', ratePerSec, burst };
      now = t0;
      const w = await reserveMany(ctx, { ...req, sizes: wakeLate.map(() => size) });
      const late: number[] = [];
      for (const [i, x] of w.slots.entries()) {
        now = x.startAt + (wakeLate[i] ?? 0);
        const r = await reserve(ctx, {
          ...req,
          n: size,
          held: { since: w.reservedAt, startAt: x.startAt },
          admitWithinMs: 250,
        });
        assert.ok(r.admitted);
        late.push(r.startAt - x.startAt);
      }
      return late;
    };
    // 100/s, burst 40: slots are reserved with half of it (one batch) and admission keeps the
    // rest as room. Every batch starts when it wakes; the next, on time, is not held back.
    assert.deepEqual(await run(100, 40, 20), wakeLate);
    // 50/s, burst 10, batches of 10 (below 20, batches are the whole burst), also one every
    // 200 ms: no room. Each late batch pushes every later one back.
    assert.deepEqual(await run(50, 10, 10), [0, 150, 150, 190, 190, 190, 190, 199]);
  });

  test('messages that went out long after their admitted start count from then: the next batch waits one interval after them', async () => {
    const t0 = 1_700_000_000_000;
    let now = t0;
    const [ctx] = ctxs(uniquePrefix('gcra'), () => now);
    assert.ok(ctx);
    const req = { key: 'domain:slowconn.example', ratePerSec: 10, burst: 1 };
    const w = await reserveMany(ctx, { ...req, sizes: [1, 1, 1] });
    const present = (i: number) =>
      reserve(ctx, {
        ...req,
        n: 1,
        held: { since: w.reservedAt, startAt: w.slots[i]?.startAt ?? 0 },
        admitWithinMs: 250,
      });
    const first = await present(0);
    assert.deepEqual([first.admitted, first.startAt - t0], [true, 0]);
    // Its connection took 250 ms to open: the message went out at 250 ms, not at 0.
    now = t0 + 250;
    assert.equal((await startedLate(ctx, { ...req, n: 1 })) - t0, 350);
    // Slot 1 (100 ms) comes at 250 ms: admitted one interval after the late message, not on
    // top of it; and the slot after it one interval later again.
    const second = await present(1);
    assert.deepEqual([second.admitted, second.startAt - t0, second.delayMs], [true, 350, 100]);
    now = t0 + 350;
    const third = await present(2);
    assert.deepEqual([third.admitted, third.startAt - t0], [true, 450]);
    // Counted as starting now, messages that admission already counts later change nothing.
    assert.equal((await startedLate(ctx, { ...req, n: 1 })) - t0, 550);
    now = t0 + 360;
    assert.equal((await startedLate(ctx, { ...req, n: 1 })) - t0, 550);
    // Without a rate there is nothing to count, and no key is written.
    const free = { key: 'domain:free.example', ratePerSec: undefined, n: 5 };
    assert.equal((await startedLate(ctx, free)) - t0, 360);
    assert.equal(await ctx.redis.exists(ctx.keys.admission(free.key)), 0);
  });

  test('whatever the lateness of the batches, admitted starts keep the limit and no slot is lost', async () => {
    const rate = 50;
    const T = 1000 / rate;
    await fc.assert(
      fc.asyncProperty(
        // A burst below 20 (batches of the whole burst) and one above (slots of half of it).
        fc
          .constantFrom(5, 24)
          .chain((burst) =>
            fc.tuple(
              fc.constant(burst),
              fc.array(fc.integer({ min: 1, max: burst }), { minLength: 20, maxLength: 80 }),
            ),
          ),
        // Mostly the wake-up latency of a busy worker, sometimes seconds (a connection wait).
        fc.array(fc.oneof(fc.nat({ max: 150 }), fc.nat({ max: 3000 })), {
          minLength: 80,
          maxLength: 80,
        }),
        fc.array(fc.nat({ max: 40 }), { minLength: 80, maxLength: 80 }),
        async ([burst, sizes], lateness, wakeJitter) => {
          const t0 = 1_700_000_000_000;
          let now = t0;
          const [ctx] = ctxs(uniquePrefix('gcra'), () => now);
          assert.ok(ctx);
          const key = 'domain:prop.example';
          const w = await reserveMany(ctx, { key, ratePerSec: rate, burst, sizes });
          // A queue of wake-ups: each batch wakes its lateness after its slot; when not
          // admitted it comes back at the time it was told (plus a little promotion latency).
          const wakes = w.slots.map((x, i) => ({
            i,
            at: x.startAt + (lateness[i] ?? 0),
            startAt: x.startAt,
          }));
          const starts: { at: number; n: number }[] = [];
          let rounds = 0;
          while (wakes.length > 0) {
            wakes.sort((a, b) => a.at - b.at || a.i - b.i);
            const wake = wakes.shift();
            assert.ok(wake);
            now = wake.at;
            const n = sizes[wake.i] ?? 1;
            const r = await reserve(ctx, {
              key,
              ratePerSec: rate,
              burst,
              n,
              held: { since: w.reservedAt, startAt: wake.startAt },
              admitWithinMs: 250,
            });
            assert.equal(r.status, 'held');
            if (r.admitted) {
              assert.ok(r.startAt >= now && r.startAt - now <= 250);
              starts.push({ at: r.startAt, n: r.granted });
            } else {
              wakes.push({
                ...wake,
                at: r.startAt + (wakeJitter[rounds % 80] ?? 0),
                startAt: r.startAt,
              });
            }
            assert.ok(++rounds < sizes.length * 50, 'every batch is admitted in the end');
          }
          assert.equal(
            starts.reduce((x, e) => x + e.n, 0),
            sizes.reduce((x, n) => x + n, 0),
            'every reserved message starts',
          );
          starts.sort((a, b) => a.at - b.at);
          for (const win of [T, 10 * T, 1000]) {
            const bound = (rate * win) / 1000 + burst;
            const max = maxInWindow(starts, win);
            assert.ok(max <= bound + 1e-9, `at most ${bound} in any ${win} ms, saw ${max}`);
          }
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });
});
