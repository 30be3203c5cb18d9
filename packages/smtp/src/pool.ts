/**
 * Pooled connections to one destination (one host or address, one port, one TLS setting).
 * A send takes an idle connection, opens one while fewer than `maxConnections` exist, or waits
 * its turn. Failures are returned to the send that met them: the pool never retries connects
 * by itself, because its callers (RelayPool, MxPool) decide whether a host rests or the next
 * one is tried.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SmtpReply } from './classify.ts';
import { SmtpClient, type SmtpClientOptions } from './client.ts';
import { SmtpConnectionError, SmtpEnvelopeError, SmtpReplyError } from './errors.ts';
import type { ServerReply } from './reply-parser.ts';
import { checkEnvelope } from './wire.ts';

/** A connection slot granted by a cap shared across processes; released when the connection closes. */
export interface SlotLease {
  release(): void;
}

export interface SmtpPoolOptions extends Omit<SmtpClientOptions, 'onClose'> {
  /** Connections this pool may hold open at once. @defaultValue 5 */
  maxConnections?: number | undefined;
  /**
   * Transactions per connection before it says QUIT and a new one is opened; receivers such
   * as Gmail and Microsoft limit messages per session. @defaultValue Infinity
   */
  maxMessagesPerConnection?: number | undefined;
  /**
   * An idle connection is closed after this long. Below the 60 s or more that receivers
   * allow an idle session, so it is mostly our side that ends it. @defaultValue 30 000 ms
   */
  idleTimeoutMs?: number | undefined;
  /**
   * Asked before each new connection, for a cap across processes (leases in Redis). Undefined
   * means no slot: the send waits for a connection of this pool if there is one, and fails
   * with ENOSLOT if there is none (the caller delays the message).
   */
  acquireSlot?: (() => Promise<SlotLease | undefined>) | undefined;
  /**
   * How long a send that finds no slot (and no connection of this pool) keeps asking before it
   * fails with ENOSLOT. @defaultValue 0
   */
  slotWaitMs?: number | undefined;
}

export interface SmtpPoolStats {
  /** Connections established (idle or busy). */
  open: number;
  /** Connections being opened (slot, TCP, greeting, EHLO, TLS, AUTH). */
  opening: number;
  idle: number;
  busy: number;
  /** Sends waiting for a connection. */
  queued: number;
}

interface Conn {
  client: SmtpClient;
  lease: SlotLease | undefined;
  idle: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

interface Waiter {
  resolve: (conn: Conn) => void;
  reject: (err: unknown) => void;
}

/** Queue with O(1) shift and unshift: a burst can queue thousands of sends. */
class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

export class SmtpPool {
  private readonly clientOpts: Omit<SmtpClientOptions, 'onClose'>;
  private readonly acquireSlot: SmtpPoolOptions['acquireSlot'];
  private readonly slotWaitMs: number;
  private readonly max: number;
  private readonly maxMessages: number;
  private readonly idleMs: number;
  private readonly destination: string;
  /** Idle connections, most recently used last: reusing the warmest lets the rest time out. */
  private readonly idle: Conn[] = [];
  /** Established connections not yet retired. */
  private readonly conns = new Set<Conn>();
  /** Every client whose socket has not closed yet, retiring ones included (for `close()`). */
  private readonly clients = new Map<SmtpClient, Conn>();
  private opening = 0;
  /**
   * Opens of this pool waiting for a slot: a connection of this pool that closes hands its
   * slot to the first of them instead of releasing it, so the slot does not go to another
   * worker while this pool's sends wait (a connection retired by its message limit would
   * otherwise give its place away at every retirement). Handed over only once the old socket
   * has closed: the server has answered QUIT and ended the session, so it never counts both.
   */
  private readonly slotWaiters: ((lease: SlotLease) => void)[] = [];
  private readonly queue = new Deque<Waiter>();
  private closed = false;
  private drained: (() => void) | undefined;
  private drainedPromise: Promise<void> | undefined;

