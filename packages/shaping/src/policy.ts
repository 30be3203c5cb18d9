/**
 * The shaping policy: which limits apply to which destination, and how the limits react to
 * the replies of the receiving servers. Written by operators in YAML; every problem is reported
 * with the line and column of the offending node and what to write instead (policy-parse.ts).
 *
 * ```yaml
 * version: 1
 * defaults:                    # every domain not matched below, each domain limited apart
 *   rate: 20/s                 # <number>/<unit>, unit s, min (or m) or h; or `unlimited`
 *   burst: 20                  # messages that may go at once; default one second's worth
 *   connections: 5             # concurrent connections across all workers
 *   messagesPerConnection: 100
 *   retry: [5m, 15m, 1h, 4h]   # delays between attempts, the last one repeats
 * providers:                   # domains grouped by their MX host, sharing one limit
 *   google:
 *     mx: [google.com, googlemail.com]   # MX host suffixes
 *     domains: [gmail.com]               # recipient domain suffixes
 *     rate: 6000/min
 * domains:                     # one domain, limited on its own
 *   example.org: { rate: 1/s, connections: 1 }
 * adaptive:                    # first matching rule counts a reply
 *   - name: try-later
 *     match: { code: 4xx, text: 'try (again )?later' }
 *     threshold: 5             # matching replies within `window` (default 1m)
 *     action: slow             # or suspend
 *     factor: 0.5
 *     duration: 10m
 *     recovery: { step: 0.1, every: 1m }
 * ```
 */
/** Limits of one destination, with every unit normalized. `undefined` means no limit. */
export interface Rule {
  /** Where the rule comes from: `defaults`, `providers.<name>` or `domains.<domain>`. */
  name: string;
  /** Messages per second across all workers. */
  ratePerSec: number | undefined;
  /** Messages that may start at once above the steady rate (the GCRA burst); at least 1. */
  burst: number;
  /** Concurrent SMTP connections across all workers. */
  connections: number | undefined;
  messagesPerConnection: number | undefined;
  /** Delays before attempt 2, 3, ...; the last one repeats. `undefined`: the sender's backoff. */
  retryMs: number[] | undefined;
}

export interface Provider {
  name: string;
  /** Suffixes of MX host names (`google.com` matches `aspmx.l.google.com`). */
  mx: string[];
  /** Suffixes of recipient domains (`yahoo.com` matches `yahoo.com` and `x.yahoo.com`). */
  domains: string[];
  rule: Rule;
}

export interface AdaptiveRule {
  name: string;
  /** Reply codes that match: exact (`421`) or a class (`4xx`). Empty: any code or none. */
  codes: string[];
  /** Pattern on the reply text, case-insensitive. */
  text: RegExp | undefined;
  /** Matching replies within `windowMs` that trigger the action. */
  threshold: number;
  windowMs: number;
  action: 'slow' | 'suspend';
  /** `campaign`: count and suspend each campaign apart (suspend only). */
  scope: 'destination' | 'campaign';
  /** Slow: the rate and connection cap are multiplied by this. */
  factor: number;
  /** Slow: how long the factor holds before recovery; suspend: how long sending stops. */
  durationMs: number;
  /** Slow: after the duration the factor rises by `step` every `everyMs` until it is 1. */
  recovery: { step: number; everyMs: number };
}

export interface Policy {
  /** File name or other label the policy was read from, for messages. */
  source: string;
  defaults: Rule;
  providers: Provider[];
  /** Lower-cased domain → its own rule. */
  domains: Map<string, Rule>;
  adaptive: AdaptiveRule[];
}

/** A host name or suffix as the policy compares them: lower case, no dot at either end. */
export function normalizeHost(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '').replace(/^\./, '');
}

export interface Resolution {
  /**
   * Names the limit the message counts against: `domain:<d>` for a domain named in the
   * policy, `provider:<name>` for a provider match, `default:<d>` for any other domain (the
   * default rule limits each domain apart). Used in Redis keys, never as a metric label.
   */
  key: string;
  /** The provider's name or `other`: bounded, safe as a metric label. */
  metricLabel: string;
  rule: Rule;
}

function hasSuffix(host: string, suffix: string): boolean {
  return host === suffix || host.endsWith(`.${suffix}`);
}

function providerOf(policy: Policy, domain: string, mx: string | undefined): Provider | undefined {
  for (const p of policy.providers) if (p.domains.some((s) => hasSuffix(domain, s))) return p;
  if (mx === undefined) return undefined;
  for (const p of policy.providers) if (p.mx.some((s) => hasSuffix(mx, s))) return p;
  return undefined;
}

/**
 * Which rule limits mail to `domain`. Order: a domain named under `domains`; then a provider
 * whose domain suffixes match; then a provider matching the most preferred MX host
 * (`mxHosts[0]`, where the mail goes); otherwise the defaults, for this domain alone.
 */
export function resolveRule(
  policy: Policy,
  domain: string,
  mxHosts: readonly string[] = [],
): Resolution {
  const d = normalizeHost(domain);
  const mx = mxHosts[0] === undefined ? undefined : normalizeHost(mxHosts[0]);
  const provider = providerOf(policy, d, mx);
  const metricLabel = provider?.name ?? 'other';
  const own = policy.domains.get(d);
  if (own) return { key: `domain:${d}`, metricLabel, rule: own };
  if (provider) return { key: `provider:${provider.name}`, metricLabel, rule: provider.rule };
  return { key: `default:${d}`, metricLabel, rule: policy.defaults };
}

/** The first adaptive rule that matches a reply, in policy order. */
export function matchAdaptive(
  policy: Policy,
  reply: { code?: number | undefined; text: string },
): AdaptiveRule | undefined {
  const code = reply.code === undefined ? undefined : String(reply.code);
  return policy.adaptive.find((r) => {
    if (r.codes.length > 0) {
      if (code === undefined) return false;
      if (!r.codes.some((c) => (c.endsWith('xx') ? code[0] === c[0] : code === c))) return false;
    }
    return r.text === undefined || r.text.test(reply.text);
  });
}
