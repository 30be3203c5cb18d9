/**
 * The SPF verdicts: the record of a domain (one, well-formed, within the lookup limits) and the
 * result for each sending address, with the record to publish when it needs a change.
 */
import { isIPv4 } from 'node:net';
import type { Dns } from './resolver.ts';
import {
  LOOKUP_LIMIT,
  VOID_LIMIT,
  evaluateSpf,
  walkSpf,
  parseSpf,
  spfRecords,
  SpfSyntaxError,
  type SpfResult,
} from './spf.ts';
import { result, type CheckResult, type Status } from './types.ts';

/**
 * Per result: pass; softfail and neutral warn (the receiver does not reject on them, and DMARC
 * still passes on an aligned DKIM signature, but the address should be listed); fail, none
 * and the errors fail (mail from the address fails SPF, or the record is broken).
 */
const VERDICT: Record<SpfResult, Status> = {
  pass: 'pass',
  softfail: 'warn',
  neutral: 'warn',
  fail: 'fail',
  none: 'fail',
  permerror: 'fail',
  temperror: 'fail',
};

const term = (ip: string): string => `${isIPv4(ip) ? 'ip4' : 'ip6'}:${ip}`;

/** `record` with `ips` listed before its final all (or redirect), or a new record listing them. */
function withAddresses(record: string | undefined, ips: readonly string[]): string {
  const add = ips.map(term);
  if (record === undefined) return ['v=spf1', ...add, '~all'].join(' ');
  const terms = record.split(' ').filter(Boolean);
  const at = terms.findIndex((t) => /^[+\-~?]?all$/i.test(t) || /^redirect=/i.test(t));
  const missing = add.filter((t) => !terms.includes(t));
  if (at < 0) return [...terms, ...missing].join(' ');
  return [...terms.slice(0, at), ...missing, ...terms.slice(at)].join(' ');
}

/**
 * A malformed record mended: the terms that parse kept in their order, the ones that do not
 * dropped, `ips` added, and `~all` at the end when no all or redirect= is left.
 */
function repaired(record: string, ips: readonly string[]): string {
  const kept = record
    .split(' ')
    .slice(1)
    .filter((t) => {
      if (t === '') return false;
      try {
        parseSpf(`v=spf1 ${t}`);
        return true;
      } catch (err) {
        if (err instanceof SpfSyntaxError) return false;
        throw err;
      }
    });
  const closed = kept.some((t) => /^[+\-~?]?all$/i.test(t) || /^redirect=/i.test(t));
  return withAddresses(['v=spf1', ...kept, ...(closed ? [] : ['~all'])].join(' '), ips);
}

/** Every term of several records in one, keeping the first record's all. */
function merged(records: string[]): string {
  const terms: string[] = [];
  let all: string | undefined;
  for (const r of records) {
    for (const t of r.split(' ').slice(1).filter(Boolean)) {
      if (/^[+\-~?]?all$/i.test(t)) all ??= t;
      else if (!terms.includes(t)) terms.push(t);
    }
  }
  return ['v=spf1', ...terms, ...(all ? [all] : [])].join(' ');
}

/** The checks of one domain's SPF: the record, then one per sending address. */
export async function spfChecks(
  dns: Dns,
  domain: string,
  ips: readonly string[],
  label = 'spf',
): Promise<CheckResult[]> {
  const records = await spfRecords(dns, domain);
  const txt = (value: string) => ({ type: 'TXT' as const, name: domain, value });
  if (records.length === 0) {
    return [
      result(
        label,
        'fail',
        `${domain} has no SPF record (TXT v=spf1): receivers cannot tell which hosts may send as it`,
        txt(withAddresses(undefined, ips.length ? ips : ['<your sending IP>'])),
      ),
    ];
  }
  if (records.length > 1) {
    return [
      result(
        label,
        'fail',
        `${domain} has ${records.length} SPF records; receivers treat that as an error (permerror): publish one`,
        txt(merged(records)),
      ),
    ];
  }
  const record = records[0] ?? '';
  try {
    parseSpf(record);
  } catch (err) {
    if (!(err instanceof SpfSyntaxError)) throw err;
    return [
      result(
        label,
        'fail',
        `${domain}: SPF record malformed: ${err.message}`,
        txt(repaired(record, ips)),
      ),
    ];
  }
  const out: CheckResult[] = [];
  // What a receiver walks for an address the record does not list: every term, so the most lookups.
  const probe = await walkSpf(dns, domain);
  const flattened = [...probe.ranges, ...ips.map(term)].filter((t, i, all) => all.indexOf(t) === i);
  // The addresses the record passes today and the sending ones, without a single lookup: what
  // mends a record over a lookup limit or one that ends in permerror.
  const flat = txt(`v=spf1 ${flattened.join(' ')} ~all`);
  if (probe.lookups > LOOKUP_LIMIT) {
    out.push(
      result(
        label,
        'fail',
        `${domain}: ${probe.lookups} DNS-querying terms across includes, over the limit of ${LOOKUP_LIMIT} (receivers answer permerror); list the addresses instead of some includes`,
        flat,
      ),
    );
  } else if (probe.voids > VOID_LIMIT) {
    out.push(
      result(
        label,
        'fail',
        `${domain}: ${probe.voids} void lookups (names with no records), over the limit of ${VOID_LIMIT} (receivers answer permerror); remove the terms that name them`,
        flat,
      ),
    );
  } else if (probe.result === 'permerror') {
    out.push(result(label, 'fail', `${domain}: SPF permerror: ${probe.reason ?? 'unknown'}`, flat));
  } else if (probe.result === 'temperror') {
    // A lookup failed on the way: a DNS problem to retry, not a record to change.
    out.push(result(label, 'fail', `${domain}: SPF temperror: ${probe.reason ?? 'unknown'}`));
  } else if (probe.voids > 0) {
    out.push(
      result(
        label,
        'warn',
        `${domain}: one SPF record, ${probe.lookups} of ${LOOKUP_LIMIT} lookups, but ${probe.voids} void lookup(s) (names with no records; more than ${VOID_LIMIT} is a permerror)`,
      ),
    );
  } else {
    out.push(
      result(
        label,
        'pass',
        `${domain}: one SPF record, ${probe.lookups} of ${LOOKUP_LIMIT} lookups`,
      ),
    );
  }
  for (const ip of ips) {
    const e = await evaluateSpf(dns, domain, ip);
    const why = e.reason ? ` (${e.reason})` : '';
    out.push(
      result(
        `${label} ${ip}`,
        VERDICT[e.result],
        `${ip}: SPF ${e.result} for ${domain}${why}, ${e.lookups} lookups`,
        e.result === 'temperror'
          ? undefined
          : e.result === 'permerror'
            ? flat
            : txt(withAddresses(record, [ip])),
      ),
    );
  }
  return out;
}