  constructor(opts: SmtpPoolOptions) {
    const {
      maxConnections,
      maxMessagesPerConnection,
      idleTimeoutMs,
      acquireSlot,
      slotWaitMs,
      ...client
    } = opts;
    this.clientOpts = client;
    this.acquireSlot = acquireSlot;
    this.slotWaitMs = slotWaitMs ?? 0;
    this.max = maxConnections ?? 5;
    this.maxMessages = maxMessagesPerConnection ?? Infinity;
    // Node's timers hold at most 2^31-1 ms; a larger value would fire after 1 ms instead.
    this.idleMs = Math.min(idleTimeoutMs ?? 30_000, 2_147_483_647);
    if (!(this.max >= 1) || !(this.maxMessages >= 1) || !(this.idleMs > 0)) {
      throw new Error(
        `SmtpPool: maxConnections (${this.max}) and maxMessagesPerConnection (${this.maxMessages}) must be at least 1, idleTimeoutMs (${this.idleMs}) above 0`,
      );
    }
    this.destination = `${opts.host}:${opts.port}`;
  }

  /**
   * Sends one message over a pooled connection. Resolves with the final 2xx reply; rejects
   * with SmtpReplyError, SmtpConnectionError or SmtpEnvelopeError as `SmtpClient.send` does,
   * and with SmtpConnectionError ENOSLOT / ECLOSED from the pool itself. A builder (`raw` as a
   * function) runs once the connection is taken; what it throws rejects the send unchanged.
   */
  async send(
    envelope: { from: string; to: string },
    raw: string | Buffer | (() => string | Buffer),
  ): Promise<ServerReply> {
    // Before taking a connection: a bad address must not cost a connect.
    checkEnvelope(envelope);
    for (let attempt = 0; ; attempt++) {
      const conn = await this.acquire();
      const reused = conn.client.transactions > 0;
      // Set once the connection went to the next send while this one awaits its final reply.
      let handedOver = false;
      try {
        return await conn.client.send(envelope, typeof raw === 'function' ? raw() : raw, () => {
          handedOver = this.handOver(conn);
        });
      } catch (e) {
        // A reused connection can be dropped by the server (its idle timeout) just as we write
        // to it. If it broke before the end of data was written, the server cannot have the
        // message, so one more try on another connection is safe and spares the caller a
        // deferral for a routine race.
        if (
          attempt === 0 &&
          reused &&
          !this.closed &&
          e instanceof SmtpConnectionError &&
          e.errorCode === 'ECONNRESET' &&
          !e.maybeAccepted
        ) {
          continue;
        }
        throw e;
      } finally {
        if (!handedOver) this.release(conn);
      }
    }
  }

  /**
   * A send waiting for a connection gets this one as soon as its current message's end of
   * data is written: its commands follow that body in one segment, and the connection does
   * not sit through a round trip between messages. Only to a send already waiting, and not
   * past the connection's message limit; otherwise the connection is released as usual.
   */
  private handOver(conn: Conn): boolean {
    const c = conn.client;
    if (!c.usable || this.closed || c.transactions >= this.maxMessages) return false;
    const next = this.queue.shift();
    if (!next) return false;
    next.resolve(conn);
    return true;
  }

  stats(): SmtpPoolStats {
    const open = this.conns.size;
    return {
      open,
      opening: this.opening,
      idle: this.idle.length,
      busy: open - this.idle.length,
      queued: this.queue.length,
    };
  }

  /**
   * Fails queued sends with ECLOSED, says QUIT on idle connections, and on busy ones once their
   * message is done. Resolves when every connection is closed; never rejects.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.rejectQueue(this.closedError());
      for (const conn of [...this.idle]) this.retire(conn);
      this.drainedPromise = new Promise<void>((resolve) => (this.drained = resolve));
      this.checkDrained();
    }
    return this.drainedPromise ?? Promise.resolve();
  }

  private acquire(): Promise<Conn> {
    if (this.closed) return Promise.reject(this.closedError());
    const conn = this.takeIdle();
    if (conn) return Promise.resolve(conn);
    if (this.conns.size + this.opening < this.max) return this.open();
    return this.wait(false);
  }

  /** The most recently used idle connection that is still usable, marked busy. */
  private takeIdle(): Conn | undefined {
    for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
      conn.idle = false;
      if (conn.client.usable) return conn;
      this.retire(conn);
    }
    return undefined;
  }

  private wait(front: boolean): Promise<Conn> {
    return new Promise<Conn>((resolve, reject) => {
      if (front) this.queue.unshift({ resolve, reject });
      else this.queue.push({ resolve, reject });
    });
  }

