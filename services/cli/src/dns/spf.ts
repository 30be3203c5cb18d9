/**
 * SPF (RFC 7208): the record parsed, and check_host() evaluated for one address as a receiver
 * does it, counting the DNS-querying terms (include, a, mx, ptr, exists, redirect) across
 * includes against the limit of 10 (4.6.4) and the void lookups (answers with no records)
 * against the limit of 2 that the RFC recommends and large receivers apply.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { LookupError, nibbles, type Dns } from './resolver.ts';

export type SpfResult =
  'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

type Qualifier = '+' | '-' | '~' | '?';
const QUALIFIED: Record<Qualifier, SpfResult> = {
  '+': 'pass',
  '-': 'fail',
  '~': 'softfail',
  '?': 'neutral',
};

/** RFC 7208 4.6.4: more DNS-querying terms than this is a permerror. */
export const LOOKUP_LIMIT = 10;
/** RFC 7208 4.6.4: "SHOULD" be limited to two; more is a permerror at receivers that do. */
export const VOID_LIMIT = 2;
/**
 * When the limits are not enforced (to count every term a record has), a bound all the same:
 * an include loop would otherwise never end.
 */
const WALK_CAP = 100;
/** RFC 7208 4.6.4: an mx term with more names than this is a permerror; so is a ptr's tail. */
const MX_LIMIT = 10;

export interface Mechanism {
  qualifier: Qualifier;
  name: 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';
  /** The domain-spec or address after the colon. */
  value: string | undefined;
  cidr4: number | undefined;
  cidr6: number | undefined;
  /** As written, for messages. */
  raw: string;
}

export interface SpfRecord {
  mechanisms: Mechanism[];
  redirect: string | undefined;
}

export class SpfSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpfSyntaxError';
  }
}

const MECHANISMS = new Set<Mechanism['name']>([
  'all',
  'include',
  'a',
  'mx',
  'ptr',
  'ip4',
  'ip6',
  'exists',
]);
const TERM = /^([+\-~?]?)([a-z0-9]+)(?::([^/]+))?(?:\/(\d+))?(?:\/\/(\d+))?$/i;
const IP6_TERM = /^([+\-~?]?)(ip6):([0-9a-f:.]+)(?:\/(\d+))?$/i;
const MODIFIER = /^([a-z][a-z0-9_.-]*)=(.*)$/i;

/** Whether a TXT record is an SPF record: `v=spf1` then a space or the end (RFC 7208 4.5). */
function isSpf(txt: string): boolean {
  return /^v=spf1( |$)/i.test(txt);
}

export function parseSpf(txt: string): SpfRecord {
  const out: SpfRecord = { mechanisms: [], redirect: undefined };
  let exp = false;
  for (const raw of txt.split(' ').slice(1).filter(Boolean)) {
    const mod = MODIFIER.exec(raw);
    if (mod && !MECHANISMS.has((mod[1] ?? '').toLowerCase() as Mechanism['name'])) {
      const name = (mod[1] ?? '').toLowerCase();
      if (name === 'redirect' || name === 'exp') {
        if (name === 'redirect' ? out.redirect !== undefined : exp) {
          throw new SpfSyntaxError(`${name}= appears twice`);
        }
        if (!mod[2]) throw new SpfSyntaxError(`${name}= has no domain`);
        if (name === 'redirect') out.redirect = mod[2];
        else exp = true;
      }
      // Unknown modifiers are ignored (RFC 7208 6).
      continue;
    }
    const ip6Term = IP6_TERM.exec(raw);
    const m = ip6Term ?? TERM.exec(raw);
    const name = (m?.[2] ?? '').toLowerCase() as Mechanism['name'];
    if (!m || !MECHANISMS.has(name)) throw new SpfSyntaxError(`unknown term "${raw}"`);
    const ip6 = ip6Term !== null;
    const mech: Mechanism = {
      qualifier: (m[1] || '+') as Qualifier,
      name,
      value: m[3],
      cidr4: ip6 ? undefined : m[4] === undefined ? undefined : Number(m[4]),
      cidr6: ip6
        ? m[4] === undefined
          ? undefined
          : Number(m[4])
        : m[5] === undefined
          ? undefined
          : Number(m[5]),
      raw,
    };
    validate(mech);
    out.mechanisms.push(mech);
  }
  return out;
}

