/**
 * The one function that turns an SMTP reply (or a connection error) into what happens to
 * the message. Classification and disposition are decided together, so they cannot disagree.
 *
 * The same rules classify a reply the sender got itself and one a bounce reports later (a
 * DSN's Diagnostic-Code, a plain-text bounce's quoted reply): the bounce parser passes the
 * report's context (its Status field, Action, the command the reply answered) with the text.
 */
import { enhancedStatus } from './enhanced-status.ts';
import { PHRASES, reasonOfCode, reasonOfStatus, type PhraseReason } from './reasons.ts';

/** The SMTP command a reply answered, in the sender's stage names. */
export type SmtpCommand = 'connect' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data';

export interface SmtpReply {
  /** Basic reply code (250, 421, 550...); undefined for connection-level errors. */
  code?: number | undefined;
  /** Reply text, or the error message for connection-level errors. */
  text: string;
  /** Node/nodemailer error code for connection-level failures (ECONNECTION, ETIMEDOUT...). */
  errorCode?: string | undefined;
  /** The command the reply answered, when known. */
  command?: SmtpCommand | undefined;
}

/**
 * What a delivery report (RFC 3464 or an MTA's own format) says around a reply, when the reply
 * reaches us in a bounce rather than in our own session.
 */
export interface ReportContext {
  /** Enhanced status the report gives for the recipient (a DSN's Status field). */
  status?: string | undefined;
  /** RFC 3464 Action: failed, delayed, delivered... */
  action?: string | undefined;
  /** Diagnostic type: "smtp" for a remote reply, "x-unix" for a local delivery program... */
  diagnosticType?: string | undefined;
  /** A reason the report's own structure implies, used when the text names none. */
  hint?: string | undefined;
}

export type Disposition = 'delivered' | 'deferred' | 'bounced';

export interface Classification {
  disposition: Disposition;
  /** Reason in Sisimai's vocabulary. */
  reason: string;
  code?: number | undefined;
  /** Enhanced status code (RFC 3463), e.g. "5.1.1", when the reply carried one. */
  enhanced?: string | undefined;
  text: string;
}

// A reply code at the start of a reported reply ("550 ...", "550-...", "550: ...").
const CODE_AT_START = /^\s*([245]\d\d)(?=[\s:-])/;

/**
 * Text that says the condition is temporary whatever the first digit of the code: receivers
 * answer 5xx for throttling and greylisting often enough that bouncing on it would suppress
 * good addresses.
 */
const TEMPORARY_TEXT =
  /try (again )?later|try again in \d|temporar(il)?y|please retry|greylist|resources? (temporarily )?unavailable|\bTSS0\d\b/i;

/** Reasons that describe the sender's pace or the receiver's load, not the recipient. */
const TEMPORARY_REASONS = new Set(['toomanyconn', 'ratelimited']);

/** Commands sent before the message itself: a refusal there cannot be about its content. */
const BEFORE_DATA = new Set<SmtpCommand | undefined>([
  'connect',
  'ehlo',
  'starttls',
  'auth',
  'mail',
  'rcpt',
]);

/**
 * Reasons that suppress an address at once (Sisimai's hard bounces): the mailbox or domain
 * does not exist or has moved, or the domain accepts no mail at all (null MX) for good.
 */
const HARD_REASONS = new Set(['userunknown', 'hostunknown', 'hasmoved']);

/**
 * Whether a bounce with this reason should suppress the address: userunknown, hostunknown and
 * hasmoved always, notaccept when permanent (a 5xx code or status, or none given). Every other
 * reason, even with a 5xx (blocked, spamdetected, mailboxfull...), says nothing lasting about
 * the address. `code` is the reply code or enhanced status, as text or number.
 */
export function isHardBounce(reason: string, code?: string | number): boolean {
  if (HARD_REASONS.has(reason)) return true;
  if (reason !== 'notaccept') return false;
  const c = String(code ?? '').trim();
  return c === '' || c.startsWith('5');
}

interface Facts {
  text: string;
  code: number | undefined;
  enhanced: string | undefined;
  /** Reason the enhanced status names on its own. */
  statusReason: string | undefined;
  command: SmtpCommand | undefined;
  /** Whether the reply came in a report (a bounce) rather than our own session. */
  reported: boolean;
}

/** Whether the code or status says the failure is temporary (4xx, 4.x.x). */
function temporary(f: Facts): boolean {
  return (f.code !== undefined && f.code < 500) || f.enhanced?.startsWith('4.') === true;
}

