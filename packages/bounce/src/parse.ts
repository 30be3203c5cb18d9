/**
 * Reads an inbound message on the bounce address and says what it reports, per recipient:
 * a delivery failure or delay (RFC 3464 DSN or an MTA's own format), a complaint (RFC 5965),
 * an automatic reply (RFC 3834), or nothing. Never throws: a message that cannot be read is
 * reported as `unparseable` with a stable code.
 */
import { appleUnsubscribe, feedbackPart, parseFeedback } from './arf.ts';
import { findAddresses, sameAddress } from './address.ts';
import { isAutoReply } from './autoreply.ts';
import { commandIn } from './command.ts';
import { classifyRecipient } from './diagnose.ts';
import { embeddedDeliveryStatus, parseDeliveryStatus } from './dsn.ts';
import { fieldValues } from './fields.ts';
import { readMessage, UnparseableMessageError, type MessageView } from './mime.ts';
import { findOriginal } from './original.ts';
import { diagnosticOf, plainRecipients, recipientBlocks, reportPart } from './plain.ts';
import { parseSesNotification } from './ses.ts';
import type { BounceReport, OriginalMessage, RecipientFacts } from './types.ts';

const DSN_PARTS = new Set(['message/delivery-status', 'message/global-delivery-status']);

/** Senders and subjects of delivery reports, for the formats that have no structure of their own. */
const REPORT_SENDER =
  /^(mailer-daemon|postmaster|post_master|mail-daemon|mailerdaemon|mdaemon|mailer|mail\.delivery\.system)@/i;
/** Senders that send other automatic mail too: their reports must also read like one. */
const AUTOMATED_SENDER = /^(no-?reply|bounces?|notifications?)@/i;
const REPORT_SENDER_NAME =
  /mailer-daemon|mail deliver(y)? (subsystem|system)|postmaster|system administrator/i;
const REPORT_SUBJECT =
  /undeliver|undelivered|non[- ]?deliver|delivery (status|failure|has failed|failed|notification|report|problem)|returned mail|mail delivery failed|failure notice|failed delivery|mail failure|mail system error|returned to sender|message delivery has failed|there was an error sending|could not (send|be delivered)|non recapitabile|non remis|unzustellbar|no entregado|nicht zustellbar|メールエラー|delayed mail|warning: (message|could not send)|failure delivery|permanent delivery failure|^mail failed|\[bounce\]/i;
/** What the explanation of a delivery report says, near its start. */
const REPORT_PROSE =
  /could not be delivered|couldn't be delivered|was not delivered|wasn't delivered|not be delivered|delivery (to the following|has failed|failed)|permanent (fatal )?error|undeliverable|unable to deliver|failed permanently|did not reach the following|wasn't able to deliver|not able to deliver|error (has )?occurred while (trying|attempting) to deliver|there was an error delivering|has not yet been delivered|delivery to the following recipient|recipients? (was|were) rejected|have been delayed|has been delayed|message not delivered|error message below/i;

/** Subjects and phrases of a warning that the MTA keeps trying (no final failure yet). */
const DELAY_NOTICE =
  /\(delay\)|delayed mail|warning: (message .{1,80} delayed|could not send message)|still being retried|will be retried for|has not yet been delivered|this is a warning message only|no action is required on your part|temporary failure report/i;

function emptyReport(
  kind: BounceReport['kind'],
  format: string,
  original: OriginalMessage,
): BounceReport {
  return { kind, format, recipients: [], original, truncated: false };
}

/** Whether a message without report structure presents itself as a delivery report. */
function looksLikeReport(view: MessageView): boolean {
  if (fieldValues(view.headers, 'x-failed-recipients').length > 0) return true;
  if (REPORT_SENDER.test(view.from) || REPORT_SENDER_NAME.test(view.fromName) || view.from === '') {
    return true;
  }
  const hinted = REPORT_SUBJECT.test(view.subject) || AUTOMATED_SENDER.test(view.from);
  return hinted && REPORT_PROSE.test(view.text.slice(0, 20_000));
}