function validate(m: Mechanism): void {
  if ((m.cidr4 ?? 0) > 32 || (m.cidr6 ?? 0) > 128) {
    throw new SpfSyntaxError(`"${m.raw}": prefix length out of range`);
  }
  const needsValue = ['include', 'exists', 'ip4', 'ip6'].includes(m.name);
  if (needsValue && !m.value) throw new SpfSyntaxError(`"${m.raw}" needs a value after the colon`);
  if (m.name === 'all' && (m.value !== undefined || m.cidr4 !== undefined)) {
    throw new SpfSyntaxError(`"${m.raw}": all takes no argument`);
  }
  if (m.name === 'ip4' && !isIPv4(m.value ?? '')) {
    throw new SpfSyntaxError(`"${m.raw}": not an IPv4 address`);
  }
  if (m.name === 'ip6' && !isIPv6(m.value ?? '')) {
    throw new SpfSyntaxError(`"${m.raw}": not an IPv6 address`);
  }
}

interface Context {
  dns: Dns;
  ip: string;
  /** The envelope sender: `postmaster@` the checked domain (RFC 7208 2.4, no MAIL FROM here). */
  sender: string;
  lookups: number;
  voids: number;
  /**
   * Stop at the limits as a receiver does. Off, every term is walked and counted, and no
   * address term matches (as for an address no record lists) except `all`.
   */
  enforce: boolean;
  /** The ranges that pass (qualifier +), in the order met, to flatten a record over the limit. */
  ranges: string[];
}

/** Macro expansion of a domain-spec (RFC 7208 7). */
function expand(spec: string, ctx: { ip: string; sender: string }, domain: string): string {
  const at = ctx.sender.lastIndexOf('@');
  const letters: Record<string, string> = {
    s: ctx.sender,
    l: ctx.sender.slice(0, at),
    o: ctx.sender.slice(at + 1),
    d: domain,
    i: isIPv4(ctx.ip) ? ctx.ip : nibbles(ctx.ip).join('.'),
    // The validated name of the client would need its PTR; "unknown" is what the RFC allows.
    p: 'unknown',
    v: isIPv4(ctx.ip) ? 'in-addr' : 'ip6',
    h: domain,
  };
  return spec.replace(/%(?:\{([a-z])(\d*)(r?)([.\-+,/_=]*)\}|(%)|(_)|(-))/gi, (...m: string[]) => {
    if (m[5]) return '%';
    if (m[6]) return ' ';
    if (m[7]) return '%20';
    const value = letters[(m[1] ?? '').toLowerCase()];
    if (value === undefined) throw new SpfSyntaxError(`unknown macro %{${m[1] ?? ''}}`);
    const delims = m[4] || '.';
    let parts = value.split(new RegExp(`[${delims.replace(/[-\]\\]/g, '\\$&')}]`));
    if (m[3]) parts = parts.reverse();
    if (m[2]) parts = parts.slice(-Number(m[2]));
    return parts.join('.');
  });
}

function inRange(ip: string, network: string, prefix: number | undefined): boolean {
  const v4 = isIPv4(ip);
  if (v4 !== isIPv4(network)) return false;
  const list = new BlockList();
  list.addSubnet(network, prefix ?? (v4 ? 32 : 128), v4 ? 'ipv4' : 'ipv6');
  return list.check(ip, v4 ? 'ipv4' : 'ipv6');
}

class Limit extends Error {}

function count(ctx: Context, what: string): void {
  ctx.lookups++;
  if (ctx.enforce && ctx.lookups > LOOKUP_LIMIT) {
    throw new Limit(`more than ${LOOKUP_LIMIT} DNS lookups (at ${what})`);
  }
  if (ctx.lookups > WALK_CAP)
    throw new Limit(`more than ${WALK_CAP} DNS lookups: an include loop?`);
}

function empty<T>(ctx: Context, records: T[]): T[] {
  if (records.length === 0) {
    ctx.voids++;
    if (ctx.enforce && ctx.voids > VOID_LIMIT) {
      throw new Limit(`more than ${VOID_LIMIT} void lookups`);
    }
  }
  return records;
}

async function addressesOf(ctx: Context, name: string): Promise<string[]> {
  return empty(ctx, isIPv4(ctx.ip) ? await ctx.dns.a(name) : await ctx.dns.aaaa(name));
}

function anyInRange(ctx: Context, m: Mechanism, addrs: string[]): boolean {
  const prefix = isIPv4(ctx.ip) ? m.cidr4 : m.cidr6;
  if (m.qualifier === '+') {
    ctx.ranges.push(
      ...addrs.map(
        (a) => `${isIPv4(a) ? 'ip4' : 'ip6'}:${a}${prefix === undefined ? '' : `/${prefix}`}`,
      ),
    );
  }
  return ctx.enforce && addrs.some((a) => inRange(ctx.ip, a, prefix));
}

