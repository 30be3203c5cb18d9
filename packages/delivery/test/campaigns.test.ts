/**
 * The sender's campaign cache against a real Redis: how stale a status may be is judged on
 * the cache's own clock, so a loaded machine cannot make the check pass or fail by chance.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Keys } from '@volley/contracts';
import { CampaignStore } from '@volley/campaigns';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import { CampaignCache } from '../src/index.ts';
import { STATUS_TTL_MS } from '../src/timing.ts';

let server: LocalRedis;
let redis: RedisClient;
before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'campaign-cache-test' });
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

describe('the campaign cache', () => {
  test(`a pause reaches the sender within ${STATUS_TTL_MS} ms of its own clock, never later`, async () => {
    const store = new CampaignStore(redis, new Keys(uniquePrefix('cache')));
    const id = store.newId();
    await store.create(id, {
      tenant: 'default',
      from: 'n@sender.example',
      subject: 's',
      text: 't',
    });
    await store.addRecipients(id, [{ email: 'a@x.example' }]);
    assert.equal((await store.start(id)).started, true);
    let now = 1_000_000;
    const cache = new CampaignCache(
      store,
      () => undefined,
      () => now,
    );
    assert.equal((await cache.get(id))?.status, 'running');

    assert.equal((await store.transition(id, ['running'], 'paused')).changed, true);
    // Within the time to live the cached status may still say running ...
    now += STATUS_TTL_MS;
    assert.equal((await cache.get(id))?.status, 'running');
    // ... and past it the next batch sees the pause.
    now += 1;
    assert.equal((await cache.get(id))?.status, 'paused');
    // Read again only after another full time to live.
    assert.equal((await store.transition(id, ['paused'], 'running')).changed, true);
    now += STATUS_TTL_MS;
    assert.equal((await cache.get(id))?.status, 'paused');
    now += 1;
    assert.equal((await cache.get(id))?.status, 'running');
  });

  test('a campaign that no longer exists is dropped', async () => {
    const keys = new Keys(uniquePrefix('cache'));
    const store = new CampaignStore(redis, keys);
    const id = store.newId();
    await store.create(id, {
      tenant: 'default',
      from: 'n@sender.example',
      subject: 's',
      text: 't',
    });
    let now = 1_000_000;
    const cache = new CampaignCache(
      store,
      () => undefined,
      () => now,
    );
    assert.ok(await cache.get(id));
    await redis.del(keys.campaign(id));
    now += STATUS_TTL_MS + 1;
    assert.equal(await cache.get(id), undefined);
  });
});
