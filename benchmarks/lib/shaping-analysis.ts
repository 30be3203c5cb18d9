/**
 * Turns the sink's log, the senders' shaping events and the campaigns' final counts into the
 * figures and bars of `npm run bench:shaping`. Every rate is measured at the sink: what the
 * receiving server saw is what the performance bar is about.
 */
import { readFileSync } from 'node:fs';
import { domainOf } from '@volley/message';
import type { ShapingEvent } from '@volley/shaping';
import { measureConformance, TOLERANCE, WINDOW_MS } from './conformance.ts';
import type { SinkEvent } from './shaping-sink.ts';
import type { Role, Scenario } from './shaping-scenario.ts';
import { percentileSorted } from './stats.ts';

/** Background mail waiting this long (p99 of a window) would mean a queue blocked behind a limit. */
export const BULK_P99_LIMIT_S = 5;
/** Bins of the adaptive and suspension timelines. */
export const TIMELINE_BIN_MS = 2000;

export interface CampaignRecord {
  id: string;
  /** The destination's shaping key, or `bulk`. */
  key: string;
  role: Role | 'bulk';
  total: number;
  /** Epoch ms at which its create request started. */
  submittedAt: number;
  /** Background campaigns: their number (recipients `b<n>x<i>@...`). */
  n?: number;
  status: string;
  counts: Record<string, number>;
}

export interface LoggedShapingEvent {
  /** Epoch ms of the sender's log line. */
  t: number;
  sender: number;
  event: ShapingEvent;
}

/** One poll of the adaptive state and leases of the destinations, as the senders share it. */
export interface StateSample {
  t: number;
  /** The send queue: depths, and the batches the workers hold now by recipient domain. */
  queue?: {
    waiting: number;
    active: number;
    delayed: number;
    activeByDomain: Record<string, number>;
  };
  keys: Record<
    string,
    {
      factor: number;
      leases: number;
      /** Reserved slots not due yet, beyond one burst (the shaper's `delayed`). */
      ahead: number;
      /** Capped keys: how many senders hold its leases. */
      holders?: number;
      suspendedUntil?: number;
    }
  >;
}

export interface Connection {
  c: number;
  open: number;
  close: number;
  domains: Set<string>;
  accepted: number;
  refused: number;
}

export interface SinkData {
  /** Acceptance times by recipient domain, ascending. */
  accepted: Map<string, number[]>;
  refused: Map<string, { t: number; code: number }[]>;
  /** Accepted messages of each recipient address: above 1 is a duplicate. */
  acceptedByRcpt: Map<string, number>;
  /** Background campaign number and acceptance time of every accepted bulk message. */
  bulk: { n: number; t: number }[];
  connections: Connection[];
  /** Refusal periods as the sink started them. */
  faults: { domain: string; t: number; forS: number; code: number }[];
}

export function readSinkLog(path: string, bulkDomain: string, endAt: number): SinkData {
  const accepted = new Map<string, number[]>();
  const refused = new Map<string, { t: number; code: number }[]>();
  const acceptedByRcpt = new Map<string, number>();
  const bulk: { n: number; t: number }[] = [];
  const conns = new Map<number, Connection>();
  const faults: SinkData['faults'] = [];
  const connOf = (c: number, t: number): Connection => {
    let conn = conns.get(c);
    if (!conn) {
      // A line about a connection whose open was not seen: counted from its first line.
      conn = { c, open: t, close: Number.NaN, domains: new Set(), accepted: 0, refused: 0 };
      conns.set(c, conn);
    }
    return conn;
  };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    const ev = JSON.parse(line) as SinkEvent;
    if (ev.e === 'open') {
      connOf(ev.c, ev.t).open = ev.t;
    } else if (ev.e === 'close') {
      connOf(ev.c, ev.t).close = ev.t;
    } else if (ev.e === 'msg') {
      const d = domainOf(ev.r);
      let list = accepted.get(d);
      if (!list) accepted.set(d, (list = []));
      list.push(ev.t);
      acceptedByRcpt.set(ev.r, (acceptedByRcpt.get(ev.r) ?? 0) + 1);
      const conn = connOf(ev.c, ev.t);
      conn.domains.add(d);
      conn.accepted++;
      if (d === bulkDomain) {
        const m = /^b(\d+)x/.exec(ev.r);
        if (m) bulk.push({ n: Number(m[1]), t: ev.t });
      }
    } else if (ev.e === 'fault') {
      faults.push({ domain: ev.d, t: ev.t, forS: ev.forS, code: ev.code });
    } else {
      const d = domainOf(ev.r);
      let list = refused.get(d);
      if (!list) refused.set(d, (list = []));
      list.push({ t: ev.t, code: ev.code });
      const conn = connOf(ev.c, ev.t);
      conn.domains.add(d);
      conn.refused++;
    }
  }
  for (const list of accepted.values()) list.sort((a, b) => a - b);
  for (const list of refused.values()) list.sort((a, b) => a.t - b.t);
  // A connection still open when the log ended counts as open until then.
  for (const conn of conns.values()) if (!Number.isFinite(conn.close)) conn.close = endAt;
  return { accepted, refused, acceptedByRcpt, bulk, connections: [...conns.values()], faults };
}

