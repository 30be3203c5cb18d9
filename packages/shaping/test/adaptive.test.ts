import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapingKeys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { Shaper, parsePolicy, type ShapingEvent, type Slot } from '../src/index.ts';

const POLICY = parsePolicy(
  `
defaults:
  rate: unlimited
providers:
  slowmail:
    mx: [slowmail.example]
    rate: 100/s
    burst: 10
    connections: 4
domains:
  steady.example: { rate: 100/s, burst: 10 }
adaptive:
  - name: try-later
    match: { code: 4xx, text: 'try (again )?later' }
    threshold: 3
    action: slow
    factor: 0.5
    duration: 60s
    recovery: { step: 0.25, every: 10s }
  - name: blocked
    match: { code: [421, 554], text: 'blocked' }
    threshold: 2
    action: suspend
    duration: 5m
  - name: spam
    match: { text: 'spam' }
    threshold: 2
    action: suspend
    scope: campaign
    duration: 1h
`,
  'adaptive-test.yaml',
);

const T0 = 1_700_000_000_000;
let server: LocalRedis;
let conns: RedisClient[] = [];

before(async () => {
  server = await startRedis();
  conns = [0, 1].map((i) => connectRedis(server.url, { name: `adaptive-${i}` }));
});
after(async () => {
  await Promise.all(conns.map((c) => c.quit()));
  await server.stop();
});

/** Two workers (separate connections) sharing one prefix and one test clock. */
function workers() {
  const clock = { now: T0 };
  const prefix = uniquePrefix('adapt');
  const events: { worker: number; ev: ShapingEvent }[] = [];
  const shapers = conns.map(
    (redis, worker) =>
      new Shaper({
        redis,
        prefix,
        policy: POLICY,
        clock: () => clock.now,
        onEvent: (ev) => events.push({ worker, ev }),
      }),
  );
  const [a, b] = shapers;
  const redis = conns[0];
  assert.ok(a && b && redis);
  return { a, b, redis, clock, prefix, events, keys: new ShapingKeys(prefix) };
}

const TRY_LATER = { code: 421, text: '4.7.0 Try again later, closing connection' };

