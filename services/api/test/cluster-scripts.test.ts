/**
 * Every Lua script of Volley run on a Redis Cluster of three masters: a script whose keys
 * hash to different slots fails there with CROSSSLOT (one Redis never notices), so each is
 * called through the code that calls it in service, its keys checked to share one slot, and
 * the scripts run are counted against every script the sources declare.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Keys } from '@volley/contracts';
import {
  CampaignStore,
  createQueues,
  Feedback,
  IdempotencyKeys,
  Retention,
  SuppressionList,
} from '@volley/campaigns';
import { DomainStore } from '@volley/domains';
import { BacklogReader, LeaderLock } from '@volley/observability';
import { connectRedis, LuaScript, type LocalCluster, type RedisClient } from '@volley/redis';
import { Shaper, parsePolicy } from '@volley/shaping';
import { ROOT, startRedisCluster, uniquePrefix } from '@volley/testkit';
import { TenantStore } from '../src/tenants.ts';

let cluster: LocalCluster;
let redis: RedisClient;
/** Each script run, with the keys of each call and the slots they hash to. */
const runs = new Map<LuaScript, { keys: string[]; slots: Set<number> }[]>();

before(async () => {
  cluster = await startRedisCluster();
  redis = connectRedis(cluster.url, { name: 'cluster-scripts', cluster: true });
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the script as `this`
  const run = LuaScript.prototype.run;
  LuaScript.prototype.run = async function (this: LuaScript, r, keys, args) {
    const slots = new Set(
      await Promise.all(keys.map(async (k) => Number(await r.call('CLUSTER', 'KEYSLOT', k)))),
    );
    let calls = runs.get(this);
    if (!calls) runs.set(this, (calls = []));
    calls.push({ keys, slots });
    return run.call(this, r, keys, args);
  };
});
after(async () => {
  redis.disconnect();
  await cluster.stop();
});

/** `new LuaScript(` in the services' and packages' sources: the scripts there are. */
function declaredScripts(): number {
  let n = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        n += readFileSync(p, 'utf8').split('new LuaScript(').length - 1;
      }
    }
  };
  for (const top of ['packages', 'services']) {
    for (const w of readdirSync(join(ROOT, top), { withFileTypes: true })) {
      const src = join(ROOT, top, w.name, 'src');
      if (w.isDirectory() && readdirSync(join(ROOT, top, w.name)).includes('src')) walk(src);
    }
  }
  return n;
}

const POLICY = parsePolicy(
  [
    'version: 1',
    'defaults: { rate: unlimited }',
    'domains:',
    '  one.example: { rate: 100/s, burst: 10, connections: 4 }',
    'adaptive:',
    "  - { name: try-later, match: { text: 'try later' }, threshold: 1, action: slow, factor: 0.5, duration: 1m, recovery: { step: 0.25, every: 10s } }",
    "  - { name: blocked, match: { text: 'blocked' }, threshold: 1, action: suspend, duration: 1m }",
    '',
  ].join('\n'),
  'policy.yaml',
);

