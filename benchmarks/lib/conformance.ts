/**
 * Per-domain rate conformance (`--domain-limits on`): from the `sent` events, the messages each
 * limit key (a domain, or a provider shared by several domains) accepted in consecutive 10-s
 * windows, against the rate and burst the policy gives that key.
 */
import { readFileSync } from 'node:fs';
import { defaultPolicy, parsePolicy, resolveRule, type Policy } from '@volley/shaping';
import { median } from './stats.ts';

/** The performance bar's window and tolerance: each 10 s window within ±5% of the limit. */
export const WINDOW_MS = 10_000;
export const TOLERANCE = 0.05;

/** The policy the senders run with for a `--domain-limits` value; none when off. */
export function policyFor(mode: string): Policy | undefined {
  if (mode === 'off') return undefined;
  if (mode === 'on') return defaultPolicy();
  return parsePolicy(readFileSync(mode, 'utf8'), mode);
}

export interface KeyConformance {
  /** The policy rule that limits this key (`defaults`, `providers.<name>`, `domains.<d>`). */
  rule: string;
  ratePerSec: number;
  burst: number;
  /** Messages accepted in each full 10-s window while the key still had mail to send. */
  counts: number[];
}

export interface Conformance {
  windowS: number;
  /** Full windows measured, over every limited key. */
  windows: number;
  /** Observed rate ÷ limit over those windows. */
  ratio: { median: number; min: number; max: number };
  /** Share of windows within ±5% of the limit. */
  withinTolerance: number;
  /**
   * The most messages any window carried above rate × window; the bar allows one burst.
   * Negative: no window reached its limit.
   */
  maxOverLimit: number;
  /** Whether every window stayed at most one burst above its limit. */
  withinBurst: boolean;
  /** Keys the policy leaves unlimited: not measured. */
  unlimitedKeys: number;
  perKey: Record<string, KeyConformance>;
}

export interface ConformanceOptions {
  /**
   * Epoch ms at which every key's first window starts, so that the windows of all keys line up
   * in time; acceptances before it are not counted. Default: each key's own first acceptance.
   */
  origin?: number | undefined;
}

/**
 * `sent` holds, per recipient domain, the acceptance times (epoch ms, ascending). A window is
 * counted only while its key had mail left (it ends before the key's last acceptance): a key
 * whose backlog is gone sends below its limit, which says nothing about the shaping.
 */
export function measureConformance(
  policy: Policy,
  sent: Map<string, number[]>,
  opts: ConformanceOptions = {},
): Conformance {
  const byKey = new Map<
    string,
    { rule: string; ratePerSec: number | undefined; burst: number; times: number[] }
  >();
  for (const [domain, times] of sent) {
    const r = resolveRule(policy, domain);
    let entry = byKey.get(r.key);
    if (!entry) {
      entry = { rule: r.rule.name, ratePerSec: r.rule.ratePerSec, burst: r.rule.burst, times: [] };
      byKey.set(r.key, entry);
    }
    for (const t of times) entry.times.push(t);
  }
  const perKey: Record<string, KeyConformance> = {};
  const ratios: number[] = [];
  let within = 0;
  let maxOver = Number.NEGATIVE_INFINITY;
  let withinBurst = true;
  let unlimited = 0;
  for (const [key, e] of byKey) {
    if (e.ratePerSec === undefined) {
      unlimited++;
      continue;
    }
    const times = e.times.sort((a, b) => a - b);
    const first = times[0];
    const last = times[times.length - 1];
    if (first === undefined || last === undefined) continue;
    const counts: number[] = [];
    const start = opts.origin ?? first;
    let k = 0;
    while (k < times.length && (times[k] ?? 0) < start) k++;
    for (let w = start; w + WINDOW_MS <= last; w += WINDOW_MS) {
      let n = 0;
      while (k < times.length && (times[k] ?? 0) < w + WINDOW_MS) {
        n++;
        k++;
      }
      counts.push(n);
      const allowed = (e.ratePerSec * WINDOW_MS) / 1000;
      const ratio = n / allowed;
      ratios.push(ratio);
      if (Math.abs(ratio - 1) <= TOLERANCE) within++;
      maxOver = Math.max(maxOver, n - allowed);
      if (n - allowed > e.burst) withinBurst = false;
    }
    perKey[key] = { rule: e.rule, ratePerSec: e.ratePerSec, burst: e.burst, counts };
  }
  return {
    windowS: WINDOW_MS / 1000,
    windows: ratios.length,
    ratio: {
      median: median(ratios),
      min: ratios.length ? Math.min(...ratios) : Number.NaN,
      max: ratios.length ? Math.max(...ratios) : Number.NaN,
    },
    withinTolerance: ratios.length ? within / ratios.length : Number.NaN,
    maxOverLimit: ratios.length ? maxOver : Number.NaN,
    withinBurst,
    unlimitedKeys: unlimited,
    perKey,
  };
}
