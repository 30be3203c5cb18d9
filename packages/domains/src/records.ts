/**
 * What an operator publishes in DNS for a sending domain, and the public view of a domain that
 * the admin API and CLI show: selectors and records, never a private key.
 */
import { dkimRecordValue, type DkimKeyType } from './keys.ts';
import type { DomainRecord } from './record.ts';

export interface DnsRecord {
  type: 'TXT' | 'MX';
  /** Fully qualified name, without the trailing dot. */
  name: string;
  value: string;
  purpose: 'dkim' | 'spf' | 'dmarc' | 'bounce-mx';
  /** The selector a DKIM record publishes. */
  selector?: string;
}

/** Where the records point, from the configuration of whoever shows them. */
export interface DnsSettings {
  /** VOLLEY_BOUNCE_DOMAIN: the envelope sender's domain, which SPF checks and bounces go to. */
  bounceDomain?: string | undefined;
  /** VOLLEY_BOUNCE_MX: the host the bounce domain's MX names. @defaultValue the bounce domain */
  bounceMx?: string | undefined;
  /** VOLLEY_SPF_INCLUDE: the domain whose SPF record lists the sending hosts. */
  spfInclude?: string | undefined;
}

export interface DomainView {
  domain: string;
  tenant: string;
  createdAt: string;
  /** The selector that signs new mail. */
  activeSelector: string;
  selectors: {
    selector: string;
    keyType: DkimKeyType;
    bits?: number;
    active: boolean;
    createdAt: string;
  }[];
  records: DnsRecord[];
  /** What the records alone do not say: settings missing, records to merge. */
  notes: string[];
}

export function dnsRecords(rec: DomainRecord, dns: DnsSettings): DnsRecord[] {
  const out: DnsRecord[] = rec.selectors.map((s) => ({
    type: 'TXT',
    name: `${s.selector}._domainkey.${rec.domain}`,
    value: dkimRecordValue(s.keyType, s.publicKey),
    purpose: 'dkim',
    selector: s.selector,
  }));
  if (dns.spfInclude) {
    // SPF checks the envelope sender: the bounce domain when there is one, else the From domain.
    out.push({
      type: 'TXT',
      name: dns.bounceDomain ?? rec.domain,
      value: `v=spf1 include:${dns.spfInclude} ~all`,
      purpose: 'spf',
    });
  }
  out.push({
    type: 'TXT',
    name: `_dmarc.${rec.domain}`,
    // Monitoring first: aligned DKIM passes from the start, and reports show what else sends as
    // the domain before a stricter policy could reject it.
    value: 'v=DMARC1; p=none; adkim=r; aspf=r',
    purpose: 'dmarc',
  });
  if (dns.bounceDomain) {
    out.push({
      type: 'MX',
      name: dns.bounceDomain,
      value: `10 ${dns.bounceMx ?? dns.bounceDomain}`,
      purpose: 'bounce-mx',
    });
  }
  return out;
}

function notes(rec: DomainRecord, dns: DnsSettings): string[] {
  const out: string[] = [];
  if (!dns.spfInclude) {
    out.push(
      `SPF: list your relays' or senders' addresses in the SPF record of ${dns.bounceDomain ?? rec.domain} (set VOLLEY_SPF_INCLUDE to the domain that lists them, and this list shows the record); a domain has one SPF record, so merge with any it has`,
    );
  } else {
    out.push(
      `SPF: ${dns.bounceDomain ?? rec.domain} has one SPF record; if it has one already, add include:${dns.spfInclude} to it instead`,
    );
  }
  out.push(
    `DMARC: skip _dmarc.${rec.domain} if it publishes one already; move to p=quarantine or p=reject once reports show only aligned mail`,
  );
  if (dns.bounceDomain && !dns.bounceMx) {
    out.push(
      `Bounce MX: ${dns.bounceDomain} needs A/AAAA records at the bounce service (or set VOLLEY_BOUNCE_MX to the host it runs on)`,
    );
  }
  if (rec.selectors.length > 1) {
    out.push(
      `Rotation: keep the records of every selector published; remove an old selector (and then its record) a few days after the switch, once mail signed with it has been delivered`,
    );
  }
  out.push(
    'DKIM TXT values longer than 255 characters are split into several strings of one record; most DNS providers do that themselves',
  );
  return out;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The public view of a domain; fields are copied one by one so a sealed key is never serialized. */
export function domainView(rec: DomainRecord, dns: DnsSettings): DomainView {
  return {
    domain: rec.domain,
    tenant: rec.tenant,
    createdAt: iso(rec.createdAt),
    activeSelector: rec.active,
    selectors: rec.selectors.map((s) => {
      const out: DomainView['selectors'][number] = {
        selector: s.selector,
        keyType: s.keyType,
        active: s.selector === rec.active,
        createdAt: iso(s.createdAt),
      };
      if (s.bits !== undefined) out.bits = s.bits;
      return out;
    }),
    records: dnsRecords(rec, dns),
    notes: notes(rec, dns),
  };
}