describe('adaptive backoff', () => {
  test('matches from all workers count together; the threshold slows the destination', async () => {
    const { a, b, redis, events, keys } = workers();
    const plan = a.plan('user.example', ['mx1.slowmail.example']);
    assert.equal(plan.key, 'provider:slowmail');
    assert.equal(await a.observe(plan, { code: 250, text: '2.0.0 OK' }), undefined);
    assert.equal(await a.observe(plan, { code: 550, text: '5.1.1 user unknown' }), undefined);
    assert.equal(
      await redis.exists(keys.adaptiveCount(plan.key, 'try-later')),
      0,
      'replies matching no rule cost no Redis write',
    );
    assert.equal(await a.observe(plan, TRY_LATER), undefined);
    assert.equal(await b.observe(plan, TRY_LATER), undefined);
    const fired = await a.observe(plan, TRY_LATER);
    assert.deepEqual(fired, {
      type: 'slowed',
      key: 'provider:slowmail',
      rule: 'try-later',
      matches: 3,
      factor: 0.5,
      until: T0 + 60_000,
      recoveredBy: T0 + 70_000,
    });
    assert.deepEqual(
      events.map((e) => e.ev.type),
      ['slowed'],
      'reported once, by the worker that fired it',
    );
    for (const w of [a, b]) assert.equal((await w.state(plan.key)).factor, 0.5);
  });

  test('a slowed destination gets half its rate, burst and connections; others keep full speed', async () => {
    const { a, b, clock } = workers();
    const slowed = a.plan('user.example', ['mx1.slowmail.example']);
    const steady = a.plan('steady.example');
    const open = a.plan('anything.example', ['mx.anything.example']);
    for (let i = 0; i < 3; i++) await b.observe(slowed, TRY_LATER);

    const gaps = async (plan: typeof slowed, count: number) => {
      const starts: number[] = [];
      for (let i = 0; i < count; i++) starts.push((await a.reserve(plan, 1)).startAt - T0);
      return starts;
    };
    // 100/s × 0.5 = 50/s, 20 ms apart, and no burst right after the slow-down.
    assert.deepEqual(await gaps(slowed, 4), [20, 40, 60, 80]);
    // Slots are reserved with half the burst: 5 of steady.example's 10 at once.
    assert.deepEqual(await gaps(steady, 12), [0, 0, 0, 0, 0, 10, 20, 30, 40, 50, 60, 70]);
    // Idle for a while, it gets half its burst again: 10 × 0.5 = 5, half of it 2.
    clock.now = T0 + 1000;
    assert.deepEqual(
      (await gaps(slowed, 8)).map((t) => t - 1000),
      [0, 0, 20, 40, 60, 80, 100, 120],
    );
    const free = await a.reserve(open, 1000);
    assert.deepEqual([free.granted, free.delayMs, free.factor], [1000, 0, 1]);
    assert.equal(a.plan('anything.example').maxBatch, Infinity);

    const leases = await Promise.all([1, 2, 3, 4].map(() => a.acquireConnection(slowed)));
    assert.equal(leases.filter(Boolean).length, 2, 'connection cap 4 × 0.5');
    await a.close();
  });

  test('recovery step by step, each step reported once across workers', async () => {
    const { a, b, redis, clock, events, keys } = workers();
    const plan = a.plan('user.example', ['mx1.slowmail.example']);
    for (let i = 0; i < 3; i++) await a.observe(plan, TRY_LATER);
    const factors: number[] = [];
    for (const at of [59_999, 60_000, 69_999, 70_000, 80_000]) {
      clock.now = T0 + at;
      factors.push((await b.state(plan.key)).factor);
      await Promise.all([a.tick(), b.tick(), a.tick()]);
    }
    assert.deepEqual(factors, [0.5, 0.75, 0.75, 1, 1]);
    assert.deepEqual(
      events.map((e) => e.ev),
      [
        events[0]?.ev,
        { type: 'recovering', key: plan.key, factor: 0.75 },
        { type: 'recovered', key: plan.key },
      ],
    );
    assert.equal(await redis.zcard(keys.active), 0, 'nothing left to watch');
    assert.equal(await redis.exists(keys.adaptiveState(plan.key)), 0);
  });

  test('replies in flight do not fire the rule again within its window; later ones do', async () => {
    const { a, clock } = workers();
    const plan = a.plan('user.example', ['mx1.slowmail.example']);
    for (let i = 0; i < 3; i++) await a.observe(plan, TRY_LATER);
    for (let i = 0; i < 10; i++) assert.equal(await a.observe(plan, TRY_LATER), undefined);
    assert.equal((await a.state(plan.key)).factor, 0.5);
    clock.now = T0 + 61_000;
    assert.equal(await a.observe(plan, TRY_LATER), undefined);
    assert.equal(await a.observe(plan, TRY_LATER), undefined);
    const again = await a.observe(plan, TRY_LATER);
    assert.equal(again?.type, 'slowed');
    // At 61 s the first slow-down had recovered one step, to 0.75: the new one halves that.
    assert.equal(again.type === 'slowed' && again.factor, 0.375);
  });

  test('matches older than the window do not count', async () => {
    const { a, clock } = workers();
    const plan = a.plan('user.example', ['mx1.slowmail.example']);
    await a.observe(plan, TRY_LATER);
    await a.observe(plan, TRY_LATER);
    clock.now = T0 + 60_001;
    assert.equal(await a.observe(plan, TRY_LATER), undefined);
    assert.equal((await a.state(plan.key)).factor, 1);
  });

  test('a held slot stands unless the destination was slowed after it was reserved', async () => {
    const { a, b, clock } = workers();
    const plan = a.plan('user.example', ['mx1.slowmail.example']);
    for (let i = 0; i < 40; i++) await a.reserve(plan, 1);
    const before = await a.reserve(plan, 1);
    assert.ok(before.delayMs > 0, 'a backlog waits');
    clock.now = T0 + 100;
    for (let i = 0; i < 3; i++) await b.observe(plan, TRY_LATER);
    clock.now = before.startAt;
    const woken = await a.reserve(plan, 1, {
      held: { since: before.heldSince, startAt: before.startAt },
    });
    assert.equal(woken.status, 'reserved', 'reserved again at the slower rate');
    // The schedule restarted at the slow-down: the void full-rate slots do not hold it back.
    assert.equal(woken.startAt, before.startAt);
    const next: Slot[] = [];
    for (let i = 0; i < 5; i++) next.push(await a.reserve(plan, 1));
    assert.deepEqual(
      next.map((x) => x.startAt - woken.startAt),
      [0, 20, 40, 60, 80],
      'half the halved burst of 5 (2, with the one woken), then 50/s',
    );
    const later = next[4];
    assert.ok(later && !later.admitted, 'a slot ahead waits in the delayed set');
    clock.now = later.startAt;
    const again = await a.reserve(plan, 1, {
      held: { since: later.heldSince, startAt: later.startAt },
    });
    assert.deepEqual([again.status, again.delayMs, again.admitted], ['held', 0, true]);
  });

  test('a slot reserved before a slow-down stays void after the destination recovered', async () => {
    const { a, b, clock } = workers();
    const plan = a.plan('user.example', ['mx1.slowmail.example']);
    // A backlog reserved far ahead at the full rate (100/s): the last slot is ~10 s out.
    for (let i = 0; i < 1000; i++) await a.reserve(plan, 1);
    const far = await a.reserve(plan, 1);
    assert.ok(far.delayMs > 9000);
    clock.now = T0 + 100;
    for (let i = 0; i < 3; i++) await b.observe(plan, TRY_LATER);
    // Fully recovered (60 s slowed, then two 10-s steps) and the state cleaned up by the tick,
    // long before the batch holding that slot would have woken in a real backlog.
    clock.now = T0 + 80_100;
    await Promise.all([a.tick(), b.tick()]);
    assert.equal((await a.state(plan.key)).factor, 1);
    const woken = await a.reserve(plan, 1, {
      held: { since: far.heldSince, startAt: far.startAt },
    });
    assert.equal(woken.status, 'reserved', 'the pre-slow-down slot is not revived');
  });

  test('at each recovery step the slots reserved at the slower rate are void, so the new rate applies at once', async () => {
    const { a, b, clock } = workers();
    const plan = a.plan('user.example', ['mx1.slowmail.example']);
    clock.now = T0;
    for (let i = 0; i < 3; i++) await b.observe(plan, TRY_LATER);
    // A backlog reserved at the halved rate (50/s): the last slot is ~20 s out.
    for (let i = 0; i < 1000; i++) await a.reserve(plan, 1);
    const slow = await a.reserve(plan, 1);
    assert.ok(slow.delayMs > 15_000);
    clock.now = T0 + 60_000;
    await a.tick();
    assert.equal((await a.state(plan.key)).factor, 0.75);
    const woken = await a.reserve(plan, 1, {
      held: { since: slow.heldSince, startAt: slow.startAt },
    });
    assert.equal(woken.status, 'reserved', 'the slow slot is reserved again');
    assert.equal(woken.startAt, T0 + 60_000, 'at once, not behind the slow backlog');
  });

  test('a slot reserved before a suspension is void when it ends: reserved again, not doubled', async () => {
    const { a, b, clock } = workers();
    const plan = a.plan('steady.example');
    for (let i = 0; i < 100; i++) await a.reserve(plan, 1);
    // Its slot falls after the suspension's end.
    const held = await a.reserve(plan, 1);
    const blocked = { code: 554, text: '5.7.1 Service unavailable; client host blocked' };
    clock.now = T0 + 10;
    await a.observe(plan, blocked);
    await b.observe(plan, blocked);
    clock.now = T0 + 10 + 300_000;
    const first = await b.reserve(plan, 10);
    assert.equal(first.status, 'reserved');
    const woken = await a.reserve(plan, 1, {
      held: { since: held.heldSince, startAt: held.startAt },
    });
    assert.equal(woken.status, 'reserved', 'reserved again behind the new schedule');
    assert.ok(woken.startAt > first.startAt);
  });

  test('a suspended destination gets no slot until the suspension ends, then resumes', async () => {
    const { a, b, clock, events } = workers();
    const plan = a.plan('steady.example');
    const blocked = { code: 554, text: '5.7.1 Service unavailable; client host blocked' };
    assert.equal(await a.observe(plan, blocked), undefined);
    const ev = await b.observe(plan, blocked);
    assert.deepEqual(ev, {
      type: 'suspended',
      key: 'domain:steady.example',
      rule: 'blocked',
      matches: 2,
      until: T0 + 300_000,
    });
    clock.now = T0 + 1000;
    const slot = await a.reserve(plan, 5, { campaignId: 'c1' });
    assert.deepEqual(
      [slot.status, slot.granted, slot.delayMs, slot.suspendedUntil],
      ['suspended', 0, 299_000, T0 + 300_000],
    );
    assert.equal(await b.suspendedUntil(plan.key), T0 + 300_000);
    const snap = await a.snapshot();
    const d = snap.destinations.find((x) => x.key === plan.key);
    assert.deepEqual(d?.suspensions, [{ until: T0 + 300_000, rule: 'blocked' }]);

    clock.now = T0 + 300_000;
    const resumed = await a.reserve(plan, 5, { campaignId: 'c1' });
    assert.deepEqual([resumed.status, resumed.granted, resumed.delayMs], ['reserved', 5, 0]);
    assert.equal(await b.suspendedUntil(plan.key), undefined);
    await Promise.all([a.tick(), b.tick()]);
    assert.deepEqual(
      events.map((e) => e.ev.type),
      ['suspended', 'resumed'],
    );
  });

  test('a campaign-scoped rule counts and suspends one campaign only', async () => {
    const { a, b } = workers();
    const plan = a.plan('steady.example');
    const spam = { code: 550, text: '5.7.1 Message rejected as spam' };
    await a.observe(plan, spam, 'c1');
    assert.equal(await b.observe(plan, spam, 'c2'), undefined, 'one match each: no trigger');
    const ev = await b.observe(plan, spam, 'c1');
    assert.equal(ev?.type === 'suspended' && ev.campaignId, 'c1');
    assert.equal((await a.reserve(plan, 1, { campaignId: 'c1' })).status, 'suspended');
    assert.equal((await a.reserve(plan, 1, { campaignId: 'c2' })).status, 'reserved');
    assert.equal((await a.reserve(plan, 1)).status, 'reserved');
    assert.equal(await a.suspendedUntil(plan.key, 'c2'), undefined);
    assert.equal(await a.suspendedUntil(plan.key, 'c1'), T0 + 3_600_000);
  });

  test('the snapshot shows limits with factors, leases in use and the backlog', async () => {
    const { a, b } = workers();
    const plan = a.plan('user.example', ['mx1.slowmail.example']);
    for (let i = 0; i < 3; i++) await b.observe(plan, TRY_LATER);
    const lease = await a.acquireConnection(plan);
    assert.ok(lease?.id);
    // Right after a slow-down there is no burst: all 55 wait for their slots.
    for (let i = 0; i < 55; i++) await a.reserve(plan, 1);
    const snap = await b.snapshot();
    assert.equal(snap.policy, 'adaptive-test.yaml');
    const d = snap.destinations.find((x) => x.key === 'provider:slowmail');
    assert.ok(d);
    assert.deepEqual(
      [d.metricLabel, d.ratePerSec, d.factor, d.effectiveRatePerSec, d.effectiveConnections],
      ['slowmail', 100, 0.5, 50, 2],
    );
    assert.equal(d.connectionsInUse, 1);
    assert.equal(d.delayed, 55, 'slots reserved ahead of now');
    assert.equal(d.slow?.rule, 'try-later');
    assert.ok(snap.destinations.some((x) => x.key === 'domain:steady.example'));
    await a.close();
    assert.equal(
      (await b.snapshot()).destinations.find((x) => x.key === plan.key)?.connectionsInUse,
      0,
    );
  });
});
