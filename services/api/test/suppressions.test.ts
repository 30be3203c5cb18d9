import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { Feedback } from '@volley/campaigns';
import { addSendingDomain, apiFixture, auth, type ApiFixture } from './fixture.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const adminAuth = { authorization: `Bearer ${ADMIN}` };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

let fx: ApiFixture;

before(async () => {
  fx = await apiFixture({ adminKey: ADMIN, uploadLimit: 64 * 1024, uploadMaxInvalid: 2 });
});
after(() => fx.close());

/** A tenant of its own per test, and a key of it. */
async function tenantKey(tenant: string): Promise<string> {
  const t = await fx.app.inject({
    method: 'POST',
    url: '/v1/admin/tenants',
    headers: adminAuth,
    payload: { id: tenant },
  });
  assert.equal(t.statusCode, 201, t.body);
  const k = await fx.app.inject({
    method: 'POST',
    url: `/v1/admin/tenants/${tenant}/keys`,
    headers: adminAuth,
    payload: {},
  });
  assert.equal(k.statusCode, 201, k.body);
  return k.json<{ key: string }>().key;
}

function assertProblem(res: LightMyRequestResponse, status: number): { detail: string } {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  return res.json<{ detail: string }>();
}

interface Entry {
  email: string;
  source: string;
  reason: string;
  at?: string;
  campaignId?: string;
  detail?: string;
}

async function list(key: string, query: Record<string, string> = {}): Promise<Entry[]> {
  const out: Entry[] = [];
  let cursor: string | undefined;
  do {
    const res = await fx.app.inject({
      url: '/v1/suppressions',
      query: cursor ? { ...query, cursor } : query,
      headers: bearer(key),
    });
    assert.equal(res.statusCode, 200, res.body);
    const page = res.json<{ entries: Entry[]; emails: string[]; next?: string }>();
    assert.deepEqual(
      page.emails,
      page.entries.map((e) => e.email),
    );
    out.push(...page.entries);
    cursor = page.next;
  } while (cursor);
  return out;
}

function importCsv(key: string, csv: string, query: Record<string, string> = {}) {
  return fx.app.inject({
    method: 'POST',
    url: '/v1/suppressions/import',
    query,
    headers: { ...bearer(key), 'content-type': 'text/csv' },
    payload: csv,
  });
}

