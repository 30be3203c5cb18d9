/**
 * DNS lookups of the checks, through node:dns/promises (c-ares: real UDP, and TCP when an answer
 * is truncated), against the system's servers or the ones given (VOLLEY_DNS_SERVERS, the setting
 * the senders use for MX lookups, or --dns-server). A name that does not exist and a name without
 * records of the type are both an empty answer, counted as a void lookup (RFC 7208 4.6.4); any
 * other failure (timeout, SERVFAIL, refused) is a LookupError, which a check reports as a failure
 * to look, never as a missing record.
 */
import { Resolver } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { CliError, UsageError } from '../output.ts';

/** Codes of node:dns that mean "no such record", as opposed to "could not ask". */
const EMPTY = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * Per try; two tries. A lookup of a healthy authoritative server answers in well under a second;
 * three seconds leaves room for a slow one without making a dead one take long.
 */
const TIMEOUT_MS = 3000;
const TRIES = 2;

export class LookupError extends CliError {
  constructor(
    readonly queried: string,
    readonly rrtype: string,
    readonly dnsCode: string,
  ) {
    super(`${rrtype} lookup of ${queried} failed (${dnsCode})`, 'DNS_LOOKUP');
    this.name = 'LookupError';
  }
}

export interface Mx {
  exchange: string;
  priority: number;
}

/** Lower case, without the trailing dot. */
export function normalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** The 32 hex digits of an IPv6 address. */
export function nibbles(ip: string): string[] {
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => g.padStart(4, '0').split(''));
}

/** The in-addr.arpa or ip6.arpa name of an address, where its PTR record lives. */
export function reverseName(ip: string): string {
  return isIPv4(ip)
    ? `${ip.split('.').reverse().join('.')}.in-addr.arpa`
    : `${nibbles(ip).reverse().join('.')}.ip6.arpa`;
}

export class Dns {
  private readonly resolver = new Resolver({ timeout: TIMEOUT_MS, tries: TRIES });

  /** `servers`: `ip` or `ip:port` (`[ipv6]:port`); empty, the system's resolvers. */
  constructor(servers: readonly string[]) {
    if (servers.length === 0) return;
    try {
      this.resolver.setServers([...servers]);
    } catch {
      throw new UsageError(
        `DNS server ${servers.map((s) => JSON.stringify(s)).join(', ')} is not an IP address with an optional port (such as 127.0.0.1:5353 or [::1]:53)`,
      );
    }
  }

  private async ask<T>(name: string, rrtype: string, call: () => Promise<T[]>): Promise<T[]> {
    try {
      return await call();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && EMPTY.has(code)) return [];
      throw new LookupError(name, rrtype, typeof code === 'string' ? code : String(err));
    }
  }

  /** Each TXT record with its character strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2). */
  txt(name: string): Promise<string[]> {
    return this.ask(name, 'TXT', async () =>
      (await this.resolver.resolveTxt(name)).map((parts) => parts.join('')),
    );
  }

  mx(name: string): Promise<Mx[]> {
    return this.ask(name, 'MX', async () =>
      (await this.resolver.resolveMx(name)).map((m) => ({
        exchange: normalName(m.exchange),
        priority: m.priority,
      })),
    );
  }

  a(name: string): Promise<string[]> {
    return this.ask(name, 'A', () => this.resolver.resolve4(name));
  }

  aaaa(name: string): Promise<string[]> {
    return this.ask(name, 'AAAA', () => this.resolver.resolve6(name));
  }

  /** A and AAAA of a name. */
  async addresses(name: string): Promise<string[]> {
    const [v4, v6] = await Promise.all([this.a(name), this.aaaa(name)]);
    return [...v4, ...v6];
  }

  /**
   * The PTR names of an address, asked at its in-addr.arpa or ip6.arpa name: not with
   * reverse(), which answers ENOTFOUND for a timeout or a server failure as well.
   */
  async ptr(ip: string): Promise<string[]> {
    const name = reverseName(ip);
    return (await this.ask(name, 'PTR', () => this.resolver.resolvePtr(name))).map(normalName);
  }
}
