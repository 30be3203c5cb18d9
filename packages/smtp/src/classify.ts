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

// The enhanced code normally follows the basic code ("550 5.1.1", "550-5.1.1", "550 #5.1.0").
const ENHANCED_AFTER_CODE = /^\s*[245]\d\d[ -]+#?([245]\.\d{1,3}\.\d{1,3})(?![.\d])/;
// Anywhere else in the text, but not a fragment of an IP address such as "10.2.5.100".
const ENHANCED_ANYWHERE = /(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![.\d])/;

/**
 * Text that says the condition is temporary whatever the first digit of the code: receivers
 * answer 5xx for throttling and greylisting often enough that bouncing on it would suppress
 * good addresses.
 */
const TEMPORARY_TEXT =
  /try (again )?later|try again in \d|temporar(il)?y|please retry|greylist|resources? (temporarily )?unavailable|\bTSS0\d\b/i;

/** Reasons that describe the sender's pace or the receiver's load, not the recipient. */
const TEMPORARY_REASONS = new Set(['toomanyconn', 'ratelimited']);

interface ReasonRule {
  reason: string;
  re: RegExp;
}

/**
 * Text patterns, checked in order; the first match names the reason. The text goes first
 * because receivers put generic enhanced codes (5.7.1, 5.0.0) on very specific refusals. The
 * order matters where phrases overlap: reputation before rate limits ("rate limited due to IP
 * reputation"), authentication before plain blocks ("access denied ... does not pass DMARC"),
 * block lists before spam ("spamhaus"), sender refusals before unknown hosts ("domain of sender
 * address does not exist").
 */
