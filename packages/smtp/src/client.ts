/**
 * A small SMTP client for one connection, built for throughput (see transaction.ts). It speaks
 * only what a campaign sender needs: greeting, EHLO/HELO, STARTTLS, AUTH PLAIN/LOGIN, one
 * recipient per transaction, RSET after a refusal, and QUIT.
 */
import type { SmtpExtensions } from './extensions.ts';
import type { SmtpConnectionError } from './errors.ts';
import { handshake } from './handshake.ts';
import { resolveOptions, type ResolvedOptions, type SmtpConnectOptions } from './options.ts';
import type { ServerReply } from './reply-parser.ts';
import { SmtpSession } from './session.ts';
import { transact } from './transaction.ts';
import { checkEnvelope } from './wire.ts';

export interface SmtpClientOptions extends SmtpConnectOptions {
  /** Called once when the connection is gone for any reason (the pool frees its slot). */
  onClose?: ((client: SmtpClient) => void) | undefined;
}

/**
 * One SMTP connection. `connect()` once, then `send()` one message at a time. Socket events
 * never throw: every failure ends as a rejected promise of the operation in progress, or, when
 * idle, as `usable === false` and the `onClose` callback.
 */
export class SmtpClient {
  private readonly opts: ResolvedOptions;
  private readonly session: SmtpSession;

  constructor(opts: SmtpClientOptions) {
    this.opts = resolveOptions(opts);
    const onClose = opts.onClose;
    this.session = new SmtpSession(this.opts, onClose ? () => onClose(this) : () => undefined);
  }

  /** Messages the server accepted on this connection. */
  get messagesSent(): number {
    return this.session.messagesSent;
  }

  /** Transactions started on this connection (accepted or not). */
  get transactions(): number {
    return this.session.transactions;
  }

  /** Extensions from the last EHLO (after STARTTLS, the encrypted session's). */
  get extensions(): SmtpExtensions {
    return this.session.extensions;
  }

  /** True once the session is encrypted (implicit TLS or STARTTLS). */
  get secure(): boolean {
    return this.session.secure;
  }

  /** Why the connection ended, once it has. */
  get failure(): SmtpConnectionError | undefined {
    return this.session.failure;
  }

  /** Open, greeted, and not in the middle of anything the pool cannot see. */
  get usable(): boolean {
    return this.session.state === 'ready' && !this.session.broken;
  }

  /** Listeners on the current socket and replies awaited: for leak checks in tests. */
  diagnostics(): { listeners: number; waiters: number } {
    return this.session.diagnostics();
  }

  /**
   * Connects, reads the greeting, says EHLO (HELO if refused), upgrades with STARTTLS when
   * offered (unless `ignoreTLS`), and authenticates when credentials are set, never before the
   * session is encrypted. Rejects with SmtpReplyError or SmtpConnectionError (ETLS when TLS is
   * required and not obtained); the connection is closed then.
   */
  async connect(): Promise<void> {
    const s = this.session;
    if (s.state !== 'new') {
      throw s.connectionError('ESTATE', 'connect() may be called only once', 'connect');
    }
    s.state = 'connecting';
    s.busy = true;
    try {
      await handshake(s, this.opts);
      s.state = 'ready';
    } catch (e) {
      s.close();
      throw e;
    } finally {
      s.busy = false;
    }
  }

  /**
   * Sends one message to one recipient. Resolves with the server's final reply (2xx); rejects
   * with SmtpReplyError for a refusal (the transaction is reset and the connection stays
   * usable), SmtpConnectionError when the connection fails (see `maybeAccepted`),
   * SmtpEnvelopeError for an address that cannot be sent.
   */
  send(
    envelope: { from: string; to: string },
    raw: string | Buffer,
    /** Called when the next message may start on this connection (see `transact`). */
    handOver?: () => void,
  ): Promise<ServerReply> {
    try {
      checkEnvelope(envelope);
      this.session.enter('mail');
    } catch (e) {
      // Rejected, not thrown: callers handle every failure of a send in one place. Not an
      // async function, so a message costs no promise beyond the transaction's own.
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return transact(this.session, envelope, raw, handOver);
  }

  /**
   * Says QUIT and closes. Never rejects; resolves once the socket is closed, at the latest
   * 5 s later. A busy or unusable connection is closed without QUIT.
   */
  quit(): Promise<void> {
    return this.session.quit();
  }

  /** Closes at once; an operation in progress fails with ECLOSED. */
  close(): void {
    this.session.close();
  }
}
