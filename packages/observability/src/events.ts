/**
 * Reads the campaigns' event streams from where the collector last stopped: counts reported
 * feedback (complaints, unsubscribes, reported bounces) by provider, and turns each event into
 * one webhook delivery job per endpoint that wants it. The position of each stream is stored
 * after its events are handled (`Keys.eventPositions`), so a collector that dies re-reads at most
 * one batch (at least once) and a retention job can ask what has been consumed.
 */
import type { Queue } from 'bullmq';
import type { RedisClient } from '@volley/redis';
import {
  JOBS,
  type Keys,
  type RecipientEvent,
  type WebhookEvent,
  type WebhookJob,
} from '@volley/contracts';
import type { CampaignStore } from '@volley/campaigns';
import { domainOf } from '@volley/message';
import { outcomeLabel, reasonLabel, type CollectorMetrics } from '@volley/metrics';
import { deliveryId, type WebhookEndpoint, type WebhookStore } from '@volley/webhooks';

/** Events read from one stream per read: one round trip, and one addBulk of their deliveries. */
const BATCH = 500;

/** Campaign ids read from a tenant's index per call, newest first. */
const INDEX_PAGE = 1000;

/** The tenant every deployment has (VOLLEY_API_KEY's), whether or not it is in the tenants hash. */
const DEFAULT_TENANT = 'default';

export interface EventConsumerOptions {
  redis: RedisClient;
  keys: Keys;
  store: CampaignStore;
  webhookStore: WebhookStore;
  webhooks: Queue<WebhookJob>;
  metrics: CollectorMetrics;
  /** The provider label of a recipient domain (from the shaping policy; `other` without). */
  providerOf: (domain: string) => string;
  /** Campaigns created within this long are read (VOLLEY_EVENTS_HORIZON). */
  horizonMs: number;
  /**
   * How long a hold on a stream stands without a round renewing it (see CampaignStore
   * holdEvents): longer than a round and its pause, so the length cap waits for a collector
   * that runs, and short, so it stops waiting soon after one stopped.
   */
  holdMs: number;
}

/** The stream id's time part: when Redis appended the event (ms). */
function streamTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

export class EventConsumer {
  constructor(private readonly o: EventConsumerOptions) {}

  /**
   * Reads every watched stream until each is caught up or `budgetMs` has passed. Answers the
   * events consumed and the age of the oldest event still unread (0 when caught up).
   */
  async round(now = Date.now(), budgetMs = 5_000): Promise<{ consumed: number; lagSec: number }> {
    const streams = await this.watched(now);
    this.o.metrics.cluster.streamsWatched.set(streams.length);
    const positions = streams.length
      ? await this.o.redis.hmget(this.o.keys.eventPositions, ...streams.map((s) => s.id))
      : [];
    // Every watched stream's hold renewed first, so a round that runs out of time leaves none
    // of them to lapse; each answers what the cap removed before it was read.
    await Promise.all(streams.map(({ id }, k) => this.hold(id, positions[k] ?? undefined)));
    let consumed = 0;
    let lagSec = 0;
    const deadline = Date.now() + budgetMs;
    const endpointsOf = new Map<string, WebhookEndpoint[]>();
    for (const [k, { id, tenant }] of streams.entries()) {
      let cursor = positions[k] ?? undefined;
      for (;;) {
        const { events } = await this.o.store.events(id, cursor, BATCH);
        const first = events[0];
        if (!first) break;
        lagSec = Math.max(lagSec, (Date.now() - streamTime(first.id)) / 1000);
        let endpoints = endpointsOf.get(tenant);
        if (!endpoints)
          endpointsOf.set(tenant, (endpoints = await this.o.webhookStore.list(tenant)));
        await this.handle(tenant, events, endpoints);
        cursor = events[events.length - 1]?.id;
        if (cursor) {
          await this.o.redis.hset(this.o.keys.eventPositions, id, cursor);
          await this.hold(id, cursor);
        }
        consumed += events.length;
        if (events.length < BATCH) break;
        if (Date.now() > deadline) {
          // Out of time with events left: they are the lag.
          const next = await this.o.store.events(id, cursor, 1);
          const n = next.events[0];
          if (n) lagSec = Math.max(lagSec, (Date.now() - streamTime(n.id)) / 1000);
          return { consumed, lagSec };
        }
      }
    }
    return { consumed, lagSec: consumed === 0 ? 0 : lagSec };
  }

  /** Holds a stream at `position` and counts the events the cap removed before they were read. */
  private async hold(id: string, position: string | undefined): Promise<void> {
    const lost = await this.o.store.holdEvents(id, position, this.o.holdMs);
    if (lost > 0) this.o.metrics.eventsDroppedUnread.inc(lost);
  }

  /** Campaigns created within the horizon, of every tenant. */
  private async watched(now: number): Promise<{ id: string; tenant: string }[]> {
    const { redis, keys } = this.o;
    const tenants = new Set([DEFAULT_TENANT, ...(await redis.hkeys(keys.tenants))]);
    const out: { id: string; tenant: string }[] = [];
    for (const tenant of tenants) {
      for (let offset = 0; ; offset += INDEX_PAGE) {
        const ids = await redis.zrangebyscore(
          keys.tenantCampaigns(tenant),
          now - this.o.horizonMs,
          '+inf',
          'LIMIT',
          offset,
          INDEX_PAGE,
        );
        for (const id of ids) out.push({ id, tenant });
        if (ids.length < INDEX_PAGE) break;
      }
    }
    return out;
  }

  private async handle(
    tenant: string,
    events: (RecipientEvent & { id: string })[],
    endpoints: WebhookEndpoint[],
  ): Promise<void> {
    const m = this.o.metrics;
    const jobs: { name: string; data: WebhookJob; opts: { jobId: string } }[] = [];
    for (const e of events) {
      m.eventsConsumed.inc({ outcome: e.outcome });
      // Outcomes the senders recorded are counted by them; feedback reported later (it
      // carries a source) is counted here, where every reported event passes once.
      if (e.source !== undefined) {
        m.messages.inc({
          outcome: outcomeLabel(e.outcome, e.reason),
          // The recipient's domain, mapped to a bounded provider label.
          provider: this.o.providerOf(domainOf(e.email)),
          reason: reasonLabel(e.reason),
        });
      }
      if (endpoints.length === 0) continue;
      const event = toWebhookEvent(tenant, e);
      for (const ep of endpoints) {
        if (!ep.events.includes('*') && !ep.events.includes(e.outcome)) continue;
        jobs.push({
          name: JOBS.webhook,
          data: { tenant, endpointId: ep.id, event },
          opts: { jobId: deliveryId(ep.id, event.id) },
        });
      }
    }
    // Job ids are the delivery ids: an event read again (after a crash) adds nothing while
    // its job is kept.
    if (jobs.length) await this.o.webhooks.addBulk(jobs);
  }
}

/** The webhook body of one stream event; its id is stable, for receivers to deduplicate. */
function toWebhookEvent(tenant: string, e: RecipientEvent & { id: string }): WebhookEvent {
  const { id, campaignId, outcome, ...data } = e;
  return {
    id: `${campaignId}-${id}`,
    type: outcome,
    tenant,
    campaignId,
    createdAt: new Date(e.at || streamTime(id)).toISOString(),
    data,
  };
}
