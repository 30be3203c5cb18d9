/**
 * What `npm run bench:shaping` sends, and the policy it sends it under: each behaviour of the
 * traffic shaper gets a destination of its own, with enough backlog to stay limited for the
 * whole run, and one campaign per destination (a campaign's expansion window is shared by its
 * domains, so one campaign per destination keeps a slow one from holding back another's window).
 */
import { parsePolicy, type Policy } from '@volley/shaping';
import type { FaultRule } from './shaping-sink.ts';

/** What a destination is there to show. */
export type Role =
  /** A domain rule with a rate and a small burst: rate conformance. */
  | 'rate'
  /** A provider rule: two domains matched by domain suffix share one rate. */
  | 'provider'
  /** A connection cap and messages per connection, no rate: the cap under pressure. */
  | 'capped'
  /** A rate and a connection cap together, as most real rules are: both bars at once. */
  | 'capped-rate'
  /** Answers 421 "try again later" to a share of its mail for a while: adaptive slow-down. */
  | 'adaptive'
  /** Answers a TSS04-like deferral for a moment: adaptive suspension. */
  | 'suspend';

export interface Destination {
  /** The shaping key the policy resolves its domains to (`domain:<d>`, `provider:<name>`). */
  key: string;
  role: Role;
  domains: string[];
  /** Recipients, spread evenly over `domains`. */
  recipients: number;
}

export interface AdaptivePlan {
  domain: string;
  key: string;
  /**
   * The sink answers 421 to `share` of the domain's recipients for `faultS` seconds, from the
   * domain's `faultAfter`-th recipient (about `faultAfter / rate` s once it sends at its limit).
   */
  faultAfter: number;
  faultS: number;
  share: number;
  factor: number;
  durationS: number;
  recovery: { step: number; everyS: number };
  threshold: number;
}

export interface SuspendPlan {
  domain: string;
  key: string;
  /** The sink refuses every recipient of the domain for `faultS` from its `faultAfter`-th. */
  faultAfter: number;
  faultS: number;
  durationS: number;
  threshold: number;
}

export interface Scenario {
  durationS: number;
  senders: number;
  destinations: Destination[];
  /**
   * Unlimited background load: a campaign of `perCampaign` recipients every second, at least
   * `campaigns` of them and on while the limited destinations send, at most `maxCampaigns`.
   */
  bulk: { domain: string; perCampaign: number; campaigns: number; maxCampaigns: number };
  adaptive: AdaptivePlan;
  suspend: SuspendPlan;
  policyYaml: string;
  policy: Policy;
  faults: FaultRule[];
  replyDelayMs: Record<string, number>;
  /** Every recipient of the run, with the least background mail. */
  totalRecipients: number;
}

/** A multiple of `step`, at least `min` and at most `max`. */
function roundTo(x: number, step: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(x / step) * step));
}

/**
 * The scenario for a run of about `durationS` seconds. Backlogs are the limit times the
 * duration, so every limited destination is still limited when the run ends (the adaptive one
 * gets ten seconds more, so that windows after its recovery are measured).
 */
