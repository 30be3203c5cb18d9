/**
 * The API's metrics: requests by route and status, their latency, what comes in (campaigns,
 * recipients, upload rows) and how fast an unsubscribe reaches the suppression list.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { feedbackAfterRetention, type FeedbackAfterRetention } from './retention.ts';
import { unsubscribeLatency, type UnsubscribeLatency } from './unsubscribe.ts';

/** Request latency buckets: from a cached answer (1 ms) to a large upload streamed in (2 min). */
const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];

export interface ApiMetrics {
  requests: Counter<'method' | 'route' | 'status'>;
  requestDuration: Histogram<'method' | 'route'>;
  campaignsCreated: Counter;
  recipientsAccepted: Counter;
  /** Upload rows by result: added, duplicate, invalid. */
  uploadRows: Counter<'result'>;
  /** One-click unsubscribes (`source="one-click"`): from the request's arrival to suppressed. */
  unsubscribeLatency: UnsubscribeLatency;
  /** One-click unsubscribes applied to the address their link carries, after retention. */
  afterRetention: FeedbackAfterRetention;
}

export function apiMetrics(registry: Registry): ApiMetrics {
  return {
    requests: new Counter({
      name: 'volley_api_requests_total',
      help: 'API requests by method, route pattern (never the raw URL) and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'volley_api_request_duration_seconds',
      help: 'Time to answer an API request, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: REQUEST_BUCKETS,
      registers: [registry],
    }),
    campaignsCreated: new Counter({
      name: 'volley_api_campaigns_created_total',
      help: 'Campaigns created through the API.',
      registers: [registry],
    }),
    recipientsAccepted: new Counter({
      name: 'volley_api_recipients_accepted_total',
      help: 'Recipients accepted into campaigns through the API (inline and uploaded).',
      registers: [registry],
    }),
    uploadRows: new Counter({
      name: 'volley_api_upload_rows_total',
      help: 'Rows of recipient uploads by result: added, duplicate (already in the campaign), invalid.',
      labelNames: ['result'],
      registers: [registry],
    }),
    unsubscribeLatency: unsubscribeLatency(registry),
    afterRetention: feedbackAfterRetention(registry),
  };
}

/** HTTP methods as labels; anything else (a client's invention) is `other`. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The method as a bounded label. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'other';
}
