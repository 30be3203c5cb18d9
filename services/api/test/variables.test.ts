// A variable a recipient lacks renders as nothing, silently (issue 17, defect 7): preview names
// such variables, and a campaign that declares required variables refuses recipients without
// them, inline by position and uploaded by line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { apiFixture, auth, uploadRecipients, type ApiFixture } from './fixture.ts';

let fx: ApiFixture;
let app: FastifyInstance;

before(async () => {
  fx = await apiFixture();
  app = fx.app;
});
after(() => fx.close());

const content = {
  from: 'News <news@sender.example>',
  subject: 'Hi {{name}}',
  html: '<p>{{#if vip}}Your code: {{code}}{{/if}} {{#each items}}{{title}}{{/each}} {{email}}</p>',
};

async function create(payload: object) {
  return app.inject({ method: 'POST', url: '/v1/campaigns', headers: auth, payload });
}

const upload = (id: string, type: string, body: string) => uploadRecipients(app, id, type, body);

describe('preview lists the variables the recipient lacks', () => {
  test('absent, null and empty ones are listed, in order of use; email and names inside each are not', async () => {
    const res = await create({ ...content, draft: true });
    const { id } = res.json<{ id: string }>();
    const lacking = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/preview`,
      headers: auth,
      payload: { recipient: { email: 'a@one.example', vars: { vip: true, code: '' } } },
    });
    assert.equal(lacking.statusCode, 200, lacking.body);
    assert.deepEqual(lacking.json<{ missingVariables: string[] }>().missingVariables, [
      'name',
      'code',
      'items',
    ]);
    const whole = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/preview`,
      headers: auth,
      payload: {
        recipient: {
          email: 'a@one.example',
          vars: { name: 'Ada', vip: false, code: 'X', items: [{ other: 1 }] },
        },
      },
    });
    assert.deepEqual(whole.json<{ missingVariables: string[] }>().missingVariables, []);
  });
});

describe('required variables', () => {
  test('inline recipients without them are a 400 naming each by position, and nothing is created', async () => {
    const before = await fx.redis.zcard(fx.keys.tenantCampaigns('default'));
    const res = await create({
      ...content,
      requiredVars: ['name', 'account.id'],
      recipients: [
        { email: 'a@one.example', vars: { name: 'A', account: { id: 7 } } },
        { email: 'b@one.example', vars: { name: '', account: {} } },
      ],
    });
    assert.equal(res.statusCode, 400, res.body);
    const p = res.json<{ errors: { path: string; message: string }[] }>();
    assert.deepEqual(p.errors, [
      {
        path: 'body.recipients[1].vars',
        message: 'lacks name, account.id, which the campaign requires',
      },
    ]);
    assert.equal(await fx.redis.zcard(fx.keys.tenantCampaigns('default')), before);
  });

  test('uploaded NDJSON rows without them are invalid with their lines; the others are added', async () => {
    const res = await create({ ...content, draft: true, requiredVars: ['name'] });
    const { id } = res.json<{ id: string }>();
    assert.equal(
      (await app.inject({ url: `/v1/campaigns/${id}`, headers: auth })).json<{
        requiredVars: string[];
      }>().requiredVars[0],
      'name',
    );
    const up = await upload(
      id,
      'application/x-ndjson',
      [
        '{"email":"a@one.example","vars":{"name":"A"}}',
        '{"email":"b@one.example"}',
        '{"email":"c@one.example","vars":{"name":null}}',
        '{"email":"d@one.example","vars":{"name":"D"}}',
      ].join('\n'),
    );
    assert.equal(up.statusCode, 200, up.body);
    const r = up.json<{
      added: number;
      invalid: number;
      errors: { line: number; message: string }[];
    }>();
    assert.equal(r.added, 2);
    assert.deepEqual(
      r.errors.map((e) => [e.line, e.message]),
      [
        [2, 'vars lack name, which the campaign requires'],
        [3, 'vars lack name, which the campaign requires'],
      ],
    );
  });

  test('a CSV without the column is refused at line 1; rows with it empty are invalid with their lines', async () => {
    const res = await create({ ...content, draft: true, requiredVars: ['name'] });
    const { id } = res.json<{ id: string }>();
    const noColumn = await upload(id, 'text/csv', 'email,code\na@one.example,X\n');
    assert.equal(noColumn.statusCode, 422, noColumn.body);
    const p = noColumn.json<{ detail: string; errors: { line: number; message: string }[] }>();
    assert.match(p.detail, /no column for "name"/);
    assert.equal(p.errors[0]?.line, 1);
    assert.equal((await fx.store.get(id))?.counts.total, 0);

    const rows = await upload(id, 'text/csv', 'email,name\na@one.example,A\nb@one.example, \n');
    assert.equal(rows.statusCode, 200, rows.body);
    const r = rows.json<{ added: number; errors: { line: number; message: string }[] }>();
    assert.equal(r.added, 1);
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [3],
    );
  });
});