/**
 * Google Groups refuses a post (no such group, or no permission to post to it) in the
 * sender's language; the stable marks are the group's address in X-Failed-Recipients and the
 * signature. Sisimai calls it `rejected`: the group refused the sender.
 */
function googleGroupsRefusal(view: MessageView, failed: string[]): boolean {
  return (
    failed.length > 0 &&
    failed.every((a) => /@googlegroups\.com$/i.test(a)) &&
    /google ?groups|groups\.google\.com/i.test(view.text)
  );
}

/**
 * The returned message's recipient, for a report that names none of its own (a DSN without
 * per-recipient fields, an old Sendmail transcript): only when the copy has exactly one.
 */
function originalRecipient(original: OriginalMessage): string | undefined {
  const to = findAddresses(original.to ?? '', 2);
  return to.length === 1 ? to[0]?.address : undefined;
}

function failedRecipients(view: MessageView): string[] {
  return fieldValues(view.headers, 'x-failed-recipients').flatMap((v) =>
    findAddresses(v).map((a) => a.address),
  );
}

/**
 * Fills what the delivery-status fields leave out from the human-readable part: the command
 * the reply answered (Postfix and Sendmail say it only in prose) and the explanation when a
 * recipient has no Diagnostic-Code.
 */
function enrichFromText(
  recipients: RecipientFacts[],
  text: string,
  unnamed = false,
): RecipientFacts[] {
  const report = reportPart(text);
  const blocks = recipientBlocks(report);
  return recipients.map((r) => {
    const block = blocks.find((b) => sameAddress(b.recipient, r.recipient));
    const source = block?.text ?? (recipients.length === 1 ? report : '');
    const command = r.command ?? commandIn(`${r.diagnostic}\n${source}`);
    const diagnostic =
      r.diagnostic ||
      (block
        ? diagnosticOf(block.text, block.recipient, block.before)
        : recipients.length === 1 &&
            (unnamed || report.toLowerCase().includes(r.recipient.toLowerCase()))
          ? diagnosticOf(report, r.recipient)
          : '');
    return { ...r, command, diagnostic };
  });
}

/** Recipients a DSN reports on: the failed and delayed ones, or the delivered ones of a success report. */
function reportedRecipients(recipients: RecipientFacts[]): RecipientFacts[] {
  const failing = recipients.filter(
    (r) => r.action !== 'delivered' && r.action !== 'relayed' && r.action !== 'expanded',
  );
  return failing.length > 0 ? failing : recipients.filter((r) => r.action === 'delivered');
}

function bounceReport(
  format: string,
  facts: RecipientFacts[],
  original: OriginalMessage,
): BounceReport {
  return {
    kind: 'bounce',
    format,
    recipients: facts.map(classifyRecipient),
    original,
    truncated: false,
  };
}

