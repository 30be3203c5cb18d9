/**
 * The collector's metrics. The cluster-wide gauges (backlog, queues, shaping state, campaign
 * progress, Redis) are set by the one collector replica that holds the collector lock; the
 * others export none of them (they are reset when a replica loses the lock), so a sum over
 * replicas never counts one figure twice.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DELIVERABILITY_THRESHOLDS } from './labels.ts';
import { messagesCounter } from './sender.ts';

/** States of `volley_backlog_messages`: what more senders can fix (sendable) and what they cannot. */
export type BacklogState =
  'sendable' | 'throttled' | 'retrying' | 'paused' | 'scheduled' | 'unexpanded';

export function collectorMetrics(registry: Registry) {
  const r = [registry];
  const cluster = {
    queueJobs: new Gauge({
      name: 'volley_queue_jobs',
      help: 'Jobs in each BullMQ queue by state (waiting, active, delayed, prioritized, failed).',
      labelNames: ['queue', 'state'],
      registers: r,
    }),
    backlog: new Gauge({
      name: 'volley_backlog_messages',
      help: 'Messages not sent yet, by what holds them: sendable (due, waiting for a sender: more senders help), throttled (a rate, a connection cap or a suspension), retrying (waiting for backoff after a deferral), paused, scheduled (campaigns not started), unexpanded (recipients of running campaigns not yet in jobs).',
      labelNames: ['state'],
      registers: r,
    }),
    oldestSendable: new Gauge({
      name: 'volley_backlog_oldest_sendable_age_seconds',
      help: 'How long the oldest sendable message has been due without a sender taking it; 0 with none.',
      registers: r,
    }),
    campaignsRunning: new Gauge({
      name: 'volley_campaigns_running',
      help: 'Campaigns running now.',
      registers: r,
    }),
    campaignRecipients: new Gauge({
      name: 'volley_campaign_recipients',
      help: 'Recipients of each running campaign by state: total, done (a final outcome), deferred (waiting for a retry). Removed when the campaign ends.',
      labelNames: ['campaign', 'state'],
      registers: r,
    }),
    campaignRate: new Gauge({
      name: 'volley_campaign_messages_per_second',
      help: 'Final outcomes per second of each running campaign over the last 10 s. Removed when the campaign ends.',
      labelNames: ['campaign'],
      registers: r,
    }),
    shapingRate: new Gauge({
      name: 'volley_shaping_rate_per_second',
      help: "Effective rate limit of each provider (its rule's rate times the adaptive factor); for other, each domain's own limit.",
      labelNames: ['provider'],
      registers: r,
    }),
    shapingFactor: new Gauge({
      name: 'volley_shaping_adaptive_factor',
      help: 'Adaptive factor in force for each provider (1: full speed; lower: slowed down by deferrals); the lowest of its destinations.',
      labelNames: ['provider'],
      registers: r,
    }),
    shapingSuspended: new Gauge({
      name: 'volley_shaping_suspended',
      help: 'Destinations of each provider suspended now, wholly or for some campaigns.',
      labelNames: ['provider'],
      registers: r,
    }),
    shapingConnections: new Gauge({
      name: 'volley_shaping_connections',
      help: 'Connections of capped destinations across all senders by provider: in_use (leases held) and limit (the cap times the adaptive factor).',
      labelNames: ['provider', 'state'],
      registers: r,
    }),
    redisUp: new Gauge({
      name: 'volley_redis_up',
      help: '1 when the collector could read Redis INFO in its last round.',
      registers: r,
    }),
    redisMemory: new Gauge({
      name: 'volley_redis_memory_used_bytes',
      help: 'Memory Redis uses (INFO used_memory).',
      registers: r,
    }),
    redisMaxMemory: new Gauge({
      name: 'volley_redis_memory_max_bytes',
      help: 'Redis maxmemory; 0 when unlimited (then the machine is the limit).',
      registers: r,
    }),
    redisClients: new Gauge({
      name: 'volley_redis_connected_clients',
      help: 'Clients connected to Redis.',
      registers: r,
    }),
    streamLag: new Gauge({
      name: 'volley_event_stream_lag_seconds',
      help: 'Age of the oldest event the collector has not consumed yet, over all watched campaign event streams; 0 when caught up.',
      registers: r,
    }),
    streamsWatched: new Gauge({
      name: 'volley_event_streams_watched',
      help: 'Campaign event streams the collector reads (campaigns created within VOLLEY_EVENTS_HORIZON).',
      registers: r,
    }),
    deadLetters: new Gauge({
      name: 'volley_webhook_dead_letters',
      help: 'Webhook deliveries that exhausted their retries and wait in the dead-letter lists to be replayed.',
      registers: r,
    }),
  };
  const thresholds = new Gauge({
    name: 'volley_deliverability_threshold_ratio',
    help: 'Published limits of bounce and complaint rates (kind) as ratios: target (stay under) and limit (never reach). Complaints: Google and Yahoo sender guidelines; bounces: the usual industry target and Amazon SES review level.',
    labelNames: ['kind', 'level'],
    registers: r,
  });
  for (const t of DELIVERABILITY_THRESHOLDS) {
    thresholds.set({ kind: t.kind, level: t.level }, t.ratio);
  }
  return {
    cluster,
    leader: new Gauge({
      name: 'volley_collector_leader',
      help: '1 on the collector replica that holds the lock and computes the cluster-wide gauges.',
      registers: r,
    }),
    roundDuration: new Histogram({
      name: 'volley_collector_round_duration_seconds',
      help: 'Time one round of the cluster-wide gauges took.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    messages: messagesCounter(registry),
    eventsConsumed: new Counter({
      name: 'volley_events_consumed_total',
      help: 'Campaign events the collector consumed, by outcome.',
      labelNames: ['outcome'],
      registers: r,
    }),
    eventsDroppedUnread: new Counter({
      name: 'volley_events_dropped_unread_total',
      help: "Campaign events the length cap (VOLLEY_EVENTS_MAXLEN) removed before the collector read them: lost to webhooks and feedback metrics. Happens when a stream reaches twice its cap behind the collector, or while no collector holds it. Counted by the collector when it next renews the stream's hold.",
      registers: r,
    }),
    webhookDeliveries: new Counter({
      name: 'volley_webhook_deliveries_total',
      help: 'Webhook delivery attempts by result: delivered (2xx), failed (retried later), dead (retries exhausted: dead-letter list).',
      labelNames: ['result'],
      registers: r,
    }),
    webhookDuration: new Histogram({
      name: 'volley_webhook_delivery_duration_seconds',
      help: "Time a webhook receiver took to answer (or the attempt's timeout).",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
  };
}

export type CollectorMetrics = ReturnType<typeof collectorMetrics>;

/** Clears every cluster-wide gauge: a replica that is not the leader exports none. */
export function resetClusterGauges(m: CollectorMetrics): void {
  for (const g of Object.values(m.cluster)) g.reset();
}
