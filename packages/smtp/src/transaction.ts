/**
 * One message to one recipient on a session that is ready. With PIPELINING (RFC 2920) the
 * message costs two writes (MAIL, RCPT and DATA together, then the dot-stuffed body), and one
 * when the next message's commands ride with its body (see `transact`), and two reads, which
 * is what takes the sender's CPU per message below nodemailer's; without it, one command at a
 * time. The hot path: no allocation beyond the command lines and the reply
 * promises, and no async step beyond the replies awaited.
 */
import { isAscii } from 'node:buffer';
import { SmtpConnectionError, SmtpReplyError, type SmtpStage } from './errors.ts';
import type { SmtpExtensions } from './extensions.ts';
import type { ServerReply } from './reply-parser.ts';
import { noop, type SmtpSession } from './session.ts';
import { toWire, type WireBody } from './wire.ts';

type Envelope = { from: string; to: string };

function positive(reply: ServerReply): boolean {
  return reply.code >= 200 && reply.code < 300;
}

/**
 * Sends the message on a session the caller has entered (`SmtpSession.enter`), which is left
 * again whatever happens. Resolves with the final 2xx reply; rejects with SmtpReplyError for
 * a refusal (after which the transaction is reset) or SmtpConnectionError.
 *
 * `handOver`, with PIPELINING: called once the end of data is written, the session left
 * already, so the caller can start the next transaction on this connection at once; its
 * commands then go out with this body and its replies queue behind this final reply. Without
 * it, the session stays entered until the final reply.
 */
export function transact(
  s: SmtpSession,
  envelope: Envelope,
  raw: string | Buffer,
  handOver?: () => void,
): Promise<ServerReply> {
  s.transactions++;
  return s.extensions.pipelining ? pipelined(s, envelope, raw, handOver) : serial(s, envelope, raw);
}

async function pipelined(
  s: SmtpSession,
  envelope: Envelope,
  raw: string | Buffer,
  handOver: (() => void) | undefined,
): Promise<ServerReply> {
  let bodyWritten = false;
  let left = false;
  try {
    const body = toWire(raw);
    const utf8 = internationalized(s, envelope, body);
    // RFC 2920: the three commands in one write, the replies read in order. All three are
    // read even after a refusal, so the next command lines up with its own reply.
    const pm = s.expect('mail');
    const pr = s.expect('rcpt');
    const pd = s.expect('data');
    // A lost connection rejects all three at once; the later ones are awaited below, or
    // abandoned after a 421, so their rejections are marked handled here.
    pr.catch(noop);
    pd.catch(noop);
    s.write(
      `${mailCommand(s.extensions, envelope, body, utf8)}\r\nRCPT TO:<${envelope.to}>\r\nDATA\r\n`,
    );
    const m = await pm;
    // A 421 means the server is closing the session: the other replies will never come.
    if (m.code === 421) return await refused(s, m, 'mail');
    const r = await pr;
    if (r.code === 421) return await refused(s, r, 'rcpt');
    const d = await pd;
    if (!positive(m) || !positive(r) || d.code !== 354) {
      if (d.code === 354) {
        // The server took DATA although MAIL or RCPT failed (RFC 2920 3.1 says it must
        // not): an empty message ends the data phase so the session stays in step.
        await s.command('.', 'data');
      }
      if (!positive(m)) return await refused(s, m, 'mail');
      if (!positive(r)) return await refused(s, r, 'rcpt');
      return await refused(s, d, 'data');
    }
    const final = sendBody(s, body);
    bodyWritten = true;
    if (handOver) {
      left = true;
      s.busy = false;
      handOver();
    }
    return accepted(s, await final);
  } catch (e) {
    throw ownFailure(e, bodyWritten);
  } finally {
    if (bodyWritten) s.bodiesInFlight--;
    if (!left) s.busy = false;
  }
}

/**
 * A lost connection fails every transaction on it with one error, whose `maybeAccepted` says
 * whether any body was in flight; one whose own body was not written cannot have been
 * accepted, and is safe to send again.
 */
function ownFailure(e: unknown, bodyWritten: boolean): unknown {
  if (bodyWritten || !(e instanceof SmtpConnectionError) || !e.maybeAccepted) return e;
  return new SmtpConnectionError(e.errorCode, e.message, {
    stage: e.stage,
    destination: e.destination,
    cause: e.cause,
  });
}

