/**
 * Reports as they reach the bounce domain, built for a given VERP address, recipient and
 * Message-ID: a DSN (RFC 3464) as Postfix writes one, a complaint (RFC 5965), an
 * out-of-office reply and a mailto unsubscribe; and the campaign they report on. Shared by
 * the bounce server's tests.
 */
import type { CampaignStore } from '@volley/campaigns';
import { eml } from './fixtures.ts';

/** A running campaign of `tenant` whose recipients `emails` were all sent; its id. */
export async function sentCampaign(
  store: CampaignStore,
  tenant: string,
  emails: string[],
): Promise<string> {
  const id = store.newId();
  await store.create(id, { tenant, from: 'news@sender.example', subject: 's', text: 'x' });
  await store.addRecipients(
    id,
    emails.map((email) => ({ email })),
  );
  await store.start(id);
  await store.advanceCursor(id, 0, emails.length);
  const sent = emails.map((email, index) => ({
    index,
    email,
    outcome: 'sent' as const,
    reason: 'delivered',
  }));
  await store.finalizeMany(id, tenant, sent, 0);
  return id;
}

export interface DsnOptions {
  /** The envelope sender of the message that bounced (its VERP return path). */
  returnPath?: string;
  recipient: string;
  /** Enhanced status; the reply code follows from its class unless given. */
  status: string;
  replyCode?: number;
  text?: string;
  action?: 'failed' | 'delayed' | 'delivered';
  /** Message-ID of the message that bounced, e.g. `<cid.3@sender.example>`. */
  messageId?: string;
}

/** A DSN for one recipient, returning the original's headers (text/rfc822-headers). */
export function dsn(o: DsnOptions): string {
  const code = o.replyCode ?? (o.status.startsWith('5') ? 550 : 450);
  const reply = `${code} ${o.status} ${o.text ?? 'Recipient address rejected: User unknown'}`;
  const action = o.action ?? 'failed';
  return eml([
    'From: MAILER-DAEMON@mx.example.net (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.net.',
    '',
    `<${o.recipient}>: host mx.example.org[192.0.2.1] said: ${reply} (in reply to RCPT TO command)`,
    '',
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    '',
    `Final-Recipient: rfc822; ${o.recipient}`,
    `Action: ${action}`,
    `Status: ${action === 'delivered' ? '2.0.0' : o.status}`,
    'Remote-MTA: dns; mx.example.org',
    ...(action === 'delivered' ? [] : [`Diagnostic-Code: smtp; ${reply}`]),
    '',
    '--B1',
    'Content-Type: text/rfc822-headers',
    '',
    ...(o.returnPath ? [`Return-Path: <${o.returnPath}>`] : []),
    ...(o.messageId ? [`Message-ID: ${o.messageId}`] : []),
    'From: News <news@sender.example>',
    `To: ${o.recipient}`,
    'Subject: December news',
    '',
    '--B1--',
  ]);
}

export interface ArfOptions {
  /** Original-Rcpt-To; omitted (a redacted report) when undefined. */
  rcptTo?: string;
  feedbackType?: string;
  returnPath?: string;
  messageId?: string;
}

/** A complaint report (RFC 5965) about one message. */
export function arf(o: ArfOptions): string {
  return eml([
    'From: Feedback Loop <fbl@mailbox.example>',
    'Subject: FW: complaint',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'This is an abuse report for a message received from your network.',
    '--b1',
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${o.feedbackType ?? 'abuse'}`,
    'User-Agent: MailboxProvider/1.0',
    'Version: 1',
    ...(o.rcptTo ? [`Original-Rcpt-To: ${o.rcptTo}`] : []),
    '',
    '--b1',
    'Content-Type: text/rfc822-headers',
    '',
    ...(o.returnPath ? [`Return-Path: <${o.returnPath}>`] : []),
    ...(o.messageId ? [`Message-ID: ${o.messageId}`] : []),
    'From: News <news@sender.example>',
    'Subject: December news',
    '',
    '--b1--',
  ]);
}

/** An out-of-office reply (RFC 3834) from `from`. */
export function autoReply(from: string): string {
  return eml([
    `From: ${from}`,
    'Subject: Out of office: December news',
    'Auto-Submitted: auto-replied',
    '',
    'I am away until Monday.',
  ]);
}

/** What a mail client sends to a List-Unsubscribe mailto. */
export function unsubscribeMail(from: string, to: string): string {
  return eml([`From: ${from}`, `To: ${to}`, 'Subject: unsubscribe', '', 'unsubscribe']);
}
