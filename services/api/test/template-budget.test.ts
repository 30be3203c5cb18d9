import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TEMPLATE_LIMITS } from '@volley/config';
import { apiFixture, auth, type ApiFixture, type Problem } from './fixture.ts';

let fx: ApiFixture;
let small: ApiFixture;

/**
 * These tests judge the iteration, output and tag limits, so the time budget is set out of
 * their reach: it is process CPU time, which the garbage collector's and compiler's threads
 * also spend, and on a loaded machine a sender's render stopped at 50 ms before its 10,000th
 * iteration (test:repeat at load 9). The time budget has tests of its own
 * (packages/message/test/budget.test.ts, services/sender/test/template-budget.test.ts).
 */
const TIME_OUT_OF_REACH = 5_000;

before(async () => {
  [fx, small] = await Promise.all([
    apiFixture({
      bodyLimit: 4 * 1024 * 1024,
      templateLimits: { ...DEFAULT_TEMPLATE_LIMITS, timeBudgetMs: TIME_OUT_OF_REACH },
    }),
    // A tighter budget, to show that preview applies the configured one.
    apiFixture({
      templateLimits: {
        maxIterations: 500,
        maxOutput: 10_000,
        timeBudgetMs: TIME_OUT_OF_REACH,
        maxTags: 50,
      },
    }),
  ]);
});
after(async () => {
  await Promise.all([fx.close(), small.close()]);
});

const FROM = 'news@sender.example';
const list = (n: number) => Array.from({ length: n }, (_v, i) => i);

/** Campaign keys and queued jobs: what a refused request must leave as it was. */
async function storedState(f: ApiFixture): Promise<{ keys: number; jobs: number }> {
  const keys = (await f.redis.keys(`${f.keys.prefix}:c:*`)).length;
  const counts = await f.queues.send.getJobCounts();
  return { keys, jobs: Object.values(counts).reduce((a, b) => a + b, 0) };
}

function createCampaign(f: ApiFixture, payload: Record<string, unknown>) {
  return f.app.inject({ method: 'POST', url: '/v1/campaigns', headers: auth, payload });
}

async function created(f: ApiFixture, payload: Record<string, unknown>): Promise<string> {
  const res = await createCampaign(f, payload);
  assert.equal(res.statusCode, 202, res.body);
  return res.json<{ id: string }>().id;
}

function preview(f: ApiFixture, id: string, payload: Record<string, unknown>) {
  return f.app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/preview`,
    headers: auth,
    payload,
  });
}

describe('submit refuses templates whose loops multiply', () => {
  const hostile: [string, string, RegExp][] = [
    [
      'nested each over the same list',
      '<ul>\n{{#each @root.list}}{{#each @root.list}}{{#each @root.list}}{{#each @root.list}}{{#each @root.list}}<li>x</li>{{/each}}{{/each}}{{/each}}{{/each}}{{/each}}</ul>',
      /^body\.html line 2, column 41: \{\{#each @root\.list\}\} walks data from outside the item its enclosing loop is on, .*100\^3 = 1000000 iterations, over the budget of 10000/,
    ],
    [
      'partial-like recursion via lookup',
      '{{#each (lookup @root "start")}}{{#each (lookup @root this)}}{{#each (lookup @root this)}}{{#each (lookup @root this)}}.{{/each}}{{/each}}{{/each}}{{/each}}',
      /^body\.html line 1, column 62: \{\{#each \(lookup @root this\)\}\} walks data/,
    ],
  ];
  for (const [name, html, detail] of hostile) {
    test(`${name}: 422 naming the field, the block and why, and nothing is stored`, async () => {
      const before = await storedState(fx);
      const res = await createCampaign(fx, {
        from: FROM,
        subject: 'Hi',
        html,
        recipients: [{ email: 'a@one.example', vars: { list: list(100) } }],
      });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const p = res.json<Problem>();
      assert.equal(p.title, 'Template too costly');
      assert.match(p.detail, detail);
      assert.equal(p.errors?.[0]?.path, 'body.html');
      assert.deepEqual(await storedState(fx), before);
    });
  }

  test('1 MB variables are refused where they come in: create, upload, preview', async () => {
    const vars = { big: 'v'.repeat(1024 * 1024) };
    const template = { from: FROM, subject: 's', text: '{{big}}{{big}}{{big}}{{big}}{{big}}' };
    const before = await storedState(fx);
    const inline = await createCampaign(fx, {
      ...template,
      recipients: [{ email: 'a@one.example', vars }],
    });
    assert.equal(inline.statusCode, 400, inline.body);
    assert.match(inline.json<Problem>().detail, /^body\.recipients\[0\]\.vars is larger than/);
    assert.deepEqual(await storedState(fx), before);

    const id = await created(fx, { ...template, draft: true });
    const upload = await fx.app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/recipients`,
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
      payload: `${JSON.stringify({ email: 'a@one.example', vars })}\n`,
    });
    // The upload goes on; the row is reported invalid and not added.
    assert.equal(upload.statusCode, 200, upload.body);
    assert.deepEqual(upload.json<{ errors: unknown[] }>().errors, [
      { path: 'line 1', line: 1, message: 'vars are larger than 16384 bytes' },
    ]);
    assert.equal((await fx.store.get(id))?.counts.total, 0);

    const res = await preview(fx, id, { recipient: { email: 'a@one.example', vars } });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json<Problem>().detail, /^body\.recipient\.vars is larger than/);
  });

  test('a syntax error is still a 400, and wins over cost', async () => {
    const res = await createCampaign(fx, {
      from: FROM,
      subject: '{{#each a}}{{#each ../a}}{{#each ../../a}}.{{/each}}{{/each}}{{/each}}',
      html: '<p>{{#if x}}</p>',
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json<Problem>().detail, /^body\.html template syntax error/);
  });

  test('the budget configured for the API decides', async () => {
    // 100 × 100 fits 10,000 iterations, not 500.
    const twice = {
      from: FROM,
      subject: 's',
      text: '{{#each a}}{{#each ../a}}.{{/each}}{{/each}}',
    };
    await created(fx, { ...twice, draft: true });
    const res = await createCampaign(small, twice);
    assert.equal(res.statusCode, 422, res.body);
    assert.match(
      res.json<Problem>().detail,
      /^body\.text line 1, column 12: .*over the budget of 500/,
    );
  });
});

