/**
 * Per-client rate limit of the bounce SMTP server: a token bucket per client network, kept in
 * this process (each replica limits on its own; a refused MTA retries later, so an
 * approximate limit loses nothing).
 */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Clients remembered at once. A client not seen for longest is forgotten first, which only
 * gives it a full bucket again: enough to bound memory when a flood comes from many addresses.
 */
const MAX_CLIENTS = 10_000;

/**
 * The network a client address stands for: an IPv4 address as it is (an IPv4-mapped IPv6 one
 * too), an IPv6 address by its /64, since one host commonly holds a whole /64.
 */
export function clientNetwork(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(ip) || !isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export class ClientRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  /**
   * @param perMinute connections and messages one client network may open and send per
   *   minute, with a burst of as many; 0 turns the limit off.
   */
  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one token of the client's bucket; false when it has none left. */
  take(ip: string): boolean {
    if (this.perMinute === 0) return true;
    const key = clientNetwork(ip);
    const t = this.now();
    const known = this.buckets.get(key);
    const bucket = known
      ? {
          tokens: Math.min(this.perMinute, known.tokens + (t - known.at) * this.perMs),
          at: t,
        }
      : { tokens: this.perMinute, at: t };
    // Deleted and set again, so the Map's order is the order clients were last seen in.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > MAX_CLIENTS) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Client networks remembered now (for tests of the memory bound). */
  get size(): number {
    return this.buckets.size;
  }
}
