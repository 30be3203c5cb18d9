import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import {
  apiMetrics,
  collectorMetrics,
  outcomeLabel,
  reasonLabel,
  senderMetrics,
} from '@volley/metrics';

/** Label values of every series of `name` in the registry's exposition. */
async function series(registry: Registry, name: string): Promise<Record<string, string>[]> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, `${name} is registered`);
  return metric.values.map((v) => v.labels as Record<string, string>);
}

test('every metric of every service follows Prometheus naming: volley_ prefix, _total on counters, base units', async () => {
  // prom-client's own process metrics (createRegistry) keep their names, one a gauge named _total.
  const registry = new Registry();
  senderMetrics(registry, { concurrency: 8 });
  // The collector shares volley_messages_total with the sender: a registry of its own.
  const collector = new Registry();
  collectorMetrics(collector);
  const api = new Registry();
  apiMetrics(api);
  const all = [
    ...(await registry.getMetricsAsJSON()),
    ...(await collector.getMetricsAsJSON()),
    ...(await api.getMetricsAsJSON()),
  ];
  assert.ok(all.length >= 36, `${all.length} metrics`);
  for (const m of all) {
    assert.match(m.name, /^volley_[a-z0-9_]+$/, m.name);
    if (String(m.type) === 'counter') assert.match(m.name, /_total$/, `${m.name} is a counter`);
    else assert.doesNotMatch(m.name, /_total$/, `${m.name} is a ${m.type}, not a counter`);
    assert.doesNotMatch(m.name, /_(ms|milliseconds|kb|mb|minutes)(_|$)/, `${m.name}: base units`);
    assert.ok(m.help.length > 10, `${m.name} has a help text`);
  }
});

test('reasons outside the Sisimai vocabulary, made-up providers and raw domains become other', async () => {
  const registry = new Registry();
  const m = senderMetrics(registry, { concurrency: 1 });
  m.message('sent', 'delivered', 'google');
  m.message('bounced', 'userunknown', 'Gmail.com');
  m.message('bounced', 'expired', undefined);
  m.message('deferred', 'ada@example.org says no', 'example.org');
  m.message('failed', 'x'.repeat(500), 'a'.repeat(100));
  const got = (await series(registry, 'volley_messages_total')).map(
    (l) => `${l.outcome}/${l.provider}/${l.reason}`,
  );
  assert.deepEqual(got.sort(), [
    'bounced/other/userunknown',
    'deferred/other/other',
    'expired/other/expired',
    'failed/other/other',
    'sent/google/delivered',
  ]);
  assert.equal(reasonLabel('mailboxfull'), 'mailboxfull');
  assert.equal(reasonLabel(undefined), 'other');
  assert.equal(outcomeLabel('bounced', 'expired'), 'expired');
  assert.equal(outcomeLabel('bounced', 'blocked'), 'bounced');
});

test('the series of volley_messages_total stay bounded whatever 10,000 domains and reasons send', async () => {
  const registry = new Registry();
  const m = senderMetrics(registry, { concurrency: 1 });
  for (let i = 0; i < 10_000; i++) {
    m.message(i % 2 ? 'sent' : 'bounced', `reason-${i}`, `domain${i}.example`);
    m.smtpReply('delivered', `domain${i}.example`, 0.01);
  }
  assert.equal((await series(registry, 'volley_messages_total')).length, 2);
  // One histogram: its buckets, sum and count for the single (provider, outcome) pair.
  const buckets = (await series(registry, 'volley_smtp_transaction_duration_seconds')).length;
  assert.equal(buckets, 15 + 2);
});

test('VOLLEY_SEND_METRICS=off: the send path records nothing', async () => {
  const registry = new Registry();
  const m = senderMetrics(registry, { concurrency: 4, enabled: false });
  m.message('sent', 'delivered', 'google');
  m.smtpReply('delivered', 'google', 0.01);
  assert.deepEqual(await series(registry, 'volley_messages_total'), []);
});

test('connections are reported by provider on each scrape, summed over pools', async () => {
  const registry = new Registry();
  const m = senderMetrics(registry, { concurrency: 4 });
  let pools = [
    { provider: 'shared', open: 3, busy: 1 },
    { provider: 'google', open: 2, busy: 2 },
    { provider: 'google', open: 1, busy: 0 },
  ];
  m.watchConnections(() => pools);
  const read = async () =>
    Object.fromEntries(
      (await registry.getSingleMetric('volley_smtp_connections')!.get()).values.map((v) => [
        `${v.labels.provider}/${v.labels.state}`,
        v.value,
      ]),
    );
  assert.deepEqual(await read(), {
    'shared/open': 3,
    'shared/busy': 1,
    'google/open': 3,
    'google/busy': 2,
  });
  pools = [];
  assert.deepEqual(await read(), {}, 'pools that closed leave no series behind');
});
