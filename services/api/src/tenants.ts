import { createHash, randomBytes } from 'node:crypto';
import { CodedError, type Keys } from '@volley/contracts';
import { type RedisClient, LuaScript } from '@volley/redis';

/**
 * Tenant ids appear in Redis keys and URLs: lower-case letters, digits and dashes, starting
 * with a letter or digit, at most 63 characters (a DNS label's length, so an id can also name
 * a subdomain).
 */
export const TENANT_ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
const TENANT_ID = new RegExp(TENANT_ID_PATTERN);

/** Key ids are 8 random bytes in hex: enough to never collide in one deployment, short to read. */
export const KEY_ID_PATTERN = '^[a-f0-9]{16}$';
const KEY_ID = new RegExp(KEY_ID_PATTERN);

/**
 * `vk_<keyId>_<secret>`: the id lets an operator tell which key a client holds without the
 * store keeping the key; the secret is 24 random bytes (192 bits), far past guessing.
 */
const API_KEY = /^vk_([a-f0-9]{16})_[a-f0-9]{48}$/;

/** Names of tenants and keys are for people: printable, short enough for a table. */
export const NAME_MAX = 100;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface Tenant {
  id: string;
  name?: string | undefined;
  /** Epoch ms. */
  createdAt: number;
}

/** What is stored of an API key: never the key itself. */
export interface ApiKeyRecord {
  id: string;
  tenant: string;
  name?: string | undefined;
  /** Epoch ms. */
  createdAt: number;
  /**
   * Creation order among all keys (absent on keys made before it existed): two keys made in
   * the same millisecond still list oldest first.
   */
  seq?: number | undefined;
}

export type TenantErrorCode =
  'TENANT_ID_INVALID' | 'TENANT_EXISTS' | 'TENANT_NOT_FOUND' | 'KEY_NOT_FOUND' | 'NAME_INVALID';

export class TenantError extends CodedError<TenantErrorCode> {}

/**
 * SHA-256 (hex) of a key, as the store indexes it. A fast hash is right here, unlike for
 * passwords: keys are 192 random bits, so no dictionary or brute force applies and a slow
 * hash would only add latency to every request.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Whether `token` has the shape of a stored key, so other tokens cost no Redis round trip. */
function isApiKeyShaped(token: string): boolean {
  return API_KEY.test(token);
}

function isTenantId(id: string): boolean {
  return TENANT_ID.test(id);
}

function checkName(name: string | undefined): void {
  if (name === undefined) return;
  if (name.length === 0 || name.length > NAME_MAX || CONTROL.test(name)) {
    throw new TenantError(
      'NAME_INVALID',
      `name must be 1 to ${NAME_MAX} characters without control characters`,
    );
  }
}

/**
 * KEYS: tenants, apiKeys, apiKeyIds, apiKeySeq. ARGV: tenant, key id, key hash, name ('' for
 * none), createdAt (epoch ms). Checks the tenant and the id, numbers the key and writes both
 * indexes in one step, so a key is never half-created. Returns {1, seq}, or {0} for an unknown
 * tenant, or {-1} when the id is taken. (cjson writes numbers with 14 significant digits: epoch
 * milliseconds have 13 until the year 2286.)
 */
