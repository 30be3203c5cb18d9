/**
 * The one function that turns an SMTP reply (or a connection error) into what happens to
 * the message. Classification and disposition are decided together, so they cannot disagree.
 */

export interface SmtpReply {
  /** Basic reply code (250, 421, 550...); undefined for connection-level errors. */
  code?: number | undefined;
  /** Reply text, or the error message for connection-level errors. */
  text: string;
  /** Node/nodemailer error code for connection-level failures (ECONNECTION, ETIMEDOUT...). */
  errorCode?: string | undefined;
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

const ENHANCED = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

/** Text that marks a reply as a rate limit or a temporary condition, whatever its first digit. */
const TEMPORARY_TEXT =
  /rate[- ]?limit|too many (messages|connections|recipients|mails)|try (again )?later|temporar(il)?y|frequency limit|throttl|exceeded .* (rate|quota)|\bTSS0\d\b|greylist|please retry|resources? (temporarily )?unavailable/i;

interface ReasonRule {
  re: RegExp;
  reason: string;
}

/** Text patterns, checked in order, for the reason of a failure. */
const TEXT_REASONS: ReasonRule[] = [
  { re: /too many (connections|concurrent)|connection (frequency|rate) limit/i, reason: 'toomanyconn' },
  { re: /rate[- ]?limit|too many (messages|mails|recipients)|throttl|try (again )?later|\bTSS0\d\b/i, reason: 'ratelimited' },
  { re: /(user|mailbox|recipient|address)( is)? (unknown|not found|does not exist|doesn't exist|invalid|unavailable)|no such (user|mailbox|recipient)|unknown (user|recipient)|user doesn't have|invalid recipient/i, reason: 'userunknown' },
  { re: /mailbox (is )?full|over ?quota|quota exceeded|insufficient (storage|space)/i, reason: 'mailboxfull' },
  { re: /host (not found|unknown)|domain (not found|does not exist)|no (mx|such domain)|unrouteable/i, reason: 'hostunknown' },
  { re: /spam|junk|content (rejected|filter)|message (was )?(rejected|refused) (as|because)|blacklist|blocklist/i, reason: 'spamdetected' },
  { re: /blocked|denied|refused|reputation|not allowed|banned|listed|rbl|dnsbl/i, reason: 'blocked' },
  { re: /message (is )?too (big|large)|size (limit|exceeded)|exceeds .*size/i, reason: 'mesgtoobig' },
  { re: /policy|dmarc|spf|dkim/i, reason: 'policyviolation' },
];

/** Enhanced status subjects/details (RFC 3463) to reasons. */
function reasonFromEnhanced(e: string): string | undefined {
  const [, subject, detail] = e.split('.');
  const sd = `${subject}.${detail}`;
  switch (sd) {
    case '1.1':
    case '1.6':
      return 'userunknown';
    case '1.2':
      return 'hostunknown';
    case '2.2':
      return 'mailboxfull';
    case '2.1':
      return 'suspend';
    case '3.4':
    case '2.3':
      return 'mesgtoobig';
    case '4.4':
    case '4.1':
    case '4.2':
      return 'networkerror';
    case '7.1':
      return 'blocked';
    case '7.23':
    case '7.25':
    case '7.26':
    case '7.27':
      return 'policyviolation';
    default:
      return undefined;
  }
}


export function classifyReply(reply: SmtpReply): Classification {
  const text = reply.text.slice(0, 1000);
  const code = reply.code;
  const enhanced = ENHANCED.exec(text)?.[0];
  const base = { code, enhanced, text };

  if (code !== undefined && code >= 200 && code < 300) {
    return { ...base, disposition: 'delivered', reason: 'delivered' };
  }
  if (code === undefined || code < 400 || code >= 600) {
    // No reply code: the connection failed, timed out or spoke something that is not SMTP.
    const reason = reply.errorCode === 'EAUTH' ? 'securityerror' : 'networkerror';
    return { ...base, disposition: 'deferred', reason };
  }

  const textReason = TEXT_REASONS.find((r) => r.re.test(text))?.reason;
  const enhancedReason = enhanced ? reasonFromEnhanced(enhanced) : undefined;

  if (code >= 400 && code < 500) {
    return { ...base, disposition: 'deferred', reason: textReason ?? enhancedReason ?? 'undefined' };
  }
  // 5xx: permanent, unless the text or the enhanced code says the condition is temporary.
  if (TEMPORARY_TEXT.test(text) || enhanced?.startsWith('4.')) {
    return { ...base, disposition: 'deferred', reason: textReason ?? 'ratelimited' };
  }
  // The enhanced code is precise for addressing and mailbox states; for 5.7.x the text says more
  // (spam, policy or a block).
  const reason =
    enhancedReason && enhancedReason !== 'blocked'
      ? enhancedReason
      : (textReason ?? enhancedReason ?? 'undefined');
  return { ...base, disposition: 'bounced', reason };
}
