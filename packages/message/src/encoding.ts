/**
 * Anything but printable ASCII, tab and line breaks: what keeps a body part from going as 7bit.
 * A single character class is a plain scan, several times faster than one pattern that also
 * pairs CR with LF. The renderer tests each piece of a template's output against it, so the
 * composer need not scan a part made only of plain pieces (render-budget.ts).
 */
export const NOT_SEVEN_BIT = /[^\t\n\r\x20-\x7e]/;

const HEX = '0123456789ABCDEF';

/**
 * Quoted-printable (RFC 2045 §6.7) of a UTF-8 string, CRLF line endings, lines of at most
 * 76 characters. Line breaks in the input (LF or CRLF) become hard breaks. The output never
 * contains "=_", which is what makes the multipart boundary safe without scanning bodies.
 *
 * This runs once per message part for every recipient, so it works on the string's char codes
 * and copies runs of printable characters as slices, rather than converting to bytes and
 * building the output one character at a time.
 */
export function encodeQuotedPrintable(input: string): string {
  const out: string[] = [];
  let line = '';
  const n = input.length;
  let i = 0;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (c === 10 || (c === 13 && input.charCodeAt(i + 1) === 10)) {
      out.push(line, '\r\n');
      line = '';
      i += c === 13 ? 2 : 1;
      continue;
    }
    if (c >= 33 && c <= 126 && c !== 61) {
      let j = i + 1;
      while (j < n) {
        const d = input.charCodeAt(j);
        if (d < 33 || d > 126 || d === 61) break;
        j++;
      }
      while (i < j) {
        if (line.length >= 75) {
          out.push(line, '=\r\n');
          line = '';
        }
        // A line that starts with "." is dot-stuffed by SMTP and a lone "." ends the data;
        // encoding it keeps the body intact through any relay that gets the stuffing wrong
        // (RFC 2049 §3).
        if (line.length === 0 && input.charCodeAt(i) === 46) {
          line = '=2E';
          i++;
          continue;
        }
        const take = Math.min(75 - line.length, j - i);
        line += input.slice(i, i + take);
        i += take;
      }
      continue;
    }
    let tok: string;
    let width = 1;
    if (c === 32 || c === 9) {
      const next = input.charCodeAt(i + 1);
      const atEnd = i + 1 >= n || next === 10 || (next === 13 && input.charCodeAt(i + 2) === 10);
      tok = atEnd ? (c === 32 ? '=20' : '=09') : c === 32 ? ' ' : '\t';
    } else if (c < 128) {
      tok = '=' + HEX[c >> 4] + HEX[c & 15];
    } else {
      let cp = input.codePointAt(i) ?? 0xfffd;
      if (cp > 0xffff) width = 2;
      // A lone surrogate is not a character: written as U+FFFD, as Buffer.from would.
      else if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      tok = utf8Escapes(cp);
    }
    // 75 + the soft-break "=" keeps each line at 76; a character's escapes stay on one line.
    if (line.length + tok.length > 75) {
      out.push(line, '=\r\n');
      line = '';
    }
    line += tok;
    i += width;
  }
  out.push(line);
  return out.join('');
}

function hex(b: number): string {
  return '=' + HEX[b >> 4] + HEX[b & 15];
}

function utf8Escapes(cp: number): string {
  if (cp < 0x800) return hex(0xc0 | (cp >> 6)) + hex(0x80 | (cp & 63));
  if (cp < 0x10000) {
    return hex(0xe0 | (cp >> 12)) + hex(0x80 | ((cp >> 6) & 63)) + hex(0x80 | (cp & 63));
  }
  return (
    hex(0xf0 | (cp >> 18)) +
    hex(0x80 | ((cp >> 12) & 63)) +
    hex(0x80 | ((cp >> 6) & 63)) +
    hex(0x80 | (cp & 63))
  );
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
  // The usual subject: it fits on its first line, nothing to fold (and LINE_SHOULD <= limit).
  if (prefix + value.length <= LINE_SHOULD) return value;
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
