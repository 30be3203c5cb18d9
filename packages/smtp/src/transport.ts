import type { Classification } from './classify.ts';
import type { SlotLease } from './pool.ts';

/** The complete RFC 5322 text of a message: a Buffer is sent as it is. */
export type MessageData = string | Buffer;

/**
 * A message for the wire: its envelope, and its text or what builds it. A builder is called
 * once a connection is ready for the message (and may be called again for another relay, so it
 * should keep what it built): a message waiting for a connection then holds no text, which is
 * what kept hundreds of composed messages alive per sender and a fifth of its CPU in the
 * garbage collector. A builder that throws sends nothing; the send fails with its error.
 */
export interface OutgoingMessage {
  envelope: { from: string; to: string };
  raw: MessageData | (() => MessageData);
}

/** The classified reply, and which relay or MX host gave it. */
export interface SendResult extends Classification {
  /** Relay label or MX host that answered (for logs and events; never a metric label). */
  relay: string;
  /**
   * No connection could be had: the route's connection cap is reached across all workers and
   * this process holds none of its connections. Nothing was sent; the caller delays the
   * message rather than counting a deferral.
   */
  noSlot?: true;
}

/**
 * `c` as the answer of `relay`: the classification itself, the relay added in place. A copy
 * (`{ ...c, relay }`) costs about 0.8 us in V8 (a spread followed by another property leaves
 * its fast clone path, bench), and every message's reply went through one or two.
 */
export function answeredBy(c: Classification, relay: string): SendResult {
  return Object.assign(c, { relay });
}

/**
 * A shaping destination's own connections. Messages of a route never share a connection with
 * other traffic, so its connection cap and messages-per-connection hold at the receiver.
 */
export interface Route {
  /** The shaping key (a domain or provider); pools are kept apart per key. */
  key: string;
  /** Asked before each new connection of this route: a lease on a cap shared by all workers. */
  acquireSlot?: (() => Promise<SlotLease | undefined>) | undefined;
  /** Transactions per connection before a new one is opened. @defaultValue Infinity */
  maxMessagesPerConnection?: number | undefined;
}

/**
 * How the sender hands a message to the network: a pool of smart hosts (relay mode) or the
 * recipient domain's own MX hosts (mx mode). `send` never throws for SMTP or network failures:
 * it classifies them.
 */
export interface Transport {
  /** `route` gives the message connections of its own (see Route); without it they are shared. */
  send(msg: OutgoingMessage, domain: string, route?: Route): Promise<SendResult>;
  close(): void;
  /** Connections of each pool now, for metrics: read on a scrape, never on the send path. */
  connections?(): Iterable<PoolConnectionCount>;
}

/** Connections of one pool; `route` is the Route key of its destination, undefined when shared. */
export interface PoolConnectionCount {
  route: string | undefined;
  open: number;
  busy: number;
}

/**
 * Idle time after which a connection of a capped route closes. Its lease is a place under a
 * cap shared by every worker: held idle, it would starve a worker that has messages waiting
 * (with more workers than the cap, some always wait while the others' connections are open).
 * Short, but longer than the gap between a busy destination's batches on one worker.
 */
export const CAPPED_IDLE_MS = 2_000;

/**
 * How long a message of a capped route waits in process for a connection slot before it goes
 * back to the queue (keeping its rate slot): a slot another worker frees (idle timeout) comes
 * within it, while a pool's own connections hand theirs over without a wait. Short: the
 * message holds one of the worker's concurrency slots meanwhile, and comes back to the queue
 * for a worker that has a connection.
 */
export const CAPPED_SLOT_WAIT_MS = 1_000;
