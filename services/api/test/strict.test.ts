// The API takes what it is given literally and says exactly what it did (issue 17, defect 6):
// JSON bodies are not coerced, an empty query parameter is an absent one, every error has one
// shape, refusals say what to send instead, and a replay is the first answer byte for byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { apiFixture, auth, uploadRecipients, type ApiFixture } from './fixture.ts';

let fx: ApiFixture;
let app: FastifyInstance;

before(async () => {
  fx = await apiFixture({ uploadMaxInvalid: 5 });
  app = fx.app;
});
after(() => fx.close());

const base = {
  from: 'News <news@sender.example>',
  subject: 'Hi {{name}}',
  text: 'Hello {{name}}',
};

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string; line?: number }[];
}

function create(payload: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers: { ...auth, ...headers },
    payload: payload as object,
  });
}

async function campaignCount(): Promise<number> {
  return fx.redis.zcard(fx.keys.tenantCampaigns('default'));
}

async function draft(): Promise<string> {
  const res = await create({ ...base, draft: true });
  assert.equal(res.statusCode, 202, res.body);
  return res.json<{ id: string }>().id;
}

const upload = (id: string, type: string, body: string) => uploadRecipients(app, id, type, body);

describe('JSON bodies are taken as they are', () => {
  for (const [field, value, expected] of [
    ['subject', 1, /body\.subject must be string/],
    ['text', true, /body\.text must be string/],
    ['text', null, /body\.text must be string/],
    ['draft', 'true', /body\.draft must be boolean/],
  ] as const) {
    test(`${field}: ${JSON.stringify(value)} is a 400 naming the field, and nothing is created`, async () => {
      const before = await campaignCount();
      const res = await create({
        ...base,
        [field]: value,
        recipients: [{ email: 'a@one.example', vars: { name: 'A' } }],
      });
      assert.equal(res.statusCode, 400, res.body);
      const p = res.json<Problem>();
      assert.match(p.detail, expected);
      assert.equal(p.errors?.[0]?.path, `body.${field}`);
      assert.equal(await campaignCount(), before);
    });
  }

  test('query strings stay typed by their schemas: limit=2 is the number 2', async () => {
    const id = await draft();
    const res = await app.inject({ url: `/v1/campaigns/${id}/events?limit=2`, headers: auth });
    assert.equal(res.statusCode, 200, res.body);
    const bad = await app.inject({ url: `/v1/campaigns/${id}/events?limit=two`, headers: auth });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.match(bad.json<Problem>().detail, /querystring\.limit/);
  });
});

