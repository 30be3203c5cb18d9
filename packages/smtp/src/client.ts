/**
 * A small SMTP client for one connection, built for throughput: with PIPELINING (RFC 2920) a
 * message costs two writes (MAIL, RCPT and DATA together, then the dot-stuffed body) and two
 * reads, which is what takes the sender's CPU per message below nodemailer's. It speaks only
 * what a campaign sender needs: greeting, EHLO/HELO, STARTTLS, AUTH PLAIN/LOGIN, one
 * recipient per transaction, RSET and QUIT.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { enhancedAfterCode } from './enhanced-status.ts';

/** Where in the session a reply refused us. */
export type SmtpStage =
  'greeting' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'message' | 'rset';

/** Where in the session the connection failed: an SMTP stage, or before or between them. */
export type SmtpConnectionStage = SmtpStage | 'connect' | 'tls' | 'idle' | 'quit';

/** One complete server reply. */
export interface ServerReply {
  code: number;
  /** The reply as sent, code included; the lines of a multi-line reply joined with "\n". */
  text: string;
  /** Enhanced status code (RFC 3463) at the start of the first line, e.g. "5.1.1". */
  enhanced: string | undefined;
}

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
   * ECONNREFUSED, ETIMEDOUT, ECONNRESET, ETLS (handshake or certificate, or STARTTLS required
   * but missing), EPROTOCOL (not SMTP), EAUTH (no usable mechanism), ECLOSED (closed by us),
   * ENOSLOT (the pool was denied a connection slot), or another Node network code.
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

export interface SmtpTlsOptions {
  /** Check the certificate chain and name. @defaultValue true */
  rejectUnauthorized?: boolean | undefined;
  /** @defaultValue 'TLSv1.2' */
  minVersion?: SecureVersion | undefined;
  /** Trusted CA certificates in place of Node's bundle (a private relay, tests). */
  ca?: string | Buffer | (string | Buffer)[] | undefined;
}

export interface SmtpClientOptions {
  /** Host name or IP address to connect to. */
  host: string;
  port: number;
  /**
   * Name for SNI and the certificate check. @defaultValue `host` when it is a name; none for
   * an IP address (RFC 6066 forbids IP addresses in SNI)
   */
  servername?: string | undefined;
  /** TLS from the first byte (port 465, `smtps://`). @defaultValue false */
  secure?: boolean | undefined;
  /** Never use STARTTLS, even when offered. @defaultValue false */
  ignoreTLS?: boolean | undefined;
  /**
   * Fail (ETLS) unless the session is encrypted. Credentials (`auth`) imply it: they are never
   * sent over a plaintext session. @defaultValue false
   */
  requireTLS?: boolean | undefined;
  tls?: SmtpTlsOptions | undefined;
  /** EHLO name. @defaultValue the OS host name if it is qualified, else the local address literal */
  name?: string | undefined;
  /** Credentials for AUTH PLAIN or LOGIN; sent only once the session is encrypted. */
  auth?: { user: string; pass: string } | undefined;
  /** TCP connect, plus the handshake for `secure`. @defaultValue 30 000 ms */
  connectionTimeoutMs?: number | undefined;
  /** From connect to the greeting. @defaultValue 30 000 ms */
  greetingTimeoutMs?: number | undefined;
  /** Longest silence while a reply is awaited. @defaultValue 120 000 ms */
  socketTimeoutMs?: number | undefined;
  /** Called once when the connection is gone for any reason (the pool frees its slot). */
  onClose?: ((client: SmtpClient) => void) | undefined;
}

/** What the server announced in its EHLO reply. */
export interface SmtpExtensions {
  pipelining: boolean;
  starttls: boolean;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  enhancedStatusCodes: boolean;
  /** SIZE limit in bytes; 0 when none was announced or it is unlimited. */
  size: number;
  /** AUTH mechanisms, upper case. */
  auth: ReadonlySet<string>;
}

