import { randomBytes } from 'node:crypto';
import { normalizeEmail, parseMailbox, type Mailbox } from './address.ts';
import { validateCustomHeaders } from './headers.ts';
import {
  NOT_SEVEN_BIT,
  encodeHeaderValue,
  encodeQuotedPrintable,
  encodeWords,
} from './encoding.ts';
import { htmlToText } from './html-text.ts';
import { renderedPlain, type RenderedContent } from './templates.ts';

export interface ComposerOptions {
  campaignId: string;
  from: string;
  replyTo?: string | undefined;
  headers?: Record<string, string> | undefined;
  /**
   * Per-recipient unsubscribe targets (RFC 2369 / RFC 8058): an https URL makes the message
   * one-click (`List-Unsubscribe-Post`), a mailto works in every client.
   */
  unsubscribe?:
    | ((
        index: number,
        address: string,
      ) => { url?: string | undefined; mailto?: string | undefined })
    | undefined;
}

export interface ComposedMessage {
  envelope: { from: string; to: string };
  messageId: string;
  raw: string;
}

/** RFC 5322 §2.1.1: lines SHOULD stay within 78 characters. */
const LINE_SHOULD = 78;

/** Dot-atom text (RFC 5322 §3.2.3): what the left side of a Message-ID may hold. */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

function formatMailbox(m: Mailbox, headerName: string): string {
  if (!m.name) return m.address;
  const prefix = headerName.length + 2;
  const quoted = `"${m.name.replace(/["\\]/g, '\\$&')}"`;
  // A quoted "=?...?=" is still decoded by many readers, so such names are encoded too. A long
  // plain name is folded at its spaces, which a quoted string allows (RFC 5322 §3.2.4: FWS in
  // qcontent): base64 for plain ASCII is what spam filters score (FROM_EXCESS_BASE64).
  const plain = /^[\x20-\x7e]*$/.test(m.name) && !m.name.includes('=?');
  const display = plain
    ? encodeHeaderValue(quoted, headerName.length)
    : // eslint-disable-next-line no-control-regex
      encodeWords(m.name.replace(/[\x00-\x1f\x7f]+/g, ' '), prefix);
  const lastBreak = display.lastIndexOf('\n');
  const lastLine = lastBreak < 0 ? prefix + display.length : display.length - lastBreak - 1;
  const fits = lastLine + ` <${m.address}>`.length <= LINE_SHOULD;
  return `${display}${fits ? ' ' : '\r\n '}<${m.address}>`;
}

/** Bare CRs are looked for only in the rare text that has a CR at all. */
const BARE_CR = /\r(?!\n)/;

/**
 * Printable ASCII, tab and line breaks, every CR part of a CRLF. `plain`: the renderer saw
 * every piece of the text and none held another character, so only the CRs are left to check.
 */
function sevenBit(text: string, plain: boolean): boolean {
  if (!plain && NOT_SEVEN_BIT.test(text)) return false;
  return !text.includes('\r') || !BARE_CR.test(text);
}

/** CRLF line ends; without any CR (templates written on Unix) a plain string replace does it. */
function crlf(text: string): string {
  return text.includes('\r') ? text.replace(/\r?\n/g, '\r\n') : text.replaceAll('\n', '\r\n');
}

function linesWithin(text: string, max: number): boolean {
  let start = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
    if (nl - start > max) return false;
    start = nl + 1;
  }
  return text.length - start <= max;
}

let dateSecond = -1;
let dateText = '';
/** RFC 5322 date in UTC, cached per second since every message of a second shares it. */
function rfc5322Date(now: number): string {
  const sec = Math.floor(now / 1000);
  if (sec !== dateSecond) {
    dateSecond = sec;
    dateText = new Date(sec * 1000).toUTCString().replace('GMT', '+0000');
  }
  return dateText;
}

/**
 * The campaign and recipient a Message-ID of `MessageComposer.messageId` names, or undefined
 * for any other. Nothing in it is signed: whoever saw one of a campaign's messages can write
 * the id of another recipient's, so a caller acts on it only for the address the id's
 * recipient really has.
 */
export function readMessageId(id: string): { campaignId: string; index: number } | undefined {
  // Campaign ids are 20 hex digits (store.ts); an index fits in 32 bits, as in the tokens.
  const m = /^<([a-f0-9]{20})\.(\d{1,10})@[^<>@\s]+>$/i.exec(id.trim());
  if (!m?.[1] || !m[2]) return undefined;
  const index = Number(m[2]);
  if (index > 0xffffffff) return undefined;
  return { campaignId: m[1].toLowerCase(), index };
}

/**
 * Builds the MIME message of one recipient. Everything that is the same for every recipient
 * of a campaign (From, Reply-To, custom headers, boundary) is composed once, in the
 * constructor; per recipient only To, Subject, Date, Message-ID and the bodies are written.
 */
