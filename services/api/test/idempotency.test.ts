import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Keys } from '@volley/contracts';
import { CampaignStore, IdempotencyKeys } from '@volley/campaigns';
import type { RedisClient } from '@volley/redis';
import { requestFingerprint } from '../src/routes/campaigns.ts';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

let fx: ApiFixture;
let app: FastifyInstance;
let redis: RedisClient;
let keys: Keys;

before(async () => {
  fx = await apiFixture();
  ({ app, redis, keys } = fx);
});

after(() => fx.close());

const campaign = {
  from: 'News <news@sender.example>',
  subject: 'Hi {{name}}',
  html: '<p>Hello {{name}}</p>',
  recipients: [
    { email: 'a@one.example', vars: { name: 'A' } },
    { email: 'b@two.example', vars: { name: 'B' } },
    { email: 'A@one.example', vars: { name: 'A again' } },
  ],
};

let seq = 0;
/** A key no other test uses, so tests do not see each other's claims. */
const freshKey = (): string => `key-${Date.now()}-${++seq}`;

function create(key: string, payload: object = campaign): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers: { ...auth, 'idempotency-key': key },
    payload,
  });
}

async function campaignIds(): Promise<string[]> {
  return redis.zrange(keys.tenantCampaigns('default'), '0', '-1');
}

describe('Idempotency-Key on POST /v1/campaigns', () => {
  test('a replay answers the first answer byte for byte, even after the campaign changed', async () => {
    const key = freshKey();
    const first = await create(key);
    assert.equal(first.statusCode, 202, first.body);
    const { id } = first.json<{ id: string }>();
    // The campaign moves on (running → paused); the replay still tells what the create answered.
    const pause = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/pause`,
      headers: auth,
    });
    assert.equal(pause.statusCode, 202, pause.body);
    const again = await create(key);
    assert.equal(again.statusCode, first.statusCode);
    assert.equal(again.body, first.body);
    assert.equal(again.headers['content-type'], first.headers['content-type']);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(first.headers['idempotent-replayed'], undefined);
  });

  test('concurrent creates with the same key make one campaign, and every 202 is the same answer', async (t) => {
    const key = freshKey();
    const before = new Set(await campaignIds());
    const answers = await Promise.all(Array.from({ length: 6 }, () => create(key)));
    const made = (await campaignIds()).filter((id) => !before.has(id));
    assert.equal(made.length, 1, `campaigns made: ${made.join(', ')}`);
    t.diagnostic(`answers: ${answers.map((a) => a.statusCode).join(', ')}`);
    const accepted = answers.filter((a) => a.statusCode === 202);
    assert.ok(accepted.length >= 1);
    for (const a of answers) {
      if (a.statusCode === 202) {
        assert.equal(a.body, accepted[0]?.body);
      } else {
        // Still being created by another request: retry shortly.
        assert.equal(a.statusCode, 409, a.body);
        assert.equal(a.headers['retry-after'], '1');
        assert.match(a.json<{ detail: string }>().detail, /in progress/);
      }
    }
    const later = await create(key);
    assert.equal(later.statusCode, 202);
    assert.equal(later.body, accepted[0]?.body);
    assert.equal(later.json<{ id: string }>().id, made[0]);
  });

  test('a retry after a create that failed partway makes the campaign once, whole', async () => {
    const key = freshKey();
    const before = new Set(await campaignIds());
    // A real Redis refusing one command the create needs: the request fails after the key was
    // claimed, as it would on a Redis failover in the middle of the create.
    await redis.call('ACL', 'SETUSER', 'default', '-zadd');
    let failed: LightMyRequestResponse;
    try {
      failed = await create(key);
    } finally {
      await redis.call('ACL', 'SETUSER', 'default', '+zadd');
    }
    assert.equal(failed.statusCode, 500, failed.body);
    const retry = await create(key);
    assert.equal(retry.statusCode, 202, retry.body);
    const body = retry.json<{
      id: string;
      status: string;
      recipients: { added: number; duplicates: number };
    }>();
    assert.equal(body.status, 'running');
    assert.deepEqual(body.recipients, { added: 2, duplicates: 1 });
    const got = await app.inject({ url: `/v1/campaigns/${body.id}`, headers: auth });
    assert.equal(got.statusCode, 200, `the answered campaign must exist: ${got.body}`);
    const c = got.json<{ status: string; counts: { total: number } }>();
    assert.equal(c.status, 'running');
    assert.equal(c.counts.total, 2);
    const made = (await campaignIds()).filter((id) => !before.has(id));
    assert.deepEqual(made, [body.id]);
    // The retry's answer is the one replayed from now on.
    const replay = await create(key);
    assert.equal(replay.body, retry.body);
  });

  test('a create whose API process died halfway is finished by a retry, under the same campaign id', async () => {
    const key = freshKey();
    const before = new Set(await campaignIds());
    // What the dead process left: the key claimed a minute ago (its lease has lapsed), the
    // campaign created, one of its recipients added, no answer.
    const store = new CampaignStore(redis, keys);
    const claim = await new IdempotencyKeys(redis, keys).claim('default', key, {
      id: store.newId(),
      fingerprint: requestFingerprint(campaign),
      now: Date.now() - 60_000,
    });
    assert.equal(claim.kind, 'create');
    const id = claim.kind === 'create' ? claim.id : '';
    await store.create(id, { tenant: 'default', from: campaign.from, subject: campaign.subject });
    await store.addRecipients(id, [{ email: 'a@one.example', vars: { name: 'A' } }]);

    const retry = await create(key);
    assert.equal(retry.statusCode, 202, retry.body);
    assert.equal(retry.headers['idempotent-replayed'], undefined);
    assert.deepEqual(retry.json(), {
      id,
      status: 'running',
      recipients: { added: 2, duplicates: 1 },
    });
    const made = (await campaignIds()).filter((c) => !before.has(c));
    assert.deepEqual(made, [id]);
    const rec = await store.get(id);
    assert.equal(rec?.counts.total, 2);
    assert.equal(await redis.llen(keys.recipients(id)), 2);
  });

  test('a claim still held by a live request is not taken over', async () => {
    const key = freshKey();
    const idem = new IdempotencyKeys(redis, keys);
    const first = await idem.claim('default', key, { id: 'c1', fingerprint: 'f' });
    const second = await idem.claim('default', key, { id: 'c2', fingerprint: 'f' });
    assert.equal(first.kind, 'create');
    assert.equal(second.kind, 'busy');
    // After its lease, a retry takes the create over, with the first claim's campaign id.
    const later = await idem.claim('default', key, {
      id: 'c3',
      fingerprint: 'f',
      now: Date.now() + 60_000,
    });
    assert.deepEqual(later.kind === 'create' ? [later.id, later.resumed] : later.kind, [
      'c1',
      true,
    ]);
  });

  test('the same key with a different request is refused with 422 and creates nothing', async () => {
    const key = freshKey();
    const first = await create(key);
    assert.equal(first.statusCode, 202);
    const before = await campaignIds();
    const other = await create(key, { ...campaign, subject: 'Another subject' });
    assert.equal(other.statusCode, 422, other.body);
    assert.match(other.json<{ detail: string }>().detail, /Idempotency-Key .* different request/);
    assert.deepEqual(await campaignIds(), before);
  });
});
