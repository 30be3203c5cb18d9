import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { CampaignStore } from '@volley/campaigns';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

let fx: ApiFixture;
let app: FastifyInstance;
let store: CampaignStore;

before(async () => {
  fx = await apiFixture({
    bodyLimit: 1024 * 1024,
    maxInlineRecipients: 100,
    uploadLimit: 512 * 1024 * 1024,
    uploadMaxInvalid: 5,
  });
  app = fx.app;
  store = fx.store;
});
after(() => fx.close());

async function draft(): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers: auth,
    payload: {
      from: 'n@sender.example',
      subject: 'Hi {{name}}',
      text: 'Hello {{name}}',
      draft: true,
    },
  });
  return res.json<{ id: string }>().id;
}

async function upload(id: string, type: string, body: string | Buffer | Readable, query = '') {
  return app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/recipients${query}`,
    headers: { ...auth, 'content-type': type },
    payload: body,
  });
}

describe('recipient upload', () => {
  test('NDJSON: rows added, duplicates skipped (domain case-insensitive), invalid rows reported by line', async () => {
    const id = await draft();
    const body = [
      '{"email":"a@one.example","vars":{"name":"A"}}',
      '{"email":"A@ONE.example"}',
      '{"email":"broken"}',
      '{"email":"b@two.example","vars":{"name":"B"}}',
      'not json',
    ].join('\n');
    const res = await upload(id, 'application/x-ndjson', body);
    assert.equal(res.statusCode, 200, res.body);
    const r = res.json<{
      added: number;
      duplicates: number;
      invalid: number;
      errors: { line: number }[];
      total: number;
    }>();
    assert.deepEqual(
      { added: r.added, duplicates: r.duplicates, invalid: r.invalid, total: r.total },
      { added: 2, duplicates: 1, invalid: 2, total: 2 },
    );
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [3, 5],
    );
    // A second upload deduplicates against the first.
    const again = await upload(
      id,
      'application/x-ndjson',
      '{"email":"b@TWO.example"}\n{"email":"c@two.example"}\n',
    );
    assert.deepEqual(
      (({ added, duplicates, total }) => ({ added, duplicates, total }))(
        again.json<{ added: number; duplicates: number; total: number }>(),
      ),
      { added: 1, duplicates: 1, total: 3 },
    );
  });

  test('CSV: header row names the variables', async () => {
    const id = await draft();
    const res = await upload(
      id,
      'text/csv; charset=utf-8',
      'email,name\r\nx@one.example,"Smith, Ann"\r\ny@one.example,Bob\r\n',
    );
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<{ added: number }>().added, 2);
    const rows = await store.recipientWindow(id, 0, 10);
    assert.deepEqual(rows[0], { email: 'x@one.example', vars: { name: 'Smith, Ann' } });
  });

  test('internationalized addresses (RFC 6531) are taken in CSV, NDJSON and inline: the domain in A-labels, the local part in NFC; a zero-width character is refused', async () => {
    const csvId = await draft();
    const csv = await upload(
      csvId,
      'text/csv; charset=utf-8',
      // The second row is the first one typed with a combining diaeresis: one recipient.
      'email,name\r\nüser@exämple.org,Ü\r\nu\u0308ser@EXÄMPLE.org,Ü2\r\n用户@例子.广告,中\r\nbad\u200buser@example.org,Z\r\n',
    );
    assert.equal(csv.statusCode, 200, csv.body);
    const c = csv.json<{ added: number; duplicates: number; errors: { line: number }[] }>();
    assert.deepEqual([c.added, c.duplicates, c.errors.map((e) => e.line)], [2, 1, [5]]);
    assert.deepEqual(
      (await store.recipientWindow(csvId, 0, 10)).map((r) => r.email),
      ['üser@xn--exmple-cua.org', '用户@xn--fsqu00a.xn--4rr70v'],
    );

    const ndjsonId = await draft();
    const nd = await upload(
      ndjsonId,
      'application/x-ndjson',
      '{"email":"üser@exämple.org","vars":{"name":"Ü"}}\n',
    );
    assert.equal(nd.statusCode, 200, nd.body);
    assert.equal(nd.json<{ added: number }>().added, 1);
    assert.deepEqual(await store.recipientWindow(ndjsonId, 0, 10), [
      { email: 'üser@xn--exmple-cua.org', vars: { name: 'Ü' } },
    ]);

    // The API's own address checks: inline recipients and the From address.
    const inline = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: {
        from: 'Ünïcode <nëws@sender.example>',
        subject: 'Hi',
        text: 'Hello',
        draft: true,
        recipients: [{ email: 'üser@exämple.org' }],
      },
    });
    assert.equal(inline.statusCode, 202, inline.body);
    const inlineId = inline.json<{ id: string }>().id;
    assert.deepEqual(
      (await store.recipientWindow(inlineId, 0, 10)).map((r) => r.email),
      ['üser@xn--exmple-cua.org'],
    );
  });

  test('CSV (RFC 4180): a BOM is read as such; stray quotes and extra fields are invalid rows with their lines, and no row swallows the next', async () => {
    const id = await draft();
    const res = await upload(
      id,
      'text/csv',
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from('email,name\r\na@one.example,5" tv\r\nb@one.example,7" tv\r\n'),
        Buffer.from('c@one.example,Cy,extra\r\nd@one.example,"Dee ""D"""\r\n'),
      ]),
    );
    assert.equal(res.statusCode, 200, res.body);
    const r = res.json<{
      added: number;
      invalid: number;
      errors: { line: number; message: string }[];
    }>();
    assert.equal(r.added, 1);
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [2, 3, 4],
    );
    assert.match(r.errors[0]?.message ?? '', /quote/);
    assert.deepEqual(await store.recipientWindow(id, 0, 10), [
      { email: 'd@one.example', vars: { name: 'Dee "D"' } },
    ]);
  });

  test('too many invalid rows refuses the file and changes nothing', async () => {
    const id = await draft();
    await upload(id, 'application/x-ndjson', '{"email":"keep@one.example"}\n');
    const rows = [
      '{"email":"new@one.example"}',
      ...Array.from({ length: 6 }, (_, i) => `{"email":"bad${i}"}`),
    ].join('\n');
    const res = await upload(id, 'application/x-ndjson', rows);
    assert.equal(res.statusCode, 422);
    const p = res.json<{ detail: string; errors: { path: string }[] }>();
    assert.match(p.detail, /more than 5 invalid rows; nothing was added/);
    assert.equal(p.errors[0]?.path, 'line 2');
    assert.equal((await store.get(id))?.counts.total, 1);
    // The refused rows left no trace in the deduplication set either.
    const ok = await upload(id, 'application/x-ndjson', '{"email":"new@one.example"}\n');
    assert.equal(ok.json<{ added: number }>().added, 1);
  });

  test('a file refused after several batches were written is rolled back, and the refusal is answered, not reset', async () => {
    const id = await draft();
    await upload(id, 'application/x-ndjson', '{"email":"keep@one.example"}\n');
    const good = Array.from({ length: 3000 }, (_, i) => `{"email":"r${i}@one.example"}\n`).join('');
    const bad = Array.from({ length: 6 }, (_, i) => `{"email":"bad${i}"}\n`).join('');
    // Streamed in small chunks, so that batches are written before the bad rows are read, and
    // with more rows after them, which the server no longer reads.
    function* chunks(): Generator<Buffer> {
      const b = Buffer.from(good + bad + good.replace(/"r/g, '"s'));
      for (let i = 0; i < b.length; i += 4096) yield b.subarray(i, i + 4096);
    }
    const res = await upload(id, 'application/x-ndjson', Readable.from(chunks()));
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.json<{ detail: string }>().detail, /more than 5 invalid rows/);
    assert.equal(res.headers.connection, 'close');
    assert.equal((await store.get(id))?.counts.total, 1);
    // The written rows left no trace in the deduplication set either.
    const again = await upload(id, 'application/x-ndjson', good);
    assert.equal(again.json<{ added: number }>().added, 3000);
  });

  test('rows keep their file order across pipelined batches, and the first of two duplicates is kept', async () => {
    const id = await draft();
    // As after a Redis restart: the upload's calls meet a server that must load the script again.
    await fx.redis.script('FLUSH');
    const rows = Array.from({ length: 5000 }, (_, i) => ({
      email: `o${i}@one.example`,
      vars: { n: i },
    }));
    rows.push({ email: 'O0@ONE.example', vars: { n: -1 } });
    function* chunks(): Generator<string> {
      const text = rows.map((r) => `${JSON.stringify(r)}\n`).join('');
      for (let i = 0; i < text.length; i += 4096) yield text.slice(i, i + 4096);
    }
    const res = await upload(id, 'application/x-ndjson', Readable.from(chunks()));
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      (({ added, duplicates }) => ({ added, duplicates }))(
        res.json<{ added: number; duplicates: number }>(),
      ),
      { added: 5000, duplicates: 1 },
    );
    const stored = await store.recipientWindow(id, 0, 6000);
    assert.deepEqual(stored, rows.slice(0, 5000));
  });

  test('wrong content type is 415, a started campaign is 409', async () => {
    const id = await draft();
    assert.equal((await upload(id, 'application/xml', '<x/>')).statusCode, 415);
    await upload(id, 'application/x-ndjson', '{"email":"s@one.example"}\n');
    await app.inject({ method: 'POST', url: `/v1/campaigns/${id}/start`, headers: auth });
    assert.equal(
      (await upload(id, 'application/x-ndjson', '{"email":"t@one.example"}\n')).statusCode,
      409,
    );
  });

  test('a campaign cannot be started while an upload holds it; it can once the upload ended', async () => {
    const id = await draft();
    await upload(id, 'application/x-ndjson', '{"email":"first@one.example"}\n');
    // An upload in progress (another request, or another API replica) holds the lock.
    const held = await store.beginUpload(id);
    assert.ok(held);
    const refused = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/start`,
      headers: auth,
    });
    assert.equal(refused.statusCode, 409);
    assert.match(refused.json<{ detail: string }>().detail, /upload of recipients in progress/);
    assert.equal(await store.status(id), 'draft', 'nothing changed');
    await store.endUpload(id, held.token);
    const started = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/start`,
      headers: auth,
    });
    assert.equal(started.statusCode, 202, started.body);
  });
});