  /** Opens a connection for one send; its failure is that send's. */
  private async open(): Promise<Conn> {
    // Counted before the first await, so concurrent sends see the slot taken.
    this.opening++;
    let lease: SlotLease | undefined;
    if (this.acquireSlot) {
      const got = await this.slotFor(this.acquireSlot);
      lease = got.lease;
      if (got.error !== undefined) {
        this.doneOpening();
        const e: unknown = got.error;
        const err = new SmtpConnectionError(
          'ENOSLOT',
          `could not check for a connection slot to ${this.destination}: ${e instanceof Error ? e.message : typeof e === 'string' ? e : 'unknown error'}`,
          { stage: 'connect', destination: this.destination, cause: e },
        );
        this.afterOpenFailure(err);
        throw err;
      }
      if (!lease) {
        this.doneOpening();
        if (this.closed) throw this.closedError();
        // Without a slot of our own, a connection this pool already has serves the send: one
        // that went idle while the slot was asked for, or the next one to come free.
        const idle = this.takeIdle();
        if (idle) return idle;
        if (this.conns.size + this.opening > 0) return this.wait(true);
        const err = new SmtpConnectionError(
          'ENOSLOT',
          `no connection slot free for ${this.destination}`,
          { stage: 'connect', destination: this.destination },
        );
        this.afterOpenFailure(err);
        throw err;
      }
      if (this.closed) {
        this.releaseLease(lease);
        this.doneOpening();
        throw this.closedError();
      }
    }

    const client = new SmtpClient({
      ...this.clientOpts,
      onClose: (c) => this.onClientClose(c),
    });
    const conn: Conn = { client, lease, idle: false, idleTimer: undefined };
    this.clients.set(client, conn);
    try {
      await client.connect();
    } catch (e) {
      this.doneOpening();
      this.afterOpenFailure(e);
      throw e;
    }
    this.opening--;
    this.conns.add(conn);
    return conn;
  }