const NO_EXTENSIONS: SmtpExtensions = {
  pipelining: false,
  starttls: false,
  eightBitMime: false,
  smtpUtf8: false,
  enhancedStatusCodes: false,
  size: 0,
  auth: new Set(),
};

/**
 * RFC 5321 allows 512 octets per reply line; servers exceed it in banners and EHLO lists, so
 * the limit is generous. It only exists so a peer streaming garbage cannot grow our buffer.
 */
const MAX_LINE = 16 * 1024;
/** More lines than any real EHLO reply has; same reason. */
const MAX_REPLY_LINES = 512;
/** QUIT's reply changes nothing, so waiting for it is bounded tightly. */
const QUIT_WAIT_MS = 5_000;

/** Characters that would break or inject into an SMTP command line. */
// eslint-disable-next-line no-control-regex -- control characters are what must not reach the wire
const BAD_ADDRESS = /[\x00-\x1f\x7f<>]/;

class ProtocolError extends Error {}

/** Throws SmtpEnvelopeError for an address that would break the command line it goes on. */
export function checkEnvelope(envelope: { from: string; to: string }): void {
  if (BAD_ADDRESS.test(envelope.from)) throw new SmtpEnvelopeError('from', envelope.from);
  if (BAD_ADDRESS.test(envelope.to)) throw new SmtpEnvelopeError('to', envelope.to);
}

/**
 * Turns the byte stream into replies: multi-line replies, replies split across packets and
 * several replies in one packet. Exported for tests of every split point.
 */
export class ReplyParser {
  // UTF-8 text in replies (SMTPUTF8 servers) may be split across packets.
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private lines: string[] = [];

  /** Returns the replies completed by this chunk; throws ProtocolError on non-SMTP input. */
  feed(chunk: Buffer): ServerReply[] {
    const data = this.rest.length
      ? this.rest + this.decoder.write(chunk)
      : this.decoder.write(chunk);
    const out: ServerReply[] = [];
    let start = 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && data.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.line(data.slice(start, end), out);
      start = nl + 1;
    }
    this.rest = start === 0 ? data : data.slice(start);
    if (this.rest.length > MAX_LINE) {
      throw new ProtocolError(`reply line longer than ${MAX_LINE} characters`);
    }
    return out;
  }

  /** True when bytes of an unfinished reply are buffered. */
  get pending(): boolean {
    return this.rest.length > 0 || this.lines.length > 0;
  }

  private line(line: string, out: ServerReply[]): void {
    const c0 = line.charCodeAt(0) - 48;
    const c1 = line.charCodeAt(1) - 48;
    const c2 = line.charCodeAt(2) - 48;
    const sep = line.charCodeAt(3);
    if (
      !(c0 >= 2 && c0 <= 5 && c1 >= 0 && c1 <= 9 && c2 >= 0 && c2 <= 9) ||
      (line.length > 3 && sep !== 32 && sep !== 45)
    ) {
      throw new ProtocolError(`not an SMTP reply: ${JSON.stringify(line.slice(0, 120))}`);
    }
    this.lines.push(line);
    if (sep === 45 /* "-": more lines follow */) {
      if (this.lines.length > MAX_REPLY_LINES) {
        throw new ProtocolError(`reply of more than ${MAX_REPLY_LINES} lines`);
      }
      return;
    }
    const first = this.lines[0] ?? line;
    const text = this.lines.length === 1 ? line : this.lines.join('\n');
    this.lines = [];
    // The last line's code counts, as in Postfix, should a server mix codes within a reply.
    out.push({ code: c0 * 100 + c1 * 10 + c2, text, enhanced: enhancedAfterCode(first) });
  }
}

/** Body ready for the wire: dot-stuffed and terminated. */
interface WireBody {
  data: string;
  encoding: 'utf8' | 'latin1';
  /** Size in bytes of the message as given (for SIZE=). */
  bytes: number;
  eightBit: boolean;
}