function reportOf(view: MessageView): BounceReport {
  const original = findOriginal(view.parts, view.text);

  const fbl = feedbackPart(view);
  if (fbl) {
    const { report, recipients } = parseFeedback(fbl, original);
    return {
      ...emptyReport('feedback', 'arf', original),
      feedback: report,
      recipients: recipients.map((recipient) =>
        classifyRecipient({ recipient, diagnostic: '', reason: 'feedback' }),
      ),
    };
  }
  const apple = appleUnsubscribe(view);
  if (apple) {
    return {
      ...emptyReport('feedback', 'apple-unsubscribe', original),
      feedback: apple.report,
      recipients: apple.recipients.map((recipient) =>
        classifyRecipient({ recipient, diagnostic: '', reason: 'feedback' }),
      ),
    };
  }
  const ses = parseSesNotification(view.text);
  if (ses) {
    const withId = { ...original, messageId: original.messageId ?? ses.messageId };
    return {
      ...bounceReport('amazonses', ses.recipients, withId),
      kind: ses.kind,
      feedback: ses.feedback,
    };
  }

  const dsnParts = view.parts.filter((p) => DSN_PARTS.has(p.contentType));
  if (dsnParts.length > 0) {
    const parsed = dsnParts.map((p) => parseDeliveryStatus(p.text));
    const listed = parsed.flatMap((p) => p.recipients);
    const fromCopy = originalRecipient(original);
    // A recipient the report does not name by address is the returned message's.
    const unnamed = listed.some((r) => r.recipient === '');
    const recipients = reportedRecipients(listed).map((r) =>
      r.recipient === '' ? { ...r, recipient: fromCopy ?? '' } : r,
    );
    // Only a report without any per-recipient fields borrows the copy's To: one that lists
    // recipients relayed or expanded reports nothing to act on.
    if (listed.length === 0 && fromCopy) recipients.push({ recipient: fromCopy, diagnostic: '' });
    if (recipients.length > 0) {
      const messageId =
        original.messageId ?? parsed.find((p) => p.originalMessageId)?.originalMessageId;
      return bounceReport('rfc3464', enrichFromText(recipients, view.text, unnamed), {
        ...original,
        messageId,
      });
    }
    // Every recipient was relayed or expanded: the report is a success notice, and its prose
    // must not be read as a failure.
    if (listed.length > 0) return emptyReport('none', 'rfc3464', original);
  }
  const embedded = embeddedDeliveryStatus(view.text);
  if (embedded) {
    const recipients = reportedRecipients(embedded.recipients);
    if (recipients.length > 0)
      return bounceReport('rfc3464-text', enrichFromText(recipients, view.text), original);
  }
  if (looksLikeReport(view)) {
    const failed = failedRecipients(view);
    let recipients = plainRecipients(view.text, failed);
    if (googleGroupsRefusal(view, failed)) {
      recipients = recipients.map((r) => ({ ...r, reason: 'rejected' }));
    }
    const report = reportPart(view.text);
    const fallback = originalRecipient(original);
    // An old Sendmail transcript names no address, only the error; the copy names one.
    if (
      recipients.length === 0 &&
      fallback &&
      (/^\s*[45]\d\d\s/m.test(report) || REPORT_PROSE.test(report))
    ) {
      recipients = [{ recipient: fallback, diagnostic: diagnosticOf(report, '') }];
    }
    // A warning that delivery is still being tried is a delay, not a failure.
    const action = DELAY_NOTICE.test(`${view.subject}\n${report.slice(0, 3000)}`)
      ? 'delayed'
      : 'failed';
    recipients = recipients.map((r) => ({ ...r, action: r.action ?? action }));
    if (recipients.length > 0) return bounceReport('text', recipients, original);
  }
  if (isAutoReply(view)) {
    return {
      ...emptyReport('autoreply', 'rfc3834', original),
      recipients: [classifyRecipient({ recipient: view.from, diagnostic: '', reason: 'vacation' })],
    };
  }
  return emptyReport('none', 'none', original);
}

/**
 * How many messages deep a report is looked for: a bounce forwarded as an attachment is read,
 * a forward of a forward too, and no further.
 */
const MAX_FORWARD_DEPTH = 2;

async function parseAt(input: Buffer | string, depth: number): Promise<BounceReport> {
  const view = await readMessage(input);
  const report = { ...reportOf(view), truncated: view.truncated };
  if (report.kind !== 'none' || depth >= MAX_FORWARD_DEPTH) return report;
  // Someone forwarded a bounce as an attachment: the attached message is the report.
  const attached = view.parts.find((p) => p.contentType === 'message/rfc822');
  if (!attached) return report;
  const inner = await parseAt(attached.text, depth + 1);
  return inner.kind === 'bounce' || inner.kind === 'feedback'
    ? { ...inner, format: `forwarded-${inner.format}` }
    : report;
}

/** Parses a message; never throws (an unreadable message is an `unparseable` report). */
export async function parseBounce(input: Buffer | string): Promise<BounceReport> {
  try {
    return await parseAt(input, 0);
  } catch (err) {
    const error =
      err instanceof UnparseableMessageError
        ? { code: err.code, message: err.message }
        : { code: 'BOUNCE_PARSE_ERROR', message: err instanceof Error ? err.message : String(err) };
    return { ...emptyReport('unparseable', 'none', { xHeaders: {} }), error };
  }
}
