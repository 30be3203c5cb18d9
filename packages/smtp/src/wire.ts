/**
 * What goes on the wire for a message: envelope addresses checked so they cannot break or
 * inject into a command line, and the body dot-stuffed and terminated.
 */
import { isAscii } from 'node:buffer';
import { SmtpEnvelopeError } from './errors.ts';

/** Characters that would break or inject into an SMTP command line. */
// eslint-disable-next-line no-control-regex -- control characters are what must not reach the wire
const BAD_ADDRESS = /[\x00-\x1f\x7f<>]/;

/** Throws SmtpEnvelopeError for an address that would break the command line it goes on. */
export function checkEnvelope(envelope: { from: string; to: string }): void {
  if (BAD_ADDRESS.test(envelope.from)) throw new SmtpEnvelopeError('from', envelope.from);
  if (BAD_ADDRESS.test(envelope.to)) throw new SmtpEnvelopeError('to', envelope.to);
}

/** Body ready for the wire: dot-stuffed, then `tail` (the end of data) written after it. */
export interface WireBody {
  data: string | Buffer;
  /** Latin1 for a string of bytes (a Buffer's, or ASCII text); ignored for a Buffer. */
  encoding: 'utf8' | 'latin1';
  /** The end-of-data line, and the line end before it when the body lacks one. */
  tail: string;
  /** Size in bytes of the message as given (for SIZE=). */
  bytes: number;
  eightBit: boolean;
}

const CRLF_END = '.\r\n';
const BARE_END = '\r\n.\r\n';

/**
 * Dot-stuffs the body and appends the end-of-data line, in one pass over the text when no
 * line starts with "." (the common case costs two `includes` scans). Dots are doubled after
 * every LF and every CR, not only after CRLF: a body with bare line ends can then never
 * contain a sequence that some receiver takes for the end of data (SMTP smuggling), while a
 * CRLF body is stuffed exactly as RFC 5321 4.5.2 says. A Buffer that needs no stuffing goes
 * out as it is, never copied into a string; any other is handled as latin1 text, which maps
 * every byte to one character and back unchanged.
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
    bytes = raw.length;
    eightBit = !isAscii(raw);
    const n = raw.length;
    if (
      n >= 2 &&
      raw[0] !== 46 &&
      raw.indexOf('\n.') < 0 &&
      raw.indexOf('\r.') < 0 &&
      (raw[n - 1] !== 10 || raw[n - 2] === 13)
    ) {
      const tail = raw[n - 1] === 10 ? CRLF_END : BARE_END;
      return { data: raw, encoding: 'latin1', tail, bytes, eightBit };
    }
    text = raw.toString('latin1');
    encoding = 'latin1';
  }
  if (text.charCodeAt(0) === 46 || text.includes('\n.') || text.includes('\r.')) {
    text = text.replace(/(^|[\r\n])\./g, '$1..');
  }
  if (text.length === 0) return { data: '', encoding, tail: CRLF_END, bytes, eightBit };
  if (text.endsWith('\r\n')) return { data: text, encoding, tail: CRLF_END, bytes, eightBit };
  if (text.endsWith('\n')) {
    return { data: text.slice(0, -1), encoding, tail: BARE_END, bytes, eightBit };
  }
  return { data: text, encoding, tail: BARE_END, bytes, eightBit };
}
