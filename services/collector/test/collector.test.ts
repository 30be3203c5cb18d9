import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { SIGNATURE_HEADER, verifyWebhook } from '@volley/webhooks';
import { spawnService, waitUntil, type ServiceProcess } from '@volley/testkit';
import { CAMPAIGN, Harness, KEY, recipients, sharedRedis } from '@volley/sender/test-harness';

/** A webhook receiver on loopback: answers `status()` and keeps what each delivery carried. */
async function receiver(secret: () => string, status: () => number) {
  const got: { id: string; verified: boolean; type: string }[] = [];
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      const code = status();
      if (code === 200) {
        const body = Buffer.concat(chunks).toString('utf8');
        const sig = req.headers[SIGNATURE_HEADER];
        const v = verifyWebhook(typeof sig === 'string' ? sig : undefined, body, secret());
        const ev = JSON.parse(body) as { id: string; type: string };
        assert.equal(req.headers['volley-event-id'], ev.id);
        got.push({ id: ev.id, verified: v.ok, type: ev.type });
      }
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    attempts: () => attempts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let shared: Awaited<ReturnType<typeof sharedRedis>>;
before(async () => {
  shared = await sharedRedis();
});
after(async () => {
  await shared.stop();
});

/** Bounced (550) and deferred-then-expired (451) recipients next to delivered ones. */
function capture() {
  return {
    onRecipient: (a: string) =>
      /^user\d*[05]@/.test(a)
        ? { code: 550, message: '5.1.1 no such user' }
        : /^user\d*7@/.test(a)
          ? { code: 451, message: '4.7.1 try again later' }
          : undefined,
  };
}

async function webhookEndpoint(h: Harness, url: string): Promise<string> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: { authorization: `Bearer ${KEY}` },
    payload: { url, events: ['*'] },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ secret: string }>().secret;
}

function collector(h: Harness, env: Record<string, string>): ServiceProcess {
  return spawnService('collector', {
    REDIS_URL: shared.url,
    VOLLEY_REDIS_PREFIX: h.keys.prefix,
    VOLLEY_METRICS_PORT: '0',
    VOLLEY_SHAPING_POLICY: 'off',
    VOLLEY_COLLECTOR_LOCK: '3s',
    VOLLEY_COLLECTOR_INTERVAL: '500ms',
    ...env,
  });
}

