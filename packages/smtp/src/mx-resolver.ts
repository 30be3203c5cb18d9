import { Resolver } from 'node:dns/promises';
import { classifyReply, type Classification } from './classify.ts';

/** One mail exchanger of a domain, with the addresses to connect to. */
export interface MxHost {
  /** Host name from the MX record, or the domain itself for an implicit MX. */
  readonly name: string;
  readonly preference: number;
  /** IPv4 addresses first, then IPv6 (in the order of `families`). */
  readonly addresses: readonly string[];
}

/** Why a domain cannot be delivered to right now, or at all, before any connection. */
export interface MxFailure extends Classification {
  /**
   * Stable code: `ENULLMX` (RFC 7505), `ENOTFOUND` (NXDOMAIN), `ENOADDRESS` (no host with an
   * address), or the DNS error code of a temporary failure (`ETIMEOUT`, `ESERVFAIL`, ...).
   */
  errorCode: string;
}

export type MxLookup =
  | {
      readonly ok: true;
      readonly domain: string;
      /** Sorted by preference, lowest first; hosts of equal preference in random order. */
      readonly hosts: readonly MxHost[];
      /** True when the domain has no MX records and its own A/AAAA stand in (RFC 5321 5.1). */
      readonly implicit: boolean;
    }
  | { readonly ok: false; readonly domain: string; readonly failure: MxFailure };

export interface MxResolverOptions {
  /** DNS servers, `'127.0.0.1:5353'` style. @defaultValue the system's resolvers */
  servers?: string[];
  /** Time for one query attempt. @defaultValue 5000 ms */
  timeoutMs?: number;
  /** Attempts per query and server before a lookup is a temporary failure. @defaultValue 2 */
  tries?: number;
  /**
   * How long MX answers are kept. Node's `resolveMx` does not report the record's TTL, so this
   * stands in for it; most MX records carry TTLs of an hour or more, so 5 minutes is
   * conservative. @defaultValue 300 000 ms
   */
  mxTtlMs?: number;
  /**
   * Floor for address TTLs: a TTL of 0 would otherwise cost one query per message at campaign
   * volume. @defaultValue 10 000 ms
   */
  minTtlMs?: number;
  /** Ceiling for every cached answer, whatever its TTL. @defaultValue 3 600 000 ms */
  maxTtlMs?: number;
  /** How long NXDOMAIN and "no address" answers are kept. @defaultValue 60 000 ms */
  negativeTtlMs?: number;
  /**
   * How long a timeout or SERVFAIL is kept, so a domain whose DNS is down costs one timeout per
   * this period instead of one per queued message. @defaultValue 5 000 ms
   */
  tempFailTtlMs?: number;
  /** Address families to look up and connect over, in order of preference. @defaultValue [4, 6] */
  families?: readonly (4 | 6)[];
  /** Cached names (MX and addresses each) before the oldest are dropped. @defaultValue 50 000 */
  maxEntries?: number;
  /** Clock, for tests of expiry. @defaultValue Date.now */
  now?: () => number;
}

/** Node DNS error codes that say the name does not exist (as opposed to "could not ask"). */
const NAME_MISSING = new Set(['ENOTFOUND', 'EBADNAME']);
/** No record of the asked type for a name that exists. */
const NO_DATA = 'ENODATA';

type MxAnswer =
  | { kind: 'mx'; records: { exchange: string; priority: number }[] }
  | { kind: 'null' }
  | { kind: 'nodata' }
  | { kind: 'nxdomain' }
  | { kind: 'temp'; code: string; message: string };

interface AddressAnswer {
  addresses: string[];
  /** Set when at least one family's query failed temporarily. */
  temp?: { code: string; message: string } | undefined;
  nxdomain: boolean;
}

interface Entry<T> {
  /** Infinity while the lookup runs: concurrent callers share its promise. */
  expiresAt: number;
  promise: Promise<T>;
}

function dnsError(e: unknown): { code: string; message: string } {
  const err = e as { code?: unknown; message?: unknown };
  return {
    code: typeof err.code === 'string' ? err.code : 'EDNS',
    message: typeof err.message === 'string' ? err.message : String(e),
  };
}

function isNullExchange(exchange: string): boolean {
  return exchange === '' || exchange === '.';
}

