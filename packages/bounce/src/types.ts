import type { SmtpCommand } from '@volley/smtp';

/**
 * What one recipient's part of a report says, before classification: the fields of an RFC 3464
 * per-recipient block, or what a plain-text format says about the address.
 */
export interface RecipientFacts {
  recipient: string;
  /** Original-Recipient (RFC 3464), when it differs. */
  originalRecipient?: string | undefined;
  /** Action (RFC 3464): failed, delayed, delivered, relayed, expanded. */
  action?: string | undefined;
  /** Enhanced status (RFC 3463) the report gives for the recipient. */
  status?: string | undefined;
  /** Type of the diagnostic: "smtp" for a remote server's reply, "x-unix", "x-postfix"... */
  diagnosticType?: string | undefined;
  /** The remote server's reply or the reporting MTA's explanation, unfolded. */
  diagnostic: string;
  /** Remote-MTA (RFC 3464), or the host a plain-text report names. */
  remoteMta?: string | undefined;
  /** SMTP command the reply answered, when the report says. */
  command?: SmtpCommand | undefined;
  /** A reason the report's context suggests, used when the reply text names none. */
  hint?: string | undefined;
  /**
   * A reason the report's kind decides on its own, whatever the text says: `feedback` for a
   * complaint, `vacation` for an auto-reply, or a format's fixed meaning (Google Groups).
   */
  reason?: string | undefined;
}

/** One recipient of a report, classified. */
export interface BounceRecipient {
  recipient: string;
  /** Enhanced status (RFC 3463), or "" when the report gives none. */
  status: string;
  /** SMTP reply code as text, or "" when the report gives none. */
  replyCode: string;
  /** Reason in Sisimai's vocabulary. */
  reason: string;
  /** Whether the address should be suppressed at once (see isHardBounce). */
  hardBounce: boolean;
  /** RFC 3464 Action, or what the format implies (failed, delayed, delivered). */
  action: string;
  diagnostic: string;
  remoteMta?: string | undefined;
  command?: SmtpCommand | undefined;
  originalRecipient?: string | undefined;
}

/** Headers of the message that bounced, as the report returns them. */
export interface OriginalMessage {
  messageId?: string | undefined;
  returnPath?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  subject?: string | undefined;
  /** X- header fields of the original (lower-cased names), e.g. a campaign or recipient id. */
  xHeaders: Record<string, string>;
}

/** An RFC 5965 feedback report (or a provider's equivalent). */
export interface FeedbackReport {
  feedbackType: string;
  userAgent?: string | undefined;
  originalMailFrom?: string | undefined;
  originalRcptTo: string[];
  sourceIp?: string | undefined;
  arrivalDate?: string | undefined;
  reportedDomain?: string | undefined;
}

/**
 * - `bounce`: a report of failure or delay (DSN or an MTA's own format);
 * - `feedback`: a complaint or other feedback report;
 * - `autoreply`: an out-of-office or other automatic reply, not a bounce;
 * - `none`: a message that is none of these;
 * - `unparseable`: a message that could not be read (see `error`).
 */
export type BounceKind = 'bounce' | 'feedback' | 'autoreply' | 'none' | 'unparseable';

export interface BounceReport {
  kind: BounceKind;
  /** Which reader recognised it: "rfc3464", "arf", "rfc3834", "exim", "qmail", ... */
  format: string;
  recipients: BounceRecipient[];
  original: OriginalMessage;
  feedback?: FeedbackReport | undefined;
  /** For `unparseable`: a stable code and what was wrong. */
  error?: { code: string; message: string } | undefined;
  /** Whether only the first part of a long message was read. */
  truncated: boolean;
}