async function metricsOf(p: ServiceProcess): Promise<string> {
  const line = await p.waitForLine(/collector started/);
  const port = (JSON.parse(line) as { metricsPort: number }).metricsPort;
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Every event id in the campaign's stream, as receivers see them. */
async function eventIds(h: Harness, id: string): Promise<string[]> {
  const rows = await shared.redis.xrange(h.keys.events(id), '-', '+');
  return rows.map(([sid]) => `${id}-${sid}`);
}

describe('collector', () => {
  test('webhooks: with the endpoint down for a while and collectors SIGKILLed, every event arrives at least once and every signature verifies', async () => {
    const h = new Harness(shared.redis, shared.url);
    let down = true;
    let secret = '';
    const hook = await receiver(
      () => secret,
      () => (down ? 503 : 200),
    );
    const collectors: ServiceProcess[] = [];
    try {
      await h.start({
        senders: 1,
        capture: capture(),
        env: { VOLLEY_RETRY_BASE: '300ms', VOLLEY_RETRY_MAX: '300ms', VOLLEY_MAX_AGE: '1s' },
      });
      secret = await webhookEndpoint(h, hook.url);
      const env = { VOLLEY_WEBHOOK_RETRY_BASE: '200ms', VOLLEY_WEBHOOK_ATTEMPTS: '40' };
      collectors.push(collector(h, env), collector(h, env));
      await Promise.all(collectors.map((c) => c.waitForLine(/collector started/)));
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(300) });
      // Down until deliveries have failed for a while, with a collector killed meanwhile.
      await waitUntil(() => hook.attempts() >= 30, 'failed webhook attempts', 60_000);
      collectors[0]?.child.kill('SIGKILL');
      await h.completed(id, 90_000);
      collectors[1]?.child.kill('SIGKILL');
      collectors.push(collector(h, env));
      down = false;
      const want = await eventIds(h, id);
      assert.ok(want.length > 300, `${want.length} events (sends, deferrals, bounces)`);
      await waitUntil(
        () => {
          const seen = new Set(hook.got.map((g) => g.id));
          return want.every((w) => seen.has(w));
        },
        'every event delivered',
        120_000,
      );
      assert.ok(
        hook.got.every((g) => g.verified),
        'every signature verifies',
      );
      const types = new Set(hook.got.map((g) => g.type));
      for (const t of ['sent', 'bounced', 'deferred']) assert.ok(types.has(t), `${t} events`);
      const duplicates = hook.got.length - new Set(hook.got.map((g) => g.id)).size;
      console.log(
        `webhooks: ${want.length} events, ${hook.got.length} deliveries (${duplicates} repeated), ${hook.attempts()} attempts`,
      );
    } finally {
      await Promise.all(collectors.map((c) => c.stop('SIGTERM', 5000)));
      await h.stop();
      await hook.close();
    }
  });

  test('dead letters hold what exhausted its retries, and a replay through the API delivers them', async () => {
    const h = new Harness(shared.redis, shared.url);
    let healthy = false;
    let secret = '';
    const hook = await receiver(
      () => secret,
      () => (healthy ? 200 : 500),
    );
    let c: ServiceProcess | undefined;
    try {
      await h.start({ senders: 1 });
      secret = await webhookEndpoint(h, hook.url);
      c = collector(h, { VOLLEY_WEBHOOK_RETRY_BASE: '100ms', VOLLEY_WEBHOOK_ATTEMPTS: '2' });
      await c.waitForLine(/collector started/);
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(20) });
      await h.completed(id);
      const want = await eventIds(h, id);
      const list = async () =>
        (
          await h.app.inject({
            method: 'GET',
            url: '/v1/webhooks/dead-letters',
            headers: { authorization: `Bearer ${KEY}` },
          })
        ).json<{ deadLetters: { event: { id: string }; attempts: number; lastError: string }[] }>()
          .deadLetters;
      await waitUntil(async () => (await list()).length === want.length, 'dead letters', 60_000);
      const dead = await list();
      assert.deepEqual(dead.map((d) => d.event.id).sort(), [...want].sort());
      assert.ok(dead.every((d) => d.attempts === 2 && /HTTP 500/.test(d.lastError)));
      assert.equal(hook.got.length, 0);
      await waitUntil(
        async () => /volley_webhook_dead_letters\S* 20\b/.test(await metricsOf(c!)),
        'the dead-letter gauge',
      );

      healthy = true;
      const replay = await h.app.inject({
        method: 'POST',
        url: '/v1/webhooks/dead-letters/replay',
        headers: { authorization: `Bearer ${KEY}` },
        payload: {},
      });
      assert.equal(replay.statusCode, 200, replay.body);
      assert.equal(replay.json<{ replayed: string[] }>().replayed.length, want.length);
      await waitUntil(() => hook.got.length >= want.length, 'replayed deliveries', 60_000);
      assert.deepEqual([...new Set(hook.got.map((g) => g.id))].sort(), [...want].sort());
      assert.equal((await list()).length, 0);
    } finally {
      await c?.stop('SIGTERM', 5000);
      await h.stop();
      await hook.close();
    }
  });

  test('of two collector replicas one exports the cluster-wide gauges; the other takes over when it dies', async () => {
    const h = new Harness(shared.redis, shared.url);
    const cs: ServiceProcess[] = [];
    try {
      await h.start({ senders: 0 });
      cs.push(collector(h, {}), collector(h, {}));
      // Both replicas up first (the start-line wait allows for a slow start through tsx on a
      // loaded machine): the leader wait below then judges the election, not the start.
      await Promise.all(cs.map((c) => c.waitForLine(/collector started/)));
      const leaders = async () =>
        (await Promise.all(cs.map(metricsOf))).map((m) =>
          /^volley_collector_leader\{[^}]*\} 1$/m.test(m),
        );
      await waitUntil(async () => (await leaders()).includes(true), 'a leader');
      const first = await leaders();
      assert.equal(first.filter(Boolean).length, 1, 'exactly one leader');
      const leader = first.indexOf(true);
      const other = cs[1 - leader]!;
      await waitUntil(
        async () => /volley_backlog_messages\{state="sendable"/.test(await metricsOf(cs[leader]!)),
        'the leader to export the backlog',
      );
      assert.ok(
        !/volley_backlog_messages\{/.test(await metricsOf(other)),
        'the other replica exports no cluster-wide gauge',
      );
      cs[leader]!.child.kill('SIGKILL');
      await waitUntil(
        async () => /^volley_collector_leader\{[^}]*\} 1$/m.test(await metricsOf(other)),
        'the other replica to take over',
        20_000,
      );
      await waitUntil(
        async () => /^volley_redis_memory_used_bytes\{[^}]*\} [1-9]/m.test(await metricsOf(other)),
        'the new leader to export the Redis gauges',
      );
    } finally {
      await Promise.all(cs.map((c) => c.stop('SIGTERM', 5000)));
      await h.stop();
    }
  });
});
