/**
 * What goes on the wire for a message: envelope addresses checked so they cannot break or
 * inject into a command line, and the body dot-stuffed and terminated.
 */
import { SmtpEnvelopeError } from './errors.ts';

/** Characters that would break or inject into an SMTP command line. */
// eslint-disable-next-line no-control-regex -- control characters are what must not reach the wire
const BAD_ADDRESS = /[\x00-\x1f\x7f<>]/;

/** Throws SmtpEnvelopeError for an address that would break the command line it goes on. */
export function checkEnvelope(envelope: { from: string; to: string }): void {
  if (BAD_ADDRESS.test(envelope.from)) throw new SmtpEnvelopeError('from', envelope.from);
  if (BAD_ADDRESS.test(envelope.to)) throw new SmtpEnvelopeError('to', envelope.to);
}

/** Body ready for the wire: dot-stuffed and terminated. */
export interface WireBody {
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
