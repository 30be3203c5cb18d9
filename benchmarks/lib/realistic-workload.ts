/**
 * `npm run bench -- --workload realistic`: a recipient list shaped like a real consumer list (a
 * few large mailbox providers holding most addresses, a long tail of small domains), and what
 * limits the rate of its campaign under a shaping policy, from the `sent` events. Pure: the
 * runner is realistic.ts.
 */
import type { Recipient } from '@volley/contracts';
import { resolveRule, type Policy } from '@volley/shaping';
import { varsOf } from './workload.ts';

/**
 * The large providers' share of the list, by domain. Round numbers of the shape ESPs' published
 * "top recipient domains" breakdowns show for a US-centred consumer (B2C) list: Gmail alone well
 * over a third, Yahoo/AOL and Microsoft's consumer domains about a tenth each, iCloud a few
 * percent, one cable ISP at about 1%. An assumption about the shape, not a measurement of any
 * one list. Every domain here is listed under `domains:` of a provider in the engine's default
 * policy (packages/shaping/src/default-policy.yaml), so in relay mode, where there is no MX to
 * look at, the provider's shared limit applies; a unit test checks that.
 */
export const PROVIDER_SHARES: ReadonlyArray<{ domain: string; share: number }> = [
  { domain: 'gmail.com', share: 0.38 },
  { domain: 'yahoo.com', share: 0.09 },
  { domain: 'aol.com', share: 0.03 },
  { domain: 'hotmail.com', share: 0.06 },
  { domain: 'outlook.com', share: 0.04 },
  { domain: 'live.com', share: 0.01 },
  { domain: 'msn.com', share: 0.01 },
  { domain: 'icloud.com', share: 0.04 },
  { domain: 'me.com', share: 0.01 },
  { domain: 'comcast.net', share: 0.01 },
];

/**
 * The rest (32%) is the long tail: company, school and small-ISP domains. Their sizes follow
 * Zipf's law (the k-th largest holds 1/k of the largest), the usual shape of a list's tail, with
 * about this many addresses per tail domain on average, so most tail domains hold one or two
 * addresses and the largest a few percent of the list. In relay mode these fall under the
 * policy's `defaults`, each domain limited on its own (a company domain hosted at Google
 * Workspace would share Google's limit only through an MX lookup, which relay mode does not do).
 */
const TAIL_ADDRESSES_PER_DOMAIN = 8;

/** The tail's domains: reserved names (RFC 2606) that no real server answers for. */
function tailDomain(k: number): string {
  return `t${String(k).padStart(5, '0')}.tail.bench.example`;
}

/**
 * Addresses per domain for a list of `count`: weights turned into whole numbers that add up to
 * `count` (largest remainder), providers first, then the tail from its largest domain down.
 * Domains that round to no address are left out.
 */
export function realisticDomainCounts(count: number): Array<{ domain: string; count: number }> {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`a realistic list needs a whole number of recipients, got ${count}`);
  }
  const providerShare = PROVIDER_SHARES.reduce((a, p) => a + p.share, 0);
  const tailShare = 1 - providerShare;
  const tailDomains = Math.max(1, Math.round((count * tailShare) / TAIL_ADDRESSES_PER_DOMAIN));
  let harmonic = 0;
  for (let k = 1; k <= tailDomains; k++) harmonic += 1 / k;
  const weights: Array<{ domain: string; share: number }> = [...PROVIDER_SHARES];
  for (let k = 1; k <= tailDomains; k++) {
    weights.push({ domain: tailDomain(k), share: tailShare / (k * harmonic) });
  }
  const exact = weights.map((w) => w.share * count);
  const counts = exact.map(Math.floor);
  let left = count - counts.reduce((a, n) => a + n, 0);
  // Largest remainders first; ties go to the earlier (larger) domain, so the result is stable.
  const order = exact
    .map((x, i) => ({ i, rest: x - Math.floor(x) }))
    .sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
    left--;
  }
  return weights
    .map((w, i) => ({ domain: w.domain, count: counts[i] ?? 0 }))
    .filter((d) => d.count > 0);
}

/**
 * The list itself: `user<i>@<domain>` with the same variables as the uniform workload, the
 * domains interleaved rather than in runs, as a real list is not sorted by domain (a sorted one
 * would send one provider after another and hide how they share the senders). The order is
 * that of a multiplicative hash of each position (Knuth's 2^32 ÷ golden ratio), so it is the
 * same every run and every domain's addresses are spread over the whole list.
 */
export function realisticRecipients(count: number): Recipient[] {
  const domains: string[] = [];
  for (const d of realisticDomainCounts(count)) {
    for (let n = 0; n < d.count; n++) domains.push(d.domain);
  }
  const order = domains.map((_d, i) => ({ i, h: Math.imul(i + 1, 0x9e3779b1) >>> 0 }));
  order.sort((x, y) => x.h - y.h);
  return order.map((o, k) => ({ email: `user${k}@${domains[o.i] ?? ''}`, vars: varsOf(k) }));
}