async function serial(
  s: SmtpSession,
  envelope: Envelope,
  raw: string | Buffer,
): Promise<ServerReply> {
  let bodyWritten = false;
  try {
    const body = toWire(raw);
    const utf8 = internationalized(s, envelope, body);
    const m = await s.command(mailCommand(s.extensions, envelope, body, utf8), 'mail');
    if (!positive(m)) return await refused(s, m, 'mail');
    const r = await s.command(`RCPT TO:<${envelope.to}>`, 'rcpt');
    if (!positive(r)) return await refused(s, r, 'rcpt');
    const d = await s.command('DATA', 'data');
    if (d.code !== 354) return await refused(s, d, 'data');
    const final = sendBody(s, body);
    bodyWritten = true;
    return accepted(s, await final);
  } finally {
    if (bodyWritten) s.bodiesInFlight--;
    s.busy = false;
  }
}

/**
 * Whether the message is an internationalized one (RFC 6531, 6532): a non-ASCII envelope
 * address, or UTF-8 in its header (an address there; Volley writes every other header value
 * in ASCII). Such a message goes only with SMTPUTF8: to a server that does not offer it, it
 * is refused here, before anything is sent, with the reply RFC 6531 §3.2 names (553 5.6.7),
 * which the classifier reads as a permanent failure of this message, not of the address.
 */
function internationalized(s: SmtpSession, envelope: Envelope, body: WireBody): boolean {
  let why: string | undefined;
  if (Buffer.byteLength(envelope.to) !== envelope.to.length) why = `recipient ${envelope.to}`;
  else if (Buffer.byteLength(envelope.from) !== envelope.from.length)
    why = `sender ${envelope.from}`;
  else if (body.eightBit && !isAscii(headerBytes(body.data))) why = 'header';
  if (why === undefined) return false;
  if (s.extensions.smtpUtf8) return true;
  const enhanced = why === 'header' ? '5.6.9' : '5.6.7';
  const text = `553 ${enhanced} ${s.destination} does not offer SMTPUTF8, which the non-ASCII ${why === 'header' ? 'address in the header' : why} needs (RFC 6531); not sent`;
  throw new SmtpReplyError({ code: 553, enhanced, text }, 'mail', s.destination);
}

/** The header section (up to the blank line) as bytes, whether the body came as bytes or text. */
function headerBytes(data: string | Buffer): Buffer {
  const end = data.indexOf('\r\n\r\n');
  if (typeof data !== 'string') return end < 0 ? data : data.subarray(0, end);
  // A string here is ASCII, UTF-8 text, or bytes read as latin1: any non-ASCII character
  // encodes to a non-ASCII byte either way.
  return Buffer.from(end < 0 ? data : data.slice(0, end), 'utf8');
}

/** MAIL FROM with the parameters the server announced and the message needs. */
function mailCommand(
  ext: SmtpExtensions,
  envelope: Envelope,
  body: WireBody,
  utf8: boolean,
): string {
  let params = '';
  if (body.eightBit && ext.eightBitMime) params += ' BODY=8BITMIME';
  if (ext.size > 0) params += ` SIZE=${body.bytes}`;
  if (utf8) params += ' SMTPUTF8';
  return `MAIL FROM:<${envelope.from}>${params}`;
}

/** Writes the body and its end; resolves with the final reply. */
function sendBody(s: SmtpSession, body: WireBody): Promise<ServerReply> {
  const final = s.expect('message');
  s.bodiesInFlight++;
  s.writeBody(body.data, body.encoding, body.tail);
  return final;
}

/** The final reply: the message is the server's, or refused. */
function accepted(s: SmtpSession, reply: ServerReply): ServerReply {
  if (positive(reply)) {
    s.messagesSent++;
    return reply;
  }
  // After the reply to the end of data the transaction is over either way: no RSET.
  noteReply(s, reply);
  throw new SmtpReplyError(reply, 'message', s.destination);
}

/** A refused MAIL, RCPT or DATA: RSET so the connection can take the next message, then throw. */
async function refused(s: SmtpSession, reply: ServerReply, stage: SmtpStage): Promise<never> {
  if (!noteReply(s, reply)) {
    try {
      const r = await s.command('RSET', 'rset');
      if (!positive(r)) s.broken = true;
    } catch {
      // The refusal is the message's answer; a connection lost during RSET only makes the
      // connection unusable, which `usable` already reports.
    }
  }
  throw new SmtpReplyError(reply, stage, s.destination);
}

/** Marks the connection unusable after a 421 (the server is closing it). True if so. */
function noteReply(s: SmtpSession, reply: ServerReply): boolean {
  if (reply.code === 421) {
    s.broken = true;
    return true;
  }
  if (reply.code < 400) {
    // A 1xx/3xx where 2xx or a refusal was due: the server's state is unknown.
    s.broken = true;
  }
  return false;
}
