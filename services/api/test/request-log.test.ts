import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { apiFixture, auth } from './fixture.ts';

/**
 * Issue 17: every health check and progress poll was logged at info, burying what changed.
 * Reads are logged at debug, writes at info, one line per request.
 */
test('health checks and polls are logged at debug, writes at info, one line per request', async () => {
  const records: { level: number; msg: string; method?: string; url?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line) records.push(JSON.parse(line) as (typeof records)[number]);
      done();
    },
  });
  const fx = await apiFixture({}, () => ({ logger: pino({ level: 'trace' }, sink) }));
  try {
    await fx.app.inject({ method: 'GET', url: '/healthz' });
    const created = await fx.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { from: 'a@b.example', subject: 's', text: 't', draft: true },
    });
    assert.equal(created.statusCode, 202, created.body);
    const { id } = created.json<{ id: string }>();
    await fx.app.inject({ method: 'GET', url: `/v1/campaigns/${id}`, headers: auth });
    const requests = records.filter((r) => r.msg === 'request');
    assert.deepEqual(
      requests.map((r) => [r.method, r.url?.replace(id, 'ID'), r.level]),
      [
        ['GET', '/healthz', 20],
        ['POST', '/v1/campaigns', 30],
        ['GET', '/v1/campaigns/ID', 20],
      ],
    );
    assert.equal(
      records.filter((r) => /incoming request|request completed/.test(r.msg)).length,
      0,
      "Fastify's own request lines are off",
    );
  } finally {
    await fx.close();
  }
});
