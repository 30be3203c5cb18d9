import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { createToken, linkToken } from '@volley/message';
import { parseMultipart } from '../src/routes/unsubscribe.ts';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

const SECRET = 'unsubscribe-test-secret-0123';
const ONE_CLICK = 'List-Unsubscribe=One-Click';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let fx: ApiFixture;

before(async () => {
  // The path of the URL is what the API answers; the host is whatever the proxy forwards.
  fx = await apiFixture({
    unsubscribeUrl: 'https://links.example.com/mail/u/',
    verpSecret: SECRET,
    unsubscribeRateLimit: 0,
  });
});
after(() => fx.close());

/** A running campaign of the default tenant; its recipients `p<i>@one.example`. */
async function campaign(n: number): Promise<string> {
  const res = await fx.app.inject({
    method: 'POST',
    url: '/v1/campaigns',
    headers: auth,
    payload: {
      from: 'Acme News <news@acme.example>',
      subject: 's',
      text: 't',
      recipients: Array.from({ length: n }, (_v, i) => ({ email: `p${i}@one.example` })),
    },
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json<{ id: string }>().id;
}

const link = (id: string, index: number, secret = SECRET) =>
  `/mail/u/${createToken(secret, 'unsubscribe', id, index)}`;

/** Everything an unsubscribe could change. */
async function state(id: string): Promise<unknown> {
  return {
    suppressed: await fx.redis.smembers(fx.keys.suppression('default')),
    campaign: await fx.redis.hgetall(fx.keys.campaign(id)),
    events: await fx.redis.xlen(fx.keys.events(id)),
  };
}

function assertPage(res: LightMyRequestResponse, status: number, text: RegExp): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^text\/html/);
  assert.match(res.body, text);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['referrer-policy'], 'no-referrer');
  assert.equal(res.headers['set-cookie'], undefined);
  assert.equal(res.headers.location, undefined);
}