describe('Lua scripts on a Redis Cluster', () => {
  test("every script's keys share one slot, and every script the sources declare runs there", async () => {
    const keys = new Keys(uniquePrefix('slots'));
    const tenants = new TenantStore(redis, keys);
    const tenant = 'acme';
    await tenants.createTenant(tenant, 'Acme');
    const { record } = await tenants.createKey(tenant, 'ci');
    await tenants.revokeKey(record.id);

    const idem = new IdempotencyKeys(redis, keys);
    const claim = await idem.claim(tenant, 'k1', { id: 'c-idem', fingerprint: 'f1' });
    assert.equal(claim.kind, 'create');
    await idem.complete(tenant, 'k1', 'c-idem', { status: 202, body: '{}' });
    const other = await idem.claim(tenant, 'k2', { id: 'c-idem2', fingerprint: 'f2' });
    assert.equal(other.kind, 'create');
    if (other.kind === 'create') await idem.release(tenant, 'k2', other.attempt, true);

    const store = new CampaignStore(redis, keys);
    const def = { tenant, from: 'news@sender.example', subject: 'Hi', text: 'Hello' };
    const id = store.newId();
    assert.equal(await store.create(id, def), true);
    const upload = await store.beginUpload(id);
    assert.ok(upload);
    await store.addRecipients(id, [
      { email: 'a@one.example' },
      { email: 'b@one.example' },
      { email: 'c@one.example' },
      { email: 'd@one.example' },
    ]);
    await store.endUpload(id, upload.token);
    assert.equal((await store.start(id)).started, true);
    assert.equal(await store.advanceCursor(id, 0, 4), true);
    assert.equal(await store.claim(id, [0, 1, 2]), true);
    await store.defer(id, 2, 'c@one.example', { reason: 'busy', detail: '451', lowWater: 0 });
    await store.finalizeMany(
      id,
      tenant,
      [
        { index: 0, email: 'a@one.example', outcome: 'sent', reason: 'delivered' },
        {
          index: 1,
          email: 'b@one.example',
          outcome: 'bounced',
          reason: 'userunknown',
          suppress: true,
        },
      ],
      0,
    );
    // The collector's hold on the stream, beside it.
    assert.equal(await store.holdEvents(id, undefined, 60_000), 0);
    assert.equal((await store.transition(id, ['running'], 'paused')).changed, true);
    assert.equal(await store.park(id, 'job-1'), 'paused');
    assert.deepEqual(await store.takeParked(id), ['job-1']);
    assert.equal((await store.transition(id, ['paused'], 'running')).changed, true);

    const feedback = new Feedback(redis, keys, {
      softBounceLimit: 3,
      softBounceWindowMs: 86_400_000,
    });
    const fb = await feedback.apply(
      { campaignId: id, index: 0 },
      { kind: 'complained', feedbackType: 'abuse', source: 'arf' },
    );
    assert.equal(fb.applied, true);
    await feedback.apply(
      { tenant, email: 'x@one.example', ref: 'm1' },
      { kind: 'unsubscribed', source: 'mailto' },
    );
    assert.equal((await store.transition(id, ['running'], 'cancelled')).changed, true);
    // Cancelled: indexed for retention, which removes its per-recipient data when due.
    const later = Date.now() + 2000;
    const retention = new Retention(redis, keys, { retentionMs: 1000, clock: () => later });
    assert.deepEqual((await retention.sweep()).purged, [id]);
    assert.equal(await redis.exists(keys.recipients(id)), 0);

    const list = new SuppressionList(redis, keys);
    await list.add(tenant, [{ email: 'y@one.example', source: 'manual', reason: 'request' }]);
    assert.equal(await list.remove(tenant, 'y@one.example'), true);
    // A member without date or description (kept from before they were stored) is backfilled.
    await redis.sadd(keys.suppression(tenant), 'old@one.example');
    const page = await list.page(tenant, { limit: 10 });
    assert.ok(page.entries.some((e) => e.email === 'old@one.example'));
    const importId = list.beginImport();
    await list.stage(tenant, importId, [
      { email: 'z@one.example', source: 'manual', reason: 'import' },
    ]);
    assert.equal((await list.commitImport(tenant, importId)).added, 1);

    const domains = new DomainStore(redis, keys, { secret: 'a'.repeat(64) });
    await domains.add(tenant, { domain: 'mail.acme.example', keyType: 'ed25519' });

    const lock = new LeaderLock(redis, keys.collectorLock, 10_000);
    assert.equal(await lock.acquire(), true);
    assert.equal(await lock.acquire(), true, 'renewed by its holder');
    await lock.release();

    const queues = createQueues(redis, keys);
    try {
      await queues.send.add('send-batch', {
        batchId: 'b1',
        campaignId: id,
        tenant,
        domain: 'one.example',
        recipients: [{ i: 3, email: 'd@one.example' }],
        attempt: 1,
        firstAttemptAt: Date.now(),
      });
      await queues.send.add(
        'send-batch',
        {
          batchId: 'b2',
          campaignId: id,
          tenant,
          domain: 'one.example',
          recipients: [{ i: 3, email: 'd@one.example' }],
          attempt: 2,
          firstAttemptAt: Date.now(),
        },
        { delay: 60_000 },
      );
      const split = await new BacklogReader(redis, keys).read(Date.now(), () => store.status(id));
      assert.equal(split.messages.sendable + split.messages.retrying, 2);
    } finally {
      await queues.close();
    }

    const shaper = new Shaper({ redis, prefix: keys.prefix, policy: POLICY });
    try {
      const plan = shaper.plan('one.example');
      await shaper.reserve(plan, 1);
      await shaper.reserveBatches(plan, [5, 5]);
      await shaper.startedLate(plan, 1);
      const lease = await shaper.acquireConnection(plan);
      assert.ok(lease?.id);
      await shaper.renewLeases();
      assert.equal((await shaper.observe(plan, { code: 421, text: 'try later' }))?.type, 'slowed');
      const suspended = await shaper.observe(plan, { code: 554, text: 'blocked' });
      assert.equal(suspended?.type, 'suspended');
      assert.ok((await shaper.state(plan.key)).factor < 1);
      // The snapshot lists the destinations in trouble, with their leases counted.
      assert.ok((await shaper.snapshot()).destinations.some((d) => d.key === plan.key));
      await shaper.tick();
      await shaper.releaseConnection(lease);
    } finally {
      await shaper.close();
    }

    for (const calls of runs.values()) {
      for (const { keys: k, slots } of calls) {
        assert.ok(slots.size <= 1, `a script's keys span ${slots.size} slots: ${k.join(' ')}`);
      }
    }
    assert.equal(runs.size, declaredScripts(), 'every declared script ran on the cluster');
  });
});
