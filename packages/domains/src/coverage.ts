/**
 * Whose a From domain is: the most specific sending domain that is it or one of its parents,
 * among the stored ones (any tenant) and the domains of VOLLEY_DKIM_KEYS (the default
 * tenant's). The API refuses a campaign by it and the sender picks its keys by it, so both
 * decide the same way.
 */
import type { RedisClient } from '@volley/redis';
import { DEFAULT_TENANT, type Keys } from '@volley/contracts';
import { domainAndParents, parseRecord, type DomainRecord } from './record.ts';

export interface Coverage {
  /** The sending domain that covers the From domain (the From domain or a parent). */
  domain: string;
  /** Its tenant. */
  owner: string;
  /** The stored record; absent for a domain of VOLLEY_DKIM_KEYS. */
  record?: DomainRecord;
}

/** One HMGET of the domain and its parents. */
export async function coverage(
  redis: RedisClient,
  keys: Keys,
  fromDomain: string,
  staticDomains: ReadonlySet<string>,
): Promise<Coverage | undefined> {
  const candidates = domainAndParents(fromDomain.toLowerCase());
  if (candidates.length === 0) return undefined;
  const found = await redis.hmget(keys.sendingDomains, ...candidates);
  for (const [i, domain] of candidates.entries()) {
    const raw = found[i];
    if (raw) {
      const record = parseRecord(raw);
      return { domain, owner: record.tenant, record };
    }
    // A stored domain of the same name wins: an operator added it on purpose.
    if (staticDomains.has(domain)) return { domain, owner: DEFAULT_TENANT };
  }
  return undefined;
}

export type SendingDecision =
  | { allowed: true; domain: string | undefined }
  | { allowed: false; domain: string; tenantHasDomains: boolean };

/**
 * The API's check at submit: a tenant sends only as its own domains or their subdomains. The
 * default tenant without any sending domain (none stored, no VOLLEY_DKIM_KEYS) may send as any
 * domain no tenant has, as before sending domains existed, so a single-tenant setup and
 * `npm start` need no configuration.
 */
export class SendingDomains {
  private readonly staticDomains: ReadonlySet<string>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    staticDomains: readonly string[] = [],
  ) {
    this.staticDomains = new Set(staticDomains.map((d) => d.toLowerCase()));
  }

  async check(tenant: string, fromDomain: string): Promise<SendingDecision> {
    const cov = await coverage(this.redis, this.keys, fromDomain, this.staticDomains);
    if (cov?.owner === tenant) return { allowed: true, domain: cov.domain };
    const count = await this.redis.scard(this.keys.tenantDomains(tenant));
    const hasStatic = tenant === DEFAULT_TENANT && this.staticDomains.size > 0;
    if (!cov && tenant === DEFAULT_TENANT && count === 0 && !hasStatic) {
      return { allowed: true, domain: undefined };
    }
    return { allowed: false, domain: fromDomain, tenantHasDomains: count > 0 || hasStatic };
  }
}
