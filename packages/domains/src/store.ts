/**
 * Tenants' sending domains in Redis, shared by the admin API and the admin CLI: add a domain
 * with a generated or imported DKIM key, rotate to a new selector, remove a selector or the
 * domain. Private keys are sealed before they are written and are never returned.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError } from '@volley/config';
import { DEFAULT_TENANT, type Keys } from '@volley/contracts';
import { normalizeDomain } from '@volley/message';
import { DomainError } from './errors.ts';
import {
  DKIM_KEY_TYPES,
  generateDkimKey,
  importDkimKey,
  type DkimKeyPair,
  type DkimKeyType,
} from './keys.ts';
import { activeSelector, parseRecord, type DomainRecord, type StoredSelector } from './record.ts';
import { DkimSecretError, KeySealer } from './sealing.ts';
import { type RedisClient, LuaScript } from '@volley/redis';

/**
 * A selector is a DNS name under `_domainkey` (RFC 6376 §3.1): dot-separated labels of
 * lower-case letters, digits and inner dashes, kept to 63 characters so the record name fits.
 */
const SELECTOR_PATTERN =
  '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$';
const SELECTOR = new RegExp(SELECTOR_PATTERN);
export const SELECTOR_MAX = 63;

/**
 * Selectors one domain may hold: the active one, the one it replaced while it stays published,
 * and room for a rotation that was started twice. More would only be forgotten old keys.
 */
export const MAX_SELECTORS = 4;

/** Times a change is retried when another admin changed the same domain in between. */
const CAS_ATTEMPTS = 5;

/**
 * KEYS: sendingDomains, tenantDomains(tenant). ARGV: domain, the JSON expected now ('' for
 * none), the JSON to write ('' to delete). Writes only if nobody changed the domain since it
 * was read, and keeps the tenant's set in step. Returns 1, or 0 when the domain changed.
 */
const COMPARE_AND_SET = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[1])
end
return 1
`);

export interface KeyInput {
  /** Selector of the new key. @defaultValue `vly-<yyyymmdd>-<4 hex>` */
  selector?: string | undefined;
  /** Type of a generated key; checked against an imported one. @defaultValue rsa (2048 bits) */
  keyType?: DkimKeyType | undefined;
  /** An existing private key (PEM) instead of a generated one. */
  privateKeyPem?: string | undefined;
}

export interface DomainStoreOptions {
  /** VOLLEY_DKIM_SECRET; without it nothing can be added or rotated. */
  secret: string | undefined;
  /** Domains of VOLLEY_DKIM_KEYS: the default tenant's, refused to any other tenant. */
  staticDomains?: readonly string[] | undefined;
}

function defaultSelector(now: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
  return `vly-${day}-${randomBytes(2).toString('hex')}`;
}

function notFound(tenant: string, domain: string): DomainError {
  return new DomainError(
    'DOMAIN_NOT_FOUND',
    `${domain} is not a sending domain of tenant ${tenant}`,
  );
}

/**
 * At the start of the API and the senders: with sending domains stored, VOLLEY_DKIM_SECRET must
 * be set and open their keys (one is tried), or the service refuses to start with a
 * ConfigError saying what to set.
 */
export async function checkDkimSecret(
  redis: RedisClient,
  keys: Keys,
  secret: string | undefined,
): Promise<void> {
  // Any one record will do; HSCAN may answer a page without entries before the end.
  let cursor = '0';
  let raw: string | undefined;
  do {
    const [next, page] = await redis.hscan(keys.sendingDomains, cursor, 'COUNT', 10);
    cursor = next;
    raw = page[1];
  } while (raw === undefined && cursor !== '0');
  if (raw === undefined) return;
  const rec = parseRecord(raw);
  if (!secret) {
    const count = await redis.hlen(keys.sendingDomains);
    throw new ConfigError([
      `VOLLEY_DKIM_SECRET is not set, and ${count} sending domain${count === 1 ? ' is' : 's are'} stored with DKIM keys sealed by it (${rec.domain} of tenant ${rec.tenant}, ...): set the secret they were added with, the same for the API, the senders and \`npm run admin\``,
    ]);
  }
  const sel = activeSelector(rec);
  if (!sel) return;
  try {
    new KeySealer(secret).open(sel.sealed, {
      tenant: rec.tenant,
      domain: rec.domain,
      selector: sel.selector,
    });
  } catch (err) {
    throw err instanceof DkimSecretError ? new ConfigError([err.message]) : err;
  }
}

