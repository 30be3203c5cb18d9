/**
 * `volley dns check`: every check of a sending domain in a fixed order, each answered as soon as
 * it is done. A lookup that fails (timeout, SERVFAIL) fails its check, never the run.
 */
import { dkimCheck, type ConfiguredKey } from './dkim.ts';
import { dmarcChecks } from './dmarc.ts';
import { bounceMxCheck, mxCheck, ptrCheck } from './hosts.ts';
import { mtaStsCheck, tlsRptCheck } from './policies.ts';
import { LookupError, type Dns } from './resolver.ts';
import { spfChecks } from './spf-check.ts';
import { result, type CheckResult } from './types.ts';

export interface CheckPlan {
  domain: string;
  ips: readonly string[];
  selectors: readonly { selector: string; configured?: ConfiguredKey }[];
  /** The d= of Volley's signatures. @defaultValue the domain */
  dkimDomain?: string;
  bounceDomain?: string;
  /** The host the bounce domain's MX must name. @defaultValue the bounce domain */
  bounceHost?: string;
}

async function guarded(
  check: string,
  run: () => Promise<CheckResult | CheckResult[]>,
): Promise<CheckResult[]> {
  try {
    const r = await run();
    return Array.isArray(r) ? r : [r];
  } catch (err) {
    if (err instanceof LookupError) return [result(check, 'fail', err.message)];
    throw err;
  }
}

/** Runs the checks; `each` sees every result as it comes. */
export async function runChecks(
  dns: Dns,
  plan: CheckPlan,
  each: (r: CheckResult) => void,
): Promise<CheckResult[]> {
  const { domain, ips } = plan;
  const returnPath = plan.bounceDomain ?? domain;
  const steps: [string, () => Promise<CheckResult | CheckResult[]>][] = [
    ['mx', () => mxCheck(dns, domain)],
    ['spf', () => spfChecks(dns, domain, ips)],
  ];
  if (returnPath !== domain) {
    // SPF is checked on the return path's domain, which is the bounce domain when there is one.
    steps.push(['spf return-path', () => spfChecks(dns, returnPath, ips, 'spf return-path')]);
  }
  if (plan.selectors.length === 0) {
    steps.push([
      'dkim',
      () =>
        Promise.resolve(
          result(
            'dkim',
            'warn',
            'DKIM not checked: no selector given (--selector S, or --tenant, or keys in VOLLEY_DKIM_KEYS)',
          ),
        ),
    ]);
  }
  for (const s of plan.selectors) {
    steps.push([
      `dkim ${s.selector}`,
      () => dkimCheck(dns, plan.dkimDomain ?? domain, s.selector, s.configured),
    ]);
  }
  steps.push(
    [
      'dmarc',
      () => dmarcChecks(dns, domain, { dkimDomain: plan.dkimDomain ?? domain, returnPath }),
    ],
    ...ips.map((ip): [string, () => Promise<CheckResult>] => [
      `ptr ${ip}`,
      () => ptrCheck(dns, ip),
    ]),
    ['mta-sts', () => mtaStsCheck(dns, domain)],
    ['tls-rpt', () => tlsRptCheck(dns, domain)],
    ['bounce mx', () => bounceMxCheck(dns, plan.bounceDomain, plan.bounceHost)],
  );
  const all: CheckResult[] = [];
  for (const [check, run] of steps) {
    for (const r of await guarded(check, run)) {
      all.push(r);
      each(r);
    }
  }
  return all;
}