/**
 * Dot-stuffs the body and appends the end-of-data line, in one pass over the text when no
 * line starts with "." (the common case costs two `includes` scans). Dots are doubled after
 * every LF and every CR, not only after CRLF: a body with bare line ends can then never
 * contain a sequence that some receiver takes for the end of data (SMTP smuggling), while a
 * CRLF body is stuffed exactly as RFC 5321 4.5.2 says. A Buffer is handled as latin1 text,
 * which maps every byte to one character and back unchanged.
 */
export function toWire(raw: string | Buffer): WireBody {
  let text: string;
  let encoding: 'utf8' | 'latin1';
  let bytes: number;
  let eightBit: boolean;
  if (typeof raw === 'string') {
    text = raw;
    bytes = Buffer.byteLength(raw, 'utf8');
    eightBit = bytes !== raw.length;
    // Pure ASCII is the same bytes either way, and latin1 skips UTF-8 encoding on write.
    encoding = eightBit ? 'utf8' : 'latin1';
  } else {
    text = raw.toString('latin1');
    encoding = 'latin1';
    bytes = raw.length;
    eightBit = /[\x80-\xff]/.test(text);
  }
  if (text.charCodeAt(0) === 46 || text.includes('\n.') || text.includes('\r.')) {
    text = text.replace(/(^|[\r\n])\./g, '$1..');
  }
  let data: string;
  if (text.length === 0) data = '.\r\n';
  else if (text.endsWith('\r\n')) data = text + '.\r\n';
  else if (text.endsWith('\n')) data = text.slice(0, -1) + '\r\n.\r\n';
  else data = text + '\r\n.\r\n';
  return { data, encoding, bytes, eightBit };
}

function parseExtensions(reply: ServerReply): SmtpExtensions {
  const ext = { ...NO_EXTENSIONS, auth: new Set<string>() };
  // The first line is the server's name; each further line is one keyword with parameters.
  for (const line of reply.text.split('\n').slice(1)) {
    const [keyword = '', ...params] = line.slice(4).trim().split(/\s+/);
    const kw = keyword.toUpperCase();
    if (kw === 'PIPELINING') ext.pipelining = true;
    else if (kw === 'STARTTLS') ext.starttls = true;
    else if (kw === '8BITMIME') ext.eightBitMime = true;
    else if (kw === 'SMTPUTF8') ext.smtpUtf8 = true;
    else if (kw === 'ENHANCEDSTATUSCODES') ext.enhancedStatusCodes = true;
    else if (kw === 'SIZE') ext.size = Math.max(0, Number(params[0]) || 0);
    else if (kw === 'AUTH' || kw.startsWith('AUTH=')) {
      // "AUTH=PLAIN LOGIN" is the pre-RFC 4954 form some servers still send.
      const mechs = kw.startsWith('AUTH=') ? [kw.slice(5), ...params] : params;
      for (const m of mechs) if (m) ext.auth.add(m.toUpperCase());
    }
  }
  return ext;
}

