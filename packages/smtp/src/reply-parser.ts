/**
 * Server replies from the byte stream: multi-line replies, replies split across packets and
 * several replies in one packet, bounded so a peer streaming garbage cannot grow our buffers.
 */
import { StringDecoder } from 'node:string_decoder';
import { enhancedAfterCode } from './enhanced-status.ts';

/** One complete server reply. */
export interface ServerReply {
  code: number;
  /** The reply as sent, code included; the lines of a multi-line reply joined with "\n". */
  text: string;
  /** Enhanced status code (RFC 3463) at the start of the first line, e.g. "5.1.1". */
  enhanced: string | undefined;
}

/**
 * RFC 5321 allows 512 octets per reply line; servers exceed it in banners and EHLO lists, so
 * the limit is generous. It only exists so a peer streaming garbage cannot grow our buffer.
 */
const MAX_LINE = 16 * 1024;
/** More lines than any real EHLO reply has; same reason. */
const MAX_REPLY_LINES = 512;

/** The peer does not speak SMTP; the session ends with EPROTOCOL. */
class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly errorCode = 'EPROTOCOL';
}

/** Exported for tests of every split point. */
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
