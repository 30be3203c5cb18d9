/**
 * The bounce service's metrics, in one place. Labels stay bounded: refusal reasons, address
 * kinds, report kinds, effects, and reasons from Sisimai's vocabulary or a fixed list of
 * feedback types; never an address, a token or a client IP.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { feedbackAfterRetention, type FeedbackAfterRetention } from './retention.ts';
import { unsubscribeLatency, type UnsubscribeLatency } from './unsubscribe.ts';

export interface BounceMetrics {
  /**
   * What the SMTP server refused, by reason: `not_bounce_domain`, `unknown_address`,
   * `malformed_token`, `invalid_token` (RCPT, 550), `rate_limited` (421), `too_large` (552).
   */
  refused: Counter<'reason'>;
  /** Messages accepted, per accepted recipient: address `verp|unsubscribe|fbl`, report `kind`. */
  messages: Counter<'address' | 'kind'>;
  /**
   * What each report led to, by `effect` (`hard_bounce`, `soft_bounce`, `complaint`,
   * `unsubscribe`, `repeated`, `no_effect`, `unmatched`) and `reason`.
   */
  effects: Counter<'effect' | 'reason'>;
  /** Messages answered 451 because their effects could not be stored (Redis unavailable). */
  temporaryFailures: Counter;
  /** Time from the end of a message's data to the answer: parsing and applying it. */
  processing: Histogram;
  /** Reports applied to the address their token carries, after retention. */
  afterRetention: FeedbackAfterRetention;
  /** Mailto unsubscribes (`source="mailto"`): from the start of the message's data to suppressed. */
  unsubscribeLatency: UnsubscribeLatency;
}

/** Creates the bounce service's metrics on `registry` (once per registry). */
export function bounceMetrics(registry: Registry): BounceMetrics {
  return {
    refused: new Counter({
      name: 'volley_bounce_refused_total',
      help: 'SMTP commands the bounce service refused, by reason: not_bounce_domain, unknown_address, malformed_token, invalid_token (RCPT 550), rate_limited (421), too_large (552).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    messages: new Counter({
      name: 'volley_bounce_messages_total',
      help: 'Messages accepted, counted per accepted recipient: address (verp, unsubscribe, fbl) and what the message is (bounce, feedback, autoreply, none, unparseable).',
      labelNames: ['address', 'kind'],
      registers: [registry],
    }),
    effects: new Counter({
      name: 'volley_bounce_effects_total',
      help: 'What accepted reports led to: hard_bounce, soft_bounce, complaint and unsubscribe (applied), repeated (applied before), no_effect (delivered, delayed, vacation, not_report, unparseable) and unmatched (no_match, address_mismatch, unknown_recipient, invalid_report), with the reason.',
      labelNames: ['effect', 'reason'],
      registers: [registry],
    }),
    temporaryFailures: new Counter({
      name: 'volley_bounce_temporary_failures_total',
      help: 'Messages answered 451 because their effects could not be stored; the sending MTA retries them.',
      registers: [registry],
    }),
    processing: new Histogram({
      name: 'volley_bounce_processing_duration_seconds',
      help: 'Time from the end of a message to the answer: parsing it and applying its effects.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    afterRetention: feedbackAfterRetention(registry),
    unsubscribeLatency: unsubscribeLatency(registry),
  };
}