function defaultHeloName(localAddress: string | undefined): string {
  const h = hostname();
  // Receivers expect a fully qualified name or an address literal (RFC 5321 4.1.4).
  if (h.includes('.')) return h;
  if (!localAddress) return '[127.0.0.1]';
  return isIP(localAddress) === 6 ? `[IPv6:${localAddress}]` : `[${localAddress}]`;
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

function noop(): void {}

function positive(reply: ServerReply): boolean {
  return reply.code >= 200 && reply.code < 300;
}

/**
 * One SMTP connection. `connect()` once, then `send()` one message at a time. Socket events
 * never throw: every failure ends as a rejected promise of the operation in progress, or, when
 * idle, as `usable === false` and the `onClose` callback.
 */
export class SmtpClient {
  /** Messages the server accepted on this connection. */
  messagesSent = 0;
  /** Transactions started on this connection (accepted or not). */
  transactions = 0;
  /** Extensions from the last EHLO (after STARTTLS, the encrypted session's). */
  extensions: SmtpExtensions = NO_EXTENSIONS;
  /** True once the session is encrypted (implicit TLS or STARTTLS). */
  secure = false;
  /** Why the connection ended, once it has. */
  failure: SmtpConnectionError | undefined;

  private readonly opts: SmtpClientOptions;
  private readonly destination: string;
  private readonly servername: string | undefined;
  private socket: Socket | undefined;
  private state: State = 'new';
  private phase: Phase = 'tcp';
  private busy = false;
  /** Set when the session is in a state we cannot vouch for: the pool must not reuse it. */
  private broken = false;
  /** Between writing the end of data and reading its reply: a loss now may mean a duplicate. */
  private bodyInFlight = false;
  private parser = new ReplyParser();
  private waiters: Waiter[] = [];
  private gate: Gate | undefined;
  private phaseTimer: NodeJS.Timeout | undefined;
  private quitTimer: NodeJS.Timeout | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed: () => void = noop;
  private closeNotified = false;

  constructor(opts: SmtpClientOptions) {
    if (opts.ignoreTLS && opts.requireTLS) {
      throw new Error('SmtpClient: ignoreTLS and requireTLS cannot both be set');
    }
    if (opts.ignoreTLS && opts.auth && !opts.secure) {
      throw new Error(
        'SmtpClient: credentials (auth) are only sent over TLS, which ignoreTLS turns off',
      );
    }
    this.opts = opts;
    this.destination =
      isIP(opts.host) === 6 ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
    this.servername = opts.servername ?? (isIP(opts.host) ? undefined : opts.host);
    this.closedPromise = new Promise<void>((resolve) => (this.resolveClosed = resolve));
  }

  /** TLS is required: asked for, or implied by credentials (never sent in plaintext). */
  private get mustEncrypt(): boolean {
    return this.opts.requireTLS === true || this.opts.auth !== undefined;
  }

  /** Open, greeted, and not in the middle of anything the pool cannot see. */
  get usable(): boolean {
    return this.state === 'ready' && !this.broken;
  }

  /** True while a `send`, `reset` or the connect sequence is running. */
  get isBusy(): boolean {
    return this.busy;
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

  /**
   * Connects, reads the greeting, says EHLO (HELO if refused), upgrades with STARTTLS when
   * offered (unless `ignoreTLS`), and authenticates when credentials are set. Rejects with
   * SmtpReplyError or SmtpConnectionError; the connection is closed then.
   */
  async connect(): Promise<void> {
    if (this.state !== 'new') {
      throw this.connectionError('ESTATE', 'connect() may be called only once', 'connect');
    }
    this.state = 'connecting';
    this.busy = true;
    try {
      await this.open();
      await this.hello();
      if (!this.secure && !this.opts.ignoreTLS && this.extensions.starttls) {
        await this.startTls();
      }
      if (this.mustEncrypt && !this.secure) {
        throw this.connectionError(
          'ETLS',
          `${this.destination} does not offer STARTTLS and TLS is required${this.opts.auth ? ' (credentials are only sent over TLS)' : ''}`,
          'starttls',
        );
      }
      if (this.opts.auth) await this.authenticate(this.opts.auth);
      this.state = 'ready';
    } catch (e) {
      this.close();
      throw e;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Sends one message to one recipient. Resolves with the server's final reply (2xx); throws
   * SmtpReplyError for a refusal (the transaction is reset and the connection stays usable),
   * SmtpConnectionError when the connection fails (see `maybeAccepted`), SmtpEnvelopeError for
   * an address that cannot be sent.
   */
  async send(envelope: { from: string; to: string }, raw: string | Buffer): Promise<ServerReply> {
    checkEnvelope(envelope);
    this.enter('mail');
    this.transactions++;
    try {
      const ext = this.extensions;
      const body = toWire(raw);
      let params = '';
      if (body.eightBit && ext.eightBitMime) params += ' BODY=8BITMIME';
      if (ext.size > 0) params += ` SIZE=${body.bytes}`;
      if (
        ext.smtpUtf8 &&
        (Buffer.byteLength(envelope.from) !== envelope.from.length ||
          Buffer.byteLength(envelope.to) !== envelope.to.length)
      ) {
        params += ' SMTPUTF8';
      }
      const mail = `MAIL FROM:<${envelope.from}>${params}\r\n`;
      const rcpt = `RCPT TO:<${envelope.to}>\r\n`;

      let refusal: { reply: ServerReply; stage: SmtpStage } | undefined;
      if (ext.pipelining) {
        // RFC 2920: the three commands in one write, the replies read in order. All three are
        // read even after a refusal, so the next command lines up with its own reply.
        const pm = this.expect('mail');
        const pr = this.expect('rcpt');
        const pd = this.expect('data');
        // A lost connection rejects all three at once; the later ones are awaited below, or
        // abandoned after a 421, so their rejections are marked handled here.
        pr.catch(noop);
        pd.catch(noop);
        this.write(mail + rcpt + 'DATA\r\n');
        const m = await pm;
        if (m.code === 421) {
          // The server is closing the session: the other replies will never come.
          refusal = { reply: m, stage: 'mail' };
        } else {
          const r = await pr;
          if (r.code === 421) {
            refusal = { reply: r, stage: 'rcpt' };
          } else {
            const d = await pd;
            if (!positive(m)) refusal = { reply: m, stage: 'mail' };
            else if (!positive(r)) refusal = { reply: r, stage: 'rcpt' };
            else if (d.code !== 354) refusal = { reply: d, stage: 'data' };
            if (refusal && d.code === 354) {
              // The server took DATA although MAIL or RCPT failed (RFC 2920 3.1 says it must
              // not): an empty message ends the data phase so the session stays in step.
              await this.command('.', 'data');
            }
          }
        }
      } else {
        const m = await this.command(mail.slice(0, -2), 'mail');
        if (!positive(m)) refusal = { reply: m, stage: 'mail' };
        else {
          const r = await this.command(rcpt.slice(0, -2), 'rcpt');
          if (!positive(r)) refusal = { reply: r, stage: 'rcpt' };
          else {
            const d = await this.command('DATA', 'data');
            if (d.code !== 354) refusal = { reply: d, stage: 'data' };
          }
        }
      }
      if (refusal) {
        await this.afterRefusal(refusal.reply);
        throw new SmtpReplyError(refusal.reply, refusal.stage, this.destination);
      }

      const final = this.expect('message');
      this.bodyInFlight = true;
      this.write(body.data, body.encoding);
      const reply = await final;
      this.bodyInFlight = false;
      if (positive(reply)) {
        this.messagesSent++;
        return reply;
      }
      // After the reply to the end of data the transaction is over either way: no RSET.
      this.noteReply(reply);
      throw new SmtpReplyError(reply, 'message', this.destination);
    } finally {
      this.bodyInFlight = false;
      this.busy = false;
    }
  }

  /** Aborts any transaction (RSET). A refused RSET leaves the connection unusable. */
  async reset(): Promise<void> {
    this.enter('rset');
    try {
      const r = await this.command('RSET', 'rset');
      if (r.code < 200 || r.code >= 300) {
        this.broken = true;
        throw new SmtpReplyError(r, 'rset', this.destination);
      }
    } finally {
      this.busy = false;
    }
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

  /** Resolves once the connection is closed (never rejects). */
  closed(): Promise<void> {
    return this.closedPromise;
  }

  // --- session setup ---------------------------------------------------------------------

  private async open(): Promise<void> {
    const o = this.opts;
    const greeting = this.expect('greeting');
    const connected = this.waitGate('connect');
    // A failure rejects both, perhaps before they are awaited (or with only one of them ever
    // awaited): marked handled here, they still reject where they are awaited.
    greeting.catch(noop);
    connected.catch(noop);
    let socket: Socket;
    try {
      socket = o.secure
        ? tlsConnect({
            host: o.host,
            port: o.port,
            servername: this.servername,
            rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
            minVersion: o.tls?.minVersion ?? 'TLSv1.2',
            ca: o.tls?.ca,
          })
        : netConnect({ host: o.host, port: o.port });
    } catch (e) {
      // Invalid options (a bad port) throw synchronously.
      this.fail(this.connectionError('ECONNECTION', String(e), 'connect', e));
      await connected;
      return;
    }
    this.socket = socket;
    this.attach(socket);
    socket.setNoDelay(true);
    this.armPhaseTimer(o.connectionTimeoutMs ?? 30_000, 'connect', 'connection timed out');
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
    this.armPhaseTimer(o.greetingTimeoutMs ?? 30_000, 'greeting', 'no greeting');
    const reply = await greeting;
    this.clearPhaseTimer();
    // From here on, silence while a reply is awaited is bounded by the socket timeout.
    socket.setTimeout(o.socketTimeoutMs ?? 120_000);
    if (reply.code !== 220) {
      // RFC 5321 3.1: after a 554 greeting the client should QUIT; 421 closes anyway.
      socket.end('QUIT\r\n');
      throw new SmtpReplyError(reply, 'greeting', this.destination);
    }
  }

  private async hello(): Promise<void> {
    const name = this.opts.name ?? defaultHeloName(this.socket?.localAddress);
    const ehlo = await this.command(`EHLO ${name}`, 'ehlo');
    if (ehlo.code >= 200 && ehlo.code < 300) {
      this.extensions = parseExtensions(ehlo);
      return;
    }
    // Old servers that do not know EHLO answer 500/502; 421 and 4xx mean "not now".
    if (ehlo.code >= 500) {
      const helo = await this.command(`HELO ${name}`, 'ehlo');
      if (helo.code >= 200 && helo.code < 300) {
        this.extensions = NO_EXTENSIONS;
        return;
      }
      throw new SmtpReplyError(helo, 'ehlo', this.destination);
    }
    throw new SmtpReplyError(ehlo, 'ehlo', this.destination);
  }

  private async startTls(): Promise<void> {
    const reply = await this.command('STARTTLS', 'starttls');
    if (reply.code !== 220) {
      // A refused STARTTLS leaves the plaintext session as it was (RFC 3207 4); without
      // requireTLS, opportunistic TLS carries on in plaintext.
      if (reply.code === 421) throw new SmtpReplyError(reply, 'starttls', this.destination);
      if (this.mustEncrypt) {
        // The relay's setup, not the message, is at fault: a connection error, so the message
        // is deferred (or tried on another relay) instead of bouncing on the reply's code.
        throw this.connectionError(
          'ETLS',
          `${this.destination} refused STARTTLS and TLS is required: ${reply.text}`,
          'starttls',
        );
      }
      return;
    }
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
    const o = this.opts;
    const secure = tlsConnect({
      socket: plain,
      host: o.host,
      servername: this.servername,
      rejectUnauthorized: o.tls?.rejectUnauthorized ?? true,
      minVersion: o.tls?.minVersion ?? 'TLSv1.2',
      ca: o.tls?.ca,
    });
    this.socket = secure;
    this.attach(secure);
    secure.once('secureConnect', () => this.openGate());
    this.armPhaseTimer(o.connectionTimeoutMs ?? 30_000, 'tls', 'TLS handshake timed out');
    await handshake;
    this.clearPhaseTimer();
    this.phase = 'session';
    this.secure = true;
    this.parser = new ReplyParser();
    secure.setTimeout(o.socketTimeoutMs ?? 120_000);
    // RFC 3207 4.2: forget what the plaintext EHLO said and ask again.
    await this.hello();
  }

  private async authenticate(auth: { user: string; pass: string }): Promise<void> {
    const mechs = this.extensions.auth;
    let reply: ServerReply;
    if (mechs.has('PLAIN')) {
      const token = Buffer.from(`\0${auth.user}\0${auth.pass}`, 'utf8').toString('base64');
      reply = await this.command(`AUTH PLAIN ${token}`, 'auth');
    } else if (mechs.has('LOGIN')) {
      reply = await this.command('AUTH LOGIN', 'auth');
      if (reply.code === 334) {
        reply = await this.command(Buffer.from(auth.user, 'utf8').toString('base64'), 'auth');
      }
      if (reply.code === 334) {
        reply = await this.command(Buffer.from(auth.pass, 'utf8').toString('base64'), 'auth');
      }
    } else {
      const offered = [...mechs].join(' ') || 'none';
      throw this.connectionError(
        'EAUTH',
        `${this.destination} offers no AUTH mechanism this client supports (PLAIN, LOGIN); offered: ${offered}`,
        'auth',
      );
    }
    if (reply.code !== 235) throw new SmtpReplyError(reply, 'auth', this.destination);
  }

  // --- transaction helpers ---------------------------------------------------------------

  private enter(stage: SmtpConnectionStage): void {
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

  /** After a refused MAIL, RCPT or DATA: RSET so the connection can take the next message. */
  private async afterRefusal(reply: ServerReply): Promise<void> {
    if (this.noteReply(reply)) return;
    try {
      const r = await this.command('RSET', 'rset');
      if (r.code < 200 || r.code >= 300) this.broken = true;
    } catch {
      // The refusal is the message's answer; a connection lost during RSET only makes the
      // connection unusable, which `usable` already reports.
    }
  }

  /** Marks the connection unusable after a 421 (the server is closing it). True if so. */
  private noteReply(reply: ServerReply): boolean {
    if (reply.code === 421) {
      this.broken = true;
      return true;
    }
    if (reply.code < 400) {
      // A 1xx/3xx where 2xx or a refusal was due: the server's state is unknown.
      this.broken = true;
    }
    return false;
  }

  private command(line: string, stage: SmtpConnectionStage): Promise<ServerReply> {
    const reply = this.expect(stage);
    this.write(`${line}\r\n`);
    return reply;
  }

  private expect(stage: SmtpConnectionStage): Promise<ServerReply> {
    if (this.state === 'closed') {
      return Promise.reject(
        this.failure ?? this.connectionError('ECLOSED', 'connection is closed', stage),
      );
    }
    return new Promise<ServerReply>((resolve, reject) => {
      this.waiters.push({ stage, resolve, reject });
    });
  }

  private write(data: string, encoding: 'utf8' | 'latin1' = 'utf8'): void {
    // Write errors arrive as 'error' events and fail the waiters; nothing to do here.
    if (this.state !== 'closed') this.socket?.write(data, encoding);
  }

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
    this.fail(this.connectionError(code, `${this.destination}: ${msg}`, this.currentStage(), err));
  };

  private readonly onTimeout = (): void => {
    // The socket timeout counts silence; it only matters while a reply is awaited (an idle
    // pooled connection is the pool's business).
    if (this.waiters.length === 0 && !this.gate) return;
    const ms = this.opts.socketTimeoutMs ?? 120_000;
    this.fail(
      this.connectionError(
        'ETIMEDOUT',
        `${this.destination}: no reply within ${ms} ms`,
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
            ? `${this.destination} closed the connection during the TLS handshake`
            : `${this.destination} closed the connection`,
          this.currentStage(),
        ),
      );
    }
    this.finish();
  };

  private armPhaseTimer(ms: number, stage: SmtpConnectionStage, what: string): void {
    this.clearPhaseTimer();
    this.phaseTimer = setTimeout(() => {
      this.phaseTimer = undefined;
      this.fail(
        this.connectionError('ETIMEDOUT', `${this.destination}: ${what} within ${ms} ms`, stage),
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

  private connectionError(
    code: string,
    message: string,
    stage: SmtpConnectionStage,
    cause?: unknown,
  ): SmtpConnectionError {
    return new SmtpConnectionError(code, message, {
      stage,
      destination: this.destination,
      maybeAccepted: this.bodyInFlight,
      cause,
    });
  }

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
      this.opts.onClose?.(this);
    } catch {
      // A callback's bug must not surface as an exception from a socket event.
    }
  }
}
