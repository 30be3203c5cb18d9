import type { RelayTarget } from '@volley/config';
import { classifyReply } from './classify.ts';
import { SmtpConnectionError, SmtpReplyError } from './errors.ts';
import { SmtpPool, failureReply, isNoSlot, type SmtpPoolOptions } from './pool.ts';
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

export interface RelayPoolOptions {
  /** Connections per relay held by this process. */
  poolSize: number;
  /** EHLO name. */
  heloName?: string | undefined;
  /** How long a relay that failed to connect is left out before it is tried again. @defaultValue 5 s, doubling to 60 s */
  downBaseMs?: number;
}

interface Relay {
  target: RelayTarget;
  /** Connections shared by messages without a route. */
  pool: SmtpPool;
  /** Connections of each route (shaping destination with a cap), opened on first use. */
  routes: Map<string, SmtpPool>;
  current: number;
  downUntil: number;
  failures: number;
}

/**
 * True when the failure is the relay's, not the message's: it could not be reached, or refused
 * the session before any message (a 421 greeting, a failed EHLO, STARTTLS or AUTH). The message
 * then goes to another relay.
 */
function isRelayLevel(err: unknown): boolean {
  if (err instanceof SmtpConnectionError) return true;
  if (err instanceof SmtpReplyError) return SESSION_STAGES.has(err.stage);
  return false;
}

const SESSION_STAGES = new Set(['greeting', 'ehlo', 'starttls', 'auth']);

/**
 * Pooled SMTP connections to one or more smart hosts. Traffic is spread by smooth weighted
 * round robin; a relay that cannot be reached is left out with a growing pause, so its
 * messages go to the others instead of hammering it (Haraka #3100).
 */
export class RelayPool implements Transport {
  private readonly relays: Relay[];
  private readonly downBaseMs: number;
  private readonly poolOptions: (target: RelayTarget) => SmtpPoolOptions;
  private readonly sweeper: NodeJS.Timeout;

  constructor(targets: RelayTarget[], opts: RelayPoolOptions) {
    if (targets.length === 0) throw new Error('RelayPool needs at least one relay');
    this.downBaseMs = opts.downBaseMs ?? 5000;
    this.poolOptions = (target) => ({
      host: target.host,
      port: target.port,
      secure: target.secure,
      auth: target.auth,
      // A relay is our own infrastructure: its certificate is checked (against the system's
      // CAs or the URL's ?ca=FILE, unless ?tlsVerify=false), and STARTTLS is used whenever it
      // is offered; required with credentials or when the URL asks for it.
      requireTLS: target.requireTLS,
      tls: { rejectUnauthorized: target.tlsVerify, ca: target.ca },
      maxConnections: opts.poolSize,
      // Keep connections for as long as the server allows: each reconnect costs round trips
      // for the greeting, EHLO and possibly TLS and AUTH.
      maxMessagesPerConnection: Infinity,
      // Long enough to bridge pauses between batches, short enough that a drained sender
      // does not hold sessions the relay counts against its limits.
      idleTimeoutMs: 60_000,
      name: opts.heloName,
      connectionTimeoutMs: 30_000,
      greetingTimeoutMs: 30_000,
      socketTimeoutMs: 120_000,
    });
    this.relays = targets.map((target) => ({
      target,
      current: 0,
      downUntil: 0,
      failures: 0,
      pool: new SmtpPool(this.poolOptions(target)),
      routes: new Map(),
    }));
    // Routes come and go with the domains of the campaigns; unref'd so a draining process
    // is never kept alive by it.
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  *connections(): Iterable<PoolConnectionCount> {
    for (const relay of this.relays) {
      const shared = relay.pool.stats();
      yield { route: undefined, open: shared.open, busy: shared.busy };
      for (const [route, pool] of relay.routes) {
        const st = pool.stats();
        yield { route, open: st.open, busy: st.busy };
      }
    }
  }

  /** Drops route pools left without connections or waiting sends (their idle timeout passed). */
  private sweep(): void {
    for (const relay of this.relays) {
      for (const [key, pool] of relay.routes) {
        const st = pool.stats();
        if (st.open + st.opening + st.queued === 0) {
          relay.routes.delete(key);
          void pool.close();
        }
      }
    }
  }

  /** The pool a message takes on a relay: the route's own, or the shared one. */
  private poolOf(relay: Relay, route: Route | undefined): SmtpPool {
    if (!route) return relay.pool;
    let pool = relay.routes.get(route.key);
    if (!pool) {
      pool = new SmtpPool({
        ...this.poolOptions(relay.target),
        acquireSlot: route.acquireSlot,
        ...(route.acquireSlot
          ? { idleTimeoutMs: CAPPED_IDLE_MS, slotWaitMs: CAPPED_SLOT_WAIT_MS }
          : {}),
        maxMessagesPerConnection: route.maxMessagesPerConnection ?? Infinity,
      });
      relay.routes.set(route.key, pool);
    }
    return pool;
  }

  /** Smooth weighted round robin over the relays that are not resting. */
  private pick(exclude: Set<Relay>): Relay | undefined {
    const now = Date.now();
    let up = this.relays.filter((r) => !exclude.has(r) && r.downUntil <= now);
    if (up.length === 0) up = this.relays.filter((r) => !exclude.has(r));
    let total = 0;
    let best: Relay | undefined;
    for (const r of up) {
      r.current += r.target.weight;
      total += r.target.weight;
      if (!best || r.current > best.current) best = r;
    }
    if (best) best.current -= total;
    return best;
  }

  /** Sends one message; never throws for an SMTP or network failure, it classifies it. */
  async send(msg: OutgoingMessage, _domain?: string, route?: Route): Promise<SendResult> {
    const tried = new Set<Relay>();
    let last: SendResult | undefined;
    for (let i = 0; i < this.relays.length; i++) {
      const relay = this.pick(tried);
      if (!relay) break;
      tried.add(relay);
      try {
        const reply = await this.poolOf(relay, route).send(msg.envelope, msg.raw);
        relay.failures = 0;
        return answeredBy(classifyReply(reply), relay.target.label);
      } catch (e) {
        last = answeredBy(classifyReply(failureReply(e)), relay.target.label);
        // The route's cap is full everywhere: no relay is at fault, and another would count
        // against the same cap.
        if (isNoSlot(e)) return { ...last, noSlot: true };
        if (!isRelayLevel(e)) return last;
        this.rest(relay);
        // The connection died after the message was written: the relay may have queued it, and
        // another relay would deliver it twice. It is deferred instead.
        if (e instanceof SmtpConnectionError && e.maybeAccepted) return last;
      }
    }
    return last ?? { ...classifyReply({ text: 'no relay available' }), relay: 'none' };
  }

  private rest(relay: Relay): void {
    relay.failures++;
    relay.downUntil = Date.now() + Math.min(this.downBaseMs * 2 ** (relay.failures - 1), 60_000);
  }

  close(): void {
    clearInterval(this.sweeper);
    // Busy connections finish their message first; close() never rejects.
    for (const r of this.relays) {
      void r.pool.close();
      for (const pool of r.routes.values()) void pool.close();
    }
  }
}
