/**
 * MTA-STS (RFC 8461) and TLS-RPT (RFC 8460): optional, so a missing record warns, but a
 * malformed one fails (receivers ignore it, and it suggests a policy that is not there).
 */
import type { Dns } from './resolver.ts';
import { parseTags } from './tags.ts';
import { result, type CheckResult } from './types.ts';

/** RFC 8461 3.1: id is 1 to 32 letters and digits. */
const STS_ID = /^[A-Za-z0-9]{1,32}$/;
/** RFC 8460 3: rua is a comma-separated list of mailto: or https: URIs. */
const RUA = /^(mailto:[^\s,@]+@[^\s,]+|https:\/\/[^\s,]+)$/i;

export async function mtaStsCheck(dns: Dns, domain: string): Promise<CheckResult> {
  const name = `_mta-sts.${domain}`;
  // RFC 8461 3.1: records that do not start with v=STSv1 are ignored; several that do are an error.
  const records = (await dns.txt(name)).filter((t) => /^v=STSv1\s*(;|$)/.test(t.trim()));
  const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  const publish = { type: 'TXT' as const, name, value: `v=STSv1; id=${today}01` };
  if (records.length === 0) {
    return result(
      'mta-sts',
      'warn',
      `${name}: no MTA-STS record (optional; it also needs the policy at https://mta-sts.${domain}/.well-known/mta-sts.txt)`,
      publish,
    );
  }
  if (records.length > 1)
    return result(
      'mta-sts',
      'fail',
      `${name} has ${records.length} MTA-STS records; receivers ignore them all`,
      publish,
    );
  const tags = parseTags(records[0] ?? '');
  const id = tags.values.get('id');
  const problem =
    tags.problems[0] ??
    (id === undefined
      ? 'id= is missing'
      : !STS_ID.test(id)
        ? `id=${id} is not 1 to 32 letters and digits`
        : undefined);
  if (problem)
    return result('mta-sts', 'fail', `${name}: malformed MTA-STS record: ${problem}`, publish);
  return result('mta-sts', 'pass', `${name}: v=STSv1, id=${id ?? ''}`);
}

export async function tlsRptCheck(dns: Dns, domain: string): Promise<CheckResult> {
  const name = `_smtp._tls.${domain}`;
  const records = (await dns.txt(name)).filter((t) => /^v=TLSRPTv1\s*(;|$)/.test(t.trim()));
  const publish = {
    type: 'TXT' as const,
    name,
    value: `v=TLSRPTv1; rua=mailto:tls-reports@${domain}`,
  };
  if (records.length === 0)
    return result(
      'tls-rpt',
      'warn',
      `${name}: no TLS-RPT record (optional; it sends you reports of TLS failures)`,
      publish,
    );
  if (records.length > 1)
    return result(
      'tls-rpt',
      'fail',
      `${name} has ${records.length} TLS-RPT records; receivers ignore them all`,
      publish,
    );
  const tags = parseTags(records[0] ?? '');
  const rua = tags.values.get('rua');
  const bad = rua
    ?.split(',')
    .map((u) => u.trim())
    .find((u) => !RUA.test(u));
  const problem =
    tags.problems[0] ??
    (rua === undefined
      ? 'rua= is missing'
      : bad !== undefined
        ? `rua: "${bad}" is not a mailto: or https: URI`
        : undefined);
  if (problem)
    return result('tls-rpt', 'fail', `${name}: malformed TLS-RPT record: ${problem}`, publish);
  return result('tls-rpt', 'pass', `${name}: reports to ${rua ?? ''}`);
}
