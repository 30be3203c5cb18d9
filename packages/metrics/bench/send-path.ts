/**
 * CPU the sender's metrics cost per message, measured on their own: what one message adds on
 * the send path (its outcome counted, its reply timed) plus its share of a batch (active
 * gauge up and down, one batch of 50), with a realistic spread of providers and reasons.
 * `node --import tsx packages/metrics/bench/send-path.ts` prints µs per message; compare it
 * with the sender CPU per message of `npm run bench` (119 µs in the reference run, benchmarks/results/20261207T072019Z-full.md).
 */
import { Registry } from 'prom-client';
import { senderMetrics } from '../src/sender.ts';

const MESSAGES = 2_000_000;
const BATCH = 50;
const PROVIDERS = ['google', 'microsoft', 'yahoo', 'other', undefined];
const OUTCOMES: [string, string][] = [
  ['sent', 'delivered'],
  ['sent', 'delivered'],
  ['sent', 'delivered'],
  ['deferred', 'ratelimited'],
  ['bounced', 'userunknown'],
];

function run(enabled: boolean): number {
  const m = senderMetrics(new Registry(), { concurrency: 8, enabled });
  const before = process.cpuUsage();
  for (let i = 0; i < MESSAGES; i++) {
    if (i % BATCH === 0) m.batchActive(false, 1);
    const provider = PROVIDERS[i % PROVIDERS.length];
    const [outcome, reason] = OUTCOMES[i % OUTCOMES.length] ?? ['sent', 'delivered'];
    m.smtpReply(outcome === 'sent' ? 'delivered' : outcome, provider, 0.004 + (i % 7) * 0.001);
    m.message(outcome, reason, provider);
    if (i % BATCH === BATCH - 1) m.batchActive(false, -1);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / MESSAGES;
}

// Warm up the JIT, then measure each twice, interleaved.
run(true);
run(false);
const on = [run(true), run(true)];
const off = [run(false), run(false)];
const min = (xs: number[]) => Math.min(...xs);
const cost = min(on) - min(off);
console.log(
  `send-path metrics: ${min(on).toFixed(3)} µs/message with, ${min(off).toFixed(3)} µs without: ${cost.toFixed(3)} µs per message (${((cost / 119) * 100).toFixed(2)}% of the reference 119 µs of sender CPU per message)`,
);