/** A group's steady rate is within this share of its limit: it was held at the limit. */
export const AT_LIMIT_TOLERANCE = 0.1;
/** Fewer acceptances than this in a limit key say too little about its rate to judge it. */
export const MIN_JUDGED = 50;

export type LimitStatus = 'at limit' | 'below limit' | 'over limit' | 'unlimited' | 'too few';

export interface GroupLimit {
  /** The policy's provider name, or `other` for domains under `defaults` or their own rule. */
  group: string;
  domains: number;
  /** Limit keys in the group: one for a provider, one per domain for `other`. */
  keys: number;
  messages: number;
  /** Seconds from the origin (the campaign's submit) to the group's first and last acceptance. */
  firstS: number;
  lastS: number;
  /** msg/s of the whole group between its 10% and 90% acceptances (start burst and tail left out). */
  rate: number;
  /** The limit key with the most messages: for a provider, the provider itself. */
  busiestKey: string;
  busiestMessages: number;
  /** Its steady rate, judged against its limit. */
  busiestRate: number;
  /**
   * Its longest pause between two acceptances, in seconds. Long next to 1 ÷ limit, the key had
   * no mail ready for a while (not yet expanded, or waiting on a retry) rather than a slow pace.
   */
  longestGapS: number;
  /**
   * When that pause began, in seconds from the origin. Pauses of several groups that begin
   * together point at the engine (all of them waited on the same thing), not at any one limit.
   */
  longestGapAtS: number;
  /** The policy's rate for that key (msg/s); undefined when unlimited. */
  limitPerSec: number | undefined;
  /** `100/s`, or `50/s per domain` for a group of several keys. */
  limitText: string;
  /** busiestRate ÷ limitPerSec. */
  ratio: number;
  status: LimitStatus;
  /**
   * The least time the policy allows for the group: over its keys, (messages − burst) ÷ rate.
   * Undefined when the group's keys are unlimited.
   */
  floorS: number | undefined;
}

export interface LimitReport {
  messages: number;
  /** Seconds from the origin to the last acceptance. */
  durationS: number;
  /** messages ÷ durationS. */
  overallRate: number;
  /** The group whose last acceptance came last: its tail decides the campaign's duration. */
  lastGroup: string;
  /** The largest group floor: no run under this policy can finish this list sooner. */
  floorS: number | undefined;
  floorGroup: string | undefined;
  /** Groups by messages, largest first. */
  groups: GroupLimit[];
  /** One sentence: what limited the rate. */
  verdict: string;
}

/** msg/s between the 10% and 90% acceptances of ascending `times` (epoch ms); NaN if too few. */
export function steadyRateOf(times: readonly number[]): number {
  if (times.length < MIN_JUDGED) return Number.NaN;
  const lo = Math.floor(0.1 * (times.length - 1));
  const hi = Math.ceil(0.9 * (times.length - 1));
  const spanMs = (times[hi] ?? 0) - (times[lo] ?? 0);
  return spanMs > 0 ? ((hi - lo) * 1000) / spanMs : Number.NaN;
}

/** The longest pause between consecutive `times`, and when it began (NaN with one time). */
function longestGap(times: readonly number[]): { ms: number; at: number } {
  let out = { ms: 0, at: times[0] ?? Number.NaN };
  for (let i = 1; i < times.length; i++) {
    const ms = (times[i] ?? 0) - (times[i - 1] ?? 0);
    if (ms > out.ms) out = { ms, at: times[i - 1] ?? Number.NaN };
  }
  return out;
}

function statusOf(rate: number, limit: number | undefined): LimitStatus {
  if (limit === undefined) return 'unlimited';
  if (!Number.isFinite(rate)) return 'too few';
  const ratio = rate / limit;
  if (ratio > 1 + AT_LIMIT_TOLERANCE) return 'over limit';
  return ratio >= 1 - AT_LIMIT_TOLERANCE ? 'at limit' : 'below limit';
}

function fmtRate(perSec: number): string {
  return `${Number.isInteger(perSec) ? perSec : perSec.toFixed(1)}/s`;
}

interface KeyTimes {
  rate: number | undefined;
  burst: number;
  times: number[];
}

/**
 * What limited the rate: `sent` holds each recipient domain's acceptance times (epoch ms), as
 * `sentTimes` in runs.ts reads them; `origin` is when the campaign was submitted. Domains are
 * grouped as the senders group them, with the policy's own `resolveRule`.
 */
