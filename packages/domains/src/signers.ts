/**
 * The sender's DKIM keys: for a campaign's tenant and From domain, the signer of the tenant's
 * sending domain that covers it (or, for the default tenant, of VOLLEY_DKIM_KEYS). Read from
 * Redis at most once per time to live, so a rotation or a removal reaches every sender without
 * a restart; each sealed key is opened once per process. A From domain that has become another
 * tenant's since the campaign was submitted is refused: sent unsigned, with the return path at
 * the From domain, it could still pass SPF and DMARC as that tenant.
 */
import type { RedisClient } from '@volley/redis';
import { DEFAULT_TENANT, type Keys } from '@volley/contracts';
import { DkimSigner, type DkimKeyConfig } from '@volley/message';
import { coverage } from './coverage.ts';
import { privateKeyPem } from './keys.ts';
import { activeSelector, type DomainRecord } from './record.ts';
import { DkimSecretError, KeySealer } from './sealing.ts';

export interface TenantSignersOptions {
  redis: RedisClient;
  keys: Keys;
  /** VOLLEY_DKIM_SECRET: opens stored keys. */
  secret: string | undefined;
  /** How long a lookup is used before Redis is read again (VOLLEY_DKIM_CACHE_TTL). */
  ttlMs: number;
  /** VOLLEY_DKIM_KEYS, read from their files: they sign the default tenant's mail only. */
  staticKeys: DkimKeyConfig[];
  /** Told (once per lookup) when no sending domain covers a campaign's From domain: sent unsigned. */
  onUnsigned?: (tenant: string, fromDomain: string, reason: string) => void;
  /** Told (once per lookup) when the From domain is another tenant's: its messages fail. */
  onRefused?: (tenant: string, fromDomain: string, reason: string) => void;
  /** Epoch ms; tests pass their own. */
  clock?: () => number;
}

/** Mail of a tenant from a domain that is another tenant's: not sent at all. */
export interface SendingRefused {
  refused: string;
}

/** How a tenant's mail from a domain goes: signed by this signer, unsigned, or not at all. */
export type Signing = DkimSigner | undefined | SendingRefused;

export function isRefused(s: Signing): s is SendingRefused {
  return s !== undefined && 'refused' in s;
}

interface Entry {
  signer: Signing;
  expires: number;
}

/** Lookups kept per process: (tenant, From domain) pairs of the campaigns being sent. */
const MAX_ENTRIES = 10_000;

export class TenantSigners {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, { work: Promise<Signing>; readAt: number }>();
  /** Signers by domain, selector and seal: a key is opened once, a rotated key is new. */
  private readonly opened = new Map<string, DkimSigner>();
  private readonly staticSigners = new Map<string, DkimSigner>();
  private readonly sealer: KeySealer | undefined;
  private readonly clock: () => number;

  constructor(private readonly o: TenantSignersOptions) {
    this.sealer = o.secret ? new KeySealer(o.secret) : undefined;
    this.clock = o.clock ?? Date.now;
    // Parsed now, so an unreadable key in VOLLEY_DKIM_KEYS stops the sender at start.
    for (const domain of new Set(o.staticKeys.map((k) => k.domain.toLowerCase()))) {
      const keys = o.staticKeys.filter((k) => k.domain.toLowerCase() === domain);
      this.staticSigners.set(domain, new DkimSigner(keys));
    }
  }

  /**
   * The signer for a message of `tenant` from `fromDomain`, undefined to send unsigned, or a
   * refusal when the domain is another tenant's. Rejects when a stored key cannot be opened (no or another VOLLEY_DKIM_SECRET): the batch
   * is retried rather than sent without the signature its domain publishes.
   */
  async signerFor(tenant: string, fromDomain: string): Promise<Signing> {
    const id = `${tenant}\0${fromDomain}`;
    const now = this.clock();
    const hit = this.entries.get(id);
    if (hit && now < hit.expires) return hit.signer;
    let running = this.pending.get(id);
    if (!running) {
      // Timed from the read, not from when a caller joined it: a key is never used longer.
      const work = this.resolve(tenant, fromDomain).finally(() => this.pending.delete(id));
      running = { work, readAt: now };
      this.pending.set(id, running);
    }
    const signer = await running.work;
    this.entries.delete(id);
    this.entries.set(id, { signer, expires: running.readAt + this.o.ttlMs });
    if (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return signer;
  }

  private async resolve(tenant: string, fromDomain: string): Promise<Signing> {
    const staticDomains = new Set(this.staticSigners.keys());
    const cov = await coverage(this.o.redis, this.o.keys, fromDomain, staticDomains);
    if (cov && cov.owner !== tenant) {
      // Which tenant is not said: the reason lands in the campaign's events, its tenant's view.
      const refused = `${cov.domain} is not a sending domain of ${tenant}`;
      this.o.onRefused?.(tenant, fromDomain, refused);
      return { refused };
    }
    if (!cov) {
      // Not a sending domain of anyone: the default tenant with no domains sends as any domain,
      // unsigned as before; anyone else's campaign was refused at submit unless its domain was
      // removed since.
      const hasDomains =
        tenant !== DEFAULT_TENANT ||
        staticDomains.size > 0 ||
        (await this.o.redis.scard(this.o.keys.tenantDomains(tenant))) > 0;
      if (hasDomains) {
        this.o.onUnsigned?.(tenant, fromDomain, `no sending domain of ${tenant} covers it`);
      }
      return undefined;
    }
    return cov.record ? this.open(cov.record) : this.staticSigners.get(cov.domain);
  }

  private open(rec: DomainRecord): DkimSigner | undefined {
    const sel = activeSelector(rec);
    if (!sel) return undefined;
    const id = `${rec.tenant}\0${rec.domain}\0${sel.selector}\0${sel.sealed.iv}`;
    const known = this.opened.get(id);
    if (known) return known;
    if (!this.sealer) {
      throw new DkimSecretError(
        `VOLLEY_DKIM_SECRET is not set, so the DKIM key ${sel.selector}._domainkey.${rec.domain} of tenant ${rec.tenant} cannot be opened; set the secret the API uses and restart the sender`,
      );
    }
    const der = this.sealer.open(sel.sealed, {
      tenant: rec.tenant,
      domain: rec.domain,
      selector: sel.selector,
    });
    const signer = new DkimSigner([
      { domain: rec.domain, selector: sel.selector, privateKey: privateKeyPem(der) },
    ]);
    // Rotated-out keys are dropped with the rest now and then; they are opened again if needed.
    if (this.opened.size >= MAX_ENTRIES) this.opened.clear();
    this.opened.set(id, signer);
    return signer;
  }
}
