import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapingKeys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix, waitUntil } from '@volley/testkit';
import { ConnectionSlots, Shaper, countLeases, parsePolicy } from '../src/index.ts';

const POLICY = parsePolicy(
  `
defaults: { rate: unlimited }
domains:
  paced.example: { rate: 10/s, connections: 2 }
  capped.example: { connections: 3 }
`,
  'connection-slots-test.yaml',
);

let server: LocalRedis;
let redis: RedisClient;
before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'connection-slots' });
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

/** Two workers sharing one Redis: each with its own Shaper and its own bookkeeping. */
function workers(maxBatches: number) {
  const prefix = uniquePrefix('slots');
  const shapers = ['w1', 'w2'].map(
    (holder) => new Shaper({ redis, prefix, policy: POLICY, holder }),
  );
  const errors: unknown[] = [];
  const slots = shapers.map(
    (s) => new ConnectionSlots(s, { maxBatches, onReleaseError: (err) => errors.push(err) }),
  );
  const ctx = { redis, keys: new ShapingKeys(prefix) };
  return {
    shapers,
    slots,
    errors,
    /** Leases in Redis, across both workers. */
    leases: (key: string) => countLeases(ctx, key),
    close: () => Promise.all(shapers.map((s) => s.close())),
  };
}

describe('connection slots of one worker', () => {
  test('a capped destination takes at most its cap (and the pool size) of the batch slots', async () => {
    const w = workers(2);
    const [a] = w.slots;
    const [sa] = w.shapers;
    assert.ok(a && sa);
    const plan = sa.plan('capped.example');
    try {
      // Cap 3, pool size 2: two batches at once on this worker.
      assert.equal(await a.enter(plan), true);
      assert.equal(await a.enter(plan), true);
      assert.equal(await a.enter(plan), false);
      a.leave(plan.key);
      assert.equal(await a.enter(plan), true);
      // Without a rate no lease is taken up front: leases follow connections.
      assert.equal(await w.leases(plan.key), 0);
    } finally {
      await w.close();
    }
  });

  test('with a rate, a batch takes a lease up front; the next connection uses it, and one left unused goes back', async () => {
    const w = workers(10);
    const [a, b] = w.slots;
    const [sa, sb] = w.shapers;
    assert.ok(a && b && sa && sb);
    const plan = sa.plan('paced.example');
    try {
      assert.equal(await a.enter(plan), true);
      assert.equal(await w.leases(plan.key), 1, 'one lease taken up front');
      assert.equal(a.holding(plan.key), 1);
      // The pool's first connection takes that lease rather than a second one.
      const first = await a.acquire(plan);
      assert.ok(first);
      assert.equal(await w.leases(plan.key), 1);
      // A second connection takes the cap's other place.
      const second = await a.acquire(plan);
      assert.ok(second);
      assert.equal(await w.leases(plan.key), 2);
      // The other worker holds none while the cap is full: its batch cannot start.
      assert.equal(await b.enter(sb.plan('paced.example')), false);
      assert.equal(await b.acquire(sb.plan('paced.example')), undefined);
      // A batch of a worker that holds leases starts without taking another.
      assert.equal(await a.enter(plan), true);
      assert.equal(await w.leases(plan.key), 2);
      first.release();
      first.release();
      second.release();
      await waitUntil(async () => (await w.leases(plan.key)) === 0, 'the leases to be given back');
      assert.equal(a.holding(plan.key), 0);
      // Now worker b gets one up front; its batch had nothing to send, so leaving gives it back.
      assert.equal(await b.enter(sb.plan('paced.example')), true);
      assert.equal(await w.leases(plan.key), 1);
      b.leave(plan.key);
      await waitUntil(async () => (await w.leases(plan.key)) === 0, 'the unused lease to go back');
      assert.deepEqual(w.errors, []);
    } finally {
      await w.close();
    }
  });
});