describe('an empty query parameter is an absent one', () => {
  test('GET …/events?cursor=&limit= (as the README writes it) is the first page', async () => {
    const id = await draft();
    const res = await app.inject({
      url: `/v1/campaigns/${id}/events?cursor=&limit=`,
      headers: auth,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json<{ events: unknown[] }>().events, []);
  });

  test('GET /v1/suppressions?reason=&source=&cursor=&limit= lists from the start', async () => {
    const res = await app.inject({
      url: '/v1/suppressions?reason=&source=&cursor=&limit=',
      headers: auth,
    });
    assert.equal(res.statusCode, 200, res.body);
  });
});

describe('one error shape', () => {
  /** RFC 9457 problem+json with type, title, status and detail (and `more`) only; its status the answer's. */
  function assertProblem(
    res: { statusCode: number; headers: Record<string, unknown>; body: string },
    status: number,
    more: string[] = [],
  ): Problem {
    assert.equal(res.statusCode, status, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const p = JSON.parse(res.body) as Problem;
    assert.deepEqual(Object.keys(p).sort(), ['detail', 'status', 'title', 'type', ...more].sort());
    assert.equal(p.status, status);
    for (const k of ['type', 'title', 'detail'] as const) {
      assert.equal(typeof p[k], 'string');
      assert.ok(p[k].length > 0, k);
    }
    return p;
  }

  test('a 404, a 409 and a 429 are problems of the same shape as a validation error', async () => {
    const missing = await app.inject({ url: '/v1/campaigns/0123456789abcdef0123', headers: auth });
    const invalid = await app.inject({ url: '/v1/campaigns/not-an-id', headers: auth });
    assertProblem(invalid, 400, ['errors']);
    assertProblem(missing, 404);

    const id = await draft();
    const conflict = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/pause`,
      headers: auth,
    });
    assert.match(assertProblem(conflict, 409).detail, /draft/);

    const limited = await apiFixture({ rateLimit: 1, rateWindowSeconds: 600 });
    try {
      assert.equal(
        (await limited.app.inject({ url: '/v1/campaigns', headers: auth })).statusCode,
        200,
      );
      const res = await limited.app.inject({ url: '/v1/campaigns', headers: auth });
      assertProblem(res, 429);
      assert.ok(res.headers['retry-after'], 'Retry-After is set');
    } finally {
      await limited.close();
    }
  });

  test('invalid rows of an accepted upload are {path, message, line}, as in a problem', async () => {
    const id = await draft();
    const res = await upload(
      id,
      'application/x-ndjson',
      '{"email":"a@one.example"}\n{"email":"broken"}\n',
    );
    assert.equal(res.statusCode, 200, res.body);
    const errors = res.json<{ errors: unknown[] }>().errors;
    assert.deepEqual(errors, [
      { path: 'line 2', line: 2, message: '"broken" is not a valid address' },
    ]);
  });

  test('a refused upload lists its rows in the same shape', async () => {
    const id = await draft();
    const rows = Array.from({ length: 7 }, (_, i) => `{"email":"bad${i}"}`).join('\n');
    const res = await upload(id, 'application/x-ndjson', rows);
    assert.equal(res.statusCode, 422, res.body);
    const p = res.json<Problem>();
    assert.deepEqual(p.errors?.[0], {
      path: 'line 1',
      line: 1,
      message: '"bad0" is not a valid address',
    });
  });

  test('a CSV without an email column is refused with the header line in errors, which the detail points to', async () => {
    const id = await draft();
    const res = await upload(id, 'text/csv', 'mail,name\na@one.example,A\n');
    assert.equal(res.statusCode, 422, res.body);
    const p = res.json<Problem>();
    assert.match(p.detail, /no "email" column/);
    assert.equal(p.errors?.[0]?.line, 1);
    assert.match(p.errors?.[0]?.message ?? '', /no "email" column/);
  });

  test('a semicolon-separated CSV is refused with a hint about the delimiter', async () => {
    const id = await draft();
    const res = await upload(id, 'text/csv', 'email;name\na@one.example;A\n');
    assert.equal(res.statusCode, 422, res.body);
    const p = res.json<Problem>();
    assert.match(p.detail, /separated by ";"/);
    assert.match(p.detail, /comma/);
    assert.equal((await fx.store.get(id))?.counts.total, 0);
  });
});

describe('415 says what to send', () => {
  test('a JSON route given text/plain names application/json and what it got', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: 'from=a',
    });
    assert.equal(res.statusCode, 415, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    const p = res.json<Problem>();
    assert.equal(p.title, 'Unsupported media type');
    assert.match(p.detail, /text\/plain/);
    assert.match(p.detail, /application\/json/);
  });

  test('the upload given XML names NDJSON and CSV and what it got', async () => {
    const id = await draft();
    const res = await upload(id, 'application/xml', '<x/>');
    assert.equal(res.statusCode, 415, res.body);
    const p = res.json<Problem>();
    assert.match(p.detail, /application\/xml/);
    assert.match(p.detail, /application\/x-ndjson/);
    assert.match(p.detail, /text\/csv/);
  });
});

describe('sendAt', () => {
  test('a sendAt in the past is a 400 that gives the current time, and nothing is created', async () => {
    const before = await campaignCount();
    const t0 = Date.now();
    const res = await create({ ...base, sendAt: '2020-01-01T00:00:00Z' });
    const t1 = Date.now();
    assert.equal(res.statusCode, 400, res.body);
    const p = res.json<Problem>();
    assert.equal(p.errors?.[0]?.path, 'body.sendAt');
    const now = /now is (\S+?)[;,)]/.exec(p.detail)?.[1];
    assert.ok(now, p.detail);
    const at = Date.parse(now);
    assert.ok(at >= t0 - 1000 && at <= t1 + 1000, `${now} is the time of the request`);
    assert.equal(await campaignCount(), before);
  });

  test('a sendAt in the future schedules', async () => {
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const res = await create({
      ...base,
      sendAt,
      recipients: [{ email: 'a@one.example' }],
    });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json<{ status: string }>().status, 'scheduled');
  });
});

describe('test send', () => {
  test('takes plain address strings beside {email, vars} objects', async () => {
    const id = await draft();
    const res = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/test`,
      headers: auth,
      payload: { recipients: ['one@review.example', { email: 'two@review.example' }] },
    });
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(res.json<{ recipients: unknown }>().recipients, {
      added: 2,
      duplicates: 0,
    });
  });

  test('an invalid plain address is a 400 naming its position', async () => {
    const id = await draft();
    const res = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/test`,
      headers: auth,
      payload: { recipients: ['one@review.example', 'nope'] },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json<Problem>().errors?.[0]?.path, 'body.recipients[1]');
  });
});

describe('Idempotency-Key over HTTP', () => {
  test('the replay is the first answer byte for byte: status, body and content headers', async () => {
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const key = `strict-${Date.now()}`;
    const post = () =>
      fetch(`${url}/v1/campaigns`, {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify({
          ...base,
          recipients: [{ email: 'a@one.example' }, { email: 'A@one.example' }],
        }),
      });
    const first = await post();
    const firstBody = await first.text();
    const again = await post();
    const againBody = await again.text();
    assert.equal(first.status, 202, firstBody);
    assert.equal(again.status, first.status);
    assert.equal(againBody, firstBody);
    for (const h of ['content-type', 'content-length'])
      assert.equal(again.headers.get(h), first.headers.get(h), h);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
  });
});