function says(f: Facts, reason: PhraseReason): boolean {
  return PHRASES[reason].test(f.text);
}

/**
 * Statuses that leave an unknown-mailbox phrase its meaning when the command is not known:
 * none, or one about the mailbox itself.
 */
const MAILBOX_STATUS = new Set<string | undefined>([undefined, 'userunknown', 'filtered']);

/** Phrases that overrule an enhanced status pointing at an unknown mailbox. */
const NOT_USERUNKNOWN: PhraseReason[] = [
  'filtered',
  'mailboxfull',
  'blocklisted',
  'hasmoved',
  'rejected',
  'notaccept',
  'norelaying',
];

/**
 * Rules that weigh the status and the command as well as the text, in order; the first that
 * holds names the reason. The order follows which cause explains the others: a full mailbox
 * or a size limit before an unknown user (full mailboxes are often refused with 5.1.1-ish
 * texts), authentication before blocks ("access denied ... does not pass DMARC"), unknown
 * users before filters, sender refusals before unknown hosts ("domain of sender address does
 * not exist"), spam before generic blocks.
 */
const RULES: [reason: string, test: (f: Facts) => boolean][] = [
  ['toomanyconn', (f) => says(f, 'toomanyconn')],
  ['badreputation', (f) => says(f, 'badreputation')],
  ['ratelimited', (f) => says(f, 'ratelimited')],
  ['mailboxfull', (f) => f.statusReason === 'mailboxfull' || says(f, 'mailboxfull')],
  ['exceedlimit', (f) => f.statusReason === 'exceedlimit' || says(f, 'exceedlimit')],
  ['mesgtoobig', (f) => f.statusReason === 'mesgtoobig' || says(f, 'mesgtoobig')],
  ['suspend', (f) => f.code === 525 || says(f, 'suspend')],
  ['hasmoved', (f) => says(f, 'hasmoved')],
  ['norelaying', (f) => !['connect', 'ehlo'].includes(f.command ?? '') && says(f, 'norelaying')],
  ['authfailure', (f) => f.statusReason === 'authfailure' || says(f, 'authfailure')],
  [
    'userunknown',
    (f) =>
      // Words by which a receiver says it has no such account; filters do not use them.
      says(f, 'noaccount') ||
      (f.statusReason === 'userunknown' && !NOT_USERUNKNOWN.some((r) => says(f, r))) ||
      // A report that does not say which command was refused may be quoting a content
      // filter after DATA; our own session always knows.
      (says(f, 'userunknown') &&
        (f.command === 'rcpt' ||
          (!f.reported && f.command === undefined && MAILBOX_STATUS.has(f.statusReason)))),
  ],
  [
    'filtered',
    (f) =>
      (f.statusReason === 'filtered' && (says(f, 'userunknown') || says(f, 'filtered'))) ||
      ((f.command === 'data' || (f.reported && f.command === undefined)) &&
        (says(f, 'filtered') || says(f, 'userunknown'))) ||
      (f.command === undefined && says(f, 'filtered')),
  ],
  ['requireptr', (f) => f.statusReason === 'requireptr' || says(f, 'requireptr')],
  ['notcompliantrfc', (f) => says(f, 'notcompliantrfc')],
  ['virusdetected', (f) => says(f, 'virusdetected')],
  [
    'contenterror',
    (f) =>
      (f.statusReason === 'contenterror' && !says(f, 'spamdetected')) || says(f, 'contenterror'),
  ],
  [
    'rejected',
    (f) =>
      f.statusReason === 'rejected' ||
      (says(f, 'rejected') &&
        (f.command === 'mail' ||
          (f.command === 'data' && f.statusReason !== 'userunknown') ||
          [undefined, 'securityerror', 'systemerror'].includes(f.statusReason))),
  ],
  ['notaccept', (f) => f.code === 521 || f.code === 556 || says(f, 'notaccept')],
  [
    'hostunknown',
    // A lookup that failed for now is a network error, not a domain that does not exist.
    (f) =>
      !temporary(f) &&
      ((f.statusReason === 'hostunknown' && !says(f, 'networkerror')) || says(f, 'hostunknown')),
  ],
  ['blocked', (f) => f.statusReason === 'blocked' || says(f, 'blocklisted')],
  [
    'spamdetected',
    (f) =>
      f.statusReason === 'spamdetected' ||
      ((f.enhanced !== undefined || f.code !== undefined) &&
        !BEFORE_DATA.has(f.command) &&
        says(f, 'spamdetected')),
  ],
];

