import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Redis } from 'ioredis';
import type { ApiMetrics } from '@volley/metrics';
import type { ApiConfig } from '@volley/config';
import type {
  CampaignRecord,
  CampaignStore,
  Feedback,
  IdempotencyKeys,
  Queues,
  SuppressionList,
} from '@volley/campaigns';
import type { Queue } from 'bullmq';
import type { Keys, WebhookJob } from '@volley/contracts';
import type { SendingDomains } from '@volley/domains';
import type { Shaper } from '@volley/shaping';
import type { WebhookStore } from '@volley/webhooks';

/** A Fastify scope typed by TypeBox schemas, as every route module receives it. */
export type V1 = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What route modules share: configuration, Redis, the campaign store and the API's metrics. */
export interface ApiContext {
  config: ApiContextConfig;
  redis: Redis;
  keys: Keys;
  queues: Queues;
  store: CampaignStore;
  /** Idempotency-Keys of campaign creates. */
  idempotency: IdempotencyKeys;
  /** Applies unsubscribes (and any other reported feedback) to campaigns and suppression lists. */
  feedback: Feedback;
  suppressions: SuppressionList;
  /** Which From domains a tenant may send as. */
  sendingDomains: SendingDomains;
  shaper: Shaper | undefined;
  metrics: ApiMetrics;
  webhooks: WebhookStore;
  /** Where replayed dead letters go; the collector delivers them. */
  webhookQueue: Queue<WebhookJob>;
  /** The campaign if it exists and belongs to `tenant`; a 404 problem otherwise (never a 403, which would confirm it exists). */
  loadOwned(id: string, tenant: string): Promise<CampaignRecord>;
}

export type ApiContextConfig = Pick<ApiConfig, 'apiKey' | 'bodyLimit' | 'maxInlineRecipients'> &
  Partial<
    Pick<
      ApiConfig,
      | 'uploadLimit'
      | 'uploadMaxInvalid'
      | 'adminKey'
      | 'rateLimit'
      | 'rateWindowSeconds'
      | 'unsubscribeUrl'
      | 'verpSecret'
      | 'unsubscribeRateLimit'
      | 'softBounceLimit'
      | 'softBounceWindowMs'
      | 'eventsMaxLen'
      | 'templateLimits'
      | 'dkimSecret'
      | 'dkimKeys'
      | 'bounceDomain'
      | 'bounceMx'
      | 'spfInclude'
    >
  >;

export const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();