export class MessageComposer {
  private readonly fixedHeaders: string;
  /** The From address, the envelope sender of every message unless VERP replaces it. */
  readonly envelopeFrom: string;
  private readonly idDomain: string;
  private readonly boundary: string;

  constructor(readonly opts: ComposerOptions) {
    // The campaign id becomes the left side of every Message-ID.
    if (!DOT_ATOM.test(opts.campaignId)) {
      throw new Error(
        `invalid campaign id ${JSON.stringify(opts.campaignId)} (dot-atom characters only)`,
      );
    }
    const from = parseMailbox(opts.from);
    if (!from) {
      throw new Error(`campaign ${opts.campaignId}: invalid From ${JSON.stringify(opts.from)}`);
    }
    this.envelopeFrom = from.address;
    this.idDomain = from.domain;
    const lines = [`From: ${formatMailbox(from, 'From')}`];
    if (opts.replyTo) {
      const rt = parseMailbox(opts.replyTo);
      if (!rt) throw new Error(`campaign ${opts.campaignId}: invalid Reply-To`);
      lines.push(`Reply-To: ${formatMailbox(rt, 'Reply-To')}`);
    }
    // Checked here as well as at the API: a stored campaign must not be able to override the
    // structure (Content-Type, From...) or smuggle a line break into the head.
    const headers = validateCustomHeaders(opts.headers ?? {});
    for (const [name, value] of Object.entries(headers)) {
      lines.push(`${name}: ${encodeHeaderValue(value, name.length)}`);
    }
    lines.push('MIME-Version: 1.0');
    this.fixedHeaders = lines.join('\r\n') + '\r\n';
    // "=_" cannot occur in quoted-printable output, so the boundary never collides with a body.
    this.boundary = `=_volley_${randomBytes(9).toString('base64url')}`;
  }

  /** Deterministic per campaign and recipient, so a retried send keeps its identity. */
  messageId(index: number): string {
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new Error(`invalid recipient index ${index}`);
    }
    return `<${this.opts.campaignId}.${index}@${this.idDomain}>`;
  }

  /**
   * A body part as 7bit when it already is (ASCII, lines within 998, no bare CR, no boundary
   * inside): nothing to encode, which saves most of the composition cost for typical campaign
   * HTML. Anything else is quoted-printable.
   */
  private encodePart(
    text: string,
    plain: boolean,
  ): { cte: '7bit' | 'quoted-printable'; body: string } {
    if (sevenBit(text, plain) && !text.includes(this.boundary) && linesWithin(text, 998)) {
      return { cte: '7bit', body: crlf(text) };
    }
    return { cte: 'quoted-printable', body: encodeQuotedPrintable(text) };
  }

  private unsubscribeHeaders(index: number, address: string): string {
    const u = this.opts.unsubscribe?.(index, address);
    if (!u || (!u.url && !u.mailto)) return '';
    const targets = [u.url, u.mailto ? `mailto:${u.mailto}` : undefined]
      .filter((t): t is string => t !== undefined)
      // The targets are built by Volley from signed tokens; a stray CR/LF must still not pass.
      .map((t) => `<${t.replace(/[\r\n<>\s]/g, '')}>`);
    let out = `List-Unsubscribe: ${targets.join(',\r\n ')}\r\n`;
    if (u.url) out += 'List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n';
    return out;
  }

  compose(index: number, to: string, content: RenderedContent, now = Date.now()): ComposedMessage {
    const messageId = this.messageId(index);
    // The address goes into the head verbatim: only a valid one can be trusted not to break it.
    const rcpt = normalizeEmail(to);
    if (!rcpt) throw new Error(`invalid recipient ${JSON.stringify(to.slice(0, 100))}`);
    const text = content.text ?? (content.html !== undefined ? htmlToText(content.html) : '');
    let head =
      this.fixedHeaders +
      `To: ${rcpt}\r\n` +
      `Subject: ${encodeHeaderValue(content.subject, 'Subject'.length, true)}\r\n` +
      `Date: ${rfc5322Date(now)}\r\n` +
      `Message-ID: ${messageId}\r\n` +
      this.unsubscribeHeaders(index, rcpt);
    // A text part made from the HTML was not rendered piece by piece: scanned here.
    const plainText = renderedPlain(content, 'text');
    let body: string;
    if (content.html === undefined) {
      const t = this.encodePart(text, plainText);
      head += `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${t.cte}\r\n`;
      body = t.body;
    } else {
      const b = this.boundary;
      const t = this.encodePart(text, plainText);
      const h = this.encodePart(content.html, renderedPlain(content, 'html'));
      head += `Content-Type: multipart/alternative; boundary="${b}"\r\n`;
      body =
        `--${b}\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ${t.cte}\r\n\r\n` +
        t.body +
        `\r\n--${b}\r\n` +
        `Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: ${h.cte}\r\n\r\n` +
        h.body +
        `\r\n--${b}--\r\n`;
    }
    return {
      envelope: { from: this.envelopeFrom, to: rcpt },
      messageId,
      raw: `${head}\r\n${body}`,
    };
  }
}
