import { Histogram, type Registry } from 'prom-client';

/**
 * Unsubscribe-to-suppression buckets: the one-click path suppresses before it answers (ms);
 * a mailto unsubscribe goes through the bounce service's SMTP session (seconds).
 */
const UNSUBSCRIBE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60];

/** From an unsubscribe request's arrival to the address being on the suppression list, by `source`. */
export type UnsubscribeLatency = Histogram<'source'>;

/**
 * `volley_unsubscribe_suppression_seconds`, for every service that applies unsubscribes: the
 * API's one-click route (`source="one-click"`, from the request's arrival) and the bounce
 * service's mailto target (`source="mailto"`, from the start of the message's data). One
 * definition, so both export the same name and buckets and a query sums them.
 */
export function unsubscribeLatency(registry: Registry): UnsubscribeLatency {
  return new Histogram({
    name: 'volley_unsubscribe_suppression_seconds',
    help: 'Time from an unsubscribe request (one-click POST, mailto message) to the address being on the suppression list, by source.',
    labelNames: ['source'],
    buckets: UNSUBSCRIBE_BUCKETS,
    registers: [registry],
  });
}
