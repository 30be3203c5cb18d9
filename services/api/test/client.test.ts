import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createVolleyClient, uploadRecipients, type VolleyClient } from '@volley/api-client';
import { waitUntil } from '@volley/testkit';
import { CAMPAIGN, DOMAINS, Harness, KEY, sharedRedis } from '@volley/sender/test-harness';

/**
 * The generated client against the real API over HTTP, with real senders delivering to a real
 * SMTP server: what a user's program does, through the client only.
 */
let shared: Awaited<ReturnType<typeof sharedRedis>>;
let h: Harness;
let volley: VolleyClient;
let baseUrl: string;

before(async () => {
  shared = await sharedRedis();
  h = new Harness(shared.redis, shared.url);
  await h.start({ senders: 1 });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  volley = createVolleyClient({ baseUrl, apiKey: KEY });
});

after(async () => {
  await h.stop();
  await shared.stop();
});

const people = (from: number, n: number): { email: string; name: string }[] =>
  Array.from({ length: n }, (_, i) => ({
    email: `client${from + i}@${DOMAINS[(from + i) % DOMAINS.length]}`,
    name: `Client${from + i}`,
  }));

test('a campaign round-trips through the generated client: create, upload NDJSON and CSV, start, watch, events', async () => {
  const created = await volley.POST('/v1/campaigns', { body: { ...CAMPAIGN, draft: true } });
  assert.equal(created.response.status, 202, JSON.stringify(created.error));
  assert.equal(created.data?.status, 'draft');
  const id = created.data.id;

  const ndjsonRows = people(0, 30);
  const ndjson = ndjsonRows
    .map((p) => JSON.stringify({ email: p.email, vars: { name: p.name, n: p.email } }))
    .join('\n');
  const first = await uploadRecipients(volley, id, 'ndjson', ndjson);
  assert.equal(first.response.status, 200, JSON.stringify(first.error));
  assert.deepEqual(
    [first.data?.added, first.data?.invalid, first.data?.total],
    [ndjsonRows.length, 0, ndjsonRows.length],
  );

  // CSV as a stream, as a program uploading a large file would send it.
  const csvRows = people(30, 12);
  const csv = ['email,name,n', ...csvRows.map((p) => `${p.email},${p.name},${p.email}`)];
  const stream = Readable.toWeb(
    Readable.from(csv.map((line) => Buffer.from(`${line}\n`))),
  ) as ReadableStream<Uint8Array>;
  const second = await uploadRecipients(volley, id, 'csv', stream);
  assert.equal(second.response.status, 200, JSON.stringify(second.error));
  const total = ndjsonRows.length + csvRows.length;
  assert.deepEqual([second.data?.added, second.data?.total], [csvRows.length, total]);

  const started = await volley.POST('/v1/campaigns/{id}/start', { params: { path: { id } } });
  assert.equal(started.response.status, 202, JSON.stringify(started.error));
  assert.equal(started.data?.status, 'running');

  // Watched as a user watches it: by reading the campaign until it is done.
  let status = '';
  await waitUntil(
    async () => {
      const { data, error } = await volley.GET('/v1/campaigns/{id}', {
        params: { path: { id } },
      });
      assert.ok(data, JSON.stringify(error));
      status = data.status;
      return status === 'completed';
    },
    `campaign ${id} to complete`,
    60_000,
  );
  const done = await volley.GET('/v1/campaigns/{id}', { params: { path: { id } } });
  assert.deepEqual(
    {
      total: done.data?.counts.total,
      sent: done.data?.counts.sent,
      failed: done.data?.counts.failed,
    },
    { total, sent: total, failed: 0 },
  );

  // Events, a page at a time, following `next` until a page is short.
  const events: { email: string; outcome: string }[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10; page++) {
    const { data, error } = await volley.GET('/v1/campaigns/{id}/events', {
      params: { path: { id }, query: { limit: 16, ...(cursor ? { cursor } : {}) } },
    });
    assert.ok(data, JSON.stringify(error));
    events.push(...data.events);
    cursor = data.next;
    if (data.events.length < 16) break;
  }
  assert.equal(events.length, total);
  assert.ok(events.every((e) => e.outcome === 'sent'));
  const uploaded = [...ndjsonRows, ...csvRows].map((p) => p.email).sort();
  assert.deepEqual(events.map((e) => e.email).sort(), uploaded);

  // The messages really went out, each rendered with the variables of its row.
  const delivered = h.capture.messages.filter((m) => uploaded.includes(m.to[0] ?? ''));
  assert.equal(delivered.length, total);
  const csvMessage = delivered.find((m) => m.to[0] === csvRows[0]?.email);
  assert.match(
    csvMessage?.raw.toString() ?? '',
    new RegExp(`\r\nSubject: Hello ${csvRows[0]?.name}\r\n`),
  );
});

test('error answers come back typed as problems, with the status the document lists', async () => {
  const missing = await volley.GET('/v1/campaigns/{id}', {
    params: { path: { id: '0'.repeat(20) } },
  });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.data, undefined);
  assert.equal(missing.error?.status, 404);
  assert.match(missing.error?.detail ?? '', /does not exist/);

  const stranger = createVolleyClient({ baseUrl, apiKey: 'not-a-key-of-this-api' });
  const refused = await stranger.GET('/v1/shaping');
  assert.equal(refused.response.status, 401);
  assert.equal(refused.error?.title, 'Unauthorized');
});

test('createVolleyClient refuses a base URL it could not send to', () => {
  assert.throws(
    () => createVolleyClient({ baseUrl: '127.0.0.1:8080', apiKey: KEY }),
    /not a URL|http/,
  );
  assert.throws(
    () => createVolleyClient({ baseUrl: 'ftp://127.0.0.1', apiKey: KEY }),
    /http:\/\/ or https:\/\//,
  );
  assert.throws(() => createVolleyClient({ baseUrl, apiKey: '' }), /apiKey is empty/);
});
