/**
 * One SMTP connection's socket and state: the connect (TCP, or TLS from the first byte), the
 * STARTTLS socket swap, replies handed to the commands that await them in order, the timers,
 * and the one way a connection ends (`fail`). Socket events never throw: every failure rejects
 * whatever waits on the connection and closes it. The handshake and the transactions drive
 * it; of SMTP it knows only replies, QUIT, and what must not precede a TLS handshake.
 */
import { connect as netConnect, type Socket } from 'node:net';
import {
  createSecureContext,
  connect as tlsConnect,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { SmtpConnectionError, type SmtpConnectionStage } from './errors.ts';
import { NO_EXTENSIONS, type SmtpExtensions } from './extensions.ts';
import type { ResolvedOptions } from './options.ts';
import { ReplyParser, type ServerReply } from './reply-parser.ts';

/** QUIT's reply changes nothing, so waiting for it is bounded tightly. */
const QUIT_WAIT_MS = 5_000;

interface Waiter {
  stage: SmtpConnectionStage;
  resolve: (reply: ServerReply) => void;
  reject: (err: SmtpConnectionError) => void;
}

/** A promise settled by an event (connect, handshake) or by the connection failing. */
interface Gate {
  stage: SmtpConnectionStage;
  resolve: () => void;
  reject: (err: SmtpConnectionError) => void;
}

type State = 'new' | 'connecting' | 'ready' | 'closing' | 'closed';
type Phase = 'tcp' | 'tls' | 'session';

export function noop(): void {}

/**
 * TLS contexts shared by every connection with the same trust and minimum version. Given `ca`
 * and `minVersion`, Node makes an OpenSSL context for each connection and parses the CA into
 * it, which costs CPU on every connect (a pool that retires its connections after a hundred
 * messages pays it again and again); a context made once serves them all. Keyed by the CA
 * value itself: the pool's options hand every client the same object or string.
 */
const contextsByCa = new WeakMap<object, Map<string, SecureContext>>();
const contextsByText = new Map<string, SecureContext>();

/**
 * The last TLS session ticket each server gave, per context: the next connection to it resumes
 * that session, which spares both sides the certificate, its signature and its verification
 * (RFC 8446 2.2). Per context, so that a session verified against one CA is never resumed by a
 * client that trusts another; and per verification setting, so that a session accepted without
 * checking is never resumed by a client that checks.
 */
const tickets = new WeakMap<SecureContext, Map<string, Buffer>>();
/** A ticket is a few hundred bytes; MX delivery meets thousands of servers, a relay a few. */
const MAX_TICKETS = 1000;

function ticketsFor(o: ResolvedOptions): {
  context: SecureContext;
  key: string;
  map: Map<string, Buffer>;
} {
  const context = secureContext(o.tls);
  let map = tickets.get(context);
  if (!map) {
    map = new Map<string, Buffer>();
    tickets.set(context, map);
  }
  const key = `${o.destination} ${o.servername ?? ''} ${o.tls.rejectUnauthorized ? 'verify' : 'any'}`;
  return { context, key, map };
}

/** TLS options for a connection to `o`: the shared context, and the session to resume if any. */
function tlsOptions(o: ResolvedOptions, socket: Socket | undefined) {
  const { context, key, map } = ticketsFor(o);
  return {
    options: {
      host: o.host,
      servername: o.servername,
      rejectUnauthorized: o.tls.rejectUnauthorized,
      secureContext: context,
      session: map.get(key),
      ...(socket ? { socket } : { port: o.port }),
    },
    keep: (ticket: Buffer): void => {
      map.delete(key);
      map.set(key, ticket);
      // Oldest first: the servers not connected to for the longest go.
      if (map.size > MAX_TICKETS) map.delete(map.keys().next().value as string);
    },
  };
}

function secureContext(tls: ResolvedOptions['tls']): SecureContext {
  const { ca, minVersion } = tls;
  let byVersion: Map<string, SecureContext>;
  let key: string = minVersion;
  if (typeof ca === 'object') {
    byVersion = contextsByCa.get(ca) ?? new Map<string, SecureContext>();
    contextsByCa.set(ca, byVersion);
  } else {
    byVersion = contextsByText;
    key = `${minVersion}\n${ca ?? ''}`;
  }
  let context = byVersion.get(key);
  if (!context) {
    context = createSecureContext({ ca, minVersion });
    byVersion.set(key, context);
  }
  return context;
}

function uncork(socket: Socket): void {
  socket.uncork();
}

/** Maps a socket error to the codes callers act on. */
function networkCode(err: NodeJS.ErrnoException, inHandshake: boolean): string {
  if (inHandshake) return 'ETLS';
  const code = err.code ?? '';
  if (code === 'EPIPE' || code === 'ERR_STREAM_WRITE_AFTER_END' || code === 'ERR_STREAM_DESTROYED')
    return 'ECONNRESET';
  if (
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    /^(UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_)/.test(code)
  )
    return 'ETLS';
  return code || 'ECONNECTION';
}

export class SmtpSession {
  state: State = 'new';
  /** Extensions from the last EHLO (after STARTTLS, the encrypted session's). */
  extensions: SmtpExtensions = NO_EXTENSIONS;
  /** True once the session is encrypted (implicit TLS or STARTTLS). */
  secure = false;
  /** Why the connection ended, once it has. */
  failure: SmtpConnectionError | undefined;
  /** Messages the server accepted on this connection. */
  messagesSent = 0;
  /** Transactions started on this connection (accepted or not). */
  transactions = 0;
  /** True while a send or the connect sequence is running. */
  busy = false;
  /** Set when the session is in a state we cannot vouch for: the pool must not reuse it. */
  broken = false;
  /**
   * Messages whose end of data is written and whose final reply has not come (two when the
   * next transaction is pipelined behind one): a loss now may mean a duplicate.
   */
  bodiesInFlight = 0;

  private socket: Socket | undefined;
  private phase: Phase = 'tcp';
  private parser = new ReplyParser();
  private waiters: Waiter[] = [];
  private gate: Gate | undefined;
  private phaseTimer: NodeJS.Timeout | undefined;
  private quitTimer: NodeJS.Timeout | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed: () => void = noop;
  private closeNotified = false;

  /** `onClosed` is called once, when the connection is gone for any reason. */
  constructor(
    private readonly o: ResolvedOptions,
    private readonly onClosed: () => void,
  ) {
    this.closedPromise = new Promise<void>((resolve) => (this.resolveClosed = resolve));
  }

  get destination(): string {
    return this.o.destination;
  }

  /** The local address of the connection, once there is one. */
  get localAddress(): string | undefined {
    return this.socket?.localAddress;
  }

  /** Listeners on the current socket and replies awaited: for leak checks in tests. */
  diagnostics(): { listeners: number; waiters: number } {
    const s = this.socket;
    const listeners = s
      ? ['data', 'error', 'close', 'timeout', 'end', 'connect', 'secureConnect'].reduce(
          (n, e) => n + s.listenerCount(e),
          0,
        )
      : 0;
    return { listeners, waiters: this.waiters.length };
  }

  /** Marks the start of an operation; throws if another runs or the session cannot take it. */
  enter(stage: SmtpConnectionStage): void {
    if (this.busy) {
      throw this.connectionError('EBUSY', 'one operation at a time per connection', stage);
    }
    if (this.state !== 'ready') {
      throw this.failure ?? this.connectionError('ECLOSED', 'connection is not open', stage);
    }
    if (this.broken) {
      throw this.connectionError(
        'ESTATE',
        'connection is not usable after an earlier error',
        stage,
      );
    }
    this.busy = true;
  }

  /** Connects (TLS from the first byte with `secure`) and resolves with the greeting. */
  async open(): Promise<ServerReply> {
    const o = this.o;
    const greeting = this.expect('greeting');
    const connected = this.waitGate('connect');
    // A failure rejects both, perhaps before they are awaited (or with only one of them ever
    // awaited): marked handled here, they still reject where they are awaited.
    greeting.catch(noop);
    connected.catch(noop);
    let socket: Socket;
    try {
      socket = o.secure ? this.tlsConnect(undefined) : netConnect({ host: o.host, port: o.port });
    } catch (e) {
      // Invalid options (a bad port) throw synchronously.
      const err = this.connectionError('ECONNECTION', String(e), 'connect', e);
      this.fail(err);
      throw err;
    }
    this.socket = socket;
    this.attach(socket);
    socket.setNoDelay(true);
    this.armPhaseTimer(o.connectionTimeoutMs, 'connect', 'connection timed out');
    if (o.secure) {
      socket.once('connect', () => {
        this.phase = 'tls';
      });
      socket.once('secureConnect', () => {
        this.secure = true;
        this.openGate();
      });
    } else {
      socket.once('connect', () => this.openGate());
    }
    await connected;
    this.phase = 'session';
    this.armPhaseTimer(o.greetingTimeoutMs, 'greeting', 'no greeting');
    const reply = await greeting;
    this.clearPhaseTimer();
    // From here on, silence while a reply is awaited is bounded by the socket timeout.
    socket.setTimeout(o.socketTimeoutMs);
    return reply;
  }

  /**
   * The TLS handshake over the open connection, after the server's 220 to STARTTLS. Replies
   * are read afresh from the encrypted stream.
   */
  async upgrade(): Promise<void> {
    if (this.parser.pending) {
      // Anything sent after the 220 and before the handshake could be injected by a man in
      // the middle and would be read as if it came over TLS (CVE-2011-0411).
      throw this.connectionError('EPROTOCOL', 'data after the STARTTLS reply', 'starttls');
    }
    const plain = this.socket;
    if (!plain) throw this.connectionError('ECLOSED', 'socket gone', 'starttls');
    this.detach(plain);
    plain.setTimeout(0);
    const handshake = this.waitGate('tls');
    // Still rejects where it is awaited; this covers tls.connect throwing before that.
    handshake.catch(noop);
    this.phase = 'tls';
    const o = this.o;
    const secure = this.tlsConnect(plain);
    this.socket = secure;
    this.attach(secure);
    secure.once('secureConnect', () => this.openGate());
    this.armPhaseTimer(o.connectionTimeoutMs, 'tls', 'TLS handshake timed out');
    await handshake;
    this.clearPhaseTimer();
    this.phase = 'session';
    this.secure = true;
    this.parser = new ReplyParser();
    secure.setTimeout(o.socketTimeoutMs);
  }

  /** TLS over a new connection, or over `plain` (STARTTLS); resumes the last session if any. */
  private tlsConnect(plain: Socket | undefined): TLSSocket {
    const { options, keep } = tlsOptions(this.o, plain);
    const socket = tlsConnect(options);
    // TLS 1.3 sends tickets after the handshake, perhaps more than one: the last one is kept.
    socket.on('session', keep);
    return socket;
  }

  /** Sends a command line and resolves with its reply. */
  command(line: string, stage: SmtpConnectionStage): Promise<ServerReply> {
    const reply = this.expect(stage);
    this.write(`${line}\r\n`);
    return reply;
  }

  /** The next reply not yet claimed: replies come in the order the commands were sent. */
  expect(stage: SmtpConnectionStage): Promise<ServerReply> {
    if (this.state === 'closed') {
      return Promise.reject(
        this.failure ?? this.connectionError('ECLOSED', 'connection is closed', stage),
      );
    }
    return new Promise<ServerReply>((resolve, reject) => {
      this.waiters.push({ stage, resolve, reject });
    });
  }

  write(data: string, encoding: 'utf8' | 'latin1' = 'utf8'): void {
    // Write errors arrive as 'error' events and fail the waiters; nothing to do here.
    if (this.state !== 'closed') this.socket?.write(data, encoding);
  }

  /**
   * Writes a message body and its end, held back until the end of this tick (Node's cork):
   * the next transaction's commands, pipelined behind it (RFC 2920 allows message content to
   * open a group), then leave with them in one segment and one system call.
   */
  writeBody(data: string | Buffer, encoding: 'utf8' | 'latin1', tail: string): void {
    const socket = this.socket;
    if (this.state === 'closed' || !socket) return;
    socket.cork();
    if (typeof data === 'string') socket.write(data, encoding);
    else socket.write(data);
    socket.write(tail, 'latin1');
    process.nextTick(uncork, socket);
  }

  /** Writes the last bytes and half-closes; the server answers and closes its side. */
  end(data: string): void {
    if (this.state !== 'closed') this.socket?.end(data);
  }

  /**
   * Says QUIT and closes. Never rejects; resolves once the socket is closed, at the latest
   * QUIT_WAIT_MS later. A busy or unusable connection is closed without QUIT.
   */
  quit(): Promise<void> {
    const socket = this.socket;
    if (this.state !== 'ready' || this.busy || this.broken || !socket) {
      this.close();
      return this.closedPromise;
    }
    this.state = 'closing';
    // The reply is not needed: half-closing after QUIT lets the server answer and close.
    socket.end('QUIT\r\n');
    this.quitTimer = setTimeout(() => socket.destroy(), QUIT_WAIT_MS);
    this.quitTimer.unref();
    return this.closedPromise;
  }

  /** Closes at once; an operation in progress fails with ECLOSED. */
  close(): void {
    if (this.state === 'closed') return;
    this.fail(
      this.connectionError('ECLOSED', 'connection closed by the client', this.currentStage()),
    );
  }

  connectionError(
    code: string,
    message: string,
    stage: SmtpConnectionStage,
    cause?: unknown,
  ): SmtpConnectionError {
    return new SmtpConnectionError(code, message, {
      stage,
      destination: this.o.destination,
      maybeAccepted: this.bodiesInFlight > 0,
      cause,
    });
  }

  // --- gates and timers ------------------------------------------------------------------

  private waitGate(stage: SmtpConnectionStage): Promise<void> {
    if (this.state === 'closed') {
      return Promise.reject(
        this.failure ?? this.connectionError('ECLOSED', 'connection is closed', stage),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.gate = { stage, resolve, reject };
    });
  }

  private openGate(): void {
    const g = this.gate;
    this.gate = undefined;
    this.clearPhaseTimer();
    g?.resolve();
  }

  private armPhaseTimer(ms: number, stage: SmtpConnectionStage, what: string): void {
    this.clearPhaseTimer();
    this.phaseTimer = setTimeout(() => {
      this.phaseTimer = undefined;
      this.fail(
        this.connectionError('ETIMEDOUT', `${this.o.destination}: ${what} within ${ms} ms`, stage),
      );
    }, ms);
  }

  private clearPhaseTimer(): void {
    if (this.phaseTimer) clearTimeout(this.phaseTimer);
    this.phaseTimer = undefined;
  }

  private currentStage(): SmtpConnectionStage {
    return (
      // The gate first: while connecting, the greeting is awaited already but not yet due.
      this.gate?.stage ?? this.waiters[0]?.stage ?? (this.state === 'ready' ? 'idle' : 'connect')
    );
  }

  // --- socket events ---------------------------------------------------------------------

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onSocketClose);
    socket.on('timeout', this.onTimeout);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onSocketClose);
    socket.off('timeout', this.onTimeout);
    // The TLS socket now owns the connection and reports its errors; this keeps a late error
    // on the old object from becoming an uncaught exception.
    socket.on('error', noop);
  }

  private readonly onData = (chunk: Buffer): void => {
    let replies: ServerReply[];
    try {
      replies = this.parser.feed(chunk);
    } catch (e) {
      this.fail(
        this.connectionError(
          'EPROTOCOL',
          e instanceof Error ? e.message : String(e),
          this.currentStage(),
        ),
      );
      return;
    }
    for (const reply of replies) {
      const w = this.waiters.shift();
      if (w) {
        w.resolve(reply);
        continue;
      }
      if (this.state === 'closing') continue; // QUIT's 221
      // Nothing was asked: typically "421 idle timeout" just before the server hangs up.
      this.broken = true;
      this.fail(this.connectionError('ECONNRESET', `unexpected reply: ${reply.text}`, 'idle'));
      return;
    }
  };

  private readonly onError = (err: Error): void => {
    const inHandshake = this.phase === 'tls';
    const code = networkCode(err, inHandshake);
    const msg = inHandshake ? `TLS handshake failed: ${err.message}` : err.message;
    this.fail(
      this.connectionError(code, `${this.o.destination}: ${msg}`, this.currentStage(), err),
    );
  };

  private readonly onTimeout = (): void => {
    // The socket timeout counts silence; it only matters while a reply is awaited (an idle
    // pooled connection is the pool's business).
    if (this.waiters.length === 0 && !this.gate) return;
    this.fail(
      this.connectionError(
        'ETIMEDOUT',
        `${this.o.destination}: no reply within ${this.o.socketTimeoutMs} ms`,
        this.currentStage(),
      ),
    );
  };

  private readonly onSocketClose = (): void => {
    if (this.state === 'closing') {
      this.state = 'closed';
    } else if (this.state !== 'closed') {
      const handshake = this.phase === 'tls';
      this.fail(
        this.connectionError(
          handshake ? 'ETLS' : 'ECONNRESET',
          handshake
            ? `${this.o.destination} closed the connection during the TLS handshake`
            : `${this.o.destination} closed the connection`,
          this.currentStage(),
        ),
      );
    }
    this.finish();
  };

  /** Ends the connection and fails whatever waits on it; safe to call more than once. */
  private fail(err: SmtpConnectionError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.failure = err;
    this.clearPhaseTimer();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
    const gate = this.gate;
    this.gate = undefined;
    gate?.reject(err);
    if (this.socket) {
      this.socket.destroy();
    } else {
      // Never connected: there will be no 'close' event to finish on.
      queueMicrotask(() => this.finish());
    }
  }

  private finish(): void {
    if (this.quitTimer) clearTimeout(this.quitTimer);
    this.quitTimer = undefined;
    this.state = 'closed';
    this.resolveClosed();
    if (this.closeNotified) return;
    this.closeNotified = true;
    try {
      this.onClosed();
    } catch {
      // A callback's bug must not surface as an exception from a socket event.
    }
  }
}