export class DomainStore {
  private readonly sealer: KeySealer | undefined;
  private readonly staticDomains: ReadonlySet<string>;

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    opts: DomainStoreOptions,
  ) {
    this.sealer = opts.secret ? new KeySealer(opts.secret) : undefined;
    this.staticDomains = new Set(opts.staticDomains ?? []);
  }

  /** Adds a sending domain to a tenant with its first DKIM key, generated or imported. */
  async add(
    tenant: string,
    input: KeyInput & { domain: string },
    now = Date.now(),
  ): Promise<DomainRecord> {
    const domain = normalizeDomain(input.domain.trim());
    if (!domain) {
      throw new DomainError(
        'DOMAIN_INVALID',
        `${JSON.stringify(input.domain.slice(0, 100))} is not a domain name (expected e.g. news.example.com)`,
      );
    }
    await this.requireTenant(tenant);
    this.requireSealer();
    if (tenant !== DEFAULT_TENANT && this.staticDomains.has(domain)) {
      throw new DomainError(
        'DOMAIN_EXISTS',
        `${domain} is in VOLLEY_DKIM_KEYS, which signs for the default tenant; remove it there first`,
      );
    }
    const selector = this.newSelector(input.selector, [], now);
    const record: DomainRecord = {
      domain,
      tenant,
      createdAt: now,
      active: selector,
      selectors: [this.seal(tenant, domain, selector, this.keyPair(input), now)],
    };
    const written = await COMPARE_AND_SET.run(
      this.redis,
      [this.keys.sendingDomains, this.keys.tenantDomains(tenant)],
      [domain, '', JSON.stringify(record)],
    );
    if (written !== 1) {
      const owner = (await this.find(domain))?.tenant ?? 'another tenant';
      throw new DomainError(
        'DOMAIN_EXISTS',
        owner === tenant
          ? `${domain} is already a sending domain of tenant ${tenant}; rotate its key instead`
          : `${domain} is a sending domain of tenant ${owner}; a domain belongs to one tenant, remove it there first`,
      );
    }
    return record;
  }

  /** The tenant's sending domains, by name. */
  async list(tenant: string): Promise<DomainRecord[]> {
    await this.requireTenant(tenant);
    const names = (await this.redis.smembers(this.keys.tenantDomains(tenant))).sort();
    if (names.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.sendingDomains, ...names);
    return raw
      .filter((r): r is string => typeof r === 'string')
      .map(parseRecord)
      .filter((r) => r.tenant === tenant);
  }

  async get(tenant: string, domainInput: string): Promise<DomainRecord> {
    const domain = normalizeDomain(domainInput) ?? domainInput;
    const rec = await this.find(domain);
    if (!rec || rec.tenant !== tenant) throw notFound(tenant, domain);
    return rec;
  }

  /** Removes the domain: its keys stop signing within the senders' cache time. */
  async remove(tenant: string, domain: string): Promise<DomainRecord> {
    return this.change(tenant, domain, () => undefined);
  }

  /**
   * Adds a selector with a new key and makes it the one that signs. The previous selector stays
   * (and stays in the records to publish) until it is removed, so mail signed with it before
   * the switch still verifies. With `activate: false` the new selector is only staged, to be
   * published in DNS before {@link activate} switches to it.
   */
  async rotate(
    tenant: string,
    domain: string,
    input: KeyInput & { activate?: boolean | undefined },
    now = Date.now(),
  ): Promise<DomainRecord> {
    this.requireSealer();
    // Made (or parsed) once however often the write is retried: an RSA key takes tens of ms.
    let key: DkimKeyPair | undefined;
    return this.change(tenant, domain, (rec) => {
      if (rec.selectors.length >= MAX_SELECTORS) {
        throw new DomainError(
          'SELECTOR_EXISTS',
          `${rec.domain} has ${rec.selectors.length} selectors, the most it may hold; remove an old one first`,
        );
      }
      const selector = this.newSelector(input.selector, rec.selectors, now);
      key ??= this.keyPair({ ...input, keyType: input.keyType ?? activeSelector(rec)?.keyType });
      const added = this.seal(tenant, rec.domain, selector, key, now);
      const active = input.activate === false ? rec.active : selector;
      return { ...rec, active, selectors: [...rec.selectors, added] };
    });
  }

  /** Makes a staged selector the one that signs. */
  async activate(tenant: string, domain: string, selector: string): Promise<DomainRecord> {
    return this.change(tenant, domain, (rec) => {
      this.existing(rec, selector);
      return { ...rec, active: selector };
    });
  }

  /** Removes a selector that no longer signs (unpublish its record afterwards). */
  async removeSelector(tenant: string, domain: string, selector: string): Promise<DomainRecord> {
    return this.change(tenant, domain, (rec) => {
      this.existing(rec, selector);
      if (rec.active === selector) {
        throw new DomainError(
          'SELECTOR_ACTIVE',
          `${selector} is the selector that signs for ${rec.domain}; rotate to a new key first, then remove it`,
        );
      }
      return { ...rec, selectors: rec.selectors.filter((s) => s.selector !== selector) };
    });
  }

  private existing(rec: DomainRecord, selector: string): void {
    if (!rec.selectors.some((s) => s.selector === selector)) {
      throw new DomainError(
        'SELECTOR_NOT_FOUND',
        `${rec.domain} has no selector ${JSON.stringify(selector.slice(0, 80))}`,
      );
    }
  }

  private async find(domain: string): Promise<DomainRecord | undefined> {
    const raw = await this.redis.hget(this.keys.sendingDomains, domain);
    return raw === null ? undefined : parseRecord(raw);
  }

  /**
   * Applies `edit` to the tenant's domain (undefined deletes it), written only if no one changed
   * it since it was read; retried on a race. Returns the record written (or deleted).
   */
  private async change(
    tenant: string,
    domainInput: string,
    edit: (rec: DomainRecord) => DomainRecord | undefined,
  ): Promise<DomainRecord> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const rec = await this.get(tenant, domainInput);
      const next = edit(rec);
      const written = await COMPARE_AND_SET.run(
        this.redis,
        [this.keys.sendingDomains, this.keys.tenantDomains(tenant)],
        [rec.domain, JSON.stringify(rec), next ? JSON.stringify(next) : ''],
      );
      if (written === 1) return next ?? rec;
    }
    throw new DomainError(
      'BUSY',
      `${domainInput} kept changing while this change was made; try again`,
    );
  }

  private async requireTenant(tenant: string): Promise<void> {
    if (tenant === DEFAULT_TENANT) return;
    if ((await this.redis.hexists(this.keys.tenants, tenant)) === 0) {
      throw new DomainError(
        'TENANT_NOT_FOUND',
        `tenant ${JSON.stringify(tenant.slice(0, 80))} does not exist; create it first`,
      );
    }
  }

  private newSelector(given: string | undefined, taken: StoredSelector[], now: number): string {
    const selector = given?.trim().toLowerCase() ?? defaultSelector(now);
    if (selector.length > SELECTOR_MAX || !SELECTOR.test(selector)) {
      throw new DomainError(
        'SELECTOR_INVALID',
        `selector ${JSON.stringify(selector.slice(0, 80))} must be DNS labels (letters, digits, inner dashes, dots between), at most ${SELECTOR_MAX} characters`,
      );
    }
    if (taken.some((s) => s.selector === selector)) {
      throw new DomainError(
        'SELECTOR_EXISTS',
        `selector ${selector} is already in use for this domain; choose another (a new key under an old name would fail receivers that cached the old record)`,
      );
    }
    return selector;
  }

  private keyPair(input: KeyInput): DkimKeyPair {
    if (input.keyType !== undefined && !DKIM_KEY_TYPES.includes(input.keyType)) {
      throw new DomainError(
        'KEY_INVALID',
        `keyType must be one of ${DKIM_KEY_TYPES.join(', ')}, not ${JSON.stringify(String(input.keyType).slice(0, 40))}`,
      );
    }
    return input.privateKeyPem !== undefined
      ? importDkimKey(input.privateKeyPem, input.keyType)
      : generateDkimKey(input.keyType ?? 'rsa');
  }

  private requireSealer(): KeySealer {
    if (!this.sealer) {
      throw new DomainError(
        'SECRET_MISSING',
        'VOLLEY_DKIM_SECRET is not set: DKIM private keys are stored sealed with it; set it (32+ characters, e.g. `openssl rand -hex 32`), the same for the API, the senders and `npm run admin` (restart the API after setting it)',
      );
    }
    return this.sealer;
  }

  private seal(
    tenant: string,
    domain: string,
    selector: string,
    key: DkimKeyPair,
    now: number,
  ): StoredSelector {
    const sealed = this.requireSealer().seal(key.privateDer, { tenant, domain, selector });
    const out: StoredSelector = {
      selector,
      keyType: key.keyType,
      createdAt: now,
      publicKey: key.publicKey,
      sealed,
    };
    if (key.bits !== undefined) out.bits = key.bits;
    return out;
  }
}
