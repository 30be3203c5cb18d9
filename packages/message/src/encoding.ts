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
    // A line that starts with "." is dot-stuffed by SMTP and a lone "." ends the data; encoding
    // it keeps the body intact through any relay that gets the stuffing wrong (RFC 2049 §3).
    if (line.length === 0 && tok === '.') tok = '=2E';
    line += tok;
  }
  out.push(line);
  return out.join('');
}

function atLineEnd(bytes: Buffer, i: number): boolean {
  return i >= bytes.length || bytes[i] === 0x0a || (bytes[i] === 0x0d && bytes[i + 1] === 0x0a);
}

/** RFC 5322 §2.1.1: lines SHOULD stay within 78 characters and MUST within 998. */
const LINE_SHOULD = 78;
const LINE_MUST = 998;
/** RFC 2047 §2: a line holding encoded words is at most 76 characters. */
const ENCODED_LINE = 76;
const WORD_OVERHEAD = '=?UTF-8?B?'.length + '?='.length;

const PLAIN_HEADER = /^[\x20-\x7e]*$/;

/**
 * A header value safe to write after "Name: ": control characters (CR/LF included) become
 * spaces, so a rendered variable can never start a new header; printable ASCII is folded at
 * spaces to keep lines within 78 characters; anything else becomes RFC 2047 encoded words on
 * lines of at most 76. `headerNameLength` is the length of the name, so the first line counts it.
 *
 * `unstructured` (RFC 5322 §3.2.5, e.g. Subject) allows encoded words for plain text too, so
 * a word too long to fold still leaves every line within 78. Other fields may hold tokens
 * encoded words would break, so there a long word keeps its line (up to the 998 limit).
 */
export function encodeHeaderValue(
  value: string,
  headerNameLength: number,
  unstructured = false,
): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\x00-\x1f\x7f]+/g, ' ');
  const prefix = headerNameLength + 2; // "Name: "
  // Plain text containing "=?" would be decoded by readers as if it were an encoded word.
  if (PLAIN_HEADER.test(clean) && !clean.includes('=?')) {
    const folded = foldPlain(clean, prefix, unstructured ? LINE_SHOULD : LINE_MUST);
    if (folded !== undefined) return folded;
  }
  return encodeWords(clean, prefix);
}

/**
 * Folds at single spaces between words (unfolding restores exactly that space; readers collapse
 * a run of spaces around a fold). Undefined when a line would pass `limit`.
 */
function foldPlain(value: string, prefix: number, limit: number): string | undefined {
  const words = value.split(' ');
  let out = words[0] ?? '';
  let lineLength = prefix + out.length;
  for (let i = 1; i < words.length; i++) {
    const w = words[i] as string;
    // Only a single space between two words is a fold point; the previous word being on this
    // line also means the line is not left empty.
    const canFold = w !== '' && words[i - 1] !== '';
    if (canFold && lineLength + 1 + w.length > LINE_SHOULD) {
      out += '\r\n ' + w;
      lineLength = 1 + w.length;
    } else {
      out += ' ' + w;
      lineLength += 1 + w.length;
    }
    if (lineLength > limit) return undefined;
  }
  return lineLength > limit ? undefined : out;
}

/**
 * Base64 encoded words (RFC 2047), never splitting a UTF-8 sequence, on lines of at most 76
 * characters; `prefix` is what precedes the first word on its line.
 */
export function encodeWords(value: string, prefix: number): string {
  const bytesFor = (room: number) => Math.floor((room - WORD_OVERHEAD) / 4) * 3;
  // A very long header name leaves little room on the first line; 6 bytes still fit any character.
  let budget = Math.max(6, bytesFor(ENCODED_LINE - prefix));
  const words: string[] = [];
  let chunk = '';
  let chunkBytes = 0;
  for (const ch of value) {
    const len = Buffer.byteLength(ch);
    if (chunkBytes + len > budget) {
      words.push(encodeWord(chunk));
      chunk = '';
      chunkBytes = 0;
      budget = bytesFor(ENCODED_LINE - 1); // continuation lines start with one space
    }
    chunk += ch;
    chunkBytes += len;
  }
  if (chunk.length) words.push(encodeWord(chunk));
  return words.join('\r\n ');
}

function encodeWord(s: string): string {
  return `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}