const TEXT_REASONS: ReasonRule[] = [
  {
    reason: 'toomanyconn',
    re: /too many ([a-z]+ ){0,2}(connections|sessions)|connection (frequency|rate) limit|connection limit (exceeded|reached)/i,
  },
  {
    reason: 'badreputation',
    re: /(low|poor|bad) reputation|reputation of the sending|ip reputation|sender reputation/i,
  },
  {
    reason: 'ratelimited',
    re: /rate[- ]?limit|too many (messages|mails|emails|recipients)|throttl|sending (rate|quota)|(daily|hourly) (sending |message )?(quota|limit)|\bTSS0\d\b|unexpected volume|exceeded .*\brate\b|receiving mail (too quickly|at a rate)/i,
  },
  {
    reason: 'authfailure',
    re: /\bdmarc\b|\bspf\b|\bdkim\b|does not have authentication information|fails? to pass (spf|dkim|authentication)/i,
  },
  {
    reason: 'requireptr',
    re: /reverse (dns|lookup)|\bptr\b|ip name lookup failed|no rdns|mismatches client ip|hostname does not match/i,
  },
  {
    reason: 'notcompliantrfc',
    re: /not (rfc ?\d+ )?compliant|rfc ?(5322|2822|822) (violation|compliance)|multiple .{0,20}(addresses in from|subject|from|date|message-id)\b.{0,10}header/i,
  },
  {
    reason: 'norelaying',
    re: /relay(ing)? (access )?(denied|not permitted|not allowed|prohibited)|unable to relay|(we do not|cannot|can't|will not) relay|not (permitted|allowed) to relay/i,
  },
  {
    reason: 'mailboxfull',
    re: /mailbox (is )?(full|over quota)|over ?quota|quota exceeded|exceeded (its|the|their|his|her) (storage|quota|mailbox)|insufficient (storage|disk space)|mailbox size limit|storage (allocation|limit) exceeded|user is over/i,
  },
  {
    reason: 'exceedlimit',
    re: /length exceeds (the )?limit set by recipient|exceeds (the )?recipient'?s? (size )?limit/i,
  },
  {
    reason: 'mesgtoobig',
    re: /message (is )?too (big|large)|message size exceeds|size (limit )?exceeded|exceeds (the )?(maximum )?(message )?size|message length exceeds/i,
  },
  {
    reason: 'virusdetected',
    re: /virus|malware|infected|trojan/i,
  },
  {
    reason: 'suspend',
    re: /(account|mailbox|address|user) (has been |is |was )?(disabled|suspended|deactivated|frozen|locked|discontinued|inactive|expired)|disabled (recipient|account|mailbox|user)|is (currently )?(disabled|inactive|suspended|deactivated)|has been disabled or discontinued/i,
  },
  {
    reason: 'hasmoved',
    re: /has moved|has been replaced by|no longer (valid|available) at|not our (user|customer)|user not local/i,
  },
  {
    reason: 'rejected',
    re: /sender (address |domain )?(rejected|refused|denied|unknown|invalid|verify failed)|domain of sender address .* does not exist|(bad|invalid|unknown) sender|sender address (has )?null mx|purported\s+responsible address|envelope sender|mail from .{0,40}(rejected|refused|not accepted)/i,
  },
  {
    reason: 'notaccept',
    re: /null mx|does not accept (e-?mail|mail)|(doesn't|does not|do not) receive e-?mail|not accepting (any )?(e-?mail|mail|messages)/i,
  },
  {
    reason: 'hostunknown',
    re: /host (or domain name )?(not found|unknown)|domain (name )?(not found|does not exist|doesn't exist|is not reachable|not reachable)|no (mx|such domain)|unrouteable|unroutable|name service error|domain .{0,40} not reachable/i,
  },
  {
    reason: 'userunknown',
    re: /(user|mailbox|recipient|address|account)( name)?( is)? (unknown|not found|does not exist|doesn't exist|invalid|unavailable|not exist)|no such (user|mailbox|recipient|address|account)|unknown (user|recipient|mailbox|address)|user doesn't have|doesn't have an? .{0,40}account|invalid recipient|address rejected(?!:)|recipient address rejected: access denied|not listed in (the |our )?(public |domino )?directory|recipnotfound|adresse (destinataire )?(d au moins un destinataire )?invalide|not a valid (user|mailbox|recipient)|inactive email address|email account that you tried to reach does not exist/i,
  },
  {
    reason: 'blocked',
    re: /block ?list|black ?list|deny ?list|spamhaus|spamcop|barracudacentral|\bsorbs\b|\b(rbl|dnsbl)\b|blocked using|client host (rejected|blocked)|banned|ip address .{0,20}blocked|blocked for spam/i,
  },
  {
    reason: 'spamdetected',
    re: /spam|junk mail|\bUBE\b|unsolicited|content (rejected|refused)|bulk mail/i,
  },
  {
    reason: 'policyviolation',
    re: /polic(y|ies)|protocol violation|potential security issue/i,
  },
  {
    reason: 'securityerror',
    re: /unauthenticated|authentication (required|failed)|must (authenticate|be authenticated)|encryption (required|needed)|tls required|not authorized/i,
  },
  {
    reason: 'blocked',
    re: /blocked|denied|refused|not allowed|not accepting connections|connection refused/i,
  },
  {
    reason: 'networkerror',
    re: /too many hops|routing loop|mail loop|loop detected/i,
  },
  {
    reason: 'systemerror',
    re: /system (error|config(uration)? error)|local error|internal (server )?error|service (currently |temporarily )?(unavailable|not available)|configuration error/i,
  },
];

/** Enhanced status (RFC 3463 and the IANA registry) to reason, for replies whose text says little. */
function reasonFromEnhanced(e: string): string | undefined {
  const [cls, subject, detail] = e.split('.');
  const sd = `${subject}.${detail}`;
  switch (sd) {
    case '1.0':
    case '1.1':
    case '1.3':
      return 'userunknown';
    case '1.2':
      return 'hostunknown';
    case '1.6':
      return 'hasmoved';
    case '1.7':
    case '1.8':
      return 'rejected';
    case '1.10':
      return 'notaccept';
    case '2.0':
    case '2.4':
      return 'filtered';
    case '2.1':
      return 'suspend';
    case '2.2':
      return 'mailboxfull';
    case '2.3':
      return 'exceedlimit';
    case '3.1':
      return 'systemfull';
    case '3.2':
      return 'notaccept';
    case '3.4':
      return 'mesgtoobig';
    case '3.0':
    case '3.3':
    case '3.5':
    case '4.3':
      return 'systemerror';
    case '4.4':
      // Unable to route: for good it means the domain has no mail host, for now a DNS hiccup.
      return cls === '5' ? 'hostunknown' : 'networkerror';
    case '4.0':
    case '4.1':
    case '4.2':
    case '4.6':
    case '4.8':
      return 'networkerror';
    case '4.5':
      return 'systemfull';
    case '4.7':
      return 'expired';
    case '5.3':
      return 'ratelimited';
    case '5.2':
    case '5.4':
    case '5.6':
      return 'syntaxerror';
    case '7.13':
      return 'suspend';
    case '7.17':
    case '7.18':
      return 'hasmoved';
    case '7.20':
    case '7.21':
    case '7.22':
    case '7.23':
    case '7.24':
    case '7.26':
    case '7.29':
      return 'authfailure';
    case '7.25':
      return 'requireptr';
    case '7.27':
      return 'notaccept';
    case '7.28':
      return 'spamdetected';
    case '7.30':
      return 'failedstarttls';
    default:
      if (subject === '6') return 'contenterror';
      if (subject === '7') return 'securityerror';
      return undefined;
  }
}

/** Basic reply codes (RFC 5321, RFC 7504) that name a reason on their own. */
function reasonFromCode(code: number): string | undefined {
  if (code >= 500 && code <= 504) return 'syntaxerror';
  if (code === 530 || code === 535 || code === 538) return 'securityerror';
  if (code === 551) return 'hasmoved';
  if (code === 552) return 'mailboxfull';
  if (code === 521 || code === 556) return 'notaccept';
  if (code === 451) return 'systemerror';
  if (code === 452) return 'systemfull';
  return undefined;
}

/** Connection-level failures (no reply code) by the client's error code. */
function reasonFromErrorCode(errorCode: string | undefined): string {
  if (errorCode === 'EAUTH') return 'securityerror';
  if (errorCode === 'ETLS') return 'failedstarttls';
  return 'networkerror';
}

export function classifyReply(reply: SmtpReply): Classification {
  const text = reply.text.slice(0, 1000);
  const code = reply.code;
  const enhanced = (ENHANCED_AFTER_CODE.exec(text) ?? ENHANCED_ANYWHERE.exec(text))?.[1];
  const base = { code, enhanced, text };

  if (code !== undefined && code >= 200 && code < 300) {
    return { ...base, disposition: 'delivered', reason: 'delivered' };
  }
  if (code === undefined || code < 400 || code >= 600) {
    // No reply code: the connection failed, timed out or spoke something that is not SMTP.
    return { ...base, disposition: 'deferred', reason: reasonFromErrorCode(reply.errorCode) };
  }

  const textReason = TEXT_REASONS.find((r) => r.re.test(text))?.reason;
  const saysTemporary = TEMPORARY_TEXT.test(text);
  const temporary =
    code < 500 ||
    enhanced?.startsWith('4.') === true ||
    saysTemporary ||
    (textReason !== undefined && TEMPORARY_REASONS.has(textReason));

  // "Try again later" without saying why is most often a throttle.
  const fallback = saysTemporary ? 'ratelimited' : undefined;
  const reason =
    textReason ??
    fallback ??
    (enhanced ? reasonFromEnhanced(enhanced) : undefined) ??
    reasonFromCode(code) ??
    'undefined';
  return { ...base, disposition: temporary ? 'deferred' : 'bounced', reason };
}
