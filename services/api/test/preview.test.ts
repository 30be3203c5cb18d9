import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import type { FastifyInstance } from 'fastify';
import type { Queues } from '@volley/campaigns';
import { Harness, sharedRedis } from '@volley/sender/test-harness';
import { apiFixture, auth, type ApiFixture, type Problem } from './fixture.ts';

interface Preview {
  campaignId: string;
  recipient: { index?: number; email: string; vars: Record<string, unknown> };
  envelope: { from: string; to: string };
  messageId: string;
  subject: string;
  html: string | null;
  text: string;
  headers: { name: string; value: string }[];
  size: number;
}

let fx: ApiFixture;
let app: FastifyInstance;
let shared: Awaited<ReturnType<typeof sharedRedis>>;

before(async () => {
  [fx, shared] = await Promise.all([apiFixture(), sharedRedis()]);
  app = fx.app;
});
after(async () => {
  await Promise.all([fx.close(), shared.stop()]);
});

const CONTENT = {
  from: 'Spring News <news@sender.example>',
  replyTo: 'help@sender.example',
  headers: { 'X-Campaign-Tag': 'spring' },
  subject: 'Grüße, {{name}}: {{#if vip}}VIP offer{{else}}offer{{/if}}',
  html: '<h1>Hi {{name}}</h1><p>Your code is <b>{{code}}</b> ({{email}}).</p>{{#each items}}<li>{{this}}</li>{{/each}}',
};

const STORED = [
  { email: 'ann@one.example', vars: { name: 'Ann', code: 'A-1', items: ['x'] } },
  {
    email: 'bob@two.example',
    vars: { name: 'Bob & Co', code: 'B-2', vip: true, items: ['y', 'z'] },
  },
  { email: 'cy@three.example', vars: { name: 'Cy', code: 'C-3' } },
];

/** A campaign that renders for well-behaved variables but throws at render time for `b: {toString: 1}`. */
const FRAGILE = {
  from: 'news@sender.example',
  subject: 'Hello {{name}}',
  html: '<p>{{lookup a b}}</p>',
};

async function create(
  payload: Record<string, unknown>,
  on: FastifyInstance = app,
): Promise<string> {
  const res = await on.inject({ method: 'POST', url: '/v1/campaigns', headers: auth, payload });
  assert.equal(res.statusCode, 202, res.body);
  return res.json<{ id: string }>().id;
}

