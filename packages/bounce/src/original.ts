/**
 * The headers of the message that bounced, as a report returns them: a `message/rfc822` part,
 * a `text/rfc822-headers` part, or the copy a plain-text bounce appends after its explanation.
 * The service matches a bounce whose return path lost its VERP token by the Message-ID.
 */
import { firstAddress } from './address.ts';
import { headerFields, fieldValue, type Field } from './fields.ts';
import { MAX_HEADER_VALUE_CHARS, MAX_ORIGINAL_HEADERS } from './limits.ts';
import type { MessagePart } from './mime.ts';
import type { OriginalMessage } from './types.ts';

const ORIGINAL_PARTS = new Set([
  'message/rfc822',
  'text/rfc822-headers',
  'text/rfc822-header',
  'message/rfc822-headers',
  'message/global',
  'message/global-headers',
  'message/partial',
]);

/** Lines that introduce the returned message in plain-text bounces of the common MTAs. */
const ORIGINAL_MARKERS = [
  /^-{2,}\s*this is a copy of the message/i, // Exim
  /^-{2,}\s*(below this line is a copy of the message|enclosed is a copy of the message)/i, // qmail
  /^-{2,}\s*original message( follows)?\.?\s*-*$/i, // Gmail, X2
  /^-{2,}\s*(the )?header of the original message/i, // GMX
  /^-{2,}\s*returned message\s*-+/i, // Notes
  /^-{2,}\s*unsent message follows/i, // Sendmail (v5)
  /^-{2,}\s*original message (header|text) follows/i,
  /^-{2,}\s*original ?message\s*$/i, // m-FILTER
  /^(original message follows\.|message headers follow\.|original message headers:?)\s*$/i,
  /^-{2,}\s*(the )?original message (is )?(attached|included|below)/i,
  /^\s*below is a copy of the original message:?\s*$/i, // OpenSMTPD
  /^(a copy of the original message below|the original message was:)/i,
  /^\|-+\s*message (header|text|log) follows:?\s*-*\|$/i, // Smail 3, Deutsche Telekom
  /^original mail as follows:?\s*$/i, // fml
  // A returned message in a MIME part that the parser could not separate (broken boundaries).
  /^content-type:\s*(message\/rfc822|text\/rfc822-headers?|message\/partial)\b/i,
];

/** Index in `text` where the copy of the returned message starts, or -1. */
export function originalMarker(text: string): number {
  let offset = 0;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed !== '' && ORIGINAL_MARKERS.some((re) => re.test(trimmed))) return offset;
    offset += line.length + 1;
  }
  return -1;
}

function bounded(value: string): string {
  return value.length > MAX_HEADER_VALUE_CHARS ? value.slice(0, MAX_HEADER_VALUE_CHARS) : value;
}

/** The Message-ID with its angle brackets, or undefined when the value is not one. */
function messageId(value: string | undefined): string | undefined {
  const m = /<[^<>\s]{1,500}>/.exec(value ?? '');
  return m?.[0];
}

function fromFields(fields: Field[]): OriginalMessage {
  const xHeaders: Record<string, string> = {};
  for (const f of fields) {
    if (!f.name.startsWith('x-') || f.name in xHeaders) continue;
    if (Object.keys(xHeaders).length >= MAX_ORIGINAL_HEADERS) break;
    xHeaders[f.name] = bounded(f.value);
  }
  const returnPath = fieldValue(fields, 'return-path');
  return {
    messageId: messageId(fieldValue(fields, 'message-id')),
    returnPath: returnPath !== undefined ? (firstAddress(returnPath) ?? '') : undefined,
    from:
      fieldValue(fields, 'from') !== undefined
        ? bounded(fieldValue(fields, 'from') ?? '')
        : undefined,
    to:
      fieldValue(fields, 'to') !== undefined ? bounded(fieldValue(fields, 'to') ?? '') : undefined,
    subject:
      fieldValue(fields, 'subject') !== undefined
        ? bounded(fieldValue(fields, 'subject') ?? '')
        : undefined,
    xHeaders,
  };
}

/** Whether a header block looks like a message's (not a fragment of prose). */
function looksLikeHeaders(fields: Field[]): boolean {
  return fields.some((f) =>
    ['message-id', 'from', 'to', 'subject', 'date', 'received', 'return-path'].includes(f.name),
  );
}

/**
 * The original message's headers: from the first part that carries them, else from the text
 * after the plain-text marker (lines quoted with "> " or indented are taken as they are).
 */
export function findOriginal(parts: readonly MessagePart[], text: string): OriginalMessage {
  for (const part of parts) {
    if (!ORIGINAL_PARTS.has(part.contentType)) continue;
    const fields = headerFields(part.text.replace(/^\s+/, ''));
    if (looksLikeHeaders(fields)) return fromFields(fields);
  }
  const at = originalMarker(text);
  if (at >= 0) {
    const after = text
      .slice(at)
      .replace(/^[^\n]*\n/, '')
      .replace(/^\s*\n/, '');
    const fields = headerFields(after);
    if (looksLikeHeaders(fields)) return fromFields(fields);
  }
  return { xHeaders: {} };
}
