/**
 * How long Redis keeps what campaigns leave behind: read by the senders (which sweep and
 * write outcome events) and by the services that record feedback events (API, bounce).
 */
import type { Reader } from './reader.ts';

export const DEFAULT_RETENTION = {
  /** A finished campaign's per-recipient data: late DSNs and FBL reports come within days. */
  retentionMs: 30 * 86_400_000,
  /** Events a campaign's stream keeps, the newest: a million outcomes, tens of MB of Redis. */
  eventsMaxLen: 1_000_000,
} as const;

/**
 * The shortest retention: a bounce or unsubscribe for a message sent just before its campaign
 * finished must still find its recipient, and DSNs take up to the senders' retry time.
 */
const MIN_RETENTION_MS = 86_400_000;

export function eventsMaxLen(r: Reader): number {
  return r.limitOrOff(
    'VOLLEY_EVENTS_MAXLEN',
    DEFAULT_RETENTION.eventsMaxLen,
    1_000_000_000,
    "the events a campaign's stream keeps (the newest; GET /v1/campaigns/{id}/events shows them); 0 or off keeps them all",
  );
}

export function retentionMs(r: Reader): number {
  const ms = r.durationMs('VOLLEY_RETENTION', DEFAULT_RETENTION.retentionMs);
  if (ms < MIN_RETENTION_MS) {
    r.problems.push(
      `VOLLEY_RETENTION=${JSON.stringify(r.raw('VOLLEY_RETENTION'))} must be at least 1d: a finished campaign's recipients would be gone before late bounces and unsubscribes for them arrive`,
    );
    return DEFAULT_RETENTION.retentionMs;
  }
  return ms;
}
