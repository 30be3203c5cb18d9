/**
 * Final outcomes against a real Redis: the deferred count and the deferred bitmap move together,
 * and a campaign with nothing deferred is finalized without reading that bitmap.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Keys } from '@volley/contracts';
import { uniquePrefix } from '@volley/testkit';
import { CampaignStore } from '../src/index.ts';
import { redisForFile, runningCampaign } from './running.ts';
import type { FinalEntry } from '../src/store.ts';

const redisOf = redisForFile('finalize-test');

const sent = (i: number): FinalEntry => ({
  index: i,
  email: `r${i}@example.org`,
  outcome: 'sent',
  reason: 'delivered',
});

/** GETBIT calls Redis has served so far, those inside scripts included. */
async function getbits(): Promise<number> {
  const m = /cmdstat_getbit:calls=(\d+)/.exec(await redisOf().info('commandstats'));
  return Number(m?.[1] ?? 0);
}

describe('finalize', () => {
  test('clears the deferred bit and count of each deferred recipient it records, no other', async () => {
    const keys = new Keys(uniquePrefix('finalize'));
    const store = new CampaignStore(redisOf(), keys);
    const id = await runningCampaign(store, 10);
    const defer = (i: number) =>
      store.defer(id, i, `r${i}@example.org`, { reason: 'greylisted', detail: '451', lowWater: 0 });
    await defer(2);
    await defer(5);
    assert.equal((await store.get(id))?.counts.deferred, 2);
    await store.finalizeMany(id, 't1', [sent(1), sent(2), sent(3)], 0);
    assert.equal((await store.get(id))?.counts.deferred, 1);
    assert.equal(await redisOf().getbit(keys.deferred(id), 2), 0);
    assert.equal(await redisOf().getbit(keys.deferred(id), 5), 1);
    await store.finalizeMany(id, 't1', [sent(5), sent(6)], 0);
    assert.equal((await store.get(id))?.counts.deferred, 0);
    assert.equal(await redisOf().bitcount(keys.deferred(id)), 0);
    const c = (await store.get(id))?.counts;
    assert.equal(c?.sent, 5);
  });

  test('reads the deferred bitmap only while a recipient of the campaign is deferred', async () => {
    const keys = new Keys(uniquePrefix('finalize'));
    const store = new CampaignStore(redisOf(), keys);
    const id = await runningCampaign(store, 200);
    let before = await getbits();
    await store.finalizeMany(
      id,
      't1',
      Array.from({ length: 50 }, (_v, i) => sent(i)),
      0,
    );
    assert.equal(await getbits(), before, 'nothing deferred: no GETBIT');
    await store.defer(id, 150, 'r150@example.org', {
      reason: 'greylisted',
      detail: '451',
      lowWater: 0,
    });
    before = await getbits();
    await store.finalizeMany(
      id,
      't1',
      Array.from({ length: 50 }, (_v, i) => sent(50 + i)),
      0,
    );
    // DEFER's own check is one; finalizing then looks at every recipient's bit.
    assert.equal(await getbits(), before + 50, 'one deferred: a GETBIT per recipient');
    assert.equal((await store.get(id))?.counts.deferred, 1);
  });
});