function preview(id: string, payload?: Record<string, unknown>, on: FastifyInstance = app) {
  return on.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/preview`,
    headers: auth,
    ...(payload === undefined ? {} : { payload }),
  });
}

async function jobCounts(queues: Queues): Promise<Record<string, Record<string, number>>> {
  return {
    send: await queues.send.getJobCounts(),
    control: await queues.control.getJobCounts(),
  };
}

function total(counts: Record<string, Record<string, number>>): number {
  return Object.values(counts)
    .flatMap((c) => Object.values(c))
    .reduce((a, b) => a + b, 0);
}

/** The header section of a raw message as unfolded name/value pairs. */
function headersOf(raw: Buffer): { name: string; value: string }[] {
  const text = raw.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  return head
    .replace(/\r\n(?=[ \t])/g, '')
    .split('\r\n')
    .map((line) => {
      const colon = line.indexOf(':');
      return { name: line.slice(0, colon), value: line.slice(colon + 1).trimStart() };
    });
}

/** Headers that differ between any two compositions of the same message. */
const PER_COMPOSITION = new Set(['date', 'content-type']);

describe('POST /v1/campaigns/:id/preview', () => {
  test('the preview of a stored recipient is the message the sender delivers to it', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 1 });
    try {
      const id = await create({ ...CONTENT, draft: true, recipients: STORED }, h.app);
      const res = await preview(id, { index: 1 }, h.app);
      assert.equal(res.statusCode, 200, res.body);
      const p = res.json<Preview>();
      assert.equal(p.recipient.index, 1);
      assert.equal(p.recipient.email, 'bob@two.example');
      assert.equal(p.subject, 'Grüße, Bob & Co: VIP offer');
      assert.match(p.html ?? '', /Hi Bob &amp; Co.*B-2.*bob@two\.example.*<li>y<\/li><li>z<\/li>/);
      assert.match(p.text, /Hi Bob & Co/, 'the text part is derived from the HTML');

      // The same recipient given in the body renders the same content.
      const given = await preview(id, { recipient: STORED[1] }, h.app);
      assert.equal(given.statusCode, 200, given.body);
      const g = given.json<Preview>();
      assert.deepEqual([g.subject, g.html, g.text], [p.subject, p.html, p.text]);

      const started = await h.app.inject({
        method: 'POST',
        url: `/v1/campaigns/${id}/start`,
        headers: auth,
      });
      assert.equal(started.statusCode, 202, started.body);
      await h.completed(id);
      const sent = h.capture.messages.find((m) => m.to[0] === 'bob@two.example');
      assert.ok(sent, 'the recipient received its message');

      const parsed = await simpleParser(sent.raw);
      assert.equal(parsed.subject, p.subject);
      assert.equal(parsed.html, p.html);
      assert.equal(parsed.text?.trimEnd(), p.text.trimEnd());
      assert.equal(sent.from, p.envelope.from);
      assert.equal(parsed.messageId, p.messageId);

      const comparable = (hs: { name: string; value: string }[]) =>
        hs.filter((x) => !PER_COMPOSITION.has(x.name.toLowerCase()));
      assert.deepEqual(comparable(headersOf(sent.raw)), comparable(p.headers));
      assert.deepEqual(
        p.headers.map((x) => x.name),
        headersOf(sent.raw).map((x) => x.name),
        'the same headers in the same order',
      );
      assert.equal(sent.raw.length, p.size, 'the preview has the size of the delivered message');
    } finally {
      await h.stop();
    }
  });

  test('a recipient given in the body is rendered with its variables, and nothing is stored', async () => {
    const id = await create({
      from: 'news@sender.example',
      subject: 'For {{name}}',
      text: 'Dear {{name}}, this went to {{email}}.',
      draft: true,
    });
    const res = await preview(id, {
      recipient: {
        email: 'Someone@Example.ORG',
        vars: { name: 'Dee', email: 'ignored@x.example' },
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    const p = res.json<Preview>();
    assert.equal(p.recipient.index, undefined);
    assert.equal(p.recipient.email, 'Someone@example.org');
    assert.equal(p.subject, 'For Dee');
    assert.equal(p.html, null);
    assert.equal(p.text, 'Dear Dee, this went to Someone@example.org.');
    assert.deepEqual(
      p.headers.find((x) => x.name === 'To'),
      { name: 'To', value: 'Someone@example.org' },
    );
    assert.deepEqual(
      p.headers.find((x) => x.name === 'Content-Type'),
      { name: 'Content-Type', value: 'text/plain; charset=utf-8' },
    );
    assert.equal(await fx.redis.llen(fx.keys.recipients(id)), 0);
  });

  test('a template that fails at render time for the recipient is a 422 naming the field; nothing is queued and the status stays', async () => {
    const id = await create({
      ...FRAGILE,
      draft: true,
      recipients: [
        { email: 'ok@one.example', vars: { name: 'Ok', a: { k: 'v' }, b: 'k' } },
        { email: 'bad@one.example', vars: { name: 'Bad', a: 'text', b: { toString: 1 } } },
      ],
    });
    const before = await jobCounts(fx.queues);

    const res = await preview(id, { index: 1 });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    const p = res.json<Problem>();
    assert.equal(p.errors?.[0]?.path, 'html');
    assert.match(p.detail, /^html renders with an error for bad@one\.example: .*primitive/);

    const ok = await preview(id, { index: 0 });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.match(ok.json<Preview>().html ?? '', /<p>v<\/p>/);

    const given = await preview(id, {
      recipient: { email: 'c@one.example', vars: { a: {}, b: { toString: 1 } } },
    });
    assert.equal(given.statusCode, 422, given.body);
    assert.equal(given.json<Problem>().errors?.[0]?.path, 'html');

    assert.equal(await fx.store.status(id), 'draft');
    assert.deepEqual(await jobCounts(fx.queues), before);
    assert.equal(total(before), 0, 'a draft has nothing queued');
  });

  test('an index past the last recipient is a 404; a negative index, or both index and recipient, is a 400', async () => {
    const id = await create({ ...CONTENT, draft: true, recipients: STORED });
    const past = await preview(id, { index: 3 });
    assert.equal(past.statusCode, 404, past.body);
    assert.match(past.json<Problem>().detail, /has 3 recipients: index 3 is past the last \(2\)/);

    const negative = await preview(id, { index: -1 });
    assert.equal(negative.statusCode, 400, negative.body);
    assert.equal(negative.json<Problem>().errors?.[0]?.path, 'body.index');

    const both = await preview(id, { index: 0, recipient: { email: 'a@one.example' } });
    assert.equal(both.statusCode, 400, both.body);
    assert.match(both.json<Problem>().detail, /either recipient or index/);

    const empty = await create({ ...CONTENT, draft: true });
    const none = await preview(empty, {});
    assert.equal(none.statusCode, 404, none.body);
    assert.match(none.json<Problem>().detail, /no recipients yet/);
  });

  test('an invalid address given as the recipient is a 400 naming it', async () => {
    const id = await create({ ...CONTENT, draft: true });
    const res = await preview(id, { recipient: { email: 'not an address' } });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json<Problem>().errors?.[0]?.path, 'body.recipient.email');
  });

  test('without a body the first recipient is previewed', async () => {
    const id = await create({ ...CONTENT, draft: true, recipients: STORED });
    const res = await preview(id);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<Preview>().recipient.email, 'ann@one.example');
  });

  test('a preview never starts a campaign nor queues anything, whatever its status', async () => {
    const draft = await create({ ...CONTENT, draft: true, recipients: STORED });
    const scheduled = await create({
      ...CONTENT,
      sendAt: new Date(Date.now() + 3_600_000).toISOString(),
      recipients: STORED,
    });
    const running = await create({ ...CONTENT, recipients: STORED });
    const paused = await create({ ...CONTENT, recipients: STORED });
    const pause = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${paused}/pause`,
      headers: auth,
    });
    assert.equal(pause.statusCode, 202, pause.body);

    const expected = {
      [draft]: 'draft',
      [scheduled]: 'scheduled',
      [running]: 'running',
      [paused]: 'paused',
    };
    for (const [id, status] of Object.entries(expected)) {
      const jobs = await jobCounts(fx.queues);
      const record = await fx.redis.hgetall(fx.keys.campaign(id));
      const res = await preview(id, { index: 2 });
      assert.equal(res.statusCode, 200, `${status}: ${res.body}`);
      assert.equal(res.json<Preview>().subject, 'Grüße, Cy: offer');
      assert.equal(await fx.store.status(id), status);
      assert.deepEqual(
        await fx.redis.hgetall(fx.keys.campaign(id)),
        record,
        `${status}: record unchanged`,
      );
      assert.deepEqual(await jobCounts(fx.queues), jobs, `${status}: nothing queued`);
    }
  });

  test("another tenant's campaign is a 404", async () => {
    const id = fx.store.newId();
    await fx.store.create(id, { tenant: 'someone-else', ...CONTENT, draft: true });
    await fx.store.addRecipients(id, [{ email: 'a@one.example' }]);
    const res = await preview(id, { index: 0 });
    assert.equal(res.statusCode, 404, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  });
});