describe('submit refuses templates with more tags than every sender should compile', () => {
  test('422 naming the field, the tag and the setting, and nothing is stored', async () => {
    const before = await storedState(small);
    // The small API allows 50 tags: 49 fit with the subject's, the 51st is refused.
    const html = `<p>\n${'{{a}} '.repeat(49)}{{b}}</p>`;
    await created(small, {
      from: FROM,
      subject: 'Hi',
      html: html.replace('{{b}}', ''),
      draft: true,
    });
    const withDraft = await storedState(small);
    const res = await createCampaign(small, { from: FROM, subject: 'Hi {{name}}', html });
    assert.equal(res.statusCode, 422, res.body);
    const p = res.json<Problem>();
    assert.equal(p.title, 'Template too costly');
    assert.match(
      p.detail,
      /^body\.html line 2, column 295: \{\{b\}\} is tag 51: the templates may hold 50 tags .* \(VOLLEY_TEMPLATE_MAX_TAGS\)$/,
    );
    assert.equal(p.errors?.[0]?.path, 'body.html');
    assert.notDeepEqual(withDraft, before);
    assert.deepEqual(await storedState(small), withDraft);
  });
});

describe('preview applies the render budget to the recipient it renders', () => {
  // Accepted at submit: two passes fit. Variables decide the cost.
  const CROSS = {
    from: FROM,
    subject: 'Hi {{name}}',
    html: '{{#each list}}{{#each @root.list}}<i>{{this}}</i>{{/each}}{{/each}}',
  };

  test('loops over a long list: 422 naming the limit, for a stored or a given recipient', async () => {
    const id = await created(fx, {
      ...CROSS,
      draft: true,
      recipients: [
        { email: 'ok@one.example', vars: { name: 'Ok', list: list(10) } },
        { email: 'big@one.example', vars: { name: 'Big', list: list(2_000) } },
      ],
    });
    const before = await storedState(fx);
    const ok = await preview(fx, id, { index: 0 });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json<{ html: string }>().html.split('<i>').length - 1, 100);

    for (const body of [
      { index: 1 },
      { recipient: { email: 'given@one.example', vars: { list: list(2_000) } } },
    ]) {
      const res = await preview(fx, id, body);
      assert.equal(res.statusCode, 422, res.body);
      const p = res.json<Problem>();
      assert.equal(p.title, 'Template over budget');
      assert.match(
        p.detail,
        /^html rendering for (big|given)@one\.example stopped: more than 10000 loop iterations \(VOLLEY_TEMPLATE_MAX_ITERATIONS\)$/,
      );
      assert.equal(p.errors?.[0]?.path, 'html');
    }
    assert.equal(await fx.store.status(id), 'draft');
    assert.deepEqual(await storedState(fx), before);
  });

  test('huge string repetition through a variable: 422 naming the output limit', async () => {
    const id = await created(fx, {
      from: FROM,
      subject: 's',
      text: '{{#each list}}{{@root.s}}{{/each}}',
      draft: true,
    });
    const res = await preview(fx, id, {
      recipient: { email: 'r@one.example', vars: { s: 'z'.repeat(10_000), list: list(1_000) } },
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(
      res.json<Problem>().detail,
      /^text rendering for r@one\.example stopped: more than 4194304 characters of output \(VOLLEY_TEMPLATE_MAX_OUTPUT\)$/,
    );
  });

  test('the configured budget applies, and a test send over it queues nothing', async () => {
    const id = await created(small, {
      from: FROM,
      subject: 's',
      html: '{{#each list}}<i>{{this}}</i>{{/each}}',
      draft: true,
    });
    const fits = await preview(small, id, {
      recipient: { email: 'a@one.example', vars: { list: list(500) } },
    });
    assert.equal(fits.statusCode, 200, fits.body);
    const over = await preview(small, id, {
      recipient: { email: 'a@one.example', vars: { list: list(501) } },
    });
    assert.equal(over.statusCode, 422, over.body);
    assert.match(over.json<Problem>().detail, /more than 500 loop iterations/);

    const before = await storedState(small);
    const test = await small.app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/test`,
      headers: auth,
      payload: {
        recipients: [
          { email: 'fine@review.example', vars: { list: list(3) } },
          { email: 'costly@review.example', vars: { list: list(600) } },
        ],
      },
    });
    assert.equal(test.statusCode, 422, test.body);
    assert.match(test.json<Problem>().detail, /^html rendering for costly@review\.example stopped/);
    assert.deepEqual(await storedState(small), before);
  });
});
