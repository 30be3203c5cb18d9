/**
 * The sender's metrics, in one place: the engine takes them from here, and the Grafana
 * dashboards and alert rules query these names. Labels stay bounded: outcomes, Sisimai reasons,
 * providers plus `other`; never a recipient or a domain.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SenderMetrics {
  /** Messages by outcome and reason. */
  messages: Counter<'outcome' | 'reason'>;
  /** Time from handing a message to the SMTP pool to its reply. */
  smtpTime: Histogram<'outcome'>;
  /** Batches held back by shaping, by destination and reason. */
  shapingDelays: Counter<'destination' | 'reason'>;
  /** Batches this sender is sending now, capped destinations apart. */
  batchesActive: Gauge<'capped'>;
}

/** Creates the sender's metrics on `registry` (once per registry: prom-client refuses a name twice). */
export function senderMetrics(registry: Registry): SenderMetrics {
  return {
    messages: new Counter({
      name: 'volley_messages_total',
      help: 'Messages by outcome (sent, deferred, bounced, suppressed, failed) and reason.',
      labelNames: ['outcome', 'reason'],
      registers: [registry],
    }),
    smtpTime: new Histogram({
      name: 'volley_smtp_transaction_duration_seconds',
      help: 'Time from handing a message to the SMTP pool to the reply, by disposition.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    shapingDelays: new Counter({
      name: 'volley_shaping_delays_total',
      help: 'Batches held back by traffic shaping, by destination (provider or other) and reason (rate, suspended).',
      labelNames: ['destination', 'reason'],
      registers: [registry],
    }),
    batchesActive: new Gauge({
      name: 'volley_sender_batches_active',
      help: 'Batches this sender is sending now; capped="true" for destinations with a connection cap, which take at most that many of its slots.',
      labelNames: ['capped'],
      registers: [registry],
    }),
  };
}