describe('POST /v1/campaigns/:id/test', () => {
  function testSend(id: string, recipients: unknown, on: FastifyInstance = app) {
    return on.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/test`,
      headers: auth,
      payload: { recipients },
    });
  }

  async function view(id: string, on: FastifyInstance = app) {
    const res = await on.inject({ url: `/v1/campaigns/${id}`, headers: auth });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ status: string; counts: Record<string, number> }>();
  }

  test("the test addresses receive the campaign's message; the campaign's status and counts do not change", async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 1 });
    try {
      const id = await create({ ...CONTENT, draft: true, recipients: STORED }, h.app);
      const before = await view(id, h.app);

      const res = await testSend(
        id,
        [
          { email: 'reviewer@review.example', vars: { name: 'Rev', code: 'R-9', vip: true } },
          { email: 'boss@review.example' },
        ],
        h.app,
      );
      assert.equal(res.statusCode, 202, res.body);
      const t = res.json<{ id: string; status: string; campaignId: string }>();
      assert.notEqual(t.id, id);
      assert.equal(t.campaignId, id);
      assert.equal(t.status, 'running');

      await h.capture.waitFor(2);
      await h.completed(t.id);
      const got = new Map<string, string | undefined>();
      for (const m of h.capture.messages)
        got.set(m.to[0] ?? '', (await simpleParser(m.raw)).subject);
      assert.deepEqual(
        got,
        new Map([
          ['reviewer@review.example', 'Grüße, Rev: VIP offer'],
          ['boss@review.example', 'Grüße, : offer'],
        ]),
        "only the test addresses got mail, with the campaign's content",
      );
      const sentTo = h.capture.messages[0];
      assert.ok(sentTo);
      const parsed = await simpleParser(sentTo.raw);
      assert.equal(parsed.replyTo?.text, 'help@sender.example');
      assert.equal(parsed.headers.get('x-campaign-tag'), 'spring');

      assert.deepEqual(await view(id, h.app), before);
      const events = await h.app.inject({ url: `/v1/campaigns/${id}/events`, headers: auth });
      assert.deepEqual(events.json<{ events: unknown[] }>().events, []);
      const testView = await view(t.id, h.app);
      assert.equal(testView.status, 'completed');
      assert.equal(testView.counts.sent, 2);

      const list = await h.app.inject({ url: `/v1/campaigns/${id}/tests`, headers: auth });
      assert.equal(list.statusCode, 200, list.body);
      const tests = list.json<{
        tests: { id: string; status: string; counts: { sent: number } }[];
      }>().tests;
      assert.deepEqual(
        tests.map((x) => [x.id, x.status, x.counts.sent]),
        [[t.id, 'completed', 2]],
      );
    } finally {
      await h.stop();
    }
  });

  test('running and paused campaigns take test sends without their counts changing; a cancelled one is a 409', async () => {
    const id = await create({ ...CONTENT, recipients: STORED });
    const before = await view(id);
    assert.equal(before.status, 'running');

    const first = await testSend(id, [{ email: 'qa@review.example' }]);
    assert.equal(first.statusCode, 202, first.body);
    const testId = first.json<{ id: string }>().id;
    const expand = await fx.queues.control.getJob(`expand-${testId}-0`);
    assert.equal(expand?.data.campaignId, testId, "the test send's own expansion is queued");
    assert.deepEqual(await view(id), before);

    await app.inject({ method: 'POST', url: `/v1/campaigns/${id}/pause`, headers: auth });
    const paused = await view(id);
    const second = await testSend(id, [{ email: 'qa@review.example' }]);
    assert.equal(second.statusCode, 202, second.body);
    assert.deepEqual(await view(id), paused);

    const list = await app.inject({ url: `/v1/campaigns/${id}/tests`, headers: auth });
    assert.deepEqual(
      list.json<{ tests: { id: string }[] }>().tests.map((x) => x.id),
      [second.json<{ id: string }>().id, testId],
      'newest first',
    );

    await app.inject({ method: 'POST', url: `/v1/campaigns/${id}/cancel`, headers: auth });
    const refused = await testSend(id, [{ email: 'qa@review.example' }]);
    assert.equal(refused.statusCode, 409, refused.body);
    assert.match(refused.json<Problem>().detail, /cancelled/);
  });

  test('more than 10 addresses, none, or an invalid one is a 400 and sends nothing', async () => {
    const id = await create({ ...CONTENT, draft: true, recipients: STORED });
    const jobs = await jobCounts(fx.queues);
    const campaigns = await fx.redis.zcard(fx.keys.tenantCampaigns('default'));
    const eleven = Array.from({ length: 11 }, (_, i) => ({ email: `qa${i}@review.example` }));

    const tooMany = await testSend(id, eleven);
    assert.equal(tooMany.statusCode, 400, tooMany.body);
    assert.equal(tooMany.json<Problem>().errors?.[0]?.path, 'body.recipients');

    const none = await testSend(id, []);
    assert.equal(none.statusCode, 400, none.body);

    const invalid = await testSend(id, [{ email: 'qa@review.example' }, { email: 'qa@@review' }]);
    assert.equal(invalid.statusCode, 400, invalid.body);
    assert.equal(invalid.json<Problem>().errors?.[0]?.path, 'body.recipients[1].email');

    const ten = await testSend(id, eleven.slice(0, 10));
    assert.equal(ten.statusCode, 202, ten.body);
    assert.equal(
      await fx.redis.zcard(fx.keys.testSends(id)),
      1,
      'only the valid request made a test send',
    );
    assert.equal(await fx.redis.zcard(fx.keys.tenantCampaigns('default')), campaigns + 1);
    const after = await jobCounts(fx.queues);
    assert.equal(total(after), total(jobs) + 1, "one expansion: the valid test send's");
  });

  test('a template that fails for one test address is a 422 and nothing is created', async () => {
    const id = await create({ ...FRAGILE, draft: true });
    const jobs = await jobCounts(fx.queues);
    const res = await testSend(id, [
      { email: 'fine@review.example', vars: { a: {}, b: 'x' } },
      { email: 'broken@review.example', vars: { a: {}, b: { toString: 1 } } },
    ]);
    assert.equal(res.statusCode, 422, res.body);
    assert.match(
      res.json<Problem>().detail,
      /^html renders with an error for broken@review\.example/,
    );
    assert.equal(await fx.redis.zcard(fx.keys.testSends(id)), 0);
    assert.deepEqual(await jobCounts(fx.queues), jobs);
  });
});