describe('one-click unsubscribe', () => {
  test('GET shows a confirm button and changes nothing; POST unsubscribes at once, answers 200, and again changes nothing', async () => {
    const id = await campaign(3);
    const url = link(id, 1);
    const before = await state(id);
    for (let k = 0; k < 2; k++) {
      const page = await fx.app.inject({ url, headers: { accept: 'text/html' } });
      assertPage(page, 200, /<form method="post">/);
      assert.match(page.body, /name="List-Unsubscribe" value="One-Click"/);
      assert.match(page.body, /Acme News &lt;news@acme\.example&gt;/, 'the From, escaped');
      assert.match(page.body, /<strong>p…@one\.example<\/strong>/, 'the address, mostly hidden');
      assert.doesNotMatch(page.body, /p1@one\.example/);
    }
    const head = await fx.app.inject({ method: 'HEAD', url });
    assert.equal(head.statusCode, 200);
    assert.deepEqual(await state(id), before, 'following the link changes nothing');

    const post = await fx.app.inject({ method: 'POST', url, headers: FORM, payload: ONE_CLICK });
    assertPage(post, 200, /You are unsubscribed/);
    assert.deepEqual(await fx.store.suppressedFlags('default', ['p1@one.example']), [true]);
    const entry = await fx.app.inject({ url: '/v1/suppressions/p1@one.example', headers: auth });
    assert.deepEqual(
      [entry.json<{ source: string }>().source, entry.json<{ reason: string }>().reason],
      ['unsubscribe', 'one-click'],
    );
    const rec = await fx.store.get(id);
    assert.equal(rec?.counts.unsubscribed, 1);
    const { events } = await fx.store.events(id, undefined, 10);
    assert.deepEqual(
      events.map((e) => [e.index, e.outcome, e.reason, e.source]),
      [[1, 'unsubscribed', 'one-click', 'one-click']],
    );

    const after = await state(id);
    const again = await fx.app.inject({ method: 'POST', url, headers: FORM, payload: ONE_CLICK });
    assertPage(again, 200, /You are unsubscribed/);
    assert.deepEqual(await state(id), after, 'a repeated POST changes nothing');
    const page = await fx.app.inject({ url, headers: { accept: 'text/html' } });
    assertPage(page, 200, /You are unsubscribed/);
    assert.doesNotMatch(page.body, /<form/);
  });

  test('a multipart/form-data POST works too, as some providers send it', async () => {
    const id = await campaign(1);
    const boundary = '----volleyTestBoundary7MA4YWxk';
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n` +
      `--${boundary}--\r\n`;
    const res = await fx.app.inject({
      method: 'POST',
      url: link(id, 0),
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: body,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await fx.store.suppressedFlags('default', ['p0@one.example']), [true]);
    assert.deepEqual(
      parseMultipart(
        `--b\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\nx\r\n--b--\r\n`,
        'multipart/form-data; boundary="b"',
      ),
      { ['__proto__']: 'x' },
    );
  });

  test('forged, altered, misdirected or malformed tokens get a 404 and change nothing', async () => {
    const id = await campaign(2);
    const good = createToken(SECRET, 'unsubscribe', id, 0);
    const flip = (t: string, k: number) =>
      `${t.slice(0, k)}${t[k] === 'a' ? 'b' : 'a'}${t.slice(k + 1)}`;
    const before = await state(id);
    const tokens = [
      flip(good, 5), // the campaign id
      flip(good, 20), // the recipient index
      flip(good, 39), // the MAC
      createToken('another-deployment-secret', 'unsubscribe', id, 0),
      createToken(SECRET, 'verp', id, 0), // a return path's token
      createToken(SECRET, 'unsubscribe', id, 7), // no such recipient
      createToken(SECRET, 'unsubscribe', fx.store.newId(), 0), // no such campaign
      good.slice(0, 39),
      `${good}a`,
      '0'.repeat(40),
      // Links that carry the address: altered, or naming a recipient the campaign does not
      // have (the carried address counts only once retention removed the recipients).
      flip(linkToken(SECRET, id, 0, 'p0@one.example'), 60),
      linkToken('another-deployment-secret', id, 0, 'p0@one.example'),
      linkToken(SECRET, id, 7, 'p7@one.example'),
      linkToken(SECRET, fx.store.newId(), 0, 'p0@one.example'),
    ];
    for (const token of tokens) {
      for (const [method, headers, payload] of [
        ['GET', {}, undefined],
        ['POST', FORM, ONE_CLICK],
      ] as const) {
        const res = await fx.app.inject({ method, url: `/mail/u/${token}`, headers, payload });
        assert.equal(res.statusCode, 404, `${method} ${token}`);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      }
    }
    const html = await fx.app.inject({
      url: `/mail/u/${flip(good, 39)}`,
      headers: { accept: 'text/html,application/xhtml+xml' },
    });
    assertPage(html, 404, /This link does not work/);
    // A link a mail client cut short is the same page, not a validation error.
    const cut = await fx.app.inject({
      url: `/mail/u/${good.slice(0, 30)}`,
      headers: { accept: 'text/html,application/xhtml+xml' },
    });
    assertPage(cut, 404, /This link does not work/);
    assert.deepEqual(await state(id), before);
  });

  test('a POST without the one-click field, or of another type, is refused and changes nothing', async () => {
    const id = await campaign(1);
    const url = link(id, 0);
    const before = await state(id);
    const refused: [Record<string, string>, string, number][] = [
      [FORM, '', 400],
      [FORM, 'List-Unsubscribe=Later', 400],
      [FORM, 'unsubscribe=yes', 400],
      [{ 'content-type': 'text/plain' }, ONE_CLICK, 415],
      [{ 'content-type': 'application/json' }, '{"List-Unsubscribe":"One-Click"}', 415],
      [{ 'content-type': 'multipart/form-data' }, ONE_CLICK, 400],
      [FORM, `${ONE_CLICK}&pad=${'x'.repeat(10_000)}`, 413],
    ];
    for (const [headers, payload, status] of refused) {
      const res = await fx.app.inject({ method: 'POST', url, headers, payload });
      assert.equal(res.statusCode, status, `${JSON.stringify(headers)} ${payload.slice(0, 40)}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
    assert.deepEqual(await state(id), before);
  });

  test("the address is suppressed for the campaign's tenant only", async () => {
    const id = fx.store.newId();
    await fx.store.create(id, {
      tenant: 'other-tenant',
      from: 'o@other.example',
      subject: 's',
      text: 't',
    });
    await fx.store.addRecipients(id, [{ email: 'shared@one.example' }]);
    await fx.store.start(id);
    const res = await fx.app.inject({
      method: 'POST',
      url: link(id, 0),
      headers: FORM,
      payload: ONE_CLICK,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await fx.store.suppressedFlags('other-tenant', ['shared@one.example']), [
      true,
    ]);
    assert.deepEqual(await fx.store.suppressedFlags('default', ['shared@one.example']), [false]);
  });
});

describe('unsubscribe routes', () => {
  test('are rate limited per client address, with a 429 problem and Retry-After', async () => {
    const limited = await apiFixture({
      unsubscribeUrl: 'https://links.example.com/unsubscribe',
      verpSecret: SECRET,
      unsubscribeRateLimit: 3,
    });
    try {
      const url = `/unsubscribe/${'a'.repeat(40)}`;
      const codes: number[] = [];
      for (let k = 0; k < 4; k++) {
        codes.push((await limited.app.inject({ url, remoteAddress: '192.0.2.1' })).statusCode);
      }
      assert.deepEqual(codes, [404, 404, 404, 429]);
      const res = await limited.app.inject({ url, remoteAddress: '192.0.2.1' });
      assert.equal(res.statusCode, 429);
      assert.ok(Number(res.headers['retry-after']) > 0);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const other = await limited.app.inject({ url, remoteAddress: '192.0.2.2' });
      assert.equal(other.statusCode, 404, 'another address has its own allowance');
      // The API's own routes keep their per-key limit, not this one.
      const api = await limited.app.inject({
        url: '/v1/suppressions',
        headers: auth,
        remoteAddress: '192.0.2.1',
      });
      assert.equal(api.statusCode, 200, api.body);
    } finally {
      await limited.close();
    }
  });

  test('are not served without VOLLEY_UNSUBSCRIBE_URL', async () => {
    const plain = await apiFixture();
    try {
      const res = await plain.app.inject({ url: `/unsubscribe/${'a'.repeat(40)}` });
      assert.equal(res.statusCode, 404);
      assert.match(res.json<{ detail: string }>().detail, /^no route GET/);
    } finally {
      await plain.close();
    }
  });
});
