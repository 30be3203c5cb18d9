/**
 * The MIME layer: mailparser decodes the message (transfer encodings, charsets, RFC 2047
 * words) into the parts a report is made of. Everything after this works on decoded text.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { CodedError } from '@volley/contracts';
import { headerFields, type Field } from './fields.ts';
import { MAX_MESSAGE_BYTES, MAX_MULTIPART_DEPTH, MAX_TEXT_CHARS } from './limits.ts';

/** A part of the message that is not its main text. */
export interface MessagePart {
  /** Lower-cased media type, e.g. "message/delivery-status". */
  contentType: string;
  /** Decoded content as text (UTF-8 for message parts, which are mostly ASCII). */
  text: string;
}

export interface MessageView {
  /** Top-level header fields, in order (names lower-cased, values unfolded, not decoded). */
  headers: Field[];
  /** Subject, decoded. */
  subject: string;
  /** The From address, lower-cased, if any. */
  from: string;
  /** The From display name, if any. */
  fromName: string;
  /** Top-level media type and its parameters. */
  contentType: string;
  contentTypeParams: Record<string, string>;
  /** The readable text: text/plain parts, or text/html turned into text. */
  text: string;
  /** The other parts, in order. */
  parts: MessagePart[];
  /** Whether the message was longer than the parser reads. */
  truncated: boolean;
}

export class UnparseableMessageError extends CodedError<
  'BOUNCE_EMPTY' | 'BOUNCE_TOO_DEEP' | 'BOUNCE_MIME_ERROR'
> {}

/**
 * Deepest multipart nesting in the raw message, counted from the boundary delimiter lines: a
 * delimiter of a boundary not yet open opens a level, a delimiter of an open one closes the
 * levels opened after it. Linear in the message.
 */
function multipartDepth(raw: string): number {
  const declared = new Set<string>();
  for (const m of raw.matchAll(/boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))/gi)) {
    declared.add(m[1] ?? m[2] ?? '');
  }
  if (declared.size === 0) return 0;
  const open: string[] = [];
  let deepest = 0;
  for (const m of raw.matchAll(/^--([^\r\n]{1,204})$/gm)) {
    let b = (m[1] ?? '').trimEnd();
    const closing = b.endsWith('--') && declared.has(b.slice(0, -2));
    if (closing) b = b.slice(0, -2);
    else if (!declared.has(b)) continue;
    const i = open.lastIndexOf(b);
    if (i >= 0) open.length = closing ? i : i + 1;
    else if (!closing) open.push(b);
    deepest = Math.max(deepest, open.length);
  }
  return deepest;
}

/**
 * The readable text. mailparser turns HTML into text when there is no plain text. When it
 * finds nothing at all (a multipart whose boundary lines do not match its header, which some
 * MTAs write), the raw body is the text, as a reader would see it.
 */
function textOf(mail: ParsedMail, rawText: string): string {
  let text = mail.text ?? '';
  if (text.trim() === '' && mail.attachments.length === 0) {
    const body = /\r?\n\r?\n/.exec(rawText);
    text = body
      ? Buffer.from(rawText.slice(body.index + body[0].length), 'latin1').toString('utf8')
      : '';
  }
  return text.length > MAX_TEXT_CHARS ? text.slice(0, MAX_TEXT_CHARS) : text;
}

/** Decodes a message; throws {@link UnparseableMessageError} when it cannot be read at all. */
export async function readMessage(input: Buffer | string): Promise<MessageView> {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const truncated = buf.length > MAX_MESSAGE_BYTES;
  const raw = truncated ? buf.subarray(0, MAX_MESSAGE_BYTES) : buf;
  const rawText = raw.toString('latin1');
  if (rawText.trim() === '') throw new UnparseableMessageError('BOUNCE_EMPTY', 'empty message');
  const depth = multipartDepth(rawText);
  if (depth > MAX_MULTIPART_DEPTH) {
    throw new UnparseableMessageError(
      'BOUNCE_TOO_DEEP',
      `multipart nesting ${depth} levels deep (at most ${MAX_MULTIPART_DEPTH} are read)`,
    );
  }
  let mail: ParsedMail;
  try {
    mail = await simpleParser(raw, {
      keepDeliveryStatus: true,
      skipImageLinks: true,
      skipTextLinks: true,
      skipTextToHtml: true,
      maxHtmlLengthToParse: MAX_TEXT_CHARS,
    });
  } catch (err) {
    throw new UnparseableMessageError(
      'BOUNCE_MIME_ERROR',
      `MIME structure could not be read: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const ct = mail.headers.get('content-type');
  const contentType =
    ct && typeof ct === 'object' && 'value' in ct && typeof ct.value === 'string'
      ? ct.value.toLowerCase()
      : 'text/plain';
  const contentTypeParams =
    ct && typeof ct === 'object' && 'params' in ct
      ? Object.fromEntries(
          Object.entries(ct.params as Record<string, string>).map(([k, v]) => [
            k.toLowerCase(),
            String(v),
          ]),
        )
      : {};
  const from = mail.from?.value[0];
  return {
    headers: headerFields(rawText),
    subject: mail.subject ?? '',
    from: (from?.address ?? '').toLowerCase(),
    fromName: from?.name ?? '',
    contentType,
    contentTypeParams,
    text: textOf(mail, rawText),
    parts: mail.attachments.map((a) => ({
      contentType: a.contentType.toLowerCase(),
      text: a.content.subarray(0, MAX_TEXT_CHARS).toString('utf8'),
    })),
    truncated,
  };
}