/** Rules on the text alone, for what the rules above leave undecided. */
const TEXT_ONLY: PhraseReason[] = [
  'mailboxfull',
  'authfailure',
  'spamdetected',
  'policyviolation',
  'norelaying',
  'systemerror',
  'networkerror',
  'suspend',
  'contenterror',
  'systemfull',
  'notaccept',
  'expired',
  'failedstarttls',
  'securityerror',
  'mailererror',
];

function decide(f: Facts, report: ReportContext | undefined): string {
  // A local delivery program (procmail, a pipe) failed: its exit text is not an SMTP reply,
  // so only what it says counts, and otherwise it is the program's failure.
  if (/^x-unix/i.test(report?.diagnosticType ?? '')) {
    return TEXT_ONLY.find((r) => says(f, r)) ?? f.statusReason ?? 'mailererror';
  }
  for (const [reason, test] of RULES) if (test(f)) return reason;
  const byText = TEXT_ONLY.find((r) => says(f, r));
  if (byText) return byText;
  // "Try again later" without saying why is most often a throttle.
  if (TEMPORARY_TEXT.test(f.text) && !report && !says(f, 'refused')) return 'ratelimited';
  const byStatus = f.statusReason ?? (f.code !== undefined ? reasonOfCode(f.code) : undefined);
  if (byStatus) return byStatus;
  if (says(f, 'refused')) return 'blocked';
  if (!report) return 'undefined';
  if (report.hint) return report.hint;
  if (report.action === 'delayed') return 'expired';
  if (f.command === 'ehlo' || f.command === 'connect') return 'blocked';
  // Sisimai's word for a failure whose explanation names no known cause.
  return f.text.trim() !== '' ? 'onhold' : 'undefined';
}

/** Connection-level failures (no reply code) by the client's error code. */
function reasonFromErrorCode(errorCode: string | undefined): string {
  if (errorCode === 'EAUTH') return 'securityerror';
  if (errorCode === 'ETLS') return 'failedstarttls';
  return 'networkerror';
}

/**
 * Classifies a reply. With `report`, the reply is one a delivery report quotes: it may come
 * without a code (the reporting MTA's own words), the report's Status stands in for a missing
 * enhanced code, and a reason the reply does not name comes from the report's context.
 */
export function classifyReply(reply: SmtpReply, report?: ReportContext): Classification {
  const text = reply.text.slice(0, 1000);
  const smtp = !report?.diagnosticType || report.diagnosticType === 'smtp';
  const codeText =
    report && smtp && reply.code === undefined ? CODE_AT_START.exec(text)?.[1] : undefined;
  const code = reply.code ?? (codeText ? Number(codeText) : undefined);
  const inText = enhancedStatus(text);
  // A DSN's Status field is the reporting MTA's reading; a specific code in the reply wins
  // over a generic one there ("Status: 5.0.0" with "550 5.1.1 ...").
  const enhanced =
    report?.status && !(inText && /^\d\.0\.0$/.test(report.status))
      ? report.status
      : (inText ?? report?.status);

  const success =
    (code !== undefined && code >= 200 && code < 300) || enhanced?.startsWith('2.') === true;
  if (success || report?.action === 'delivered') {
    return { code, enhanced, text, disposition: 'delivered', reason: 'delivered' };
  }
  if (!report && (code === undefined || code < 400 || code >= 600)) {
    // No reply code: the connection failed, timed out or spoke something that is not SMTP.
    return {
      code,
      enhanced,
      text,
      disposition: 'deferred',
      reason: reasonFromErrorCode(reply.errorCode),
    };
  }

  const facts: Facts = {
    text,
    code,
    enhanced,
    statusReason: enhanced ? reasonOfStatus(enhanced) : undefined,
    command: reply.command,
    reported: report !== undefined,
  };
  const reason = decide(facts, report);
  const temporary =
    (code !== undefined && code < 500) ||
    enhanced?.startsWith('4.') === true ||
    report?.action === 'delayed' ||
    TEMPORARY_TEXT.test(text) ||
    TEMPORARY_REASONS.has(reason);
  return { code, enhanced, text, disposition: temporary ? 'deferred' : 'bounced', reason };
}
