/**
 * One webhook delivery: POST the event, signed, to the endpoint. A 2xx answer delivers it;
 * anything else throws, and BullMQ retries with exponential backoff until the attempts are
 * spent, when the delivery goes to the tenant's dead-letter list instead.
 */
import { Queue, type Job } from 'bullmq';
import type { RedisClient } from '@volley/redis';
import { QUEUES, type Keys, type WebhookJob } from '@volley/contracts';
import { SIGNATURE_HEADER, signWebhook } from './sign.ts';
import { deliveryId, type WebhookStore } from './store.ts';

export interface WebhookDelivererOptions {
  store: WebhookStore;
  /** How long a receiver has to answer. */
  timeoutMs: number;
  /** Each attempt's result and duration, for metrics. */
  onAttempt?: (result: 'delivered' | 'failed' | 'dead', seconds: number) => void;
}

/** Retry schedule of webhook jobs: exponential from `baseMs`; BullMQ's jitter 0.2 makes each delay up to 20% shorter (never longer), so retries spread. */
function webhookJobOptions(attempts: number, baseMs: number) {
  return {
    attempts,
    backoff: { type: 'exponential', delay: baseMs, jitter: 0.2 },
    // Kept for a while after delivery: an event turned into a job again (a collector that died
    // before storing its stream position) then finds its job and is not delivered twice.
    removeOnComplete: { count: 10_000 },
    removeOnFail: { count: 1_000 },
  } as const;
}

/** The webhook queue, for the collector (which adds and delivers) and the API (which replays). */
export function webhookQueue(
  connection: RedisClient,
  keys: Keys,
  attempts = 10,
  baseMs = 10_000,
): Queue<WebhookJob> {
  return new Queue<WebhookJob>(QUEUES.webhooks, {
    connection,
    prefix: keys.bullPrefix(QUEUES.webhooks),
    defaultJobOptions: webhookJobOptions(attempts, baseMs),
  });
}

/** The longest receiver answer kept in a dead letter. */
const ANSWER_KEPT = 300;

export class WebhookDeliverer {
  constructor(private readonly o: WebhookDelivererOptions) {}

  /** The BullMQ processor of the webhook queue. */
  async process(job: Job<WebhookJob>): Promise<'delivered' | 'dead' | 'dropped'> {
    const { tenant, endpointId, event } = job.data;
    const endpoint = await this.o.store.get(tenant, endpointId);
    // Deleted since the event was queued: nobody to deliver to.
    if (!endpoint) return 'dropped';
    const body = JSON.stringify(event);
    const t0 = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
    let error: string;
    try {
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Volley-Webhooks/1',
          'volley-event-id': event.id,
          'volley-event-type': event.type,
          [SIGNATURE_HEADER]: signWebhook(endpoint.secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      const text = await res.text().catch(() => '');
      if (res.status >= 200 && res.status < 300) {
        this.o.onAttempt?.('delivered', seconds());
        return 'delivered';
      }
      error = `HTTP ${res.status} ${text.slice(0, ANSWER_KEPT)}`.trim();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      error = `${e.name}: ${e.cause?.code ?? e.message}`;
    }
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade + 1 >= attempts) {
      await this.o.store.addDeadLetter(tenant, {
        id: deliveryId(endpointId, event.id),
        endpointId,
        url: endpoint.url,
        event,
        attempts: job.attemptsMade + 1,
        lastError: error,
        failedAt: Date.now(),
      });
      this.o.onAttempt?.('dead', seconds());
      return 'dead';
    }
    this.o.onAttempt?.('failed', seconds());
    throw new WebhookDeliveryError(`${endpoint.url}: ${error}`);
  }
}

/** A failed attempt with retries left: BullMQ retries the job after its backoff. */
class WebhookDeliveryError extends Error {
  readonly code = 'WEBHOOK_DELIVERY_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'WebhookDeliveryError';
  }
}
