/**
 * The one place that names queues, job payloads, Redis keys and event types.
 * Nothing else spells a Redis key or a queue name by hand.
 */

export const QUEUES = {
  /** Batches of recipients of one campaign and one recipient domain. */
  send: 'volley-send',
  /** Campaign control work: expanding the next window of recipients into send jobs. */
  control: 'volley-control',
  /** Signed webhook deliveries, one job per event and endpoint (the collector delivers them). */
  webhooks: 'volley-webhooks',
} as const;

export const JOBS = {
  sendBatch: 'send-batch',
  expand: 'expand',
  webhook: 'webhook',
} as const;

/** The tenant `VOLLEY_API_KEY` authenticates as, and the one `VOLLEY_DKIM_KEYS` signs for. */
export const DEFAULT_TENANT = 'default';

/** Types a webhook endpoint may subscribe to: the event outcomes, or `*` for all of them. */
export const WEBHOOK_EVENT_TYPES = [
  'sent',
  'deferred',
  'bounced',
  'suppressed',
  'failed',
  'complained',
  'unsubscribed',
] as const;

/** The body a webhook receiver gets (JSON); `id` is stable across retries and replays. */
export interface WebhookEvent {
  /** `<campaign id>:<stream id>`: the same event always has the same id; deduplicate on it. */
  id: string;
  type: Outcome;
  tenant: string;
  campaignId: string;
  /** When the event happened (ISO 8601). */
  createdAt: string;
  data: Omit<RecipientEvent, 'campaignId' | 'outcome'>;
}

/** One delivery of one event to one endpoint. */
export interface WebhookJob {
  tenant: string;
  endpointId: string;
  event: WebhookEvent;
}

export type CampaignStatus =
  'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';

/** A recipient as the API accepts it and as it is stored (once) per campaign. */
export interface Recipient {
  email: string;
  vars?: Record<string, unknown>;
}

/** A recipient inside a send job: its position in the campaign is its identity. */
export interface BatchRecipient extends Recipient {
  /** Index of the recipient in the campaign's frozen recipient list. */
  i: number;
}

export interface SendBatchJob {
  /** Stable id of the batch (`<campaign>-<window>-<n>`); retries derive their job ids from it. */
  batchId: string;
  campaignId: string;
  tenant: string;
  /** Lower-cased recipient domain shared by every recipient of the batch. */
  domain: string;
  recipients: BatchRecipient[];
  /** 1 for the first try; a retry batch carries the attempt it is. */
  attempt: number;
  /**
   * Epoch ms of the first attempt, for expiry by age: the first retry carries the time its
   * first attempt was deferred; until then it is the time the batch was queued.
   */
  firstAttemptAt: number;
  /** Times this batch (of this attempt) waited for a connection slot of a capped destination. */
  slotWaits?: number;
  /**
   * A rate slot reserved by traffic shaping (when the window was expanded, or before the batch
   * was delayed to wait for it): on waking the batch presents that slot instead of reserving
   * again, so a backlog is never re-polled and a late batch keeps its place.
   */
  shaping?: {
    /** Redis time the slot was reserved at. */
    heldSince: number;
    /** Messages it covers. */
    count: number;
    /** When the reserved slot starts, on Redis' clock (the batch may wake a little before it). */
    startAt: number;
    /** The shaping key it was reserved on; a slot of another key (the policy changed) is not used. */
    key?: string;
  };
}

export interface ExpandJob {
  campaignId: string;
  /** The cursor this expansion starts at; part of the job id so a window is expanded once. */
  from: number;
}

/**
 * Final and intermediate outcomes of one recipient, and the feedback that may follow a send:
 * a bounce reported later (DSN), a complaint, an unsubscribe.
 */
export type Outcome =
  'sent' | 'deferred' | 'bounced' | 'suppressed' | 'failed' | 'complained' | 'unsubscribed';
export const FINAL_OUTCOMES = ['sent', 'bounced', 'suppressed', 'failed'] as const;
export type FinalOutcome = (typeof FINAL_OUTCOMES)[number];