describe('suppression API', () => {
  test('entries carry source, reason and date; the list filters by them; one address reads alone', async () => {
    const key = await tenantKey('sup-entries');
    const before = Date.now();
    for (const payload of [
      { emails: ['Ada@Example.org'] },
      { emails: ['bob@example.org', 'cy@example.org'], source: 'unsubscribe', reason: 'imported' },
    ]) {
      const res = await fx.app.inject({
        method: 'POST',
        url: '/v1/suppressions',
        headers: bearer(key),
        payload,
      });
      assert.equal(res.statusCode, 200, res.body);
    }
    const all = await list(key);
    assert.deepEqual(
      all.map((e) => [e.email, e.source, e.reason]),
      [
        ['ada@example.org', 'manual', 'manual'],
        ['bob@example.org', 'unsubscribe', 'imported'],
        ['cy@example.org', 'unsubscribe', 'imported'],
      ],
    );
    for (const e of all) assert.ok(Date.parse(e.at ?? '') >= before - 1000, e.at);
    assert.deepEqual(
      (await list(key, { source: 'unsubscribe', limit: '1' })).map((e) => e.email),
      ['bob@example.org', 'cy@example.org'],
    );
    assert.deepEqual(
      (await list(key, { reason: 'manual' })).map((e) => e.email),
      ['ada@example.org'],
    );
    assert.deepEqual(await list(key, { reason: 'userunknown', source: 'bounce' }), []);

    const one = await fx.app.inject({
      url: `/v1/suppressions/${encodeURIComponent('ADA@example.org')}`,
      headers: bearer(key),
    });
    assert.equal(one.statusCode, 200, one.body);
    assert.deepEqual(one.json(), all[0]);
    assertProblem(
      await fx.app.inject({ url: '/v1/suppressions/nobody@example.org', headers: bearer(key) }),
      404,
    );

    const badQueries: Record<string, string>[] = [
      { reason: 'User Unknown' },
      { source: 'spam' },
      { cursor: 'bm9wZQ' },
    ];
    for (const query of badQueries) {
      assertProblem(
        await fx.app.inject({ url: '/v1/suppressions', query, headers: bearer(key) }),
        400,
      );
    }
    const bad = await fx.app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: bearer(key),
      payload: { emails: ['dan@example.org'], reason: 'Because!' },
    });
    assertProblem(bad, 400);
    assert.equal((await list(key)).length, 3);
  });

  test('feedback applied by the effects module shows in the list with its campaign and detail', async () => {
    const key = await tenantKey('sup-feedback');
    await addSendingDomain(fx.redis, fx.keys, 'sup-feedback', 'sender.example');
    const created = await fx.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: bearer(key),
      payload: {
        from: 'news@sender.example',
        subject: 's',
        text: 't',
        recipients: [{ email: 'gone@example.org' }, { email: 'fine@example.org' }],
      },
    });
    const { id } = created.json<{ id: string }>();
    await fx.store.finalizeMany(
      id,
      'sup-feedback',
      [0, 1].map((index) => ({
        index,
        email: ['gone@example.org', 'fine@example.org'][index] ?? '',
        outcome: 'sent' as const,
        reason: 'delivered',
      })),
      0,
    );
    const feedback = new Feedback(fx.redis, fx.keys, {
      softBounceLimit: 3,
      softBounceWindowMs: 86_400_000,
    });
    await feedback.apply(
      { campaignId: id, index: 0 },
      {
        kind: 'bounced',
        reason: 'userunknown',
        hardBounce: true,
        source: 'dsn',
        status: '5.1.1',
        replyCode: 550,
        detail: '550 5.1.1 no such user',
      },
    );
    await feedback.apply(
      { campaignId: id, index: 1 },
      { kind: 'complained', feedbackType: 'abuse', source: 'arf' },
    );
    const entries = await list(key);
    assert.deepEqual(
      entries.map(({ at: _at, ...e }) => e),
      [
        {
          email: 'gone@example.org',
          source: 'bounce',
          reason: 'userunknown',
          campaignId: id,
          detail: '550 5.1.1 no such user',
        },
        { email: 'fine@example.org', source: 'complaint', reason: 'abuse', campaignId: id },
      ],
    );

    const stats = await fx.app.inject({ url: `/v1/campaigns/${id}/stats`, headers: bearer(key) });
    const s = stats.json<{
      counts: Record<string, number>;
      reasons: Record<string, Record<string, number>>;
      feedback: Record<string, Record<string, number>>;
    }>();
    assert.deepEqual(
      [s.counts.total, s.counts.sent, s.counts.bounced, s.counts.lateBounced, s.counts.complained],
      [2, 2, 0, 1, 1],
    );
    assert.deepEqual(s.reasons.bounced, {});
    assert.deepEqual(s.feedback, {
      lateBounced: { userunknown: 1 },
      complained: { abuse: 1 },
      unsubscribed: {},
    });
    const campaign = await fx.app.inject({ url: `/v1/campaigns/${id}`, headers: bearer(key) });
    assert.equal(campaign.json<{ counts: { lateBounced: number } }>().counts.lateBounced, 1);
    const events = await fx.app.inject({
      url: `/v1/campaigns/${id}/events`,
      headers: bearer(key),
    });
    const evs = events.json<{ events: Record<string, unknown>[] }>().events;
    assert.deepEqual(
      evs.slice(2).map(({ at: _at, ...e }) => e),
      [
        {
          index: 0,
          email: 'gone@example.org',
          outcome: 'bounced',
          reason: 'userunknown',
          detail: '550 5.1.1 no such user',
          source: 'dsn',
          status: '5.1.1',
          replyCode: 550,
          hardBounce: true,
          late: true,
        },
        {
          index: 1,
          email: 'fine@example.org',
          outcome: 'complained',
          reason: 'abuse',
          source: 'arf',
        },
      ],
    );
  });

  test('CSV import reads the columns it knows, reports invalid rows by line, and an export imports as it is', async () => {
    const key = await tenantKey('sup-csv');
    const csv =
      '\uFEFFName,EMAIL,reason,source,date\r\n' +
      'Ada,ada@example.org,userunknown,bounce,2026-01-05T10:00:00Z\r\n' +
      '"Lovelace, A.",ADA2@Example.org,,,\r\n' +
      'Bad,not-an-address,,,\r\n' +
      '\r\n' +
      'Dup,ada@example.org,abuse,complaint,\r\n' +
      '"Quote ""Q""",q@example.org,Mailboxfull,,1999-12-31\r\n';
    const res = await importCsv(key, csv, { source: 'unsubscribe', reason: 'legacy-list' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      rows: 5,
      added: 3,
      existing: 1,
      invalid: 1,
      errors: [{ path: 'line 4', line: 4, message: '"not-an-address" is not a valid address' }],
    });
    const entries = await list(key);
    assert.deepEqual(
      entries.map((e) => [e.email, e.source, e.reason, e.at?.slice(0, 10)]),
      [
        ['q@example.org', 'unsubscribe', 'mailboxfull', '1999-12-31'],
        ['ada@example.org', 'bounce', 'userunknown', '2026-01-05'],
        ['ada2@example.org', 'unsubscribe', 'legacy-list', new Date().toISOString().slice(0, 10)],
      ],
    );

    const exported = await fx.app.inject({ url: '/v1/suppressions/export', headers: bearer(key) });
    assert.equal(exported.statusCode, 200);
    assert.match(String(exported.headers['content-type']), /^text\/csv/);
    const lines = exported.body.trimEnd().split('\r\n');
    assert.equal(lines[0], 'email,reason,source,date,campaign,detail');
    assert.equal(lines[1], 'q@example.org,mailboxfull,unsubscribe,1999-12-31T00:00:00.000Z,,');
    assert.equal(lines.length, 4);

    const copy = await tenantKey('sup-csv-copy');
    const again = await importCsv(copy, exported.body);
    assert.deepEqual(again.json<{ added: number }>().added, 3);
    assert.deepEqual(await list(copy), entries, 'the same entries, dates included');

    const filtered = await fx.app.inject({
      url: '/v1/suppressions/export',
      query: { source: 'bounce' },
      headers: bearer(key),
    });
    assert.deepEqual(filtered.body.trimEnd().split('\r\n').slice(1), [
      'ada@example.org,userunknown,bounce,2026-01-05T10:00:00.000Z,,',
    ]);
  });

  test('a refused import changes nothing: too many invalid rows, no email column, an empty file, the wrong type, too large', async () => {
    const key = await tenantKey('sup-refused');
    await fx.app.inject({
      method: 'POST',
      url: '/v1/suppressions',
      headers: bearer(key),
      payload: { emails: ['kept@example.org'] },
    });
    const good = Array.from({ length: 1500 }, (_v, i) => `ok${i}@example.org`).join('\n');
    const tooMany = await importCsv(
      key,
      `email,reason\n${good}\nx,manual\ny@example.org,NOT OK\nz@example.org,manual,\nw@,manual\n`,
    );
    const p = assertProblem(tooMany, 422);
    assert.match(p.detail, /more than 2 invalid rows; nothing was added/);
    assert.deepEqual(
      tooMany.json<{ errors: { path: string }[] }>().errors.map((e) => e.path),
      ['line 1502', 'line 1503', 'line 1505'],
    );
    for (const [body, why] of [
      ['address\na@example.org\n', /no "email" column/],
      ['', /the file is empty/],
      ['email\n"a@example.org\n', /quoted field is not closed/],
    ] as const) {
      assert.match(assertProblem(await importCsv(key, body), 422).detail, why);
    }
    const json = await fx.app.inject({
      method: 'POST',
      url: '/v1/suppressions/import',
      headers: bearer(key),
      payload: { emails: ['a@example.org'] },
    });
    assertProblem(json, 415);
    const big = await importCsv(key, `email\n${'a'.repeat(70 * 1024)}@example.org\n`);
    assertProblem(big, 413);
    assert.deepEqual(
      (await list(key)).map((e) => e.email),
      ['kept@example.org'],
    );
    const staged = await fx.redis.keys(`${fx.keys.prefix}:t:sup-refused:suppressed:import:*`);
    assert.deepEqual(staged, [], 'no staged rows are left behind');
  });

  test("tenant A never sees, exports, imports into or removes tenant B's entries", async () => {
    const a = await tenantKey('sup-iso-a');
    const b = await tenantKey('sup-iso-b');
    await importCsv(b, 'email\nonly-b@example.org\n');
    assert.deepEqual(await list(a), []);
    const exported = await fx.app.inject({ url: '/v1/suppressions/export', headers: bearer(a) });
    assert.equal(exported.body.trimEnd(), 'email,reason,source,date,campaign,detail');
    assertProblem(
      await fx.app.inject({ url: '/v1/suppressions/only-b@example.org', headers: bearer(a) }),
      404,
    );
    assertProblem(
      await fx.app.inject({
        method: 'DELETE',
        url: '/v1/suppressions/only-b@example.org',
        headers: bearer(a),
      }),
      404,
    );
    await importCsv(a, 'email,reason\nonly-b@example.org,abuse\n');
    const bEntries = await list(b);
    assert.deepEqual(
      bEntries.map((e) => [e.email, e.reason]),
      [['only-b@example.org', 'manual']],
    );
    assert.deepEqual(await fx.store.suppressedFlags('default', ['only-b@example.org']), [false]);
    const envKey = await fx.app.inject({ url: '/v1/suppressions', headers: auth });
    assert.deepEqual(envKey.json<{ entries: unknown[] }>().entries, []);
  });

  test('a diagnostic that would run as a spreadsheet formula is exported inert', async () => {
    const key = await tenantKey('sup-inject');
    await fx.redis.eval(
      "redis.call('SADD', KEYS[1], ARGV[1]); redis.call('ZADD', KEYS[2], 1, ARGV[1]); redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])",
      3,
      fx.keys.suppression('sup-inject'),
      fx.keys.suppressionLog('sup-inject'),
      fx.keys.suppressionInfo('sup-inject'),
      'x@example.org',
      JSON.stringify({ s: 'bounce', r: 'blocked', d: '=HYPERLINK("http://evil.example","x")' }),
    );
    const exported = await fx.app.inject({ url: '/v1/suppressions/export', headers: bearer(key) });
    assert.equal(
      exported.body.split('\r\n')[1],
      `x@example.org,blocked,bounce,1970-01-01T00:00:00.001Z,,"'=HYPERLINK(""http://evil.example"",""x"")"`,
    );
  });
});
