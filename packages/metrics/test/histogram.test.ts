import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { SendPathHistogram } from '../src/histogram.ts';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.1, 1, 30];
const LABELS = ['provider', 'outcome'] as const;

/** The same observations into prom-client's Histogram and into SendPathHistogram. */
function pair(defaultLabels: Record<string, string> = {}) {
  const ours = new Registry();
  const theirs = new Registry();
  ours.setDefaultLabels(defaultLabels);
  theirs.setDefaultLabels(defaultLabels);
  const spec = { name: 'volley_test_seconds', help: 'A test histogram.', buckets: BUCKETS };
  const fast = new SendPathHistogram({ ...spec, labelNames: LABELS, registers: [ours] });
  const reference = new Histogram({ ...spec, labelNames: [...LABELS], registers: [theirs] });
  return { ours, theirs, fast, reference };
}

test('exposes exactly what prom-client histogram exposes for the same observations', async () => {
  const { ours, theirs, fast, reference } = pair({ service: 'sender' });
  // Values on every bound, between bounds, below the first and above the last; several series.
  const values = [
    0, 0.0005, 0.001, 0.0011, 0.0025, 0.004, 0.01, 0.05, 0.1, 0.99, 1, 29.9, 30, 31, 1e6,
  ];
  const sets = [
    { provider: 'gmail', outcome: 'delivered' },
    { provider: 'other', outcome: 'deferred' },
    { provider: 'gmail', outcome: 'bounced' },
  ];
  let k = 0;
  for (const v of values) {
    for (const labels of sets.slice(0, 1 + (k++ % sets.length))) {
      fast.labels(labels).observe(v);
      reference.labels(labels).observe(v);
    }
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  // In JSON too, but for prom-client's empty `exemplar` field (exemplars are off).
  const json = async (r: Registry) =>
    (await r.getMetricsAsJSON()).map((m) => ({
      ...m,
      values: m.values.map((v) => ({
        labels: v.labels,
        value: v.value,
        metricName: (v as { metricName?: string }).metricName,
      })),
    }));
  assert.deepEqual(await json(ours), await json(theirs));
  // Nothing observed yet, a series is not exposed: the same in both.
  assert.equal(await pair().ours.metrics(), await pair().theirs.metrics());
});

test('a kept series counts after reset, from zero', async () => {
  const { ours, fast } = pair();
  const s = fast.labels({ provider: 'gmail', outcome: 'delivered' });
  s.observe(0.002);
  ours.resetMetrics();
  s.observe(0.2);
  const text = await ours.metrics();
  assert.match(text, /volley_test_seconds_count\{provider="gmail",outcome="delivered"\} 1\n/);
  assert.match(text, /volley_test_seconds_sum\{provider="gmail",outcome="delivered"\} 0.2\n/);
  assert.match(
    text,
    /volley_test_seconds_bucket\{le="0.005",provider="gmail",outcome="delivered"\} 0\n/,
  );
});

test('refuses what would corrupt the series: a missing label, a value that is not a number', () => {
  const { fast } = pair();
  assert.throws(
    () => fast.labels({ provider: 'gmail' } as unknown as Record<'provider' | 'outcome', string>),
    /label outcome has no value/,
  );
  const s = fast.labels({ provider: 'gmail', outcome: 'delivered' });
  assert.throws(() => s.observe(Number.NaN), /not a finite number/);
  assert.throws(
    () =>
      new SendPathHistogram({
        name: 'x',
        help: 'x',
        labelNames: [],
        buckets: [1, 1],
        registers: [],
      }),
    /ascend/,
  );
});
