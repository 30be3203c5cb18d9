import { randomBytes } from 'node:crypto';
import { parseMailbox, type Mailbox } from './address.ts';
import { encodeHeaderValue, encodeQuotedPrintable } from './encoding.ts';
import { htmlToText } from './html-text.ts';
import type { RenderedContent } from './templates.ts';

export interface ComposerOptions {
  campaignId: string;
  from: string;
  replyTo?: string | undefined;
  headers?: Record<string, string> | undefined;
}

export interface ComposedMessage {
  envelope: { from: string; to: string };
  messageId: string;
  raw: string;
}

function formatMailbox(m: Mailbox, headerName: string): string {
  if (!m.name) return m.address;
  const plain = /^[\x20-\x7e]*$/.test(m.name);
  const display = plain
    ? `"${m.name.replace(/["\\]/g, '\\$&')}"`
    : encodeHeaderValue(m.name, headerName.length);
  return `${display} <${m.address}>`;
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
 * Builds the MIME message of one recipient. Everything that is the same for every recipient
 * of a campaign (From, Reply-To, custom headers, boundary) is composed once, in the
 * constructor; per recipient only To, Subject, Date, Message-ID and the bodies are written.
 */
export class MessageComposer {
  private readonly fixedHeaders: string;
  private readonly envelopeFrom: string;
  private readonly idDomain: string;
  private readonly boundary: string;

  constructor(readonly opts: ComposerOptions) {
    const from = parseMailbox(opts.from);
    if (!from) throw new Error(`campaign ${opts.campaignId}: invalid From ${JSON.stringify(opts.from)}`);
    this.envelopeFrom = from.address;
    this.idDomain = from.domain;
    const lines = [`From: ${formatMailbox(from, 'From')}`];
    if (opts.replyTo) {
      const rt = parseMailbox(opts.replyTo);
      if (!rt) throw new Error(`campaign ${opts.campaignId}: invalid Reply-To`);
      lines.push(`Reply-To: ${formatMailbox(rt, 'Reply-To')}`);
    }
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      lines.push(`${name}: ${encodeHeaderValue(value, name.length)}`);
    }
    lines.push('MIME-Version: 1.0');
    this.fixedHeaders = lines.join('\r\n') + '\r\n';
    // "=_" cannot occur in quoted-printable output, so the boundary never collides with a body.
    this.boundary = `=_volley_${randomBytes(9).toString('base64url')}`;
  }

  /** Deterministic per campaign and recipient, so a retried send keeps its identity. */
  messageId(index: number): string {
    return `<${this.opts.campaignId}.${index}@${this.idDomain}>`;
  }

  compose(index: number, to: string, content: RenderedContent, now = Date.now()): ComposedMessage {
    const messageId = this.messageId(index);
    const text = content.text ?? (content.html !== undefined ? htmlToText(content.html) : '');
    let head =
      this.fixedHeaders +
      `To: ${to}\r\n` +
      `Subject: ${encodeHeaderValue(content.subject, 7)}\r\n` +
      `Date: ${rfc5322Date(now)}\r\n` +
      `Message-ID: ${messageId}\r\n`;
    let body: string;
    if (content.html === undefined) {
      head += 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n';
      body = encodeQuotedPrintable(text);
    } else {
      const b = this.boundary;
      head += `Content-Type: multipart/alternative; boundary="${b}"\r\n`;
      body =
        `--${b}\r\n` +
        'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
        encodeQuotedPrintable(text) +
        `\r\n--${b}\r\n` +
        'Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
        encodeQuotedPrintable(content.html) +
        `\r\n--${b}--\r\n`;
    }
    return {
      envelope: { from: this.envelopeFrom, to },
      messageId,
      raw: `${head}\r\n${body}`,
    };
  }
}
