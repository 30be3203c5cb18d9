import { isIP } from 'node:net';
import { classifyReply } from './classify.ts';
import { SmtpConnectionError, SmtpReplyError } from './errors.ts';
import { MxResolver } from './mx-resolver.ts';
import { SmtpPool, failureReply, isNoSlot } from './pool.ts';
import {
  CAPPED_IDLE_MS,
  CAPPED_SLOT_WAIT_MS,
  answeredBy,
  type OutgoingMessage,
  type PoolConnectionCount,
  type Route,
  type SendResult,
  type Transport,
} from './transport.ts';

export interface MxPoolOptions {
  /** Where MX answers come from (and are cached). @defaultValue a new MxResolver on the system's DNS */
  resolver?: MxResolver | undefined;
  /** Port of every MX host: 25 on the Internet, another one in tests. @defaultValue 25 */
  port?: number | undefined;
  /** Connections per destination address held by this process. @defaultValue 5 */
  poolSize?: number | undefined;
  /** EHLO name; receivers check it against the sending IP's PTR. @defaultValue the OS hostname */
  heloName?: string | undefined;
  /**
   * A destination with no message for this long has its connections and pool closed, so a
   * campaign to thousands of domains does not keep thousands of idle sockets. Receivers drop
   * idle sessions themselves after a minute or more. @defaultValue 60 000 ms
   */
  idleMs?: number | undefined;
  /** First pause for an address that failed to connect, doubling per outage. @defaultValue 5 000 ms */
  downBaseMs?: number | undefined;
  /** Longest such pause. @defaultValue 300 000 ms (Postfix's minimal backoff for a dead host) */
  downMaxMs?: number | undefined;
  /**
   * Addresses tried per message before it is deferred: each costs up to a connection timeout.
   * @defaultValue 5 (Postfix's smtp_mx_address_limit)
   */
  maxAddresses?: number | undefined;
  /** How long an address whose TLS handshake failed gets plaintext sessions. @defaultValue 3 600 000 ms */
  plaintextMs?: number | undefined;
  /** @defaultValue 30 000 ms */
  connectionTimeoutMs?: number | undefined;
  /** @defaultValue 30 000 ms */
  greetingTimeoutMs?: number | undefined;
  /** Silence tolerated mid-session. @defaultValue 120 000 ms */
  socketTimeoutMs?: number | undefined;
}

interface Destination {
  readonly address: string;
  /** Connections by route key ('' for messages without a route): a capped route has its own. */
  pools: Map<string, SmtpPool>;
  poolPlain: boolean;
  inFlight: number;
  lastUsed: number;
  failures: number;
  downUntil: number;
  plainUntil: number;
}

interface Outcome {
  /** True when a server answered about this message: no other MX host is tried. */
  final: boolean;
  result: SendResult;
}

/**
 * Stages where a reply refuses the session, not the message: a 421 or 554 greeting, a failed
 * EHLO. Like Postfix (smtp_skip_5xx_greeting), the next MX host is tried.
 */
const SESSION_STAGES = new Set(['greeting', 'ehlo', 'starttls', 'auth']);

/**
 * Direct delivery to the recipient domain's MX hosts: in preference order, each host's
 * addresses in turn, moving on only when a host cannot be reached or refuses the session.
 * Connections are pooled per destination address, STARTTLS is used whenever offered (without
 * certificate checks, which opportunistic TLS cannot make), and an address that failed to
 * connect is left out for a growing while so queued mail does not hammer it.
 */