/** One per-recipient event, as stored in the campaign's event stream. */
export interface RecipientEvent {
  campaignId: string;
  index: number;
  email: string;
  outcome: Outcome;
  /** Reason in Sisimai's vocabulary when known (userunknown, mailboxfull, ...). */
  reason?: string;
  /** The SMTP reply or error text that decided the outcome. */
  detail?: string;
  at: number;
  /** Where feedback came from (`dsn`, `arf`, `one-click`, ...); absent for the send's own outcomes. */
  source?: string;
  /** Enhanced status code of a reported bounce (`5.1.1`). */
  status?: string;
  /** SMTP reply code of a reported bounce. */
  replyCode?: number;
  /** Whether a reported bounce is permanent for the address (suppresses it at once). */
  hardBounce?: boolean;
  /** A bounce reported after the recipient already had its final state (it stays counted there). */
  late?: boolean;
}

/** Where a reported bounce came from: a delivery status notification, or a provider's webhook. */
export type BounceSource = 'dsn' | 'webhook';
/** Where a complaint came from: an ARF report (RFC 5965) of a feedback loop, or a webhook. */
export type ComplaintSource = 'arf' | 'webhook';
/** How a recipient unsubscribed: RFC 8058 one-click POST, the mailto target, or an operator. */
export type UnsubscribeSource = 'one-click' | 'mailto' | 'manual';
/** Why an address is on a tenant's suppression list. */
export type SuppressionSource = 'bounce' | 'complaint' | 'unsubscribe' | 'manual';
export const SUPPRESSION_SOURCES: readonly SuppressionSource[] = [
  'bounce',
  'complaint',
  'unsubscribe',
  'manual',
];

export interface CampaignCounts {
  total: number;
  /** Recipients of a cancelled campaign that were never attempted to a final state. */
  cancelled: number;
  queued: number;
  sent: number;
  deferred: number;
  bounced: number;
  suppressed: number;
  failed: number;
  /**
   * Recipients whose bounce was reported after they reached a final state (normally `sent`):
   * they stay counted there, so this is not part of `total`'s breakdown.
   */
  lateBounced: number;
  /** Recipients who complained (marked the message as spam); also counted in `sent`. */
  complained: number;
  /** Recipients who unsubscribed from this campaign's message; also counted in `sent`. */
  unsubscribed: number;
}

/**
 * Redis key layout. A prefix separates deployments (and tests running side by side).
 * BullMQ keys use the same prefix through the queue `prefix` option.
 *
 * Every key carries a Redis Cluster hash tag (the part in braces decides the slot), so that
 * each Lua script and MULTI touches keys of one slot only (deploy/redis-keys.md lists them):
 * a campaign's keys share `{<campaign id>}`, a tenant's `{<tenant>}`, the registries of
 * tenants, API keys and sending domains `{reg}`, and each BullMQ queue has its own tag, so
 * campaigns, tenants and queues spread over the cluster's nodes. On one Redis the tags change
 * nothing. The prefix holds no braces (checked with VOLLEY_REDIS_PREFIX), so the first brace of
 * a key is always the one written here.
 */
export class Keys {
  constructor(readonly prefix: string = 'volley') {}

  /** Start of every key of one campaign: `<prefix>:c:{<id>}`. */
  private c(id: string): string {
    return `${this.prefix}:c:{${id}}`;
  }
  /** Start of every key of one tenant: `<prefix>:t:{<tenant>}`. */
  private t(tenant: string): string {
    return `${this.prefix}:t:{${tenant}}`;
  }
  /** Start of the registries a script updates together (tenants, API keys, sending domains). */
  private get reg(): string {
    return `${this.prefix}:{reg}`;
  }

