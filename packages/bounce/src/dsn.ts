/**
 * RFC 3464 delivery status notifications: the per-message and per-recipient fields of a
 * `message/delivery-status` part (RFC 6533's `message/global-delivery-status` too).
 */
import { enhancedAtStart } from '@volley/smtp';
import { firstAddress } from './address.ts';
import { fieldGroups, fieldValue, typedValue, type Field } from './fields.ts';
import { MAX_DIAGNOSTIC_CHARS, MAX_RECIPIENTS } from './limits.ts';
import type { RecipientFacts } from './types.ts';

export interface DeliveryStatus {
  reportingMta?: string | undefined;
  /** Message-ID of the original some MTAs add to the per-message fields. */
  originalMessageId?: string | undefined;
  recipients: RecipientFacts[];
}

function clip(text: string): string {
  return text.length > MAX_DIAGNOSTIC_CHARS ? text.slice(0, MAX_DIAGNOSTIC_CHARS) : text;
}

/**
 * Per-recipient groups. Some MTAs leave out the blank line between recipients, so a second
 * Final-Recipient (or Original-Recipient after a Final-Recipient) starts a new group too.
 */
function recipientGroups(groups: Field[][]): Field[][] {
  const out: Field[][] = [];
  for (const group of groups) {
    let current: Field[] = [];
    let seen = false;
    for (const f of group) {
      const starts = f.name === 'final-recipient' || f.name === 'original-recipient';
      const has = current.some((c) => c.name === f.name);
      if (starts && seen && has) {
        out.push(current);
        current = [];
      }
      if (starts) seen = true;
      current.push(f);
    }
    if (seen) out.push(current);
  }
  return out;
}

function recipientOf(group: Field[]): RecipientFacts | undefined {
  const final = firstAddress(typedValue(fieldValue(group, 'final-recipient') ?? '').text);
  const original = firstAddress(typedValue(fieldValue(group, 'original-recipient') ?? '').text);
  // X-Actual-Recipient names the address after aliasing; Final-Recipient is what was sent to.
  // A recipient that is no address (Exim's "save to /var/mail/...") is still reported; the
  // caller names it from the returned message.
  const recipient = final ?? original ?? '';
  if (!recipient && !fieldValue(group, 'action') && !fieldValue(group, 'status')) return undefined;
  const diag = typedValue(fieldValue(group, 'diagnostic-code') ?? '');
  // "Status: 4.0.0 (cat.example.net: host name lookup failure)": the comment explains when
  // there is no Diagnostic-Code.
  const statusComment = /\((.{3,300})\)\s*$/.exec(fieldValue(group, 'status') ?? '')?.[1];
  const remote = typedValue(fieldValue(group, 'remote-mta') ?? '');
  return {
    recipient,
    originalRecipient:
      original && original.toLowerCase() !== recipient.toLowerCase() ? original : undefined,
    action: fieldValue(group, 'action')?.toLowerCase().split(/[\s(]/)[0] || undefined,
    status: enhancedAtStart(fieldValue(group, 'status')),
    diagnosticType: diag.type || undefined,
    diagnostic: clip(diag.text || statusComment || ''),
    remoteMta: remote.text || undefined,
  };
}

/** Parses the text of a delivery-status part. */
export function parseDeliveryStatus(text: string): DeliveryStatus {
  const groups = fieldGroups(text);
  const perMessage = groups.find((g) => g.some((f) => f.name === 'reporting-mta')) ?? [];
  const recipients = recipientGroups(groups)
    .map(recipientOf)
    .filter((r): r is RecipientFacts => r !== undefined)
    .slice(0, MAX_RECIPIENTS);
  return {
    reportingMta: typedValue(fieldValue(perMessage, 'reporting-mta') ?? '').text || undefined,
    originalMessageId: fieldValue(perMessage, 'x-original-message-id'),
    recipients,
  };
}

/**
 * Delivery-status fields that some MTAs put in the text of the message rather than in a part
 * of their own ("Technical report:" followed by the fields), or that a forwarded bounce quotes
 * with "> ". Only groups that have both a recipient and an Action or Status are taken, so prose
 * that happens to contain "Final-Recipient:" does not count.
 */
export function embeddedDeliveryStatus(text: string): DeliveryStatus | undefined {
  if (!/^[> \t]*(final|original)-recipient:/im.test(text)) return undefined;
  const unquoted = text.replace(/^[ \t]*>[ \t]?/gm, '');
  const parsed = parseDeliveryStatus(unquoted);
  const complete = parsed.recipients.filter((r) => r.action || r.status);
  return complete.length > 0 ? { ...parsed, recipients: complete } : undefined;
}
