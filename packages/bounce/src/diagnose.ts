/**
 * Per-recipient classification: what a report says about a recipient goes through the same
 * classifier as the sender's own replies (`classifyReply` of @volley/smtp), with the report's
 * Status, Action and diagnostic type as context.
 */
import { classifyReply, isHardBounce } from '@volley/smtp';
import type { BounceRecipient, RecipientFacts } from './types.ts';

// The reply code at the start of a quoted reply, or after the reporting MTA's own words
// ("host mx.example.org said: 550 ...", "Remote host said: 550-5.7.26 ...").
const CODE_AT_START = /^\s*([245]\d\d)(?=[\s\-:]|$)/;
const CODE_AFTER_WORDS = /(?:^|[\s:;'"([#])([245]\d\d)(?=[ :,-])(?![:-]\d)/;

/**
 * The reply inside a diagnostic: from its reply code on, as the client read it. A diagnostic
 * without one (a DNS error, a time-out, the reporting MTA's own words) is kept whole.
 */
function replyIn(diagnostic: string): { code?: number; text: string } {
  const start = CODE_AT_START.exec(diagnostic);
  if (start?.[1]) return { code: Number(start[1]), text: diagnostic.trim() };
  const m = CODE_AFTER_WORDS.exec(diagnostic);
  if (!m?.[1]) return { text: diagnostic.trim() };
  // The words before the code often say what failed ("unknown user", "rejected"), so they stay
  // in the text the phrases are matched against.
  return { code: Number(m[1]), text: diagnostic.trim() };
}

/** Classifies one recipient's facts into the reported result. */
export function classifyRecipient(facts: RecipientFacts): BounceRecipient {
  // Only a remote server's reply has a reply code; a local program's "255" is an exit status.
  const smtp = facts.diagnosticType === undefined || facts.diagnosticType === 'smtp';
  const reply = smtp ? replyIn(facts.diagnostic) : { text: facts.diagnostic.trim() };
  const alone = /^\s*\d+\s*$/.test(facts.diagnostic);
  const code = reply.code !== undefined && !alone ? reply.code : undefined;
  const c = classifyReply(
    { code, text: reply.text, command: facts.command },
    {
      status: facts.status,
      action: facts.action,
      diagnosticType: facts.diagnosticType,
      hint: facts.hint,
    },
  );
  const reason = facts.reason ?? c.reason;
  const status = c.enhanced ?? '';
  const replyCode = code !== undefined ? String(code) : '';
  return {
    recipient: facts.recipient,
    status,
    replyCode,
    reason,
    hardBounce: isHardBounce(reason, replyCode || status),
    action:
      facts.action ??
      (c.disposition === 'deferred'
        ? 'delayed'
        : c.disposition === 'delivered'
          ? 'delivered'
          : 'failed'),
    diagnostic: facts.diagnostic,
    remoteMta: facts.remoteMta,
    command: facts.command,
    originalRecipient: facts.originalRecipient,
  };
}
