/**
 * What the SMTP client throws. Each class has a stable code to act on (a reply code, or
 * `errorCode`), the stage it happened at, and the `host:port` it concerns; none carries a
 * password.
 */
import type { ServerReply } from './reply-parser.ts';

/** Where in the session a reply refused us. */
export type SmtpStage =
  'greeting' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'message' | 'rset';

/** Where in the session the connection failed: an SMTP stage, or before or between them. */
export type SmtpConnectionStage = SmtpStage | 'connect' | 'tls' | 'idle' | 'quit';

/** The server answered with a refusal (4xx/5xx, or a code that makes no sense at that point). */
export class SmtpReplyError extends Error {
  override readonly name = 'SmtpReplyError';
  readonly code: number;
  readonly text: string;
  readonly enhanced: string | undefined;
  readonly stage: SmtpStage;
  /** `host:port` that answered. */
  readonly destination: string;

  constructor(reply: ServerReply, stage: SmtpStage, destination: string) {
    super(`${destination} refused ${stage}: ${reply.text}`);
    this.code = reply.code;
    this.text = reply.text;
    this.enhanced = reply.enhanced;
    this.stage = stage;
    this.destination = destination;
  }
}

/** The connection failed, timed out, or the peer did not speak SMTP. */
export class SmtpConnectionError extends Error {
  override readonly name = 'SmtpConnectionError';
  /**
   * ECONNREFUSED, ETIMEDOUT, ECONNRESET, ETLS (handshake or certificate, or TLS required, by
   * `requireTLS` or by credentials, and STARTTLS missing or refused), EPROTOCOL (not SMTP),
   * EAUTH (no usable mechanism), ECLOSED (closed by us), EBUSY and ESTATE (the client used
   * out of turn), ENOSLOT (the pool was denied a connection slot), or another Node network
   * code.
   */
  readonly errorCode: string;
  readonly stage: SmtpConnectionStage;
  /**
   * True when the connection was lost after the whole message had been handed to the socket
   * and before the server's final reply: the server may have accepted and queued it. Sending
   * it again (to this host or another) may deliver it twice; the caller should defer it.
   */
  readonly maybeAccepted: boolean;
  /** `host:port` of the connection. */
  readonly destination: string;

  constructor(
    errorCode: string,
    message: string,
    ctx: {
      stage: SmtpConnectionStage;
      destination: string;
      maybeAccepted?: boolean;
      cause?: unknown;
    },
  ) {
    super(message, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.errorCode = errorCode;
    this.stage = ctx.stage;
    this.destination = ctx.destination;
    this.maybeAccepted = ctx.maybeAccepted ?? false;
  }
}

/** An envelope address that cannot go on the wire (CR/LF, control characters, angle brackets). */
export class SmtpEnvelopeError extends Error {
  override readonly name = 'SmtpEnvelopeError';
  readonly errorCode = 'EENVELOPE';
  constructor(
    readonly field: 'from' | 'to',
    address: string,
  ) {
    super(`invalid envelope ${field} address ${JSON.stringify(address.slice(0, 200))}`);
  }
}

/** Client options that contradict each other; thrown by the constructor, before any connection. */
export class SmtpOptionsError extends Error {
  override readonly name = 'SmtpOptionsError';
  readonly errorCode = 'EOPTIONS';
}