export function buildScenario(o: {
  durationS: number;
  senders: number;
  bulkPerSecond: number;
  /** The run's wait for completion: bounds how long background mail goes on. */
  timeoutS: number;
}): Scenario {
  const d = o.durationS;
  // 20 s of 421s in a 75-s run (10 s in the 40-s quick run): long enough to show the lower
  // rate over whole windows, short enough to leave windows after the recovery.
  const faultS = roundTo(d / 4, 5, 5, 30);
  const suspendAt = roundTo(d / 5, 5, 5, 30);
  const suspendFor = roundTo(d / 5, 5, 5, 30);
  const adaptive: AdaptivePlan = {
    domain: 'throttled.example',
    key: 'domain:throttled.example',
    // `suspendAt` seconds' worth (15 s in the 75-s run) at its limit of 50/s: the 421s start
    // once it has sent steadily for a while, after the senders' start-up.
    faultAfter: 50 * suspendAt,
    faultS,
    share: 0.3,
    factor: 0.5,
    durationS: faultS,
    recovery: { step: 0.25, everyS: faultS / 4 },
    threshold: 10,
  };
  const suspend: SuspendPlan = {
    domain: 'suspended.example',
    key: 'domain:suspended.example',
    // `suspendAt` seconds' worth at its limit of 40/s.
    faultAfter: 40 * suspendAt,
    // Three seconds of refusals: the threshold (5 at 40/s) is reached in the first 200 ms.
    faultS: 3,
    durationS: suspendFor,
    threshold: 5,
  };
  const destinations: Destination[] = [
    { key: 'domain:l100.example', role: 'rate', domains: ['l100.example'], recipients: 100 * d },
    { key: 'domain:l50.example', role: 'rate', domains: ['l50.example'], recipients: 50 * d },
    { key: 'domain:l20.example', role: 'rate', domains: ['l20.example'], recipients: 20 * d },
    {
      key: 'provider:pool',
      role: 'provider',
      domains: ['a.pool.example', 'b.pool.example'],
      recipients: 40 * d,
    },
    {
      key: 'domain:caprate.example',
      role: 'capped-rate',
      domains: ['caprate.example'],
      recipients: 60 * d,
    },
    // Two connections, each with a 20 ms slow 250: about 90 msg/s, so 70/s of backlog keeps
    // every sender asking for a connection for most of the run.
    {
      key: 'domain:capconn.example',
      role: 'capped',
      domains: ['capconn.example'],
      recipients: 70 * d,
    },
    {
      key: adaptive.key,
      role: 'adaptive',
      domains: [adaptive.domain],
      // Ten seconds more than the others: it loses about half its rate while slowed, and a
      // window or more after its recovery must still find backlog.
      recipients: 50 * (d + 10),
    },
    {
      key: suspend.key,
      role: 'suspend',
      domains: [suspend.domain],
      recipients: 40 * d,
    },
  ];
  const policyYaml = `# Written by benchmarks/shaping.ts for this run.
version: 1
defaults:
  rate: unlimited
providers:
  pool:
    domains: [pool.example]
    rate: 40/s
    burst: 4
domains:
  l100.example: { rate: 100/s, burst: 10 }
  l50.example: { rate: 50/s, burst: 5 }
  l20.example: { rate: 20/s, burst: 2 }
  caprate.example: { rate: 60/s, burst: 6, connections: 3, messagesPerConnection: 50 }
  capconn.example: { connections: 2, messagesPerConnection: 25 }
  ${adaptive.domain}: { rate: 50/s, burst: 5, retry: [2s] }
  ${suspend.domain}: { rate: 40/s, burst: 4, retry: [2s] }
adaptive:
  - name: try-later
    match: { code: 421, text: 'try (again )?later' }
    threshold: ${adaptive.threshold}
    # Longer than the fault period, so the rule fires once.
    window: ${faultS + 10}s
    action: slow
    factor: ${adaptive.factor}
    duration: ${adaptive.durationS}s
    recovery: { step: ${adaptive.recovery.step}, every: ${adaptive.recovery.everyS}s }
  - name: tss04
    match: { code: 4xx, text: 'TSS04' }
    threshold: ${suspend.threshold}
    window: 10s
    action: suspend
    duration: ${suspend.durationS}s
`;
  const policy = parsePolicy(policyYaml, 'shaping-bench.yaml');
  const faults: FaultRule[] = [
    {
      domain: adaptive.domain,
      afterRecipients: adaptive.faultAfter,
      forS: faultS,
      share: adaptive.share,
      code: 421,
      message: '4.7.0 try again later',
    },
    {
      domain: suspend.domain,
      afterRecipients: suspend.faultAfter,
      forS: suspend.faultS,
      share: 1,
      code: 451,
      message: '4.7.1 [TSS04] Messages temporarily deferred due to unexpected volume',
    },
  ];
  const bulk = {
    domain: 'bulk.example',
    perCampaign: o.bulkPerSecond,
    campaigns: d,
    maxCampaigns: d + o.timeoutS,
  };
  return {
    durationS: d,
    senders: o.senders,
    destinations,
    bulk,
    adaptive,
    suspend,
    policyYaml,
    policy,
    faults,
    replyDelayMs: { 'capconn.example': 20 },
    totalRecipients:
      destinations.reduce((n, x) => n + x.recipients, 0) + bulk.perCampaign * bulk.campaigns,
  };
}

/** The recipients of a destination's campaign: `u<i>@<domain>`, domains taken in turn. */
export function addressesOf(dest: Destination): string[] {
  const out: string[] = [];
  for (let i = 0; i < dest.recipients; i++) {
    out.push(`u${i}@${dest.domains[i % dest.domains.length] ?? ''}`);
  }
  return out;
}

/** The recipients of the `n`th background campaign, unique over the run. */
export function bulkAddresses(s: Scenario, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.bulk.perCampaign; i++) out.push(`b${n}x${i}@${s.bulk.domain}`);
  return out;
}
