import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Keys } from '@volley/contracts';
import { Feedback } from '@volley/campaigns';
import { createToken } from '@volley/message';
import { connectRedis, freePort, type RedisClient } from '@volley/redis';
import { launch, type ChildHandle } from '@volley/runtime';
import { ROOT, waitUntil } from '@volley/testkit';
import { alertRules, dashboardPanels } from './deploy-files.ts';
import { Deployment, SECRET } from './deployment.ts';

const PROMETHEUS = '/usr/bin/prometheus';

/**
 * A provider with a rate (batches wait for their slots: shaping delays, a throttled backlog)
 * and one whose `[TSS04]` deferrals suspend it, as Yahoo's do.
 */
const POLICY = `
version: 1
defaults:
  rate: 200/s
providers:
  slowmail:
    domains: [one.example]
    rate: 20/s
    burst: 5
    connections: 2
  suspendme:
    domains: [five.example]
    rate: 100/s
adaptive:
  - name: tss04
    match: { text: '\\bTSS04\\b' }
    threshold: 2
    action: suspend
    duration: 10m
`;

const DOMAINS = ['one.example', 'two.example', 'three.example', 'four.example', 'five.example'];

/** 550 for every 10th recipient, 451 once for every 7th (sent on retry), [TSS04] at five.example. */
function provider() {
  const deferredOnce = new Set<string>();
  return (a: string) => {
    if (a.endsWith('@five.example')) {
      return { code: 421, message: '4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred' };
    }
    const n = Number(/^user(\d+)@/.exec(a)?.[1] ?? 0);
    if (n % 10 === 3) return { code: 550, message: '5.1.1 no such user' };
    if (n % 7 === 1 && !deferredOnce.has(a)) {
      deferredOnce.add(a);
      return { code: 451, message: '4.3.0 try again later' };
    }
    return undefined;
  };
}

interface PromResponse<T> {
  status: string;
  data: T;
  error?: string;
}

