/**
 * MTA-STS (RFC 8461) and TLS-RPT (RFC 8460): optional, so a missing record warns, but a
 * malformed one fails (receivers ignore it, and it suggests a policy that is not there).
 */
import type { Dns } from './resolver.ts';
import { parseTags, type Tags } from './tags.ts';
import { result, type CheckResult, type Publish } from './types.ts';

/** RFC 8461 3.1: id is 1 to 32 letters and digits. */
const STS_ID = /^[A-Za-z0-9]{1,32}$/;
/** RFC 8460 3: rua is a comma-separated list of mailto: or https: URIs. */
const RUA = /^(mailto:[^\s,@]+@[^\s,]+|https:\/\/[^\s,]+)$/i;

interface Policy {
  check: string;
  /** What the record is called in messages. */
  kind: string;
  name: string;
  /** The version tag every record of the kind starts with. */
  version: string;
  /** Why a missing record matters. */
  missing: string;
  publish: Publish;
  /** What is wrong with a record's tags, if anything. */
  problem(tags: Tags): string | undefined;
  /** The pass line. */
  summary(tags: Tags): string;
}

/** Both RFCs: records not starting with the version are ignored; several that do are an error. */
async function policyCheck(dns: Dns, p: Policy): Promise<CheckResult> {
  const head = new RegExp(`^v=${p.version}\\s*(;|$)`);
  const records = (await dns.txt(p.name)).filter((t) => head.test(t.trim()));
  if (records.length === 0) {
    return result(p.check, 'warn', `${p.name}: no ${p.kind} record (${p.missing})`, p.publish);
  }
  if (records.length > 1) {
    const why = `${p.name} has ${records.length} ${p.kind} records; receivers ignore them all`;
    return result(p.check, 'fail', why, p.publish);
  }
  const tags = parseTags(records[0] ?? '');
  const problem = tags.problems[0] ?? p.problem(tags);
  if (problem) {
    return result(p.check, 'fail', `${p.name}: malformed ${p.kind} record: ${problem}`, p.publish);
  }
  return result(p.check, 'pass', `${p.name}: ${p.summary(tags)}`);
}

export function mtaStsCheck(dns: Dns, domain: string): Promise<CheckResult> {
  const name = `_mta-sts.${domain}`;
  // A new id each day the record is suggested: receivers fetch the policy again when it changes.
  const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return policyCheck(dns, {
    check: 'mta-sts',
    kind: 'MTA-STS',
    name,
    version: 'STSv1',
    missing: `optional; it also needs the policy at https://mta-sts.${domain}/.well-known/mta-sts.txt`,
    publish: { type: 'TXT', name, value: `v=STSv1; id=${today}01` },
    problem: (tags) => {
      const id = tags.values.get('id');
      if (id === undefined) return 'id= is missing';
      return STS_ID.test(id) ? undefined : `id=${id} is not 1 to 32 letters and digits`;
    },
    summary: (tags) => `v=STSv1, id=${tags.values.get('id') ?? ''}`,
  });
}

export function tlsRptCheck(dns: Dns, domain: string): Promise<CheckResult> {
  const name = `_smtp._tls.${domain}`;
  return policyCheck(dns, {
    check: 'tls-rpt',
    kind: 'TLS-RPT',
    name,
    version: 'TLSRPTv1',
    missing: 'optional; it sends you reports of TLS failures',
    publish: { type: 'TXT', name, value: `v=TLSRPTv1; rua=mailto:tls-reports@${domain}` },
    problem: (tags) => {
      const rua = tags.values.get('rua');
      if (rua === undefined) return 'rua= is missing';
      const bad = rua
        .split(',')
        .map((u) => u.trim())
        .find((u) => !RUA.test(u));
      return bad === undefined ? undefined : `rua: "${bad}" is not a mailto: or https: URI`;
    },
    summary: (tags) => `reports to ${tags.values.get('rua') ?? ''}`,
  });
}
