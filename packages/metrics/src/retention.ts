import { Counter, type Registry } from 'prom-client';

/** Feedback applied after retention, by `effect`: `hard_bounce`, `soft_bounce`, `complaint`, `unsubscribe`, `repeated`. */
export type FeedbackAfterRetention = Counter<'effect'>;

/**
 * `volley_feedback_after_retention_total`, for every service that applies feedback (the API's
 * one-click route, the bounce service): reports that came after retention removed their
 * campaign's recipient list and were applied to the address their token carries. They are no
 * campaign events (the campaign's stream is gone), so `volley_messages_total` misses them.
 */
export function feedbackAfterRetention(registry: Registry): FeedbackAfterRetention {
  return new Counter({
    name: 'volley_feedback_after_retention_total',
    help: "Bounces, complaints and unsubscribes applied after retention removed their campaign's recipients, to the address their token carries, by effect: hard_bounce, soft_bounce, complaint, unsubscribe, repeated (applied before).",
    labelNames: ['effect'],
    registers: [registry],
  });
}