export function limitReport(
  policy: Policy,
  sent: ReadonlyMap<string, readonly number[]>,
  origin: number,
): LimitReport {
  const groups = new Map<string, { domains: number; keys: Map<string, KeyTimes> }>();
  for (const [domain, times] of sent) {
    if (times.length === 0) continue;
    const r = resolveRule(policy, domain);
    let g = groups.get(r.metricLabel);
    if (!g) groups.set(r.metricLabel, (g = { domains: 0, keys: new Map() }));
    g.domains++;
    let k = g.keys.get(r.key);
    if (!k) g.keys.set(r.key, (k = { rate: r.rule.ratePerSec, burst: r.rule.burst, times: [] }));
    for (const t of times) k.times.push(t);
  }
  const out: GroupLimit[] = [];
  for (const [name, g] of groups) {
    const all: number[] = [];
    let busiest: [string, KeyTimes] | undefined;
    let floorS: number | undefined;
    const rates = new Set<number | undefined>();
    for (const [key, k] of g.keys) {
      k.times.sort((a, b) => a - b);
      for (const t of k.times) all.push(t);
      if (!busiest || k.times.length > busiest[1].times.length) busiest = [key, k];
      rates.add(k.rate);
      if (k.rate !== undefined) {
        const f = Math.max(0, k.times.length - k.burst) / k.rate;
        floorS = Math.max(floorS ?? 0, f);
      }
    }
    if (!busiest) continue;
    all.sort((a, b) => a - b);
    const [busiestKey, b] = busiest;
    const busiestRate = steadyRateOf(b.times);
    const gap = longestGap(b.times);
    const limitText =
      b.rate === undefined
        ? 'unlimited'
        : g.keys.size > 1
          ? `${rates.size > 1 ? 'up to ' : ''}${fmtRate(b.rate)} per domain`
          : fmtRate(b.rate);
    out.push({
      group: name,
      domains: g.domains,
      keys: g.keys.size,
      messages: all.length,
      firstS: ((all[0] ?? Number.NaN) - origin) / 1000,
      lastS: ((all[all.length - 1] ?? Number.NaN) - origin) / 1000,
      rate: steadyRateOf(all),
      busiestKey,
      busiestMessages: b.times.length,
      busiestRate,
      longestGapS: gap.ms / 1000,
      longestGapAtS: (gap.at - origin) / 1000,
      limitPerSec: b.rate,
      limitText,
      ratio: b.rate === undefined ? Number.NaN : busiestRate / b.rate,
      status: statusOf(busiestRate, b.rate),
      floorS,
    });
  }
  out.sort((a, b) => b.messages - a.messages || a.group.localeCompare(b.group));
  const messages = out.reduce((a, g) => a + g.messages, 0);
  const last = out.reduce<GroupLimit | undefined>(
    (a, g) => (!a || g.lastS > a.lastS ? g : a),
    undefined,
  );
  const floor = out.reduce<GroupLimit | undefined>(
    (a, g) => (g.floorS !== undefined && (!a || g.floorS > (a.floorS ?? 0)) ? g : a),
    undefined,
  );
  const durationS = last?.lastS ?? Number.NaN;
  return {
    messages,
    durationS,
    overallRate: messages / durationS,
    lastGroup: last?.group ?? 'none',
    floorS: floor?.floorS,
    floorGroup: floor?.group,
    groups: out,
    verdict: verdictOf(last, floor),
  };
}

function verdictOf(last: GroupLimit | undefined, floor: GroupLimit | undefined): string {
  if (!last) return 'nothing was sent';
  const tail = `${last.group} finished last, ${last.lastS.toFixed(1)} s after the submit`;
  const floorText =
    floor?.floorS === undefined
      ? ''
      : `; the policy's floor for this list is ${floor.floorS.toFixed(1)} s (${floor.group})`;
  switch (last.status) {
    case 'at limit':
      return `${tail}, sending at its limit (${fmtRate(last.limitPerSec ?? Number.NaN)}): the policy's ${last.group} limit decides the campaign's duration${floorText}.`;
    case 'over limit':
      return `${tail}, ABOVE its limit (${(last.ratio * 100).toFixed(0)}% of ${fmtRate(last.limitPerSec ?? Number.NaN)}): see the rate conformance${floorText}.`;
    case 'below limit':
      return `${tail}, sending at ${(last.ratio * 100).toFixed(0)}% of its limit (${fmtRate(last.limitPerSec ?? Number.NaN)}): something besides its rate limit (the engine's throughput, connection caps, the expansion window) held it back (its longest pause: ${last.longestGapS.toFixed(1)} s from ${last.longestGapAtS.toFixed(1)} s)${floorText}.`;
    case 'unlimited':
      return `${tail} without a rate limit: the engine's throughput decides the duration${floorText}.`;
    case 'too few':
      return `${tail} with too few messages to judge its rate${floorText}.`;
  }
}
