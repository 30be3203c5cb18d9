/**
 * How to reach a server and what to require of the session, with every default in one place:
 * `resolveOptions` applies them once, when a client is made.
 */
import { isIP } from 'node:net';
import type { SecureVersion } from 'node:tls';
import { SmtpOptionsError } from './errors.ts';

/** TCP connect, plus the TLS handshake (implicit or after STARTTLS). */
const CONNECTION_TIMEOUT_MS = 30_000;
/**
 * From connect to the 220. RFC 5321 4.5.3.2.1 suggests waiting 5 minutes; a campaign sender
 * would rather defer the message, or try the next host, than hold a worker that long.
 */
const GREETING_TIMEOUT_MS = 30_000;
/**
 * Silence while a reply is awaited: room for a receiver's slow content checks at the end of
 * data, short of the 10 minutes RFC 5321 4.5.3.2.6 suggests there.
 */
const SOCKET_TIMEOUT_MS = 120_000;
/** TLS 1.0 and 1.1 are deprecated (RFC 8996). */
const MIN_TLS_VERSION: SecureVersion = 'TLSv1.2';

export interface SmtpTlsOptions {
  /** Check the certificate chain and name. @defaultValue true */
  rejectUnauthorized?: boolean | undefined;
  /** @defaultValue 'TLSv1.2' */
  minVersion?: SecureVersion | undefined;
  /** Trusted CA certificates in place of Node's bundle (a private relay, tests). @defaultValue Node's bundle */
  ca?: string | Buffer | (string | Buffer)[] | undefined;
}

/** Everything about a connection except what the client object reports back (its onClose). */
export interface SmtpConnectOptions {
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
  /** @defaultValue see SmtpTlsOptions */
  tls?: SmtpTlsOptions | undefined;
  /** EHLO name. @defaultValue the OS host name if it is qualified, else the local address literal */
  name?: string | undefined;
  /** Credentials for AUTH PLAIN or LOGIN; sent only once the session is encrypted. @defaultValue none */
  auth?: { user: string; pass: string } | undefined;
  /** TCP connect, plus the TLS handshake. @defaultValue 30 000 ms */
  connectionTimeoutMs?: number | undefined;
  /** From connect to the greeting. @defaultValue 30 000 ms */
  greetingTimeoutMs?: number | undefined;
  /** Longest silence while a reply is awaited. @defaultValue 120 000 ms */
  socketTimeoutMs?: number | undefined;
}

/** The options with every default applied, as the session and handshake read them. */
export interface ResolvedOptions {
  host: string;
  port: number;
  /** `host:port` (`[ip6]:port`) for messages and errors. */
  destination: string;
  servername: string | undefined;
  secure: boolean;
  ignoreTLS: boolean;
  /** TLS is required: asked for, or implied by credentials. */
  mustEncrypt: boolean;
  tls: { rejectUnauthorized: boolean; minVersion: SecureVersion; ca: SmtpTlsOptions['ca'] };
  /** Undefined: chosen at EHLO time, from the local address if need be. */
  name: string | undefined;
  auth: { user: string; pass: string } | undefined;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

/** Applies the defaults; throws SmtpOptionsError for options that contradict each other. */
export function resolveOptions(opts: SmtpConnectOptions): ResolvedOptions {
  if (opts.ignoreTLS && opts.requireTLS) {
    throw new SmtpOptionsError('SmtpClient: ignoreTLS and requireTLS cannot both be set');
  }
  if (opts.ignoreTLS && opts.auth && !opts.secure) {
    throw new SmtpOptionsError(
      'SmtpClient: credentials (auth) are only sent over TLS, which ignoreTLS turns off',
    );
  }
  return {
    host: opts.host,
    port: opts.port,
    destination:
      isIP(opts.host) === 6 ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`,
    servername: opts.servername ?? (isIP(opts.host) ? undefined : opts.host),
    secure: opts.secure ?? false,
    ignoreTLS: opts.ignoreTLS ?? false,
    mustEncrypt: opts.requireTLS === true || opts.auth !== undefined,
    tls: {
      rejectUnauthorized: opts.tls?.rejectUnauthorized ?? true,
      minVersion: opts.tls?.minVersion ?? MIN_TLS_VERSION,
      ca: opts.tls?.ca,
    },
    name: opts.name,
    auth: opts.auth,
    connectionTimeoutMs: opts.connectionTimeoutMs ?? CONNECTION_TIMEOUT_MS,
    greetingTimeoutMs: opts.greetingTimeoutMs ?? GREETING_TIMEOUT_MS,
    socketTimeoutMs: opts.socketTimeoutMs ?? SOCKET_TIMEOUT_MS,
  };
}