// ---------------------------------------------------------------------------------------------
// Bars

export interface Bar {
  id: string;
  title: string;
  ok: boolean;
  detail: string;
}

// ---------------------------------------------------------------------------------------------
// 1. Rate conformance

/**
 * `before`: an adaptive destination's window before its slow-down or suspension (judged by the
 * burst bar only; its ±5% bars look at the windows after).
 */
export type WindowStatus = 'warm-up' | 'checked' | 'before' | 'slowed' | 'suspended';

export interface WindowCell {
  /** Seconds from the origin. */
  startS: number;
  count: number;
  /** rate × 10 s. */
  allowed: number;
  /** count ÷ allowed − 1. */
  deviation: number;
  status: WindowStatus;
  withinTolerance: boolean;
  /** More than one burst above rate × 10 s. */
  overBurst: boolean;
}

export interface KeyRate {
  key: string;
  role: Role;
  domains: string[];
  ratePerSec: number;
  burst: number;
  connections: number | undefined;
  windows: WindowCell[];
  /** Messages of the key accepted by the sink over the whole run. */
  accepted: number;
  /**
   * Rate slots the key reserved over the run (from the polled reservations ahead of now) per
   * message accepted: 1 when every reservation was used; above 1, slots reserved and not sent
   * on (given up late, or reserved for a message that then found no connection).
   */
  slotsPerMessage: number;
}

// ---------------------------------------------------------------------------------------------
// 3. and 4. Adaptive slow-down and suspension

export interface SlowDown {
  /** Epoch ms (Redis clock) at which the rule fired, and its factor. */
  at: number;
  factor: number;
  until: number;
  recoveredBy: number;
  /** Every `slowed` event: more than one means the rule fired again. */
  fired: number;
}

export interface TimelineBin {
  startS: number;
  attempts: number;
  accepted: number;
  refused: number;
  /** The adaptive factor polled last in the bin (1: full rate). */
  factor: number | undefined;
  suspended: boolean;
  /** Accepted background messages in the bin, for head-of-line blocking. */
  bulkAccepted: number;
}

export interface Analysis {
  origin: number;
  end: number;
  rates: KeyRate[];
  bulkWindows: {
    startS: number;
    offered: number;
    accepted: number;
    p50S: number;
    p99S: number;
    maxS: number;
  }[];
  connections: {
    key: string;
    domain: string;
    cap: number;
    messagesPerConnection: number | undefined;
    connections: number;
    maxConcurrent: number;
    maxConcurrentAtS: number;
    /** Milliseconds during which more than `cap` connections were open at the sink. */
    overCapMs: number;
    /** Connections that also carried another domain. */
    mixed: number;
    maxAcceptedPerConnection: number;
    /** The most leases the senders held at once, from the polls of Redis. */
    maxLeasesPolled: number;
    /**
     * Over the polls that found a lease held: how often the leases were held by 1, 2, ...
     * senders (index 0: one sender).
     */
    holdersHistogram: number[];
  }[];
  shared: { connections: number; maxConcurrent: number; multiDomain: number };
  adaptive: {
    /** Epoch ms at which the sink started answering 421, if it did. */
    faultAt: number | undefined;
    slow: SlowDown | undefined;
    events: LoggedShapingEvent[];
    timeline: TimelineBin[];
    /** Attempts per second at the sink while slowed (from 1 s after the rule fired). */
    slowedAttemptRate: number;
    slowedAcceptRate: number;
    /** Seconds from recoveredBy to the first 2-s bin at 95% of the limit (sustained 3 bins). */
    recoveryLagS: number | undefined;
  };
  suspension: {
    /** Epoch ms at which the sink started refusing every recipient, if it did. */
    faultAt: number | undefined;
    start: number | undefined;
    until: number | undefined;
    events: LoggedShapingEvent[];
    acceptedDuring: number;
    attemptsDuring: number;
    /** First acceptance after the suspension, seconds after its end. */
    resumedAfterS: number | undefined;
    timeline: TimelineBin[];
  };
  /**
   * The send queue in 5-s bins, averaged over the polls in each: jobs waiting and delayed, and
   * the batches the workers held, by recipient domain (head-of-line blocking shows here).
   */
  queue: {
    startS: number;
    waiting: number;
    delayed: number;
    active: number;
    activeByDomain: Record<string, number>;
  }[];
  totals: {
    campaigns: number;
    completed: number;
    recipients: number;
    sent: number;
    acceptedAtSink: number;
    uniqueAtSink: number;
    duplicates: number;
    refusedAtSink: number;
  };
  bars: Bar[];
}

