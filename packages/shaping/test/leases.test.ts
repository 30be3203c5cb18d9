import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapingKeys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix, waitUntil } from '@volley/testkit';
import {
  acquireLease,
  countLeases,
  releaseLease,
  renewLeases,
  type ShapingContext,
} from '../src/index.ts';

let server: LocalRedis;
let conns: RedisClient[] = [];

before(async () => {
  server = await startRedis();
  conns = Array.from({ length: 4 }, (_, i) => connectRedis(server.url, { name: `lease-${i}` }));
});
after(async () => {
  await Promise.all(conns.map((c) => c.quit()));
  await server.stop();
});

function ctxs(prefix: string): ShapingContext[] {
  return conns.map((redis) => ({ redis, keys: new ShapingKeys(prefix) }));
}

describe('connection leases', () => {
  test('concurrent acquires from 4 connections never exceed the cap', async () => {
    const clients = ctxs(uniquePrefix('lease'));
    const key = 'provider:capped';
    const cap = 7;
    let inUse = 0;
    let peak = 0;
    let granted = 0;
    let refused = 0;
    // 4 clients × 10 workers, each opening and closing "connections" 20 times.
    await Promise.all(
      clients.flatMap((ctx, c) =>
        Array.from({ length: 10 }, async (_, w) => {
          for (let i = 0; i < 20; i++) {
            const r = await acquireLease(ctx, key, cap, 30_000, `w${c}-${w}`);
            assert.ok(r.used <= cap, `the set never holds more than the cap (${r.used})`);
            if (r.id === undefined) {
              refused++;
              continue;
            }
            granted++;
            peak = Math.max(peak, ++inUse);
            await new Promise((res) => setImmediate(res));
            inUse--;
            await releaseLease(ctx, key, r.id);
          }
        }),
      ),
    );
    assert.ok(peak <= cap, `at most ${cap} held at once, saw ${peak}`);
    assert.ok(
      granted > 0 && refused > 0,
      `contention happened (${granted} granted, ${refused} refused)`,
    );
    assert.equal(await countLeases(clients[0] as ShapingContext, key), 0);
  });

  test('a lease that is not renewed lapses after its ttl and frees its place', async () => {
    const [a, b] = ctxs(uniquePrefix('lease'));
    assert.ok(a && b);
    const key = 'domain:one.example';
    const crashed = await acquireLease(a, key, 1, 300, 'crashed-worker');
    assert.ok(crashed.id);
    assert.equal((await acquireLease(b, key, 1, 300, 'other')).id, undefined, 'cap of 1 is full');
    // The crashed holder never renews: the place comes back once its ttl has passed.
    let taken: string | undefined;
    await waitUntil(async () => {
      taken = (await acquireLease(b, key, 1, 30_000, 'other')).id;
      return taken !== undefined;
    }, 'the lapsed lease to free its place');
    assert.deepEqual(await renewLeases(a, key, [crashed.id], 30_000), [false]);
    assert.deepEqual(await renewLeases(b, key, [taken ?? ''], 30_000), [true]);
  });

  test('renewal keeps a lease past its first ttl; the key expires with its last lease', async () => {
    const prefix = uniquePrefix('lease');
    // The scripts take the test's clock, so a loaded machine's pauses cannot make a renewal
    // late: the lease is judged at exactly the times the test names.
    let now = Date.now();
    // A minute: the set's own expiry runs on Redis' clock, and must outlast the calls.
    const TTL = 60_000;
    const clock = (): number => now;
    const [a, b] = ctxs(prefix).map((c) => ({ ...c, clock }));
    assert.ok(a && b);
    const key = 'domain:two.example';
    const lease = await acquireLease(a, key, 1, TTL, 'holder');
    assert.ok(lease.id);
    const id = lease.id;
    // Renewed every sixth of its ttl for more than twice its ttl, it is never lost.
    for (let step = 0; step < 14; step++) {
      now += TTL / 6;
      assert.deepEqual(await renewLeases(a, key, [id], TTL), [true]);
      assert.equal((await acquireLease(b, key, 1, TTL, 'other')).id, undefined);
    }
    const ttl = await a.redis.pttl(new ShapingKeys(prefix).leases(key));
    assert.ok(ttl > 0 && ttl <= TTL + 1, `the set expires with its last lease (pttl ${ttl})`);
    // No longer renewed, it lapses once its ttl has passed, and the slot is free.
    now += TTL - 1;
    assert.equal((await acquireLease(b, key, 1, TTL, 'other')).id, undefined);
    now += 2;
    assert.ok((await acquireLease(b, key, 1, TTL, 'other')).id, 'the lapsed lease freed its place');
  });
});