  /** Hash: definition, status and counters of one campaign. */
  campaign(id: string): string {
    return this.c(id);
  }
  /** List of JSON recipients in submission order; frozen when the campaign starts. */
  recipients(id: string): string {
    return `${this.c(id)}:r`;
  }
  /** Bitmap by recipient index: set once the recipient reached a final state (sent marker). */
  done(id: string): string {
    return `${this.c(id)}:done`;
  }
  /** Bitmap by recipient index: set while the recipient waits for a retry. */
  deferred(id: string): string {
    return `${this.c(id)}:def`;
  }
  /**
   * Bitmap by recipient index: set when a sender is about to hand the recipient's message to
   * SMTP, in the same script that checks the campaign is not cancelled. A cancel counts as
   * cancelled exactly the recipients neither done nor claimed.
   */
  claimed(id: string): string {
    return `${this.c(id)}:claimed`;
  }
  /** Scratch key of the cancel script (union of done and claimed), deleted in the same script. */
  cancelScratch(id: string): string {
    return `${this.c(id)}:cancel-tmp`;
  }
  /**
   * Sorted set recipient domain → recipients of the campaign without a final outcome yet:
   * its backlog per destination, which the ETA divides by each destination's rate.
   */
  destinations(id: string): string {
    return `${this.c(id)}:dest`;
  }
  /** Set of lower-cased addresses already in the campaign, for deduplication. */
  seen(id: string): string {
    return `${this.c(id)}:seen`;
  }
  /** Set of send job ids held back while the campaign is paused; promoted on resume. */
  parked(id: string): string {
    return `${this.c(id)}:parked`;
  }
  /** String: token of the upload in progress, so two uploads to one campaign cannot interleave. */
  uploadLock(id: string): string {
    return `${this.c(id)}:upload`;
  }
  /** Stream of per-recipient events, oldest first. */
  events(id: string): string {
    return `${this.c(id)}:ev`;
  }
  /**
   * Hash: the collector's hold on a campaign's events stream, beside the stream so the scripts
   * that write events can read it (in the same slot of a cluster): `p` the last event it
   * consumed, `u` until when (Redis time, ms) the hold stands without being renewed, `l` events
   * the length cap removed before it read them and it has not counted yet.
   */
  eventHold(id: string): string {
    return `${this.c(id)}:evhold`;
  }
  /** Sorted set of a tenant's campaign ids by creation time. */
  tenantCampaigns(tenant: string): string {
    return `${this.t(tenant)}:campaigns`;
  }
  /**
   * Set of lower-cased suppressed addresses of a tenant: what the sender checks before each
   * message. Every member also has an entry in `suppressionLog` and `suppressionInfo`.
   */
  suppression(tenant: string): string {
    return `${this.t(tenant)}:suppressed`;
  }
  /** Sorted set of a tenant's suppressed addresses by the time (ms) they were suppressed. */
  suppressionLog(tenant: string): string {
    return `${this.t(tenant)}:suppressed:at`;
  }
  /** Hash suppressed address → JSON `{s: source, r: reason, c?: campaign, d?: detail}`. */
  suppressionInfo(tenant: string): string {
    return `${this.t(tenant)}:suppressed:info`;
  }
  /** List of a CSV import's rows (`email\tJSON`) staged until the whole file proved valid. */
  suppressionImport(tenant: string, importId: string): string {
    return `${this.t(tenant)}:suppressed:import:${importId}`;
  }
  /** Sorted set of the messages to one address that soft-bounced, by time; expires with its window. */
  softBounces(tenant: string, email: string): string {
    return `${this.t(tenant)}:soft:${email}`;
  }
  /**
   * Hash: the claim of an Idempotency-Key of a campaign create (the campaign id it may create,
   * the request's fingerprint, the attempt creating it, then the answer given).
   */
  idempotency(tenant: string, key: string): string {
    return `${this.t(tenant)}:idem:${key}`;
  }
  /**
   * Bitmap of feedback per recipient, four bits each (index × 4 + k): k = 0 a bounce was
   * reported, 1 a hard one, 2 a complaint, 3 an unsubscribe. Each is recorded once.
   */
  feedback(id: string): string {
    return `${this.c(id)}:fb`;
  }
  /** Hash `<outcome>:<reason>` → count of recipients of a campaign, for statistics by reason. */
  reasons(id: string): string {
    return `${this.c(id)}:why`;
  }
  /** Hash of a ring of per-second slots (`s<n>` second, `n<n>` count) of final outcomes: the current rate. */
  pace(id: string): string {
    return `${this.c(id)}:pace`;
  }
  /** Sorted set of test-send campaign ids made from a campaign, by creation time. */
  testSends(id: string): string {
    return `${this.c(id)}:tests`;
  }
  /**
   * Hash sending domain → JSON of its tenant, DKIM selectors and their keys (private keys only
   * sealed with VOLLEY_DKIM_SECRET). One hash for every tenant, so whose a domain is, and which
   * keys sign for it, is one HMGET of the From domain and its parents.
   */
  get sendingDomains(): string {
    return `${this.reg}:domains`;
  }
  /** Set of a tenant's sending domains, to list them and to know whether it has any. */
  tenantDomains(tenant: string): string {
    return `${this.reg}:tenant-domains:${tenant}`;
  }
  /** Hash tenant id → JSON description of the tenant. */
  get tenants(): string {
    return `${this.reg}:tenants`;
  }
  /** Hash SHA-256 (hex) of an API key → JSON `{id, tenant, name, createdAt}`; keys are never stored in plain. */
  get apiKeys(): string {
    return `${this.reg}:apikeys`;
  }
  /** Hash API key id → SHA-256 (hex) of the key, so a key can be listed and revoked by its id. */
  get apiKeyIds(): string {
    return `${this.reg}:apikey-ids`;
  }
  /** Counter that numbers API keys in the order they were created (several can share a millisecond). */
  get apiKeySeq(): string {
    return `${this.reg}:apikey-seq`;
  }
  /** Prefix of the API's per-key rate-limit counters. */
  get rateLimit(): string {
    return `${this.prefix}:rl:`;
  }
  /**
   * Sorted set of finished (completed or cancelled) campaign ids by the time (ms) they
   * finished, whose per-recipient data retention has not removed yet.
   */
  get finished(): string {
    return `${this.prefix}:finished`;
  }
  /**
   * Hash tenant → how far (a rank in its campaign index) retention has looked for campaigns
   * that finished before `finished` existed; field `*` once every index was looked through.
   */
  get retentionBackfill(): string {
    return `${this.prefix}:retention:backfill`;
  }
  /** Set of running campaign ids, swept by senders so a lost refill never stalls a campaign. */
  get running(): string {
    return `${this.prefix}:running`;
  }
  /**
   * Pub/sub channel: the id of each campaign as it is cancelled, published by the cancel's
   * script so every sender stops handing its messages to SMTP at once, not a status read later.
   */
  get cancels(): string {
    return `${this.prefix}:cancels`;
  }
  /** Hash endpoint id → JSON webhook endpoint (url, event types, secret) of a tenant. */
  webhooks(tenant: string): string {
    return `${this.t(tenant)}:webhooks`;
  }
  /** Hash delivery id → JSON dead letter: webhook deliveries of a tenant that exhausted their retries. */
  webhookDeadLetters(tenant: string): string {
    return `${this.t(tenant)}:webhooks:dead`;
  }
  /** Set of tenants that have webhook endpoints. */
  get webhookTenants(): string {
    return `${this.prefix}:webhook-tenants`;
  }
  /** String: token of the collector replica that computes the cluster-wide gauges and reads the event streams. */
  get collectorLock(): string {
    return `${this.prefix}:collector:lock`;
  }
  /**
   * Hash campaign id → id of the last event of its stream the collector consumed (counted and
   * turned into webhook deliveries): what a retention job may trim up to.
   */
  get eventPositions(): string {
    return `${this.prefix}:collector:pos`;
  }
  /**
   * Prefix given to BullMQ for one queue, so its keys live under the same namespace. BullMQ's
   * scripts touch many keys of a queue at once: the tag keeps them in one slot, and a tag per
   * queue puts the queues on different nodes of a cluster.
   */
  bullPrefix(queue: string): string {
    return `${this.prefix}:{q:${queue}}`;
  }
}

export * from './shaping-keys.ts';
export { CodedError } from './errors.ts';
