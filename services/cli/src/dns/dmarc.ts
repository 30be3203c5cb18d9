/**
 * DMARC (RFC 7489): the policy record of the From domain, found at `_dmarc.DOMAIN` or else at
 * the organizational domain's, and whether mail Volley sends aligns: the DKIM signing domain
 * (d=) and the return path's domain (which SPF checks) against the From domain, relaxed or
 * strict as adkim= and aspf= say.
 */
import { getDomain } from 'tldts';
import type { Dns } from './resolver.ts';
import { parseTags } from './tags.ts';
import { result, type CheckResult } from './types.ts';

/**
 * The organizational domain (RFC 7489 3.2): the public suffix and one label more, from the
 * Public Suffix List's ICANN section (`mail.example.co.uk` → `example.co.uk`). A name that is
 * itself a suffix, or under no known one, is its own.
 */
function orgDomain(domain: string): string {
  return getDomain(domain) ?? domain;
}

/** What `volley domain add` suggests too: monitoring first, relaxed alignment. */
const STARTER = 'v=DMARC1; p=none; adkim=r; aspf=r';
const POLICIES = new Set(['none', 'quarantine', 'reject']);

export interface Policy {
  /** Where the record was found. */
  name: string;
  record: string;
  /** The policy that applies to the domain: sp= at the organizational domain for a subdomain. */
  policy: string;
  adkim: 'r' | 's';
  aspf: 'r' | 's';
}

interface Found {
  policy?: Policy;
  /** Why there is no usable policy. */
  problem?: string;
  /** The record that replaces an unusable one: where it was, keeping its report addresses. */
  mend?: { name: string; value: string };
}

/**
 * The starter record with the rua= and ruf= of `records` (the first of each): mending a broken
 * record must not cut off the reports its owner reads.
 */
function withReports(records: string[]): string {
  const kept = new Map<string, string>();
  for (const r of records) {
    for (const m of r.matchAll(/(?:^|;)\s*(ru[af])\s*=\s*([^;]*?)\s*(?=;|$)/gi)) {
      const tag = (m[1] ?? '').toLowerCase();
      if (m[2] && !kept.has(tag)) kept.set(tag, m[2]);
    }
  }
  return [STARTER, ...[...kept].map(([tag, value]) => `${tag}=${value}`)].join('; ');
}

async function records(dns: Dns, name: string): Promise<string[]> {
  return (await dns.txt(name)).filter((t) => /^v=DMARC1\s*(;|$)/i.test(t.trim()));
}

async function findPolicy(dns: Dns, domain: string): Promise<Found> {
  const org = orgDomain(domain);
  let name = `_dmarc.${domain}`;
  let found = await records(dns, name);
  if (found.length === 0 && org !== domain) {
    name = `_dmarc.${org}`;
    found = await records(dns, name);
  }
  if (found.length === 0)
    return {
      problem: `no DMARC record at _dmarc.${domain}${org !== domain ? ` or _dmarc.${org}` : ''}`,
    };
  // RFC 7489 6.6.3: several records and none applies.
  if (found.length > 1)
    return {
      problem: `${name} has ${found.length} DMARC records, so none applies`,
      mend: { name, value: withReports(found) },
    };
  const record = found[0] ?? '';
  const tags = parseTags(record);
  const p = tags.values.get('p')?.toLowerCase();
  const sp = tags.values.get('sp')?.toLowerCase();
  const mode = (tag: string): 'r' | 's' | undefined => {
    const v = (tags.values.get(tag) ?? 'r').toLowerCase();
    return v === 'r' || v === 's' ? v : undefined;
  };
  const adkim = mode('adkim');
  const aspf = mode('aspf');
  const problem =
    tags.problems[0] ??
    (p === undefined
      ? 'p= (the policy) is missing'
      : !POLICIES.has(p)
        ? `p=${p} is not none, quarantine or reject`
        : sp !== undefined && !POLICIES.has(sp)
          ? `sp=${sp} is not none, quarantine or reject`
          : !adkim || !aspf
            ? 'adkim= and aspf= are r or s'
            : undefined);
  if (problem || !p || !adkim || !aspf)
    return {
      problem: `${name}: malformed DMARC record: ${problem ?? ''}`,
      mend: { name, value: withReports([record]) },
    };
  const forSubdomain = name !== `_dmarc.${domain}`;
  return { policy: { name, record, policy: forSubdomain ? (sp ?? p) : p, adkim, aspf } };
}

