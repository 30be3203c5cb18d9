/**
 * Amazon SES notifications delivered by email (an SNS subscription of type "email-json" or
 * "email"): a JSON document whose `notificationType` is Bounce, Complaint or Delivery.
 */
import { enhancedAtStart, enhancedStatus } from '@volley/smtp';
import type { FeedbackReport, RecipientFacts } from './types.ts';
import { MAX_RECIPIENTS } from './limits.ts';
import { typedValue } from './fields.ts';

export interface SesNotification {
  kind: 'bounce' | 'feedback';
  recipients: RecipientFacts[];
  feedback?: FeedbackReport | undefined;
  /** SES's Message-ID of the original, when given. */
  messageId?: string | undefined;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
function list(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(obj).filter((x): x is Json => x !== undefined) : [];
}

/** The JSON document in the text, with SNS's long-line folding ("!" + line break) undone. */
function jsonOf(text: string): Json | undefined {
  const start = text.indexOf('{"');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  const body = text.slice(start, end + 1).replace(/!\r?\n /g, '');
  try {
    const parsed = obj(JSON.parse(body));
    // An SNS envelope ("Type": "Notification") carries the SES document as a string.
    const inner =
      parsed && typeof parsed.Message === 'string' ? obj(JSON.parse(parsed.Message)) : undefined;
    return inner ?? parsed;
  } catch {
    return undefined;
  }
}

/** Reads an SES notification, or returns undefined when the text is not one. */
export function parseSesNotification(text: string): SesNotification | undefined {
  if (!text.includes('"notificationType"') && !text.includes('"eventType"')) return undefined;
  const doc = jsonOf(text);
  if (!doc) return undefined;
  const type = str(doc.notificationType || doc.eventType);
  const messageId = str(obj(doc.mail)?.messageId) || undefined;
  if (type === 'Bounce') {
    const bounce = obj(doc.bounce) ?? {};
    const transient = str(bounce.bounceType) === 'Transient';
    return {
      kind: 'bounce',
      messageId,
      recipients: list(bounce.bouncedRecipients)
        .slice(0, MAX_RECIPIENTS)
        .map((r) => {
          const diag = typedValue(str(r.diagnosticCode));
          return {
            recipient: str(r.emailAddress),
            action: str(r.action) || (transient ? 'delayed' : 'failed'),
            status: enhancedAtStart(str(r.status)),
            diagnosticType: diag.type || undefined,
            diagnostic: diag.text,
            remoteMta: typedValue(str(bounce.reportingMTA)).text || undefined,
          };
        }),
    };
  }
  if (type === 'Complaint') {
    const complaint = obj(doc.complaint) ?? {};
    const recipients = list(complaint.complainedRecipients).map((r) => str(r.emailAddress));
    return {
      kind: 'feedback',
      messageId,
      recipients: recipients.map((recipient) => ({
        recipient,
        diagnostic: '',
        reason: 'feedback',
      })),
      feedback: {
        feedbackType: str(complaint.complaintFeedbackType) || 'abuse',
        userAgent: str(complaint.userAgent) || undefined,
        originalRcptTo: recipients,
        arrivalDate: str(complaint.arrivalDate) || undefined,
      },
    };
  }
  if (type === 'Delivery') {
    const delivery = obj(doc.delivery) ?? {};
    const reply = str(delivery.smtpResponse);
    // A delivery's code is a success ("250 2.6.0 Message received"); read as everywhere else,
    // so that an IP address in the reply ("queued as 10.2.0.1") is not taken for one.
    const status = enhancedStatus(reply);
    return {
      kind: 'bounce',
      messageId,
      recipients: (Array.isArray(delivery.recipients) ? delivery.recipients : [])
        .map(str)
        .slice(0, MAX_RECIPIENTS)
        .map((recipient) => ({
          recipient,
          action: 'delivered',
          status: status?.startsWith('2.') ? status : undefined,
          diagnosticType: 'smtp',
          diagnostic: reply,
          remoteMta: str(delivery.remoteMtaIp) || undefined,
        })),
    };
  }
  return undefined;
}