async function matches(ctx: Context, m: Mechanism, domain: string): Promise<boolean | SpfResult> {
  const target = m.value === undefined ? domain : expand(m.value, ctx, domain);
  switch (m.name) {
    case 'all':
      return true;
    case 'ip4':
    case 'ip6': {
      const prefix = m.name === 'ip4' ? m.cidr4 : m.cidr6;
      if (m.qualifier === '+') ctx.ranges.push(m.raw.replace(/^\+/, ''));
      return ctx.enforce && inRange(ctx.ip, m.value ?? '', prefix);
    }
    case 'a':
      count(ctx, m.raw);
      return anyInRange(ctx, m, await addressesOf(ctx, target));
    case 'mx': {
      count(ctx, m.raw);
      const mxs = empty(ctx, await ctx.dns.mx(target));
      if (mxs.length > MX_LIMIT) throw new Limit(`${m.raw}: more than ${MX_LIMIT} MX names`);
      for (const mx of mxs)
        if (anyInRange(ctx, m, await addressesOf(ctx, mx.exchange))) return true;
      return false;
    }
    case 'ptr': {
      count(ctx, m.raw);
      const names = (await ctx.dns.ptr(ctx.ip)).slice(0, MX_LIMIT);
      for (const name of names) {
        if (name !== target && !name.endsWith(`.${target}`)) continue;
        if ((await ctx.dns.addresses(name)).includes(ctx.ip)) return ctx.enforce;
      }
      return false;
    }
    case 'exists':
      count(ctx, m.raw);
      return empty(ctx, await ctx.dns.a(target)).length > 0 && ctx.enforce;
    case 'include': {
      count(ctx, m.raw);
      const r = await checkHost(ctx, target);
      if (r === 'pass') return true;
      if (r === 'temperror') return 'temperror';
      // RFC 7208 5.2: an include of a domain without SPF (none) is a permerror.
      if (r === 'none') throw new SpfSyntaxError(`${m.raw}: ${target} has no SPF record`);
      return false;
    }
  }
}

/** The SPF records of a domain (the TXT records that start with v=spf1). */
export async function spfRecords(dns: Dns, domain: string): Promise<string[]> {
  return (await dns.txt(domain)).filter(isSpf);
}

async function checkHost(ctx: Context, domain: string): Promise<SpfResult> {
  const records = await spfRecords(ctx.dns, domain);
  if (records.length === 0) {
    empty(ctx, records);
    return 'none';
  }
  if (records.length > 1) {
    throw new SpfSyntaxError(`${domain} has ${records.length} SPF records (one is allowed)`);
  }
  const rec = parseSpf(records[0] ?? '');
  for (const m of rec.mechanisms) {
    const hit = await matches(ctx, m, domain);
    if (hit === true) return QUALIFIED[m.qualifier];
    if (hit !== false) return hit;
  }
  if (rec.redirect !== undefined) {
    count(ctx, `redirect=${rec.redirect}`);
    const target = expand(rec.redirect, ctx, domain);
    const r = await checkHost(ctx, target);
    if (r === 'none') throw new SpfSyntaxError(`redirect=${target}: ${target} has no SPF record`);
    return r;
  }
  return 'neutral';
}

export interface Evaluation {
  result: SpfResult;
  lookups: number;
  voids: number;
  /** Why a permerror or temperror. */
  reason?: string;
  /** The pass ranges met on the way (for an address the record does not list: all of them). */
  ranges: string[];
}

/** check_host() for `ip`, with the envelope sender `postmaster@domain`. */
export async function evaluateSpf(
  dns: Dns,
  domain: string,
  ip: string,
  enforce = true,
): Promise<Evaluation> {
  const ctx: Context = {
    dns,
    ip,
    sender: `postmaster@${domain}`,
    lookups: 0,
    voids: 0,
    enforce,
    ranges: [],
  };
  const done = (result: SpfResult, reason?: string): Evaluation => ({
    result,
    lookups: ctx.lookups,
    voids: ctx.voids,
    ranges: [...new Set(ctx.ranges)],
    ...(reason === undefined ? {} : { reason }),
  });
  try {
    return done(await checkHost(ctx, domain));
  } catch (err) {
    if (err instanceof Limit || err instanceof SpfSyntaxError)
      return done('permerror', err.message);
    if (err instanceof LookupError) return done('temperror', err.message);
    throw err;
  }
}

/**
 * An address no record lists (TEST-NET-1, RFC 5737): evaluating it walks every term a receiver
 * walks for a stranger, which is the count that decides the lookup limit.
 */
const STRANGER = '192.0.2.1';

/** Every term a receiver walks for an address the record does not list, counted past the limits. */
export function walkSpf(dns: Dns, domain: string): Promise<Evaluation> {
  return evaluateSpf(dns, domain, STRANGER, false);
}