export class MxPool implements Transport {
  private readonly resolver: MxResolver;
  private readonly port: number;
  private readonly poolSize: number;
  private readonly heloName: string | undefined;
  private readonly idleMs: number;
  private readonly downBaseMs: number;
  private readonly downMaxMs: number;
  private readonly maxAddresses: number;
  private readonly plaintextMs: number;
  private readonly timeouts: { connection: number; greeting: number; socket: number };
  private readonly dests = new Map<string, Destination>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(opts: MxPoolOptions = {}) {
    this.resolver = opts.resolver ?? new MxResolver();
    this.port = opts.port ?? 25;
    this.poolSize = opts.poolSize ?? 5;
    this.heloName = opts.heloName;
    this.idleMs = opts.idleMs ?? 60_000;
    this.downBaseMs = opts.downBaseMs ?? 5_000;
    this.downMaxMs = opts.downMaxMs ?? 300_000;
    this.maxAddresses = opts.maxAddresses ?? 5;
    this.plaintextMs = opts.plaintextMs ?? 3_600_000;
    this.timeouts = {
      connection: opts.connectionTimeoutMs ?? 30_000,
      greeting: opts.greetingTimeoutMs ?? 30_000,
      socket: opts.socketTimeoutMs ?? 120_000,
    };
    if (this.poolSize < 1 || this.maxAddresses < 1) {
      throw new Error(
        `MxPool: poolSize (${this.poolSize}) and maxAddresses (${this.maxAddresses}) must be at least 1`,
      );
    }
    // Checking twice per idle period bounds how long an idle pool outlives idleMs; the timer
    // is unref'd so it never keeps a draining process alive.
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(this.idleMs, 60_000) / 2));
    this.sweeper.unref();
  }

  *connections(): Iterable<PoolConnectionCount> {
    for (const d of this.dests.values()) {
      for (const [route, pool] of d.pools) {
        const st = pool.stats();
        yield { route: route === '' ? undefined : route, open: st.open, busy: st.busy };
      }
    }
  }

  /** Sends one message; never throws for a DNS, SMTP or network failure, it classifies it. */
  async send(msg: OutgoingMessage, domain: string, route?: Route): Promise<SendResult> {
    if (this.closed) {
      return {
        ...classifyReply({ text: 'MX pool is closed', errorCode: 'ECLOSED' }),
        relay: 'none',
      };
    }
    const lookup = await this.resolver.resolve(domain);
    if (!lookup.ok) {
      const { errorCode: _code, ...classification } = lookup.failure;
      return { ...classification, relay: 'none' };
    }

    const now = Date.now();
    const candidates: { host: string; address: string }[] = [];
    let firstResting: Destination | undefined;
    for (const host of lookup.hosts) {
      for (const address of host.addresses) {
        const d = this.dests.get(this.keyOf(address));
        if (d && d.downUntil > now) {
          if (!firstResting || d.downUntil < firstResting.downUntil) firstResting = d;
          continue;
        }
        candidates.push({ host: host.name, address });
      }
    }
    if (candidates.length === 0) {
      const wait = Math.ceil(((firstResting?.downUntil ?? now) - now) / 1000);
      return {
        ...classifyReply({
          text: `4.4.1 every MX address of ${lookup.domain} is resting after failed connections; next try in ${wait} s`,
          errorCode: 'EMXRESTING',
        }),
        relay: lookup.hosts[0]?.name ?? 'none',
      };
    }

    let last: SendResult | undefined;
    for (const c of candidates.slice(0, this.maxAddresses)) {
      if (this.closed) break;
      const outcome = await this.attempt(this.destination(c.address), c.host, msg, route, 1);
      if (outcome.final) return outcome.result;
      last = outcome.result;
    }
    return (
      last ?? {
        ...classifyReply({ text: 'MX pool is closed', errorCode: 'ECLOSED' }),
        relay: 'none',
      }
    );
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const d of this.dests.values()) this.retire(d);
    this.dests.clear();
  }

  private keyOf(address: string): string {
    return isIP(address) === 6 ? `[${address}]:${this.port}` : `${address}:${this.port}`;
  }

  private destination(address: string): Destination {
    const key = this.keyOf(address);
    let d = this.dests.get(key);
    if (!d) {
      d = {
        address,
        pools: new Map(),
        poolPlain: false,
        inFlight: 0,
        lastUsed: Date.now(),
        failures: 0,
        downUntil: 0,
        plainUntil: 0,
      };
      this.dests.set(key, d);
    }
    return d;
  }

  /**
   * Sends over one destination. `retries` covers a pool we replaced while the message waited in
   * it (TLS fell back to plaintext): the message goes to the new pool instead of counting as a
   * failure of the host.
   */
  private async attempt(
    d: Destination,
    host: string,
    msg: OutgoingMessage,
    route: Route | undefined,
    retries: number,
    forcePlain = false,
  ): Promise<Outcome> {
    const plain = forcePlain || d.plainUntil > Date.now();
    const pool = this.poolFor(d, host, plain, route);
    d.inFlight++;
    d.lastUsed = Date.now();
    let err: unknown;
    try {
      const reply = await pool.send(msg.envelope, msg.raw);
      d.failures = 0;
      return { final: true, result: answeredBy(classifyReply(reply), host) };
    } catch (e) {
      err = e;
    } finally {
      d.inFlight--;
      d.lastUsed = Date.now();
    }

    const result = answeredBy(classifyReply(failureReply(err)), host);
    // The route's cap is full across workers: the host is not at fault, and another MX host
    // of the destination counts against the same cap.
    if (isNoSlot(err)) return { final: true, result: { ...result, noSlot: true } };
    const network = err instanceof SmtpConnectionError ? err : undefined;
    const refused = err instanceof SmtpReplyError && SESSION_STAGES.has(err.stage);
    if (!network && !refused) return { final: true, result };
    if (network?.maybeAccepted) {
      // The connection died after the message was written: this host may have queued it, and
      // another MX host would deliver it a second time. Deferred, and the host rests.
      if (!this.closed) this.rest(d);
      return { final: true, result };
    }
    if (this.closed) return { final: false, result };

    if (!plain && network?.errorCode === 'ETLS') {
      // Opportunistic TLS must not stop delivery: as Postfix does at its "may" level, a failed
      // handshake is followed by a plaintext session, and the address stays plaintext a while
      // so every message does not pay for a failing handshake first.
      if (d.plainUntil <= Date.now()) d.plainUntil = Date.now() + this.plaintextMs;
      return this.attempt(d, host, msg, route, retries, true);
    }
    if (
      network &&
      d.pools.get(route?.key ?? '') !== pool &&
      d.downUntil <= Date.now() &&
      retries > 0
    ) {
      return this.attempt(d, host, msg, route, retries - 1);
    }
    this.rest(d);
    return { final: false, result };
  }

  private poolFor(
    d: Destination,
    host: string,
    plain: boolean,
    route: Route | undefined,
  ): SmtpPool {
    if (d.poolPlain !== plain) this.retire(d);
    const rk = route?.key ?? '';
    const existing = d.pools.get(rk);
    if (existing) return existing;
    const pool = new SmtpPool({
      host: d.address,
      port: this.port,
      // SNI names the MX host; the certificate is not checked against it (below).
      servername: isIP(host) ? undefined : host,
      name: this.heloName,
      maxConnections: this.poolSize,
      acquireSlot: route?.acquireSlot,
      slotWaitMs: route?.acquireSlot ? CAPPED_SLOT_WAIT_MS : 0,
      // Otherwise kept for as long as the server allows (see RelayPool).
      maxMessagesPerConnection: route?.maxMessagesPerConnection ?? Infinity,
      idleTimeoutMs: route?.acquireSlot ? Math.min(this.idleMs, CAPPED_IDLE_MS) : this.idleMs,
      // STARTTLS whenever offered; a refused STARTTLS (4xx/5xx) continues in plaintext.
      ignoreTLS: plain,
      // No certificate check: opportunistic TLS only defends against passive listeners, and
      // most MX certificates would not match or verify (RFC 7435).
      tls: { rejectUnauthorized: false },
      connectionTimeoutMs: this.timeouts.connection,
      greetingTimeoutMs: this.timeouts.greeting,
      socketTimeoutMs: this.timeouts.socket,
    });
    d.poolPlain = plain;
    d.pools.set(rk, pool);
    return pool;
  }

  /** Leaves an address out after a connection failure; one outage counts once. */
  private rest(d: Destination): void {
    const now = Date.now();
    if (d.downUntil > now) return;
    d.failures++;
    d.downUntil = now + Math.min(this.downBaseMs * 2 ** (d.failures - 1), this.downMaxMs);
    // Messages already queued on this pool would each open another doomed connection: closing
    // it fails them at once, and they move on to the next MX host.
    this.retire(d);
  }

  /**
   * Closes a destination's pool: queued messages fail at once (ECLOSED), connections in the
   * middle of a message finish it first. close() never rejects.
   */
  private retire(d: Destination): void {
    for (const pool of d.pools.values()) void pool.close();
    d.pools.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, d] of this.dests) {
      if (d.inFlight > 0 || now - d.lastUsed < this.idleMs) continue;
      this.retire(d);
      // A failing address is remembered past its rest, so its pause keeps growing while it
      // stays unreachable.
      if (d.failures === 0 || now > d.downUntil + this.downMaxMs) this.dests.delete(key);
    }
  }
}
