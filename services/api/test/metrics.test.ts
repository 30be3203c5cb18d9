// The API's own metrics (issue 12): request rate, latency and errors by route pattern, and the
// rows of recipient uploads by result, read from the registry /metrics serves.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { apiFixture, auth, uploadRecipients, type ApiFixture } from './fixture.ts';

let fx: ApiFixture;
const registry = new Registry();

before(async () => {
  fx = await apiFixture({ uploadLimit: 1024 * 1024, uploadMaxInvalid: 5 }, () => ({ registry }));
});
after(() => fx.close());

/** The value of the samples of `name` whose labels include `labels` (0 when none). */
async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))
    .reduce((sum, v) => sum + v.value, 0);
}

/** A draft campaign created through the API; its id. */
async function draft(): Promise<string> {
  const created = await fx.app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers: auth,
    payload: { from: 'n@sender.example', subject: 'Hi', text: 'Hello', draft: true },
  });
  assert.equal(created.statusCode, 202, created.body);
  return created.json<{ id: string }>().id;
}

test('requests are counted by method, route pattern and status, errors included, and timed; a raw id or path is never a label', async () => {
  const id = await draft();
  for (let i = 0; i < 2; i++) {
    const res = await fx.app.inject({ method: 'GET', url: `/v1/campaigns/${id}`, headers: auth });
    assert.equal(res.statusCode, 200);
  }
  const unknown = fx.store.newId();
  const missing = await fx.app.inject({
    method: 'GET',
    url: `/v1/campaigns/${unknown}`,
    headers: auth,
  });
  assert.equal(missing.statusCode, 404);
  const noKey = await fx.app.inject({ method: 'GET', url: `/v1/campaigns/${id}` });
  assert.equal(noKey.statusCode, 401);
  const madeUp = await fx.app.inject({ method: 'GET', url: '/made-up/path-4242', headers: auth });
  assert.equal(madeUp.statusCode, 404);

  const requests = 'volley_api_requests_total';
  const one = '/v1/campaigns/:id';
  assert.equal(await value(requests, { method: 'POST', route: '/v1/campaigns', status: '202' }), 1);
  assert.equal(await value(requests, { method: 'GET', route: one, status: '200' }), 2);
  assert.equal(await value(requests, { method: 'GET', route: one, status: '404' }), 1);
  assert.equal(await value(requests, { method: 'GET', route: one, status: '401' }), 1);
  assert.equal(await value(requests, { route: 'unmatched', status: '404' }), 1);
  assert.equal(await value('volley_api_campaigns_created_total'), 1);
  const text = await registry.metrics();
  // Every answered request is timed once, under the same route pattern.
  const timed = text
    .split('\n')
    .filter((l) => l.startsWith('volley_api_request_duration_seconds_count{'))
    .filter((l) => l.includes(`route="${one}"`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  assert.equal(timed, 4);

  assert.doesNotMatch(text, new RegExp(`${id}|${unknown}`), 'no campaign id in a label');
  assert.doesNotMatch(text, /4242/, 'no raw path in a label');
});

test('upload rows are counted by result: added, duplicate and invalid; accepted recipients with them', async () => {
  const id = await draft();
  const rows = 'volley_api_upload_rows_total';
  const before = {
    added: await value(rows, { result: 'added' }),
    accepted: await value('volley_api_recipients_accepted_total'),
  };
  const body = [
    '{"email":"a@one.example"}',
    '{"email":"A@ONE.example"}',
    '{"email":"not an address"}',
    '{"email":"b@two.example"}',
    '{"email":"c@two.example"}',
  ].join('\n');
  const res = await uploadRecipients(fx.app, id, 'application/x-ndjson', body);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((await value(rows, { result: 'added' })) - before.added, 3);
  assert.equal(await value(rows, { result: 'duplicate' }), 1);
  assert.equal(await value(rows, { result: 'invalid' }), 1);
  assert.equal((await value('volley_api_recipients_accepted_total')) - before.accepted, 3);
});
