/**
 * From connect to a session ready for mail: the greeting, EHLO (HELO if refused), STARTTLS
 * whenever offered (unless ignoreTLS), and AUTH PLAIN or LOGIN. Credentials are only ever
 * sent once the session is encrypted.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { SmtpReplyError } from './errors.ts';
import { NO_EXTENSIONS, parseExtensions } from './extensions.ts';
import type { ResolvedOptions } from './options.ts';
import type { ServerReply } from './reply-parser.ts';
import type { SmtpSession } from './session.ts';

/** Rejects with SmtpReplyError or SmtpConnectionError; the caller closes the session then. */
export async function handshake(s: SmtpSession, o: ResolvedOptions): Promise<void> {
  const greeting = await s.open();
  if (greeting.code !== 220) {
    // RFC 5321 3.1: after a 554 greeting the client should QUIT; 421 closes anyway.
    s.end('QUIT\r\n');
    throw new SmtpReplyError(greeting, 'greeting', s.destination);
  }
  await hello(s, o);
  if (!s.secure && !o.ignoreTLS && s.extensions.starttls) {
    await startTls(s, o);
  }
  if (o.mustEncrypt && !s.secure) {
    throw s.connectionError(
      'ETLS',
      `${s.destination} does not offer STARTTLS and TLS is required${o.auth ? ' (credentials are only sent over TLS)' : ''}`,
      'starttls',
    );
  }
  if (o.auth) await authenticate(s, o.auth);
}

function defaultHeloName(localAddress: string | undefined): string {
  const h = hostname();
  // Receivers expect a fully qualified name or an address literal (RFC 5321 4.1.4).
  if (h.includes('.')) return h;
  if (!localAddress) return '[127.0.0.1]';
  return isIP(localAddress) === 6 ? `[IPv6:${localAddress}]` : `[${localAddress}]`;
}

async function hello(s: SmtpSession, o: ResolvedOptions): Promise<void> {
  const name = o.name ?? defaultHeloName(s.localAddress);
  const ehlo = await s.command(`EHLO ${name}`, 'ehlo');
  if (ehlo.code >= 200 && ehlo.code < 300) {
    s.extensions = parseExtensions(ehlo);
    return;
  }
  // Old servers that do not know EHLO answer 500/502; 421 and 4xx mean "not now".
  if (ehlo.code >= 500) {
    const helo = await s.command(`HELO ${name}`, 'ehlo');
    if (helo.code >= 200 && helo.code < 300) {
      s.extensions = NO_EXTENSIONS;
      return;
    }
    throw new SmtpReplyError(helo, 'ehlo', s.destination);
  }
  throw new SmtpReplyError(ehlo, 'ehlo', s.destination);
}

async function startTls(s: SmtpSession, o: ResolvedOptions): Promise<void> {
  const reply = await s.command('STARTTLS', 'starttls');
  if (reply.code !== 220) {
    // A refused STARTTLS leaves the plaintext session as it was (RFC 3207 4); without
    // requireTLS, opportunistic TLS carries on in plaintext.
    if (reply.code === 421) throw new SmtpReplyError(reply, 'starttls', s.destination);
    if (o.mustEncrypt) {
      // The relay's setup, not the message, is at fault: a connection error, so the message
      // is deferred (or tried on another relay) instead of bouncing on the reply's code.
      throw s.connectionError(
        'ETLS',
        `${s.destination} refused STARTTLS and TLS is required: ${reply.text}`,
        'starttls',
      );
    }
    return;
  }
  await s.upgrade();
  // RFC 3207 4.2: forget what the plaintext EHLO said and ask again.
  await hello(s, o);
}

async function authenticate(s: SmtpSession, auth: { user: string; pass: string }): Promise<void> {
  const mechs = s.extensions.auth;
  let reply: ServerReply;
  if (mechs.has('PLAIN')) {
    const token = Buffer.from(`\0${auth.user}\0${auth.pass}`, 'utf8').toString('base64');
    reply = await s.command(`AUTH PLAIN ${token}`, 'auth');
  } else if (mechs.has('LOGIN')) {
    reply = await s.command('AUTH LOGIN', 'auth');
    if (reply.code === 334) {
      reply = await s.command(Buffer.from(auth.user, 'utf8').toString('base64'), 'auth');
    }
    if (reply.code === 334) {
      reply = await s.command(Buffer.from(auth.pass, 'utf8').toString('base64'), 'auth');
    }
  } else {
    const offered = [...mechs].join(' ') || 'none';
    throw s.connectionError(
      'EAUTH',
      `${s.destination} offers no AUTH mechanism this client supports (PLAIN, LOGIN); offered: ${offered}`,
      'auth',
    );
  }
  if (reply.code !== 235) throw new SmtpReplyError(reply, 'auth', s.destination);
}
