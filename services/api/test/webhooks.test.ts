import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ENDPOINTS } from '@volley/webhooks';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

let f: ApiFixture;
before(async () => {
  f = await apiFixture();
});
after(async () => {
  await f.close();
});

const post = (payload: Record<string, unknown>) =>
  f.app.inject({ method: 'POST', url: '/v1/webhooks', headers: auth, payload });
const list = async () =>
  (await f.app.inject({ method: 'GET', url: '/v1/webhooks', headers: auth })).json<{
    endpoints: { id: string; url: string; events: string[] }[];
  }>().endpoints;

describe('webhook endpoints', () => {
  test('an endpoint is created with its secret shown once, listed without it, and deleted', async () => {
    const res = await post({
      url: 'https://hooks.example/volley',
      events: ['bounced', 'complained'],
    });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json<{ id: string; secret: string }>();
    assert.match(created.secret, /^whsec_[A-Za-z0-9_-]{32}$/);
    const listed = await list();
    assert.deepEqual(
      listed.map((e) => [e.id, e.url, e.events]),
      [[created.id, 'https://hooks.example/volley', ['bounced', 'complained']]],
    );
    assert.ok(!JSON.stringify(listed).includes(created.secret), 'the list never shows the secret');
    const del = await f.app.inject({
      method: 'DELETE',
      url: `/v1/webhooks/${created.id}`,
      headers: auth,
    });
    assert.equal(del.statusCode, 204);
    assert.deepEqual(await list(), []);
    const again = await f.app.inject({
      method: 'DELETE',
      url: `/v1/webhooks/${created.id}`,
      headers: auth,
    });
    assert.equal(again.statusCode, 404);
  });

  test('a bad URL or event type is refused with a problem naming it, and adds nothing', async () => {
    for (const [payload, status, what] of [
      [{ url: 'ftp://hooks.example/', events: ['*'] }, 422, /https/],
      [{ url: 'not a url', events: ['*'] }, 422, /not a URL/],
      [{ url: 'https://hooks.example/#x', events: ['*'] }, 422, /fragment/],
      [{ url: 'https://hooks.example/', events: ['opened'] }, 400, /events/],
      [{ url: 'https://hooks.example/', events: [] }, 400, /events/],
      [{ url: 'https://hooks.example/', events: ['*'], extra: 1 }, 400, /extra|additional/],
    ] as const) {
      const res = await post(payload);
      assert.equal(res.statusCode, status, `${JSON.stringify(payload)}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /problem\+json/);
      assert.match(res.json<{ detail: string }>().detail, what);
    }
    assert.deepEqual(await list(), []);
  });

  test(`a tenant has at most ${MAX_ENDPOINTS} endpoints; one more is a 409`, async () => {
    for (let i = 0; i < MAX_ENDPOINTS; i++) {
      assert.equal(
        (await post({ url: `https://hooks.example/${i}`, events: ['*'] })).statusCode,
        201,
      );
    }
    const res = await post({ url: 'https://hooks.example/one-more', events: ['*'] });
    assert.equal(res.statusCode, 409);
    assert.equal((await list()).length, MAX_ENDPOINTS);
  });

  test('without a key the webhook routes answer 401', async () => {
    const res = await f.app.inject({ method: 'GET', url: '/v1/webhooks/dead-letters' });
    assert.equal(res.statusCode, 401);
  });
});
