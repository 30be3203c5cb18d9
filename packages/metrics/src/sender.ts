/**
 * The sender's metrics: what one sender process sees of the messages it sends. Cluster-wide
 * figures (backlog, shaping state, campaign progress) are the collector's (collector.ts), so
 * that N senders do not each compute them. Labels stay bounded: outcomes, reasons and
 * providers from labels.ts; never a recipient or a domain.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { SendPathHistogram, type HistogramSeries } from './histogram.ts';
import { outcomeLabel, providerLabel, reasonLabel } from './labels.ts';

/** Provider label of the pools that destinations without limits of their own share. */
export const SHARED_POOL = 'shared';

/** Connections of one pool, as the transport reports them on a scrape. */
export interface PoolConnections {
  /** Provider label of the pool's destination; `shared` for the pools every destination shares. */
  provider: string;
  open: number;
  busy: number;
}

export interface SenderMetrics {
  /** One recorded outcome of a message (sent, bounced, deferred, ...) and its reason. */
  message(outcome: string, reason: string | undefined, provider: string | undefined): void;
  /** Time from handing a message to the SMTP pool to its reply, by disposition. */
  smtpReply(disposition: string, provider: string | undefined, seconds: number): void;
  /** Batches held back by shaping (rate, connections, suspended). */
  shapingDelay(provider: string | undefined, reason: string, n?: number): void;
  /** A batch starts (+1) or ends (-1) sending; `capped` for destinations with a connection cap. */
  batchActive(capped: boolean, delta: 1 | -1): void;
  /** Reports the transport's connections on each scrape. */
  watchConnections(read: () => Iterable<PoolConnections>): void;
}

/** SMTP reply latency buckets: from a loopback sink (1 ms) to a slow receiver's tarpit (30 s). */
const SMTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * `volley_messages_total`: senders count what they send; the collector counts feedback that
 * is reported later (complaints, unsubscribes, reported bounces) from the event streams.
 */
export function messagesCounter(registry: Registry): Counter<'outcome' | 'provider' | 'reason'> {
  return new Counter({
    name: 'volley_messages_total',
    help: 'Messages by outcome (sent, deferred, bounced, expired, complained, unsubscribed, suppressed, failed), provider and reason. Senders count what they send; the collector counts feedback reported later (complaints, unsubscribes, reported bounces).',
    labelNames: ['outcome', 'provider', 'reason'],
    registers: [registry],
  });
}

/** Names, help and labels of the sender's metrics; `docs/metrics.md` lists the same. */
function registerSenderMetrics(
  registry: Registry,
  concurrency: number,
  readConnections: () => Iterable<PoolConnections> = () => [],
) {
  const messages = messagesCounter(registry);
  const smtpTime = new SendPathHistogram({
    name: 'volley_smtp_transaction_duration_seconds',
    help: 'Time from handing a message to the SMTP pool to the reply, by provider and disposition (delivered, deferred, bounced).',
    labelNames: ['provider', 'outcome'],
    buckets: SMTP_BUCKETS,
    registers: [registry],
  });
  const shapingDelays = new Counter({
    name: 'volley_shaping_delays_total',
    help: 'Batches held back by traffic shaping, by provider and reason (rate, connections, suspended).',
    labelNames: ['provider', 'reason'],
    registers: [registry],
  });
  const batchesActive = new Gauge({
    name: 'volley_sender_batches_active',
    help: 'Batches this sender is sending now; capped="true" for destinations with a connection cap, which take at most that many of its slots.',
    labelNames: ['capped'],
    registers: [registry],
  });
  const slots = new Gauge({
    name: 'volley_sender_concurrency',
    help: 'Batches this sender may send at once (VOLLEY_SENDER_CONCURRENCY): volley_sender_batches_active over it is how saturated the senders are.',
    registers: [registry],
  });
  slots.set(concurrency);
  new Gauge({
    name: 'volley_smtp_connections',
    help: 'SMTP connections of this sender by provider (shared: the pools every destination without limits shares) and state (open, busy).',
    labelNames: ['provider', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      const sums = new Map<string, { open: number; busy: number }>();
      for (const c of readConnections()) {
        const p = c.provider === SHARED_POOL ? SHARED_POOL : providerLabel(c.provider);
        const s = sums.get(p) ?? { open: 0, busy: 0 };
        s.open += c.open;
        s.busy += c.busy;
        sums.set(p, s);
      }
      for (const [provider, s] of sums) {
        this.set({ provider, state: 'open' }, s.open);
        this.set({ provider, state: 'busy' }, s.busy);
      }
    },
  });
  return { messages, smtpTime, shapingDelays, batchesActive };
}

/**
 * The sender's metrics on `registry` (once per registry: prom-client refuses a name twice).
 * `enabled: false` (VOLLEY_SEND_METRICS=off) makes every call a no-op; the benchmark compares
 * the two to measure what metrics cost on the send path.
 */
export function senderMetrics(
  registry: Registry,
  opts: { concurrency?: number; enabled?: boolean } = {},
): SenderMetrics {
  let reader: () => Iterable<PoolConnections> = () => [];
  const m = registerSenderMetrics(registry, opts.concurrency ?? 0, () => reader());
  if (opts.enabled === false) {
    return {
      message: () => {},
      smtpReply: () => {},
      shapingDelay: () => {},
      batchActive: () => {},
      watchConnections: () => {},
    };
  }
  // Children by label values: prom-client hashes a labels object on every call; a message
  // costs one Map lookup instead.
  const counters = new Map<string, Counter.Internal>();
  const timers = new Map<string, HistogramSeries>();
  return {
    message(outcome, reason, provider) {
      const o = outcomeLabel(outcome, reason);
      const p = providerLabel(provider);
      const r = reasonLabel(reason);
      const k = `${o}\0${p}\0${r}`;
      let c = counters.get(k);
      if (!c) counters.set(k, (c = m.messages.labels({ outcome: o, provider: p, reason: r })));
      c.inc();
    },
    smtpReply(disposition, provider, seconds) {
      const p = providerLabel(provider);
      const k = `${disposition}\0${p}`;
      let h = timers.get(k);
      if (!h) timers.set(k, (h = m.smtpTime.labels({ provider: p, outcome: disposition })));
      h.observe(seconds);
    },
    shapingDelay(provider, reason, n = 1) {
      m.shapingDelays.inc({ provider: providerLabel(provider), reason }, n);
    },
    batchActive(capped, delta) {
      m.batchesActive.inc({ capped: capped ? 'true' : 'false' }, delta);
    },
    watchConnections(read) {
      reader = read;
    },
  };
}
