/**
 * When a running campaign should be done. A campaign is as slow as its slowest destination:
 * the shaping policy holds each recipient domain (or a provider's domains together, e.g.
 * Microsoft's at 50/s shared) to its own rate, so a list whose tail is one limited provider
 * takes that provider's backlog divided by its rate, whatever the overall rate is now. The
 * estimate is the longest of: each destination's backlog at its effective rate (the policy's
 * rate times the adaptive factor in force, after any suspension of it ends), and the whole
 * backlog at the measured overall rate (which covers destinations without a limit, and a
 * sender or receiver slower than the policy).
 */
import type { DomainBacklog } from '@volley/campaigns';
import type { CampaignStatus } from '@volley/contracts';
import type { Shaper } from '@volley/shaping';

/**
 * Destinations the estimate reads: the recipient domains with the most recipients left. The
 * slowest destination is nearly always among the largest backlogs; reading a bounded number
 * keeps the stats request cheap for a list of a hundred thousand domains.
 */
export const ETA_DESTINATIONS = 100;

/** One destination's backlog and the pace it can be sent at. */
export interface DestinationPace {
  /** The shaping key: `provider:<name>`, `domain:<d>` or `default:<d>`. */
  destination: string;
  remaining: number;
  /** Messages per second the policy allows it now (rate × adaptive factor). */
  ratePerSec: number;
  /** Milliseconds until a suspension in force ends (0 when there is none). */
  waitMs: number;
}

/**
 * The campaign's backlog grouped by the shaping limit each domain falls under, with that
 * limit's pace now. Domains without a rate limit are left out (only the overall rate bounds
 * them); so is everything without a shaper (shaping off). Providers matched by MX host only
 * (no domain list) are not known to the API: such domains count under the default rule.
 */
export async function destinationPaces(
  shaper: Shaper | undefined,
  backlogs: readonly DomainBacklog[],
  campaignId: string,
  now: number,
): Promise<DestinationPace[]> {
  if (!shaper) return [];
  const groups = new Map<string, { remaining: number; rate: number }>();
  for (const b of backlogs) {
    const plan = shaper.plan(b.domain);
    const rate = plan.rule.ratePerSec;
    if (rate === undefined || b.remaining <= 0) continue;
    const g = groups.get(plan.key) ?? { remaining: 0, rate };
    g.remaining += b.remaining;
    groups.set(plan.key, g);
  }
  const adaptive = await shaper.adaptiveOf([...groups.keys()], campaignId);
  return [...groups].map(([destination, g]) => {
    const a = adaptive.get(destination);
    return {
      destination,
      remaining: g.remaining,
      ratePerSec: g.rate * (a?.factor ?? 1),
      waitMs: Math.max(0, (a?.suspendedUntil ?? 0) - now),
    };
  });
}

export interface Eta {
  at: string | null;
  seconds: number | null;
  note?: string;
  /** The destination whose backlog sets the estimate, when one does (not the overall rate). */
  limitedBy?: { destination: string; remaining: number; ratePerSec: number };
}

const NOT_RUNNING: Partial<Record<CampaignStatus, string>> = {
  completed: 'the campaign is completed',
  cancelled: 'the campaign is cancelled',
  paused: 'the campaign is paused; resume it to continue',
  draft: 'the campaign has not started',
  scheduled: 'the campaign has not started; see sendAt',
};

/**
 * The estimate from the backlog (`remaining`), the measured overall rate and the
 * destinations' paces; `windowSec` names the rate's window in the note given without one.
 */
export function estimate(
  status: CampaignStatus,
  remaining: number,
  perSecond: number,
  paces: readonly DestinationPace[],
  now: number,
  windowSec: number,
): Eta {
  if (status !== 'running') {
    return { at: null, seconds: null, note: NOT_RUNNING[status] ?? `the campaign is ${status}` };
  }
  if (remaining === 0) {
    return { at: null, seconds: null, note: 'the last outcomes are being recorded' };
  }
  let slowest: DestinationPace | undefined;
  let slowestSec = 0;
  for (const p of paces) {
    if (!(p.ratePerSec > 0)) continue;
    const sec = p.waitMs / 1000 + p.remaining / p.ratePerSec;
    if (sec > slowestSec) [slowest, slowestSec] = [p, sec];
  }
  const overallSec = perSecond > 0 ? remaining / perSecond : 0;
  if (!slowest && overallSec === 0) {
    return {
      at: null,
      seconds: null,
      note: `no recipient reached a final outcome in the last ${windowSec} s (starting, throttled or deferred)`,
    };
  }
  const seconds = Math.round(Math.max(slowestSec, overallSec) * 10) / 10;
  const eta: Eta = { at: new Date(now + seconds * 1000).toISOString(), seconds };
  if (slowest && slowestSec >= overallSec) {
    eta.limitedBy = {
      destination: slowest.destination,
      remaining: slowest.remaining,
      ratePerSec: slowest.ratePerSec,
    };
  }
  return eta;
}
