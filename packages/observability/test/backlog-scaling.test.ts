/**
 * The metric the senders scale on (deploy/README.md, "Autoscaling"), as the collector exports it
 * during real campaigns: a real Redis, a real sender whose one batch slot a slow receiver keeps
 * busy, the collector's own gauges. A backlog held by a rate limit shows as throttled and leaves
 * sendable at about 0; a backlog the sender cannot keep up with shows as sendable, and sendable
 * rises when more of it arrives.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '@volley/testkit';
import { Deployment } from './deployment.ts';

/** throttled.example: two messages a second across all senders; every other domain unlimited. */
const POLICY = `
version: 1
defaults:
  rate: unlimited
providers:
  limited:
    domains: [throttled.example]
    rate: 2/s
`;

/** Batch slots of the one sender: a slow receiver fills it, so it cannot keep up. */
const CONCURRENCY = 1;

const d = new Deployment();
before(async () => {
  await d.start({
    policy: POLICY,
    senders: 1,
    // 100 ms per message: the sender's one slot sends a few dozen messages a second at most,
    // and keeps up with throttled.example's 2/s with room to spare.
    replyDelayMs: 100,
    env: { VOLLEY_SENDER_CONCURRENCY: String(CONCURRENCY) },
  });
});
after(() => d.stop());

/** The sum of a metric's series in one exposition that carry `labels` (0 with none). */
function gauge(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = new Map([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => has.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

interface Backlog {
  sendable: number;
  throttled: number;
}

async function backlog(): Promise<Backlog> {
  const text = await d.metrics('collector');
  return {
    sendable: gauge(text, 'volley_backlog_messages', { state: 'sendable' }),
    throttled: gauge(text, 'volley_backlog_messages', { state: 'throttled' }),
  };
}

/** The sender's busy batch slots over its concurrency, as the busy-senders trigger reads them. */
async function busy(): Promise<number> {
  const text = await d.metrics('sender');
  return gauge(text, 'volley_sender_batches_active') / gauge(text, 'volley_sender_concurrency');
}

async function campaign(domains: string[], n: number, tag: string): Promise<void> {
  const res = await d.api('POST', '/v1/campaigns', {
    from: 'News <news@sender.example>',
    subject: 'Hello',
    text: 'Hello',
    recipients: Array.from({ length: n }, (_, i) => ({
      email: `${tag}${i}@${domains[i % domains.length]}`,
    })),
  });
  assert.equal(res.status, 202, await res.text());
}

/** Collector readings until `done` holds, each checked by `check`. */
async function sampleUntil(
  done: () => boolean,
  check: (b: Backlog) => void,
  what: string,
): Promise<Backlog[]> {
  const seen: Backlog[] = [];
  await waitUntil(
    async () => {
      const b = await backlog();
      check(b);
      seen.push(b);
      return done();
    },
    what,
    120_000,
    100,
  );
  return seen;
}

test('a backlog held by a rate limit is throttled, not sendable: sendable stays about 0 while throttled grows', async () => {
  assert.deepEqual(await backlog(), { sendable: 0, throttled: 0 }, 'nothing queued yet');
  await campaign(['throttled.example'], 1_000, 'slow');
  // The sender takes each new batch once, reserves its rate slot and puts it back, delayed: from
  // then on the whole campaign waits for the limit.
  await waitUntil(
    async () => {
      const b = await backlog();
      return b.throttled >= 900 && b.sendable === 0;
    },
    'the campaign to wait for its rate slots',
    120_000,
  );
  // While the limit lets ten messages out (about five seconds), every collector round finds the
  // backlog throttled. A batch is sendable only from its slot's time until the idle sender takes
  // it: a few recipients at 2/s, never close to one batch of 50.
  const start = d.received;
  const samples = await sampleUntil(
    () => d.received >= start + 10,
    (b) => {
      assert.ok(b.sendable < 50, `sendable ${b.sendable} with the backlog throttled`);
      assert.ok(b.throttled >= 800, `throttled ${b.throttled}`);
    },
    'ten messages at the rate limit',
  );
  assert.ok(samples.length >= 5, `${samples.length} readings`);
});

test('a backlog the senders cannot keep up with is sendable while their slots are full, and rises when more arrives', async () => {
  const fast = Array.from({ length: 10 }, (_, i) => `d${i}.example`);
  await campaign(fast, 2_000, 'a');
  let first = 0;
  await waitUntil(
    async () => {
      first = (await backlog()).sendable;
      return first >= 1_000 && (await busy()) === 1;
    },
    'the first campaign to wait for the saturated sender',
    120_000,
  );
  // While the sender sends a hundred more messages, every round still finds messages due and
  // waiting: the senders are the bottleneck, which is what the autoscaler adds senders for.
  const start = d.received;
  await sampleUntil(
    () => d.received >= start + 100,
    (b) => assert.ok(b.sendable > 0, 'the saturated sender left nothing waiting'),
    'a hundred messages from the saturated sender',
  );
  const before = (await backlog()).sendable;
  await campaign(fast, 2_000, 'b');
  await waitUntil(
    async () => (await backlog()).sendable >= before + 1_000,
    `sendable to rise above ${before} with the second campaign`,
    120_000,
  );
});