function fmtS(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** The most intervals open at once, when, and how long more than `cap` were open. */
function concurrency(
  intervals: { open: number; close: number }[],
  cap: number,
): { max: number; at: number; overCapMs: number } {
  const edges: [number, number][] = [];
  for (const i of intervals) {
    edges.push([i.open, 1]);
    edges.push([Math.max(i.open, i.close), -1]);
  }
  // At the same millisecond a close counts before an open: the two did not overlap.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let n = 0;
  let max = 0;
  let at = Number.NaN;
  let over = 0;
  let prevT = 0;
  for (const [t, d] of edges) {
    if (n > cap) over += t - prevT;
    n += d;
    prevT = t;
    if (n > max) {
      max = n;
      at = t;
    }
  }
  return { max, at, overCapMs: over };
}

/** How many of `values` (whole numbers from 1) are 1, 2, ...: index 0 counts the 1s. */
function histogram(values: number[]): number[] {
  const out: number[] = [];
  for (const v of values) {
    while (out.length < v) out.push(0);
    out[v - 1] = (out[v - 1] ?? 0) + 1;
  }
  return out;
}

function countIn(times: number[], from: number, to: number): number {
  let n = 0;
  for (const t of times) if (t >= from && t < to) n++;
  return n;
}

export function analyse(input: {
  scenario: Scenario;
  /** Epoch ms at which the run stopped waiting (completion or deadline). */
  endAt: number;
  sink: SinkData;
  campaigns: CampaignRecord[];
  events: LoggedShapingEvent[];
  states: StateSample[];
}): Analysis {
  const { scenario: sc, sink, campaigns, events, states, endAt } = input;
  const policy = sc.policy;
  const limitedDomains = sc.destinations.flatMap((d) => d.domains);
  const firsts = limitedDomains
    .map((d) => sink.accepted.get(d)?.[0])
    .filter((t): t is number => t !== undefined);
  const origin = firsts.length ? Math.min(...firsts) : Number.NaN;
  let end = origin;
  for (const list of sink.accepted.values()) end = Math.max(end, list[list.length - 1] ?? end);

  // --- adaptive and suspension events (the senders log each change once across workers)
  const adaptiveEvents = events.filter((e) => e.event.key === sc.adaptive.key);
  const slowed = adaptiveEvents
    .map((e) => e.event)
    .filter((e): e is Extract<ShapingEvent, { type: 'slowed' }> => e.type === 'slowed');
  const firstSlow = slowed[0];
  const lastSlow = slowed[slowed.length - 1];
  const slow: SlowDown | undefined =
    firstSlow && lastSlow
      ? {
          // `until` is the Redis time of the firing plus the rule's duration.
          at: firstSlow.until - sc.adaptive.durationS * 1000,
          factor: Math.min(...slowed.map((s) => s.factor)),
          until: lastSlow.until,
          recoveredBy: Math.max(...slowed.map((s) => s.recoveredBy)),
          fired: slowed.length,
        }
      : undefined;
  const suspendEvents = events.filter((e) => e.event.key === sc.suspend.key);
  const suspended = suspendEvents
    .map((e) => e.event)
    .filter((e): e is Extract<ShapingEvent, { type: 'suspended' }> => e.type === 'suspended');
  const suspUntil = suspended.length ? Math.max(...suspended.map((s) => s.until)) : undefined;
  const suspStart = suspended[0] ? suspended[0].until - sc.suspend.durationS * 1000 : undefined;

  // --- 1. rate conformance, every key's windows from the same origin
  const conf = measureConformance(policy, sink.accepted, { origin });
  const rates: KeyRate[] = [];
  for (const dest of sc.destinations) {
    const per = conf.perKey[dest.key];
    if (!per) continue;
    const rule =
      policy.domains.get(dest.domains[0] ?? '') ??
      policy.providers.find((p) => `provider:${p.name}` === dest.key)?.rule;
    const allowed = (per.ratePerSec * WINDOW_MS) / 1000;
    const windows = per.counts.map((count, k): WindowCell => {
      const start = origin + k * WINDOW_MS;
      const endW = start + WINDOW_MS;
      let status: WindowStatus = k === 0 ? 'warm-up' : 'checked';
      if (dest.role === 'adaptive' && k > 0) {
        if (!slow || endW <= slow.at) status = 'before';
        else if (start < slow.recoveredBy) status = 'slowed';
      }
      if (dest.role === 'suspend' && k > 0 && (suspStart === undefined || endW <= suspStart)) {
        status = 'before';
      }
      if (
        dest.role === 'suspend' &&
        suspStart !== undefined &&
        suspUntil !== undefined &&
        start < suspUntil &&
        endW > suspStart
      ) {
        status = 'suspended';
      }
      const deviation = count / allowed - 1;
      return {
        startS: (start - origin) / 1000,
        count,
        allowed,
        deviation,
        status,
        withinTolerance: Math.abs(deviation) <= TOLERANCE,
        overBurst: count - allowed > per.burst,
      };
    });
    const accepted = dest.domains.reduce((n, x) => n + (sink.accepted.get(x)?.length ?? 0), 0);
    let slots = Number.NaN;
    for (const st of states) {
      const k = st.keys[dest.key];
      if (!k || k.ahead <= 0 || k.factor !== 1) continue;
      const through = ((st.t - origin) / 1000) * per.ratePerSec + k.ahead + per.burst;
      slots = Number.isNaN(slots) ? through : Math.max(slots, through);
    }
    rates.push({
      accepted,
      slotsPerMessage: slots / accepted,
      key: dest.key,
      role: dest.role,
      domains: dest.domains,
      ratePerSec: per.ratePerSec,
      burst: per.burst,
      connections: rule?.connections,
      windows,
    });
  }

  // --- background load: accepted per window and latency from its campaign's submission
  const bulkCampaigns = campaigns.filter((c) => c.role === 'bulk');
  const submitted = new Map<number, number>();
  for (const c of bulkCampaigns) if (c.n !== undefined) submitted.set(c.n, c.submittedAt);
  const bulkWindows: Analysis['bulkWindows'] = [];
  const lastLimited = Math.max(
    ...sc.destinations.flatMap((d) => d.domains.map((x) => sink.accepted.get(x)?.at(-1) ?? 0)),
  );
  for (let w = origin; w < lastLimited; w += WINDOW_MS) {
    const lat = sink.bulk
      .filter((b) => b.t >= w && b.t < w + WINDOW_MS)
      .map((b) => (b.t - (submitted.get(b.n) ?? b.t)) / 1000)
      .sort((a, b) => a - b);
    const offered = bulkCampaigns
      .filter((c) => c.submittedAt >= w && c.submittedAt < w + WINDOW_MS)
      .reduce((n, c) => n + c.total, 0);
    if (lat.length === 0 && offered === 0) continue;
    bulkWindows.push({
      startS: (w - origin) / 1000,
      offered,
      accepted: lat.length,
      p50S: percentileSorted(lat, 50),
      p99S: percentileSorted(lat, 99),
      maxS: lat[lat.length - 1] ?? Number.NaN,
    });
  }

  // --- 2. connection caps, measured on the sink's connections
  const cappedDomains = new Set<string>();
  const connections: Analysis['connections'] = [];
  for (const dest of sc.destinations) {
    for (const domain of dest.domains) {
      const rule = policy.domains.get(domain);
      if (rule?.connections === undefined) continue;
      cappedDomains.add(domain);
      const carried = sink.connections.filter((c) => c.domains.has(domain));
      const cc = concurrency(carried, rule.connections);
      const leases = states.map((s) => s.keys[dest.key]?.leases ?? 0);
      connections.push({
        key: dest.key,
        domain,
        cap: rule.connections,
        messagesPerConnection: rule.messagesPerConnection,
        connections: carried.length,
        maxConcurrent: cc.max,
        maxConcurrentAtS: (cc.at - origin) / 1000,
        overCapMs: cc.overCapMs,
        mixed: carried.filter((c) => [...c.domains].some((d) => d !== domain)).length,
        maxAcceptedPerConnection: Math.max(0, ...carried.map((c) => c.accepted)),
        maxLeasesPolled: Math.max(0, ...leases),
        holdersHistogram: histogram(
          states.map((st) => st.keys[dest.key]?.holders ?? 0).filter((h) => h > 0),
        ),
      });
    }
  }
  const sharedConns = sink.connections.filter(
    (c) => c.domains.size > 0 && ![...c.domains].some((d) => cappedDomains.has(d)),
  );
  const shared = {
    connections: sharedConns.length,
    maxConcurrent: concurrency(sharedConns, Infinity).max,
    multiDomain: sharedConns.filter((c) => c.domains.size > 1).length,
  };

  // --- timelines of the adaptive and the suspended domain, in 2-s bins
  const bulkTimes = sink.bulk.map((b) => b.t);
  const timeline = (domain: string, key: string, until: number): TimelineBin[] => {
    const acc = sink.accepted.get(domain) ?? [];
    const ref = sink.refused.get(domain) ?? [];
    const out: TimelineBin[] = [];
    for (let b = origin; b < until; b += TIMELINE_BIN_MS) {
      const e = b + TIMELINE_BIN_MS;
      const accepted = countIn(acc, b, e);
      const refused = ref.filter((r) => r.t >= b && r.t < e).length;
      const polled = states.filter((s) => s.t >= b && s.t < e).at(-1)?.keys[key];
      out.push({
        startS: (b - origin) / 1000,
        attempts: accepted + refused,
        accepted,
        refused,
        factor: polled?.factor,
        suspended: polled?.suspendedUntil !== undefined,
        bulkAccepted: countIn(bulkTimes, b, e),
      });
    }
    return out;
  };
  const adaptiveRate = policy.domains.get(sc.adaptive.domain)?.ratePerSec ?? Number.NaN;
  const adaptiveBurst = policy.domains.get(sc.adaptive.domain)?.burst ?? 1;
  const adaptiveFaultAt = sink.faults.find((f) => f.domain === sc.adaptive.domain)?.t;
  const adaptiveAcc = sink.accepted.get(sc.adaptive.domain) ?? [];
  const adaptiveRef = (sink.refused.get(sc.adaptive.domain) ?? []).map((r) => r.t);
  const adaptiveTimeline = timeline(
    sc.adaptive.domain,
    sc.adaptive.key,
    adaptiveAcc.at(-1) ?? origin,
  );
  let slowedAttemptRate = Number.NaN;
  let slowedAcceptRate = Number.NaN;
  let recoveryLagS: number | undefined;
  if (slow) {
    // Batches already past their reservation when the rule fired still go out: from 1 s after.
    const from = slow.at + 1000;
    const spanS = (slow.until - from) / 1000;
    if (spanS > 0) {
      const acc = countIn(adaptiveAcc, from, slow.until);
      slowedAcceptRate = acc / spanS;
      slowedAttemptRate = (acc + countIn(adaptiveRef, from, slow.until)) / spanS;
    }
    const bins = adaptiveTimeline;
    const full = 0.95 * adaptiveRate * (TIMELINE_BIN_MS / 1000);
    for (let i = 0; i + 2 < bins.length; i++) {
      const b = bins[i];
      if (!b || origin + b.startS * 1000 < slow.recoveredBy - TIMELINE_BIN_MS) continue;
      if ([0, 1, 2].every((k) => (bins[i + k]?.attempts ?? 0) >= full)) {
        recoveryLagS = Math.max(0, (origin + b.startS * 1000 - slow.recoveredBy) / 1000);
        break;
      }
    }
  }
  const suspAcc = sink.accepted.get(sc.suspend.domain) ?? [];
  const suspRef = (sink.refused.get(sc.suspend.domain) ?? []).map((r) => r.t);
  const acceptedDuring =
    suspStart !== undefined && suspUntil !== undefined ? countIn(suspAcc, suspStart, suspUntil) : 0;
  const attemptsDuring =
    suspStart !== undefined && suspUntil !== undefined
      ? acceptedDuring + countIn(suspRef, suspStart, suspUntil)
      : 0;
  const resumedAt = suspUntil === undefined ? undefined : suspAcc.find((t) => t >= suspUntil);
  const suspension: Analysis['suspension'] = {
    faultAt: sink.faults.find((f) => f.domain === sc.suspend.domain)?.t,
    start: suspStart,
    until: suspUntil,
    events: suspendEvents,
    acceptedDuring,
    attemptsDuring,
    resumedAfterS:
      resumedAt === undefined || suspUntil === undefined
        ? undefined
        : (resumedAt - suspUntil) / 1000,
    timeline: timeline(sc.suspend.domain, sc.suspend.key, suspAcc.at(-1) ?? origin),
  };

  // --- what the workers held, in 5-s bins
  const queue: Analysis['queue'] = [];
  const QUEUE_BIN_MS = 5000;
  const polled = states.filter((st) => st.queue !== undefined);
  const firstPoll = polled[0]?.t ?? origin;
  const lastPoll = polled[polled.length - 1]?.t ?? origin;
  const binStart = origin - Math.ceil((origin - firstPoll) / QUEUE_BIN_MS) * QUEUE_BIN_MS;
  for (let b = binStart; b <= lastPoll; b += QUEUE_BIN_MS) {
    const inBin = polled.filter((st) => st.t >= b && st.t < b + QUEUE_BIN_MS);
    if (inBin.length === 0) continue;
    const avg = (f: (q: NonNullable<StateSample['queue']>) => number): number =>
      inBin.reduce((n, st) => n + (st.queue ? f(st.queue) : 0), 0) / inBin.length;
    const domains = new Set(inBin.flatMap((st) => Object.keys(st.queue?.activeByDomain ?? {})));
    const activeByDomain: Record<string, number> = {};
    for (const d of domains) activeByDomain[d] = avg((q) => q.activeByDomain[d] ?? 0);
    queue.push({
      startS: (b - origin) / 1000,
      waiting: avg((q) => q.waiting),
      delayed: avg((q) => q.delayed),
      active: avg((q) => q.active),
      activeByDomain,
    });
  }

  // --- totals
  let uniqueAtSink = 0;
  let duplicates = 0;
  let acceptedAtSink = 0;
  for (const n of sink.acceptedByRcpt.values()) {
    uniqueAtSink++;
    acceptedAtSink += n;
    duplicates += n - 1;
  }
  const totals: Analysis['totals'] = {
    campaigns: campaigns.length,
    completed: campaigns.filter((c) => c.status === 'completed' && c.counts.sent === c.total)
      .length,
    recipients: campaigns.reduce((n, c) => n + c.total, 0),
    sent: campaigns.reduce((n, c) => n + (c.counts.sent ?? 0), 0),
    acceptedAtSink,
    uniqueAtSink,
    duplicates,
    refusedAtSink: [...sink.refused.values()].reduce((n, l) => n + l.length, 0),
  };

  // --- bars
  const bars: Bar[] = [];
  const describe = (r: KeyRate, w: WindowCell): string =>
    `${r.key} window ${w.startS}-${w.startS + WINDOW_MS / 1000} s: ${w.count} (${pct(w.deviation)})`;
  const rateKeys = rates.filter((r) => ['rate', 'provider', 'capped-rate'].includes(r.role));
  const checked = rateKeys.flatMap((r) =>
    r.windows.filter((w) => w.status === 'checked').map((w) => ({ r, w })),
  );
  const off = checked.filter((x) => !x.w.withinTolerance);
  bars.push({
    id: 'rate',
    title: '1. each 10-s window after the first within ±5% of the limit',
    ok: checked.length > 0 && off.length === 0 && rateKeys.every((r) => r.windows.length > 1),
    detail:
      checked.length === 0
        ? 'no window measured'
        : off.length === 0
          ? `${checked.length} windows over ${rateKeys.length} keys, deviation ${pct(Math.min(...checked.map((x) => x.w.deviation)))} to ${pct(Math.max(...checked.map((x) => x.w.deviation)))}`
          : `${off.length} of ${checked.length} windows outside: ${off.map((x) => describe(x.r, x.w)).join('; ')}`,
  });
  const allWindows = rates.flatMap((r) => r.windows.map((w) => ({ r, w })));
  const over = allWindows.filter((x) => x.w.overBurst);
  bars.push({
    id: 'burst',
    title: '1. no window above limit × 10 s + burst (every limited key, every window)',
    ok: allWindows.length > 0 && over.length === 0,
    detail:
      over.length === 0
        ? `${allWindows.length} windows; most above the limit: ${Math.max(...allWindows.map((x) => x.w.count - x.w.allowed)).toFixed(0)} messages`
        : over.map((x) => `${describe(x.r, x.w)}, burst ${x.r.burst}`).join('; '),
  });
  const overCap = connections.filter((c) => c.maxConcurrent > c.cap);
  bars.push({
    id: 'connections',
    title: '2. concurrent connections carrying a capped domain never above its cap',
    ok: connections.length > 0 && overCap.length === 0,
    detail: connections
      .map(
        (c) =>
          `${c.domain}: max ${c.maxConcurrent} (cap ${c.cap})${c.overCapMs > 0 ? `, above the cap for ${c.overCapMs} ms in all` : ''}`,
      )
      .join('; '),
  });
  const mixed = connections.filter((c) => c.mixed > 0);
  const overMpc = connections.filter(
    (c) =>
      c.messagesPerConnection !== undefined && c.maxAcceptedPerConnection > c.messagesPerConnection,
  );
  bars.push({
    id: 'connections-own',
    title: '2. a capped domain has connections of its own, within messagesPerConnection',
    ok: mixed.length === 0 && overMpc.length === 0,
    detail: connections
      .map(
        (c) =>
          `${c.domain}: ${c.connections} connections, ${c.mixed} shared with another domain, at most ${c.maxAcceptedPerConnection} messages on one (limit ${c.messagesPerConnection ?? '-'})`,
      )
      .join('; '),
  });
  bars.push({
    id: 'adaptive-slowed',
    title: `3. 421s slow ${sc.adaptive.domain} down to its factor while they last`,
    ok:
      slow !== undefined &&
      adaptiveFaultAt !== undefined &&
      slow.at >= adaptiveFaultAt &&
      slow.at < adaptiveFaultAt + sc.adaptive.faultS * 1000 &&
      slowedAttemptRate <= adaptiveRate * slow.factor * (1 + TOLERANCE) + adaptiveBurst,
    detail: slow
      ? `421s from ${adaptiveFaultAt === undefined ? '?' : fmtS(adaptiveFaultAt - origin)} s for ${sc.adaptive.faultS} s; rule fired at ${fmtS(slow.at - origin)} s (factor ${slow.factor}, ${slow.fired} firing${slow.fired > 1 ? 's' : ''}), slowed until ${fmtS(slow.until - origin)} s, back to 1 by ${fmtS(slow.recoveredBy - origin)} s; while slowed: ${slowedAttemptRate.toFixed(1)} attempts/s, ${slowedAcceptRate.toFixed(1)} accepted/s (limit ${adaptiveRate}/s × ${slow.factor} = ${(adaptiveRate * slow.factor).toFixed(1)}/s)`
      : 'the rule never fired (no "slowed" event in the senders\' logs)',
  });
  const afterRecovery = rates
    .find((r) => r.key === sc.adaptive.key)
    ?.windows.filter((w) => w.status === 'checked');
  const badRecovery = afterRecovery?.filter((w) => !w.withinTolerance) ?? [];
  bars.push({
    id: 'adaptive-recovered',
    title: `3. ${sc.adaptive.domain} back within ±5% of its limit in every window after the recovery`,
    ok: (afterRecovery?.length ?? 0) > 0 && badRecovery.length === 0,
    detail:
      (afterRecovery?.length ?? 0) === 0
        ? 'no full window after the recovery while the domain still had backlog'
        : `${afterRecovery?.map((w) => `${w.startS} s: ${w.count} (${pct(w.deviation)})`).join(', ')}; ` +
          `full rate sustained ${recoveryLagS === undefined ? 'never' : `${recoveryLagS.toFixed(1)} s`} after the factor was back to 1`,
  });
  // The rate-only keys: the rate-plus-cap key misses its rate for reasons of its own (bar 1).
  const during =
    slow === undefined
      ? []
      : rateKeys
          .filter((r) => r.role === 'rate' || r.role === 'provider')
          .flatMap((r) =>
            r.windows
              .filter(
                (w) =>
                  w.status === 'checked' &&
                  origin + w.startS * 1000 < slow.recoveredBy &&
                  origin + (w.startS + WINDOW_MS / 1000) * 1000 > slow.at,
              )
              .map((w) => ({ r, w })),
          );
  const bulkDuring =
    slow === undefined
      ? []
      : bulkWindows.filter(
          (w) =>
            origin + w.startS * 1000 < slow.recoveredBy &&
            origin + (w.startS + WINDOW_MS / 1000) * 1000 > slow.at,
        );
  const hol =
    during.filter((x) => !x.w.withinTolerance).length +
    bulkDuring.filter((w) => !(w.p99S <= BULK_P99_LIMIT_S)).length;
  bars.push({
    id: 'adaptive-no-hol',
    title:
      '3. meanwhile the rate-only keys (domains and provider) keep their rates and background mail flows',
    ok: slow !== undefined && hol === 0,
    detail:
      slow === undefined
        ? 'no slow-down to look at'
        : `${during.length} windows of rate-only keys overlap the slow-down, ${during.filter((x) => !x.w.withinTolerance).length} outside ±5%; ` +
          `background p99 latency in those windows ${bulkDuring.map((w) => `${w.p99S.toFixed(2)} s`).join(', ')} (bar ${BULK_P99_LIMIT_S} s)`,
  });
  const resumedWindows = rates
    .find((r) => r.key === sc.suspend.key)
    ?.windows.filter((w) => w.status === 'checked' && origin + w.startS * 1000 >= (suspUntil ?? 0));
  bars.push({
    id: 'suspension',
    title: `4. nothing accepted for ${sc.suspend.domain} while suspended, then it resumes`,
    ok:
      suspStart !== undefined &&
      acceptedDuring === 0 &&
      suspension.resumedAfterS !== undefined &&
      (resumedWindows ?? []).every((w) => w.withinTolerance),
    detail:
      suspStart === undefined || suspUntil === undefined
        ? 'the suspend rule never fired (no "suspended" event in the senders\' logs)'
        : `suspended ${fmtS(suspStart - origin)}-${fmtS(suspUntil - origin)} s: ${acceptedDuring} accepted, ${attemptsDuring} attempts at the sink; ` +
          `first acceptance ${suspension.resumedAfterS === undefined ? 'never' : `${suspension.resumedAfterS.toFixed(2)} s`} after the end; ` +
          `windows after it: ${(resumedWindows ?? []).map((w) => `${w.startS} s: ${w.count} (${pct(w.deviation)})`).join(', ') || 'none full'}`,
  });
  const bulkSlow = bulkWindows.filter((w) => !(w.p99S <= BULK_P99_LIMIT_S));
  bars.push({
    id: 'background',
    title: `background (unlimited) mail: p99 latency within ${BULK_P99_LIMIT_S} s in every window`,
    ok: bulkWindows.length > 0 && bulkSlow.length === 0,
    detail: (() => {
      const measured = bulkWindows.filter((w) => w.accepted > 0).map((w) => w.p99S);
      const empty = bulkWindows.filter((w) => w.accepted === 0);
      return (
        `p99 ${Math.min(...measured).toFixed(2)}-${Math.max(...measured).toFixed(2)} s over ${measured.length} windows` +
        (bulkSlow.length
          ? `; above ${BULK_P99_LIMIT_S} s: ${bulkSlow
              .filter((w) => w.accepted > 0)
              .map((w) => `${w.startS} s: ${w.p99S.toFixed(2)} s`)
              .join(', ')}`
          : '') +
        (empty.length
          ? `; nothing accepted in ${empty.map((w) => `${w.startS}-${w.startS + WINDOW_MS / 1000} s`).join(', ')} although ${empty.reduce((n, w) => n + w.offered, 0)} were submitted`
          : '')
      );
    })(),
  });
  /** For an unfinished campaign: whether its destination was still being sent to at the end. */
  const lastSeen = (key: string): string => {
    const dest = sc.destinations.find((d) => d.key === key);
    const domains = dest ? dest.domains : [sc.bulk.domain];
    const last = Math.max(...domains.map((d) => sink.accepted.get(d)?.at(-1) ?? 0));
    return last > 0 ? `, its last message accepted ${fmtS(endAt - last)} s before the end` : '';
  };
  bars.push({
    id: 'complete',
    title: 'every campaign completed with sent = total',
    ok: totals.completed === totals.campaigns,
    detail:
      `${totals.completed} of ${totals.campaigns} campaigns; ${totals.sent} of ${totals.recipients} recipients sent` +
      (totals.completed === totals.campaigns
        ? ''
        : `; incomplete: ${campaigns
            .filter((c) => !(c.status === 'completed' && c.counts.sent === c.total))
            .slice(0, 5)
            .map((c) => `${c.key} ${c.status} ${JSON.stringify(c.counts)}${lastSeen(c.key)}`)
            .join('; ')}`),
  });
  bars.push({
    id: 'sink',
    title: 'every recipient reached the sink, none twice',
    ok: totals.uniqueAtSink === totals.recipients && totals.duplicates === 0,
    detail: `${totals.uniqueAtSink} of ${totals.recipients} recipients accepted, ${totals.duplicates} duplicates, ${totals.refusedAtSink} refusals injected`,
  });

  return {
    origin,
    end,
    rates,
    bulkWindows,
    connections,
    shared,
    adaptive: {
      faultAt: adaptiveFaultAt,
      slow,
      events: adaptiveEvents,
      timeline: adaptiveTimeline,
      slowedAttemptRate,
      slowedAcceptRate,
      recoveryLagS,
    },
    suspension,
    queue,
    totals,
    bars,
  };
}

export function pct(x: number): string {
  if (!Number.isFinite(x)) return '-';
  const v = x * 100;
  return `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
}
