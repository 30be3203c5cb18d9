/**
 * The bounded sets metric labels take their values from. A label value outside its set becomes
 * `other`, so no input (a reply text, a reported reason, a policy with a typo) can grow the
 * number of series. Recipient addresses and domains are never label values.
 */

/** Outcomes of `volley_messages_total`; `expired` is a bounce for age, apart from the others. */
export const OUTCOMES = [
  'sent',
  'deferred',
  'bounced',
  'expired',
  'complained',
  'unsubscribed',
  'suppressed',
  'failed',
] as const;
export type OutcomeLabel = (typeof OUTCOMES)[number];

/**
 * Sisimai's reason vocabulary (its `Sisimai::Reason` list), the names Volley's classifier and
 * bounce parser use on top of it, the ARF feedback types complaints carry (RFC 5965 and its
 * registry) and the ways an address unsubscribes.
 */
export const REASONS = new Set([
  // Sisimai
  'authfailure',
  'badreputation',
  'blocked',
  'contenterror',
  'delivered',
  'exceedlimit',
  'expired',
  'failedstarttls',
  'feedback',
  'filtered',
  'hasmoved',
  'hostunknown',
  'mailboxfull',
  'mailererror',
  'mesgtoobig',
  'networkerror',
  'norelaying',
  'notaccept',
  'notcompliantrfc',
  'onhold',
  'policyviolation',
  'ratelimited',
  'rejected',
  'requireptr',
  'securityerror',
  'spamdetected',
  'speeding',
  'suppressed',
  'suspend',
  'syntaxerror',
  'systemerror',
  'systemfull',
  'toomanyconn',
  'undefined',
  'userunknown',
  'vacation',
  'virusdetected',
  // Volley's classifier and sender
  'noaccount',
  'blocklisted',
  'refused',
  'template',
  'sending-domain',
  // ARF feedback types of complaints
  'abuse',
  'fraud',
  'virus',
  'not-spam',
  'auth-failure',
  'opt-out',
  // unsubscribe sources
  'one-click',
  'mailto',
  'manual',
  'dsn',
  'arf',
  'webhook',
]);

/** The reason as a label: itself when it is in {@link REASONS}, else `other`. */
export function reasonLabel(reason: string | undefined): string {
  return reason !== undefined && REASONS.has(reason) ? reason : 'other';
}

/**
 * The outcome label of a recorded outcome: a bounce for age counts as `expired`, so the
 * dashboards tell messages the receiver refused from messages Volley gave up on.
 */
export function outcomeLabel(outcome: string, reason: string | undefined): OutcomeLabel {
  if (outcome === 'bounced' && reason === 'expired') return 'expired';
  return (OUTCOMES as readonly string[]).includes(outcome) ? (outcome as OutcomeLabel) : 'failed';
}

/** Provider label of a message without a shaping plan (shaping off, or no provider matched). */
export const OTHER_PROVIDER = 'other';

/**
 * Bounds a provider label to the names the policy gives (lower-case letters, digits, - and _:
 * the policy parser refuses others), else `other`.
 */
export function providerLabel(name: string | undefined): string {
  return name !== undefined && /^[a-z0-9_-]{1,40}$/.test(name) ? name : OTHER_PROVIDER;
}

/**
 * What mailbox providers publish as the limits of a sender's rates, exported by the collector
 * as `volley_deliverability_threshold_ratio` so dashboards and alerts draw them from one place.
 * Complaints: Google's and Yahoo's sender guidelines (2024): keep the spam rate under 0.1%,
 * never reach 0.3%. Bounces: no mailbox provider publishes one; Amazon SES reviews an account
 * from a 5% bounce rate, and 2% is the usual industry target for a list in good health.
 */
export const DELIVERABILITY_THRESHOLDS = [
  { kind: 'complaint', level: 'target', ratio: 0.001 },
  { kind: 'complaint', level: 'limit', ratio: 0.003 },
  { kind: 'bounce', level: 'target', ratio: 0.02 },
  { kind: 'bounce', level: 'limit', ratio: 0.05 },
] as const;
