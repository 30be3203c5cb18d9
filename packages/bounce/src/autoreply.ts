/**
 * Automatic replies (RFC 3834 and the headers mail systems use instead): out-of-office and
 * vacation notices. They reach the return path like bounces but say nothing about delivery,
 * so they are reported as `vacation`, never as a bounce.
 */
import { fieldValue } from './fields.ts';
import type { MessageView } from './mime.ts';

/** Header fields that mark a message as an automatic reply, with the values that do. */
const MARKERS: [name: string, re: RegExp][] = [
  // RFC 3834: "auto-replied" answers a message; "auto-generated" mail (notifications, reports)
  // answers nothing and is no out-of-office notice.
  ['auto-submitted', /^auto-replied/i],
  ['x-autoreply', /^yes/i],
  ['x-autorespond', /./],
  ['x-autoresponse', /./],
  ['x-mail-autoreply', /./],
  ['x-apple-action', /^vacation/i],
  ['x-auto-response-suppress', /\b(oof|autoreply)\b/i], // Exchange
  ['precedence', /^auto[_-]reply/i],
];

/** Subjects of out-of-office replies in the languages they commonly come in. */
const SUBJECT =
  /^(auto(matic|matische)?[ -]?(reply|response|antwort|svar|risposta)|(out|away) (of|from) (the )?office|r[ée]ponse automatique|respuesta autom[áa]tica|abwesenheits?(notiz|meldung)?|on vacation|vacation (reply|notice|message)|i am (currently )?(away|out of)|absence|automatisch antwoord)\b/i;

/**
 * Senders whose automatic messages are delivery reports, not replies: a bounce that no reader
 * understood must not turn into an out-of-office notice.
 */
const SYSTEM_SENDER = /^(mailer-daemon|postmaster|root|mail-daemon|mailerdaemon|mdaemon)@/i;

/** Whether the message is an automatic reply from a person's mailbox. */
export function isAutoReply(view: MessageView): boolean {
  if (SYSTEM_SENDER.test(view.from) || /mailer-daemon|postmaster/i.test(view.fromName))
    return false;
  if (/^(security information for|mail failure -)/i.test(view.subject)) return false;
  // A read receipt (RFC 8098) is sent automatically too, and is no absence notice.
  if (view.contentTypeParams['report-type']?.toLowerCase() === 'disposition-notification')
    return false;
  if (MARKERS.some(([name, re]) => re.test(fieldValue(view.headers, name) ?? ''))) return true;
  const subject = view.subject.replace(/^((re|fwd?|aw|sv)\s*:\s*)+/i, '');
  return SUBJECT.test(subject);
}
