/**
 * Feedback reports: RFC 5965 (ARF) `message/feedback-report` parts, which mailbox providers
 * send for spam complaints, and the one-line unsubscribe notices of Apple Mail.
 */
import { findAddresses, firstAddress } from './address.ts';
import { fieldGroups, fieldValue, fieldValues, type Field } from './fields.ts';
import { MAX_RECIPIENTS } from './limits.ts';
import type { MessageView } from './mime.ts';
import type { FeedbackReport, OriginalMessage } from './types.ts';

export interface Feedback {
  report: FeedbackReport;
  /** Complaining recipients, in order; one empty address when the report names none. */
  recipients: string[];
}

function addressesOf(values: string[]): string[] {
  return values.flatMap((v) => findAddresses(v).map((a) => a.address)).slice(0, MAX_RECIPIENTS);
}

/** The feedback-report part of a message, if it has one. */
export function feedbackPart(view: MessageView): Field[] | undefined {
  const part = view.parts.find((p) => p.contentType === 'message/feedback-report');
  if (part) return fieldGroups(part.text).flat();
  // Some providers send the report fields in the text of a multipart/report without a part of
  // their own; only a report-type that says so makes the text count.
  if (view.contentTypeParams['report-type']?.toLowerCase() === 'feedback-report') {
    const fields = fieldGroups(view.text).flat();
    if (fieldValue(fields, 'feedback-type')) return fields;
  }
  return undefined;
}

/** Reads an RFC 5965 report; `original` supplies the recipient when the report names none. */
export function parseFeedback(fields: Field[], original: OriginalMessage): Feedback {
  const rcptTo = addressesOf(fieldValues(fields, 'original-rcpt-to'));
  const removal = addressesOf(fieldValues(fields, 'removal-recipient'));
  const fromOriginal = addressesOf([original.to ?? '']);
  const recipients = rcptTo.length > 0 ? rcptTo : removal.length > 0 ? removal : fromOriginal;
  return {
    report: {
      feedbackType: (fieldValue(fields, 'feedback-type') ?? 'other').toLowerCase(),
      userAgent: fieldValue(fields, 'user-agent'),
      originalMailFrom: firstAddress(fieldValue(fields, 'original-mail-from') ?? ''),
      originalRcptTo: rcptTo,
      sourceIp: fieldValue(fields, 'source-ip'),
      arrivalDate: fieldValue(fields, 'arrival-date') ?? fieldValue(fields, 'received-date'),
      reportedDomain: fieldValue(fields, 'reported-domain'),
    },
    recipients: recipients.length > 0 ? recipients : [''],
  };
}

/**
 * Apple Mail's unsubscribe: a plain message from the subscriber to the list's address with
 * `X-Apple-Unsubscribe: true`. It is an opt-out by the sender of the notice.
 */
export function appleUnsubscribe(view: MessageView): Feedback | undefined {
  if (fieldValue(view.headers, 'x-apple-unsubscribe')?.toLowerCase() !== 'true') return undefined;
  return {
    report: { feedbackType: 'opt-out', userAgent: 'Apple Mail', originalRcptTo: [] },
    recipients: [view.from],
  };
}