function aligned(mode: 'r' | 's', a: string, b: string): boolean {
  return mode === 's' ? a === b : orgDomain(a) === orgDomain(b);
}

/** `record` with a tag set to a value (added at the end when absent). */
function withTag(record: string, tag: string, value: string): string {
  const re = new RegExp(`(^|;)\\s*${tag}\\s*=[^;]*`, 'i');
  return re.test(record)
    ? record.replace(re, `$1 ${tag}=${value}`).replace(/^ /, '')
    : `${record.replace(/;?\s*$/, '')}; ${tag}=${value}`;
}

export interface Senders {
  /** The d= of Volley's signatures: the sending domain as configured (the domain or a parent). */
  dkimDomain: string;
  /** The domain of the return path (MAIL FROM), which SPF checks: the bounce domain. */
  returnPath: string;
}

export async function dmarcChecks(
  dns: Dns,
  domain: string,
  senders: Senders,
): Promise<CheckResult[]> {
  const found = await findPolicy(dns, domain);
  const publish = {
    type: 'TXT' as const,
    ...(found.mend ?? { name: `_dmarc.${domain}`, value: STARTER }),
  };
  if (!found.policy) {
    return [
      result(
        'dmarc',
        'fail',
        `${found.problem ?? ''}: Gmail and Yahoo require DMARC of bulk senders`,
        publish,
      ),
    ];
  }
  const pol = found.policy;
  const out: CheckResult[] = [];
  if (pol.policy === 'none') {
    out.push(
      result(
        'dmarc',
        'warn',
        `${pol.name}: p=none, monitoring only (accepted by Gmail and Yahoo; move to quarantine or reject once reports show only aligned mail)`,
        { type: 'TXT', name: pol.name, value: withTag(pol.record, 'p', 'quarantine') },
      ),
    );
  } else {
    out.push(result('dmarc', 'pass', `${pol.name}: p=${pol.policy}`));
  }
  const dkimOk = aligned(pol.adkim, senders.dkimDomain, domain);
  const spfOk = aligned(pol.aspf, senders.returnPath, domain);
  const how = `DKIM d=${senders.dkimDomain} ${dkimOk ? 'aligned' : 'not aligned'} (adkim=${pol.adkim}), return path ${senders.returnPath} ${spfOk ? 'aligned' : 'not aligned'} (aspf=${pol.aspf}) with From ${domain}`;
  // Relaxed modes fix a misalignment within one organizational domain; other cases need other domains.
  const relaxable =
    (!dkimOk && pol.adkim === 's' && aligned('r', senders.dkimDomain, domain)) ||
    (!spfOk && pol.aspf === 's' && aligned('r', senders.returnPath, domain));
  const relaxed = relaxable
    ? {
        type: 'TXT' as const,
        name: pol.name,
        value: withTag(withTag(pol.record, 'adkim', 'r'), 'aspf', 'r'),
      }
    : undefined;
  if (dkimOk && spfOk) out.push(result('dmarc alignment', 'pass', how));
  else if (dkimOk || spfOk) {
    out.push(
      result(
        'dmarc alignment',
        'warn',
        `${how}: DMARC rests on ${dkimOk ? 'DKIM' : 'SPF'} alone`,
        relaxed,
      ),
    );
  } else
    out.push(result('dmarc alignment', 'fail', `${how}: DMARC fails for every message`, relaxed));
  return out;
}
