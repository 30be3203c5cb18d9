/**
 * The collector's own settings: how often it computes the cluster-wide gauges, how long its
 * lock lives, which event streams it reads, and how it delivers webhooks.
 */
import type { Reader } from './reader.ts';

export interface CollectorSettings {
  /** How often the lock holder computes the cluster-wide gauges. @defaultValue 5 s */
  intervalMs: number;
  /**
   * How long the collector lock lives without renewal: the longest the gauges and the event
   * streams go unserved after the lock holder dies. Renewed every third of it. @defaultValue 15 s
   */
  lockTtlMs: number;
  /** Shaping policy file, to map domains to providers and report shaping state; as for the sender. */
  shapingPolicy: string | undefined;
  /**
   * Campaigns created within this long have their event streams read (late bounces, complaints
   * and unsubscribes arrive for days after a send). @defaultValue 30 days
   */
  eventsHorizonMs: number;
  /** Attempts of one webhook delivery before it goes to the dead-letter list. @defaultValue 10 */
  webhookAttempts: number;
  /** Delay before the second attempt; doubles per attempt, with jitter. @defaultValue 10 s */
  webhookRetryBaseMs: number;
  /** How long a receiver has to answer one delivery. @defaultValue 10 s */
  webhookTimeoutMs: number;
  /** Webhook deliveries one collector replica makes at once. @defaultValue 16 */
  webhookConcurrency: number;
}

export function collectorSettings(r: Reader): CollectorSettings {
  const intervalMs = r.durationMs('VOLLEY_COLLECTOR_INTERVAL', 5_000);
  const lockTtlMs = r.durationMs('VOLLEY_COLLECTOR_LOCK', 15_000);
  // At least 3 s: renewed every third of it, a shorter lock would lapse on a busy event loop
  // and two replicas would both compute the gauges.
  if (lockTtlMs < 3_000) {
    r.problems.push(
      'VOLLEY_COLLECTOR_LOCK must be at least 3s: a shorter lock lapses between renewals and two collector replicas would export the same gauges',
    );
  }
  if (intervalMs < 100) {
    r.problems.push('VOLLEY_COLLECTOR_INTERVAL must be at least 100ms');
  }
  return {
    intervalMs,
    lockTtlMs,
    shapingPolicy: r.raw('VOLLEY_SHAPING_POLICY'),
    eventsHorizonMs: r.durationMs('VOLLEY_EVENTS_HORIZON', 30 * 86_400_000),
    webhookAttempts: r.int(
      'VOLLEY_WEBHOOK_ATTEMPTS',
      10,
      1,
      100,
      'attempts of one webhook delivery before it goes to the dead-letter list',
    ),
    webhookRetryBaseMs: r.durationMs('VOLLEY_WEBHOOK_RETRY_BASE', 10_000),
    webhookTimeoutMs: r.durationMs('VOLLEY_WEBHOOK_TIMEOUT', 10_000),
    webhookConcurrency: r.int('VOLLEY_WEBHOOK_CONCURRENCY', 16, 1, 1000),
  };
}
