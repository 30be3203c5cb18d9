/**
 * Claims on recipients before their messages go to SMTP, against a real Redis: the claimed
 * bitmap holds exactly the claimed indices, however many a call claims, and a cancel turns the
 * claims still held into cancelled recipients.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Keys } from '@volley/contracts';
import { uniquePrefix } from '@volley/testkit';
import { CampaignStore } from '../src/index.ts';
import { redisForFile, runningCampaign } from './running.ts';

const redisOf = redisForFile('claim-test');

describe('claims', () => {
  test('set exactly the claimed indices, in calls of any size', async () => {
    const keys = new Keys(uniquePrefix('claim'));
    const store = new CampaignStore(redisOf(), keys);
    const id = await runningCampaign(store, 5_000);
    // Scattered indices, and a call larger than one BITFIELD chunk (1,000 claims).
    const small = [0, 7, 8, 9, 4_999];
    const large = Array.from({ length: 2_500 }, (_v, i) => 1_000 + i);
    assert.equal(await store.claim(id, small), true);
    assert.equal(await store.claim(id, large), true);
    const claimed = new Set([...small, ...large]);
    const bitmap = keys.claimed(id);
    assert.equal(await redisOf().bitcount(bitmap), claimed.size);
    const probes = [0, 1, 6, 7, 9, 10, 999, 1_000, 2_222, 3_499, 3_500, 4_998, 4_999];
    for (const i of probes) {
      assert.equal(await redisOf().getbit(bitmap, i), claimed.has(i) ? 1 : 0, `index ${i}`);
    }
  });

  test('after a cancel, the claims a caller still holds become cancelled recipients', async () => {
    const keys = new Keys(uniquePrefix('claim'));
    const store = new CampaignStore(redisOf(), keys);
    const id = await runningCampaign(store, 20);
    assert.equal(await store.claim(id, [3, 4, 5]), true);
    assert.equal((await store.transition(id, ['running'], 'cancelled', 3)).changed, true);
    const before = (await store.get(id))?.counts.cancelled ?? 0;
    // Cancelled: no new claim is taken; the held ones on 3 and 4 turn into cancelled ones.
    assert.equal(await store.claim(id, [3, 4, 10]), false);
    assert.equal((await store.get(id))?.counts.cancelled, before + 2);
    assert.equal(await redisOf().getbit(keys.claimed(id), 10), 0);
    assert.equal(await redisOf().getbit(keys.claimed(id), 5), 1);
  });
});