const CREATE_KEY = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {0} end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return {-1} end
local rec = { id = ARGV[2], tenant = ARGV[1], createdAt = tonumber(ARGV[5]), seq = redis.call('INCR', KEYS[4]) }
if ARGV[4] ~= '' then rec.name = ARGV[4] end
redis.call('HSET', KEYS[2], ARGV[3], cjson.encode(rec))
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
return {1, rec.seq}
`;

/**
 * KEYS: apiKeys, apiKeyIds. ARGV: key id. Removes both indexes at once and returns the
 * record that was stored, or nil for an unknown id (or an id whose record is gone, which the
 * create script never leaves behind; the stale id is removed all the same).
 */
const REVOKE_KEY = `
local hash = redis.call('HGET', KEYS[2], ARGV[1])
if not hash then return nil end
local rec = redis.call('HGET', KEYS[1], hash)
redis.call('HDEL', KEYS[1], hash)
redis.call('HDEL', KEYS[2], ARGV[1])
return rec
`;

const createKeyScript = new LuaScript(CREATE_KEY);
const revokeKeyScript = new LuaScript(REVOKE_KEY);

/** Tenants and their API keys in Redis, shared by the admin API and the admin CLI. */
export class TenantStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
  ) {}

  async createTenant(id: string, name?: string, now = Date.now()): Promise<Tenant> {
    if (!isTenantId(id)) {
      throw new TenantError(
        'TENANT_ID_INVALID',
        `tenant id ${JSON.stringify(id.slice(0, 80))} must match ${TENANT_ID_PATTERN} (lower-case letters, digits, dashes)`,
      );
    }
    checkName(name);
    const tenant: Tenant = { id, name, createdAt: now };
    const created = await this.redis.hsetnx(this.keys.tenants, id, JSON.stringify(tenant));
    if (created === 0) throw new TenantError('TENANT_EXISTS', `tenant ${id} already exists`);
    return tenant;
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    if (!isTenantId(id)) return undefined;
    const raw = await this.redis.hget(this.keys.tenants, id);
    return raw === null ? undefined : (JSON.parse(raw) as Tenant);
  }

  /** Every tenant, by id. There are few (one per customer), so one HGETALL is fine. */
  async listTenants(): Promise<Tenant[]> {
    const all = await this.redis.hgetall(this.keys.tenants);
    return Object.values(all)
      .map((raw) => JSON.parse(raw) as Tenant)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Creates a key for an existing tenant. The plaintext key is returned here once and kept
   * nowhere: only its SHA-256 is stored.
   */
  async createKey(
    tenant: string,
    name?: string,
    now = Date.now(),
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    checkName(name);
    if (!isTenantId(tenant)) throw notFound(tenant);
    // A taken id (a 1 in 2^64 chance per pair) is retried rather than overwritten.
    for (let attempt = 0; attempt < 3; attempt++) {
      const id = randomBytes(8).toString('hex');
      const key = `vk_${id}_${randomBytes(24).toString('hex')}`;
      const hash = hashApiKey(key);
      const [res, seq] = (await createKeyScript.run(
        this.redis,
        [this.keys.tenants, this.keys.apiKeys, this.keys.apiKeyIds, this.keys.apiKeySeq],
        [tenant, id, hash, name ?? '', String(now)],
      )) as [number, number?];
      if (res === 0) throw notFound(tenant);
      if (res === 1) return { key, record: { id, tenant, name, createdAt: now, seq } };
    }
    throw new Error(
      'could not draw an unused key id after 3 attempts; is the random source broken?',
    );
  }

  /**
   * The tenant's keys (metadata only), oldest first. Keys are indexed by hash, not by tenant,
   * so this scans every key; it serves operators, not requests, and keys number in the hundreds.
   */
  async listKeys(tenant: string): Promise<ApiKeyRecord[]> {
    if (!(await this.getTenant(tenant))) throw notFound(tenant);
    const out: ApiKeyRecord[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.apiKeys, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) {
        const rec = JSON.parse(flat[i] ?? '{}') as ApiKeyRecord;
        // HSCAN may return an entry twice while the hash is rehashed.
        if (rec.tenant === tenant && !out.some((r) => r.id === rec.id)) out.push(rec);
      }
    } while (cursor !== '0');
    return out.sort(
      (a, b) =>
        a.createdAt - b.createdAt || (a.seq ?? 0) - (b.seq ?? 0) || a.id.localeCompare(b.id),
    );
  }

  /** Deletes a key; the next request with it is refused, as nothing caches keys. */
  async revokeKey(keyId: string): Promise<ApiKeyRecord> {
    const raw = KEY_ID.test(keyId)
      ? await revokeKeyScript.run(this.redis, [this.keys.apiKeys, this.keys.apiKeyIds], [keyId])
      : null;
    if (typeof raw !== 'string') {
      throw new TenantError(
        'KEY_NOT_FOUND',
        `key ${JSON.stringify(keyId.slice(0, 80))} does not exist`,
      );
    }
    return JSON.parse(raw) as ApiKeyRecord;
  }

  /**
   * The stored key a client presented, or undefined. Looked up by hash on every request (no
   * cache), so a revocation applies to the very next request.
   */
  async lookup(key: string): Promise<ApiKeyRecord | undefined> {
    if (!isApiKeyShaped(key)) return undefined;
    const raw = await this.redis.hget(this.keys.apiKeys, hashApiKey(key));
    return raw === null ? undefined : (JSON.parse(raw) as ApiKeyRecord);
  }
}

function notFound(tenant: string): TenantError {
  return new TenantError(
    'TENANT_NOT_FOUND',
    `tenant ${JSON.stringify(tenant.slice(0, 80))} does not exist; create it first`,
  );
}