async function prom<T>(base: string, path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`);
  const body = (await res.json()) as PromResponse<T>;
  assert.equal(body.status, 'success', `${path} ${JSON.stringify(params)}: ${body.error}`);
  return body.data;
}

/** A panel's query as Grafana sends it, with its variables set to "all". */
function concrete(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '30s')
    .replaceAll('$provider', '.*')
    .replaceAll('$campaign', '.*');
}

function panelQueries(): { where: string; expr: string }[] {
  return dashboardPanels().flatMap((p) =>
    p.exprs.map((expr) => ({ where: `${p.file} "${p.title}"`, expr })),
  );
}

const d = new Deployment();
let prometheus: ChildHandle | undefined;
let promUrl = '';
let redis: RedisClient;
let startedAt = 0;
let hookDeliveries = 0;
const hookServer = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    hookDeliveries++;
    res.writeHead(204).end();
  });
});

before(async () => {
  assert.ok(existsSync(PROMETHEUS), 'Debian package prometheus is installed');
  startedAt = Date.now() / 1000;
  await d.start({ policy: POLICY, onRecipient: provider(), senders: 2 });
  redis = connectRedis(d.redis.url, { name: 'obs-test' });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  const addr = hookServer.address();
  const hookPort = typeof addr === 'object' && addr ? addr.port : 0;

  // Prometheus, scraping every service each second and evaluating the alert rules as often.
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const dir = join(d.dir, 'prometheus');
  mkdirSync(dir, { recursive: true });
  const jobs = [...d.metricsPorts].map(([name, port]) => ({
    job_name: `volley-${name.replace(/\d+$/, '')}-${name}`,
    static_configs: [{ targets: [`127.0.0.1:${port}`] }],
  }));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(ROOT, 'deploy/prometheus/volley-alerts.yml')],
      scrape_configs: jobs,
    }),
  );
  prometheus = launch('prometheus', PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  await waitUntil(
    async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true,
    'prometheus to be ready',
    60_000,
  );

  const hook = await d.api('POST', '/v1/webhooks', {
    url: `http://127.0.0.1:${hookPort}/`,
    events: ['*'],
  });
  assert.equal(hook.status, 201, await hook.text());

  // The campaign: 500 recipients over the five domains.
  const recipients = Array.from({ length: 500 }, (_, i) => ({
    email: `user${i}@${DOMAINS[i % DOMAINS.length]}`,
    vars: { n: i },
  }));
  const res = await d.api('POST', '/v1/campaigns', {
    from: 'News <news@sender.example>',
    subject: 'Hello {{n}}',
    text: 'Number {{n}}',
    recipients,
  });
  const created = await res.text();
  assert.equal(res.status, 202, created);
  const { id } = JSON.parse(created) as { id: string };
  const keys = new Keys(d.prefix);
  // Campaign gauges exist only while it runs: seen by at least a few scrapes.
  await waitUntil(
    async () =>
      (
        await prom<{ result: unknown[] }>(promUrl, '/api/v1/query', {
          query: 'volley_campaign_recipients',
        })
      ).result.length > 0,
    'a scrape of the running campaign',
    60_000,
  );
  // Everything but the suspended provider's recipients reaches a final state; polled through
  // the API, which gives its request metrics traffic to show.
  await waitUntil(
    async () => {
      const r = await d.api('GET', `/v1/campaigns/${id}`);
      const c = ((await r.json()) as { counts: { sent: number; bounced: number } }).counts;
      return c.sent + c.bounced >= 400;
    },
    'the campaign to send its four unsuspended domains',
    120_000,
  );
  /** Waits until `query` has at least `n` samples: rates need two, and a series' first sample has none before it. */
  const scraped = (query: string, n = 3) =>
    waitUntil(
      async () =>
        (
          await prom<{ result: { value: [number, string] }[] }>(promUrl, '/api/v1/query', {
            query: `max(count_over_time(${query}[1m]))`,
          })
        ).result.some((r) => Number(r.value[1]) >= n),
      `${query} to be scraped`,
      60_000,
    );
  // Feedback reported after sending: complaints (as ARF reports apply them) and one-click
  // unsubscribes through the API, each after the first has been scraped so that it shows as a
  // rate (a series' first value counts as its start).
  const feedback = new Feedback(redis, keys, {
    softBounceLimit: 3,
    softBounceWindowMs: 86_400_000,
  });
  const complain = (index: number) =>
    feedback.apply(
      { campaignId: id, index },
      { kind: 'complained', feedbackType: 'abuse', source: 'arf' },
    );
  const unsubscribe = async (index: number) => {
    const token = createToken(SECRET, 'unsubscribe', id, index);
    const r = await fetch(`${d.apiUrl}/unsubscribe/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    assert.equal(r.status, 200);
  };
  await complain(0);
  await unsubscribe(6);
  await scraped('volley_messages_total{outcome="complained"}');
  await scraped('volley_messages_total{outcome="unsubscribed"}');
  await scraped('volley_unsubscribe_suppression_seconds_count');
  await complain(2);
  await complain(4);
  await unsubscribe(8);
  await waitUntil(() => hookDeliveries > 400, 'webhook deliveries', 60_000);
  // Scraped again with all of it.
  const before = Date.now();
  await waitUntil(
    async () =>
      (
        await prom<{ result: { value: [number, string] }[] }>(promUrl, '/api/v1/query', {
          query: 'max(timestamp(volley_unsubscribe_suppression_seconds_count))',
        })
      ).result.some((r) => Number(r.value[1]) * 1000 > before + 2000),
    'two more scrapes',
    60_000,
  );
});

after(async () => {
  await prometheus?.stop('SIGTERM', 10_000);
  await new Promise<void>((r) => hookServer.close(() => r()));
  redis?.disconnect();
  await d.stop();
});

describe('a real Prometheus scraping all four services during a campaign with deferrals and bounces', () => {
  test('every query of every dashboard panel returns data', async () => {
    const end = Date.now() / 1000;
    const empty: string[] = [];
    const queries = panelQueries();
    for (const q of queries) {
      const data = await prom<{ result: { values: [number, string][] }[] }>(
        promUrl,
        '/api/v1/query_range',
        { query: concrete(q.expr), start: String(startedAt), end: String(end), step: '1' },
      );
      const hasNumber = data.result.some((s) => s.values.some(([, v]) => v !== 'NaN'));
      if (!hasNumber) empty.push(`${q.where}: ${q.expr}`);
    }
    assert.deepEqual(
      empty,
      [],
      `${empty.length} of ${queries.length} panel queries returned no data`,
    );
  });

  test('every alert expression evaluates, and every rule is healthy in Prometheus', async () => {
    const rules = alertRules();
    for (const r of rules) {
      await prom(promUrl, '/api/v1/query', { query: r.expr });
    }
    const loaded = await prom<{
      groups: { rules: { name: string; health: string; lastError?: string }[] }[];
    }>(promUrl, '/api/v1/rules', {});
    const all = loaded.groups.flatMap((g) => g.rules);
    assert.equal(all.length, rules.length);
    for (const r of all) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
  });

  test('a provider suspended by its [TSS04] deferrals fires VolleyProviderSuspended', async () => {
    await waitUntil(
      async () => {
        const alerts = await prom<{ alerts: { labels: Record<string, string>; state: string }[] }>(
          promUrl,
          '/api/v1/alerts',
          {},
        );
        return alerts.alerts.some(
          (a) =>
            a.labels.alertname === 'VolleyProviderSuspended' &&
            a.labels.provider === 'suspendme' &&
            a.state === 'firing',
        );
      },
      'VolleyProviderSuspended to fire for suspendme',
      60_000,
    );
    // The others are quiet: no sender, Redis or collector trouble in this run.
    const alerts = await prom<{ alerts: { labels: Record<string, string>; state: string }[] }>(
      promUrl,
      '/api/v1/alerts',
      {},
    );
    const firing = alerts.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname);
    for (const quiet of [
      'VolleyServiceDown',
      'VolleyCollectorNotLeading',
      'VolleyRedisMemoryNearLimit',
    ]) {
      assert.ok(!firing.includes(quiet), `${quiet} does not fire`);
    }
  });
});