  /**
   * A slot for a new connection: asked for at once and, with `slotWaitMs`, again (backing off
   * from 50 to 400 ms) until one is granted, a connection of this pool hands its slot over as
   * it closes, this pool gets a connection another send opened, the pool closes, or
   * `slotWaitMs` passes. A slot frees when any worker's connection to the destination ends
   * (its message limit, idle timeout): waiting here keeps the message's rate slot close instead
   * of sending it back to the queue. Registered for a handover before the first ask, so a slot
   * this pool frees while that ask is on its way is not lost to another worker. `error`: the
   * first ask failed (later failures count as no slot).
   */
  private async slotFor(
    ask: () => Promise<SlotLease | undefined>,
  ): Promise<{ lease?: SlotLease; error?: unknown }> {
    let handed: SlotLease | undefined;
    let wake: (() => void) | undefined;
    const waiter = (lease: SlotLease): void => {
      handed = lease;
      wake?.();
    };
    this.slotWaiters.push(waiter);
    const finish = (lease: SlotLease | undefined): { lease?: SlotLease } => {
      const i = this.slotWaiters.indexOf(waiter);
      if (i >= 0) this.slotWaiters.splice(i, 1);
      // A slot handed over while another was being asked for: keep one, give the other back.
      if (handed && lease && handed !== lease) this.releaseLease(lease);
      const got = handed ?? lease;
      if (got && this.closed) {
        this.releaseLease(got);
        return {};
      }
      return got ? { lease: got } : {};
    };
    try {
      const first = await ask();
      if (first || handed) return finish(first);
    } catch (error) {
      const got = finish(undefined);
      return got.lease ? got : { error };
    }
    const deadline = Date.now() + this.slotWaitMs;
    try {
      for (
        let delay = 50;
        !this.closed && this.conns.size === 0 && !handed;
        delay = Math.min(delay * 2, 400)
      ) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const ac = new AbortController();
        await Promise.race([
          sleep(Math.min(delay, left), undefined, { signal: ac.signal }).catch(() => undefined),
          new Promise<void>((resolve) => (wake = resolve)),
        ]);
        ac.abort();
        wake = undefined;
        if (handed || this.closed || this.conns.size > 0) break;
        const lease = await ask();
        if (lease) return finish(lease);
      }
    } catch {
      // A failed check counts as no slot.
    }
    return finish(undefined);
  }

  /**
   * When nothing is left open or opening, the queued sends would each try the same failing
   * destination in turn (a dead host costs a connect timeout apiece): they get this error now.
   */
  private afterOpenFailure(err: unknown): void {
    if (this.conns.size + this.opening === 0) this.rejectQueue(err);
  }

  private release(conn: Conn): void {
    const c = conn.client;
    if (!c.usable || this.closed || c.transactions >= this.maxMessages) {
      this.retire(conn);
      this.pump();
      return;
    }
    const next = this.queue.shift();
    if (next) {
      next.resolve(conn);
      return;
    }
    conn.idle = true;
    this.idle.push(conn);
    // One timer per connection, re-armed with refresh(): no timer allocated per message. It
    // may fire while the connection is busy; then it is ignored and re-armed at release.
    if (conn.idleTimer) conn.idleTimer.refresh();
    else conn.idleTimer = setTimeout(() => this.onIdleTimeout(conn), this.idleMs).unref();
  }

  private onIdleTimeout(conn: Conn): void {
    if (conn.idle) this.retire(conn);
  }

  /** Takes a connection out of service; QUIT if it is in a state to say it. */
  private retire(conn: Conn): void {
    this.forget(conn);
    void conn.client.quit();
  }

  private forget(conn: Conn): void {
    this.conns.delete(conn);
    if (conn.idle) {
      conn.idle = false;
      const i = this.idle.indexOf(conn);
      if (i >= 0) this.idle.splice(i, 1);
    }
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
  }

  private doneOpening(): void {
    this.opening--;
    this.checkDrained();
  }

  private onClientClose(client: SmtpClient): void {
    const conn = this.clients.get(client);
    if (!conn) return;
    this.clients.delete(client);
    if (conn.lease) {
      const next = this.closed ? undefined : this.slotWaiters.shift();
      if (next) next(conn.lease);
      else this.releaseLease(conn.lease);
    }
    conn.lease = undefined;
    if (this.conns.has(conn)) {
      // Closed by the server or the network while idle or busy: no longer counts.
      this.forget(conn);
      this.pump();
    }
    this.checkDrained();
  }

  /** Gives queued sends the connections that came free, or opens new ones for them. */
  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      const conn = this.takeIdle();
      if (conn) {
        this.queue.shift()?.resolve(conn);
        continue;
      }
      if (this.conns.size + this.opening >= this.max) return;
      const waiter = this.queue.shift();
      if (!waiter) return;
      this.open().then(waiter.resolve, waiter.reject);
    }
  }

  private rejectQueue(err: unknown): void {
    for (const w of this.queue.drain()) w.reject(err);
  }

  private releaseLease(lease: SlotLease): void {
    try {
      lease.release();
    } catch {
      // A lease that cannot be released lapses by its TTL; it must not break the pool.
    }
  }

  private checkDrained(): void {
    if (this.closed && this.opening === 0 && this.clients.size === 0) this.drained?.();
  }

  private closedError(): SmtpConnectionError {
    return new SmtpConnectionError('ECLOSED', `the pool for ${this.destination} is closed`, {
      stage: 'connect',
      destination: this.destination,
    });
  }
}

/**
 * What `classifyReply` needs from a failed send. A refusal keeps the server's code and text;
 * a connection failure its error code, and its text says when the message may have arrived; an
 * address that cannot be sent is refused as a receiver would refuse its syntax (RFC 3463
 * X.1.3 / X.1.7), so it bounces instead of retrying forever.
 */
/** True for the pool's "no connection slot" failure: nothing was sent, no host is at fault. */
export function isNoSlot(err: unknown): boolean {
  return err instanceof SmtpConnectionError && err.errorCode === 'ENOSLOT';
}

export function failureReply(err: unknown): SmtpReply {
  if (err instanceof SmtpReplyError) return { code: err.code, text: err.text };
  if (err instanceof SmtpConnectionError) {
    const text = err.maybeAccepted
      ? `${err.message} (after the whole message was sent: it may have been delivered)`
      : err.message;
    return { text, errorCode: err.errorCode };
  }
  if (err instanceof SmtpEnvelopeError) {
    const enhanced = err.field === 'from' ? '5.1.7' : '5.1.3';
    return { code: 553, text: `553 ${enhanced} ${err.message} (not sent)` };
  }
  return { text: err instanceof Error ? err.message : String(err), errorCode: 'EUNKNOWN' };
}
