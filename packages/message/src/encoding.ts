const HEX = '0123456789ABCDEF';

/**
 * Quoted-printable (RFC 2045 §6.7) of a UTF-8 string, CRLF line endings, lines of at most
 * 76 characters. Line breaks in the input (LF or CRLF) become hard breaks. The output never
 * contains "=_", which is what makes the multipart boundary safe without scanning bodies.
 */
export function encodeQuotedPrintable(input: string): string {
  const bytes = Buffer.from(input, 'utf8');
  const out: string[] = [];
  let line = '';
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b === 0x0d && bytes[i + 1] === 0x0a) continue; // CR of CRLF: the LF emits the break
    if (b === 0x0a) {
      out.push(line, '\r\n');
      line = '';
      continue;
    }
    let tok: string;
    if ((b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !atLineEnd(bytes, i + 1))) {
      tok = String.fromCharCode(b);
    } else {
      tok = '=' + HEX[b >> 4] + HEX[b & 15];
    }
    // 75 + the soft-break '=' keeps each line at 76.
    if (line.length + tok.length > 75) {
      out.push(line, '=\r\n');
      line = '';
    }
    line += tok;
  }
  out.push(line);
  return out.join('');
}

function atLineEnd(bytes: Buffer, i: number): boolean {
  return i >= bytes.length || bytes[i] === 0x0a || (bytes[i] === 0x0d && bytes[i + 1] === 0x0a);
}

// eslint-disable-next-line no-control-regex
const PLAIN_HEADER = /^[\x20-\x7e]*$/;

/**
 * A header value safe to write: control characters (CR/LF included) become spaces, so a
 * rendered variable can never start a new header; non-ASCII text becomes RFC 2047 encoded
 * words folded onto continuation lines.
 */
export function encodeHeaderValue(value: string, headerNameLength: number): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\x00-\x1f\x7f]+/g, ' ');
  if (PLAIN_HEADER.test(clean) && clean.length + headerNameLength + 2 <= 998) return clean;
  const words: string[] = [];
  // Encoded words are at most 75 characters: "=?UTF-8?B?" + payload + "?=", payload up to 63
  // base64 characters, i.e. 45 bytes, never splitting a UTF-8 sequence.
  let chunk: string[] = [];
  let chunkBytes = 0;
  for (const ch of clean) {
    const len = Buffer.byteLength(ch);
    if (chunkBytes + len > 45) {
      words.push(encodeWord(chunk.join('')));
      chunk = [];
      chunkBytes = 0;
    }
    chunk.push(ch);
    chunkBytes += len;
  }
  if (chunk.length) words.push(encodeWord(chunk.join('')));
  return words.join('\r\n ');
}

function encodeWord(s: string): string {
  return `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}
