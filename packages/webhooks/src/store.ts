/**
 * Webhook endpoints of each tenant and the dead-letter list of deliveries that exhausted their
 * retries, in Redis. The API manages them; the collector reads endpoints and writes dead letters.
 */
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RedisClient } from '@volley/redis';
import {
  CodedError,
  JOBS,
  WEBHOOK_EVENT_TYPES,
  type Keys,
  type WebhookEvent,
  type WebhookJob,
} from '@volley/contracts';

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Event types delivered (`*`: all). */
  events: string[];
  /** The HMAC secret receivers verify signatures with. */
  secret: string;
  createdAt: number;
}

export interface DeadLetter {
  /** `<endpoint id>.<event id>`: one delivery of one event to one endpoint. */
  id: string;
  endpointId: string;
  url: string;
  event: WebhookEvent;
  attempts: number;
  /** What the last attempt got: an HTTP status and text, or the network error. */
  lastError: string;
  failedAt: number;
}

export class WebhookError extends CodedError<
  'WEBHOOK_INVALID' | 'WEBHOOK_LIMIT' | 'WEBHOOK_NOT_FOUND'
> {}

/** Endpoints one tenant may have: each event is delivered once per endpoint. */
export const MAX_ENDPOINTS = 10;

/** Dead letters replayed by one call at most. */
const MAX_REPLAY = 1000;

const TYPES = new Set<string>([...WEBHOOK_EVENT_TYPES, '*']);

/** Checks a receiver URL: http(s), no fragment, at most 2,000 characters. */
function checkUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookError('WEBHOOK_INVALID', `url ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WebhookError('WEBHOOK_INVALID', 'url must be an https:// (or http://) URL');
  }
  if (url.hash || text.length > 2000) {
    throw new WebhookError(
      'WEBHOOK_INVALID',
      'url may not have a fragment or exceed 2000 characters',
    );
  }
  return url.toString();
}

/** The job id of one delivery (BullMQ refuses `:` in ids); the same for a repeat of the same event. */
export function deliveryId(endpointId: string, eventId: string): string {
  return `${endpointId}.${eventId}`;
}

export class WebhookStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async create(tenant: string, input: { url: string; events: string[] }): Promise<WebhookEndpoint> {
    const url = checkUrl(input.url);
    const events = [...new Set(input.events)];
    const bad = events.filter((e) => !TYPES.has(e));
    if (events.length === 0 || bad.length > 0) {
      throw new WebhookError(
        'WEBHOOK_INVALID',
        `events must name at least one of ${[...TYPES].join(', ')}${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`,
      );
    }
    if ((await this.redis.hlen(this.keys.webhooks(tenant))) >= MAX_ENDPOINTS) {
      throw new WebhookError(
        'WEBHOOK_LIMIT',
        `a tenant may have at most ${MAX_ENDPOINTS} webhook endpoints; delete one first`,
      );
    }
    const endpoint: WebhookEndpoint = {
      id: `wh_${randomBytes(8).toString('hex')}`,
      url,
      events,
      secret: `whsec_${randomBytes(24).toString('base64url')}`,
      createdAt: Date.now(),
    };
    // Listed first, then stored (two slots of a cluster): a tenant listed without endpoints
    // is dropped by tenants(); an endpoint never goes unlisted.
    await this.redis.sadd(this.keys.webhookTenants, tenant);
    await this.redis.hset(this.keys.webhooks(tenant), endpoint.id, JSON.stringify(endpoint));
    return endpoint;
  }

  async list(tenant: string): Promise<WebhookEndpoint[]> {
    const all = await this.redis.hvals(this.keys.webhooks(tenant));
    return all
      .map((j) => JSON.parse(j) as WebhookEndpoint)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async get(tenant: string, id: string): Promise<WebhookEndpoint | undefined> {
    const j = await this.redis.hget(this.keys.webhooks(tenant), id);
    return j ? (JSON.parse(j) as WebhookEndpoint) : undefined;
  }

  /** Deletes the endpoint; its deliveries still queued are dropped when they come up. */
  async remove(tenant: string, id: string): Promise<boolean> {
    const removed = await this.redis.hdel(this.keys.webhooks(tenant), id);
    return removed === 1;
  }

  /** Tenants with endpoints; a tenant whose last endpoint went is dropped from the set. */
  async tenants(): Promise<string[]> {
    const all = await this.redis.smembers(this.keys.webhookTenants);
    const out: string[] = [];
    for (const t of all) {
      const hasEndpoints = (await this.redis.hlen(this.keys.webhooks(t))) > 0;
      const hasDead = (await this.redis.hlen(this.keys.webhookDeadLetters(t))) > 0;
      if (hasEndpoints || hasDead) out.push(t);
      else await this.redis.srem(this.keys.webhookTenants, t);
    }
    return out;
  }

  /** Records a delivery that exhausted its retries; the same delivery twice keeps one entry. */
  async addDeadLetter(tenant: string, dl: DeadLetter): Promise<void> {
    await this.redis.sadd(this.keys.webhookTenants, tenant);
    await this.redis.hset(this.keys.webhookDeadLetters(tenant), dl.id, JSON.stringify(dl));
  }

  /** The tenant's dead letters, oldest first. */
  async deadLetters(tenant: string): Promise<DeadLetter[]> {
    const all = await this.redis.hvals(this.keys.webhookDeadLetters(tenant));
    return all.map((j) => JSON.parse(j) as DeadLetter).sort((a, b) => a.failedAt - b.failedAt);
  }

  async deadLetterCount(tenant: string): Promise<number> {
    return this.redis.hlen(this.keys.webhookDeadLetters(tenant));
  }

  /**
   * Queues the given dead letters (all of them without `ids`) for delivery again, with fresh
   * attempts, and takes them off the list. A dead letter whose endpoint was deleted is dropped.
   * Answers the ids queued.
   */
  async replay(
    tenant: string,
    queue: Queue<WebhookJob>,
    ids?: readonly string[],
  ): Promise<{ replayed: string[]; dropped: string[] }> {
    const key = this.keys.webhookDeadLetters(tenant);
    const wanted = ids ? [...new Set(ids)].slice(0, MAX_REPLAY) : undefined;
    const entries = wanted
      ? (await this.redis.hmget(key, ...wanted)).flatMap((j) =>
          j ? [JSON.parse(j) as DeadLetter] : [],
        )
      : (await this.deadLetters(tenant)).slice(0, MAX_REPLAY);
    const replayed: string[] = [];
    const dropped: string[] = [];
    const stamp = Date.now().toString(36);
    for (const dl of entries) {
      if (await this.get(tenant, dl.endpointId)) {
        // A new job id: the original job may still exist (kept as completed) and would
        // swallow an add under its own id.
        await queue.add(
          JOBS.webhook,
          { tenant, endpointId: dl.endpointId, event: dl.event },
          { jobId: `${dl.id}.replay-${stamp}` },
        );
        replayed.push(dl.id);
      } else {
        dropped.push(dl.id);
      }
      await this.redis.hdel(key, dl.id);
    }
    return { replayed, dropped };
  }
}