function shuffleTies<T extends { preference: number }>(sorted: readonly T[]): T[] {
  // RFC 5321 5.1: spread load across MX hosts of equal preference.
  const out = [...sorted];
  let start = 0;
  while (start < out.length) {
    let end = start + 1;
    while (end < out.length && out[end]?.preference === out[start]?.preference) end++;
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(Math.random() * (i - start + 1));
      const a = out[i];
      const b = out[j];
      if (a !== undefined && b !== undefined) {
        out[i] = b;
        out[j] = a;
      }
    }
    start = end;
  }
  return out;
}

function bounce(errorCode: string, reason: string, enhanced: string, text: string): MxFailure {
  return { disposition: 'bounced', reason, enhanced, text: `${enhanced} ${text}`, errorCode };
}

/**
 * Finds where mail for a domain goes: MX hosts in preference order with their addresses, or a
 * classified reason why there is nowhere to go. Answers are cached per name honoring their
 * TTL, failures shorter; a DNS outage defers, it never bounces.
 */
export class MxResolver {
  private readonly dns: Resolver;
  private readonly mxTtlMs: number;
  private readonly minTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly tempFailTtlMs: number;
  private readonly families: readonly (4 | 6)[];
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly mxCache = new Map<string, Entry<MxAnswer>>();
  private readonly addressCache = new Map<string, Entry<AddressAnswer>>();
  private readonly inflight = new Map<string, Promise<MxLookup>>();

  constructor(opts: MxResolverOptions = {}) {
    this.dns = new Resolver({ timeout: opts.timeoutMs ?? 5000, tries: opts.tries ?? 2 });
    if (opts.servers) this.dns.setServers(opts.servers);
    this.mxTtlMs = opts.mxTtlMs ?? 300_000;
    this.minTtlMs = opts.minTtlMs ?? 10_000;
    this.maxTtlMs = opts.maxTtlMs ?? 3_600_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 60_000;
    this.tempFailTtlMs = opts.tempFailTtlMs ?? 5_000;
    this.families = opts.families ?? [4, 6];
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.now = opts.now ?? Date.now;
    if (this.families.length === 0) {
      throw new Error('MxResolver: families must name at least one address family (4 or 6)');
    }
  }

  /** Where mail for `domain` goes. Never throws for DNS failures: it classifies them. */
  resolve(domain: string): Promise<MxLookup> {
    const name = domain.trim().toLowerCase().replace(/\.$/, '');
    const running = this.inflight.get(name);
    if (running) return running;
    const p = this.lookup(name).finally(() => this.inflight.delete(name));
    this.inflight.set(name, p);
    return p;
  }

  /** Drops every cached answer (for operators after a DNS fix, and for tests). */
  clear(): void {
    this.mxCache.clear();
    this.addressCache.clear();
  }

  private async lookup(domain: string): Promise<MxLookup> {
    const fail = (failure: MxFailure): MxLookup => ({ ok: false, domain, failure });
    const mx = await this.mxAnswer(domain);
    switch (mx.kind) {
      case 'temp':
        return fail(this.temporary(`MX lookup for ${domain} failed`, mx));
      case 'nxdomain':
        return fail(
          bounce('ENOTFOUND', 'hostunknown', '5.1.2', `domain ${domain} does not exist (NXDOMAIN)`),
        );
      case 'null':
        return fail(
          bounce(
            'ENULLMX',
            'notaccept',
            '5.1.10',
            `${domain} does not accept mail: it publishes a null MX (RFC 7505)`,
          ),
        );
      case 'nodata': {
        // No MX records: the domain's own address is the implicit MX (RFC 5321 5.1).
        const own = await this.addressAnswer(domain);
        if (own.addresses.length > 0) {
          return {
            ok: true,
            domain,
            implicit: true,
            hosts: [{ name: domain, preference: 0, addresses: own.addresses }],
          };
        }
        if (own.temp) return fail(this.temporary(`address lookup for ${domain} failed`, own.temp));
        return fail(
          bounce(
            own.nxdomain ? 'ENOTFOUND' : 'ENOADDRESS',
            'hostunknown',
            '5.1.2',
            `${domain} has no MX and no address records`,
          ),
        );
      }
      case 'mx': {
        const sorted = [...mx.records].sort((a, b) => a.priority - b.priority);
        const answers = await Promise.all(sorted.map((r) => this.addressAnswer(r.exchange)));
        const hosts: MxHost[] = [];
        let temp: { code: string; message: string } | undefined;
        sorted.forEach((r, i) => {
          const a = answers[i];
          if (!a) return;
          temp ??= a.temp;
          if (a.addresses.length > 0) {
            hosts.push({ name: r.exchange, preference: r.priority, addresses: a.addresses });
          }
        });
        if (hosts.length > 0)
          return { ok: true, domain, implicit: false, hosts: shuffleTies(hosts) };
        if (temp)
          return fail(this.temporary(`address lookup of the MX hosts of ${domain} failed`, temp));
        return fail(
          bounce(
            'ENOADDRESS',
            'hostunknown',
            '5.4.4',
            `no MX host of ${domain} (${sorted.map((r) => r.exchange).join(', ')}) has an address`,
          ),
        );
      }
    }
  }

  private temporary(what: string, err: { code: string; message: string }): MxFailure {
    // 4.4.3: directory server failure (RFC 3463). No reply code, so classify defers it.
    return {
      ...classifyReply({
        text: `4.4.3 ${what}: ${err.code} (${err.message})`,
        errorCode: err.code,
      }),
      errorCode: err.code,
    };
  }

  private mxAnswer(domain: string): Promise<MxAnswer> {
    return this.cached(this.mxCache, domain, async () => {
      try {
        const records = await this.dns.resolveMx(domain);
        const real = records.filter((r) => !isNullExchange(r.exchange));
        // A null MX must be the only MX record (RFC 7505 3); beside others it is ignored.
        if (real.length === 0 && records.length > 0) return [{ kind: 'null' }, this.mxTtlMs];
        if (real.length === 0) return [{ kind: 'nodata' }, this.negativeTtlMs];
        return [{ kind: 'mx', records: real }, this.mxTtlMs];
      } catch (e) {
        const err = dnsError(e);
        if (err.code === NO_DATA) return [{ kind: 'nodata' }, this.negativeTtlMs];
        if (NAME_MISSING.has(err.code)) return [{ kind: 'nxdomain' }, this.negativeTtlMs];
        return [{ kind: 'temp', ...err }, this.tempFailTtlMs];
      }
    });
  }

  private addressAnswer(host: string): Promise<AddressAnswer> {
    return this.cached(this.addressCache, host.toLowerCase(), async () => {
      const results = await Promise.allSettled(
        this.families.map((f) =>
          f === 4 ? this.dns.resolve4(host, { ttl: true }) : this.dns.resolve6(host, { ttl: true }),
        ),
      );
      const addresses: string[] = [];
      let ttl = Infinity;
      let temp: { code: string; message: string } | undefined;
      let missing = 0;
      for (const r of results) {
        if (r.status === 'fulfilled') {
          for (const rec of r.value) {
            addresses.push(rec.address);
            ttl = Math.min(ttl, rec.ttl * 1000);
          }
          continue;
        }
        const err = dnsError(r.reason);
        if (NAME_MISSING.has(err.code)) missing++;
        else if (err.code !== NO_DATA) temp ??= err;
      }
      const answer: AddressAnswer = { addresses, temp, nxdomain: missing === results.length };
      // A family that failed temporarily is asked again soon, even beside a good answer.
      if (temp) return [answer, this.tempFailTtlMs];
      if (addresses.length === 0) return [answer, this.negativeTtlMs];
      return [answer, Math.max(this.minTtlMs, ttl)];
    });
  }

  /** Returns the cached answer for `key`, or loads it once however many callers ask meanwhile. */
  private cached<T>(
    cache: Map<string, Entry<T>>,
    key: string,
    load: () => Promise<[T, number]>,
  ): Promise<T> {
    const now = this.now();
    const hit = cache.get(key);
    if (hit && hit.expiresAt > now) return hit.promise;
    cache.delete(key);
    const entry: Entry<T> = {
      expiresAt: Infinity,
      promise: load().then(
        ([value, ttlMs]) => {
          entry.expiresAt = this.now() + Math.min(ttlMs, this.maxTtlMs);
          return value;
        },
        (e: unknown) => {
          // Loaders classify DNS errors themselves; anything else must not stay cached.
          if (cache.get(key) === entry) cache.delete(key);
          throw e;
        },
      ),
    };
    cache.set(key, entry);
    // Maps iterate in insertion order, so the first keys are the oldest.
    for (const oldest of cache.keys()) {
      if (cache.size <= this.maxEntries) break;
      cache.delete(oldest);
    }
    return entry.promise;
  }
}
