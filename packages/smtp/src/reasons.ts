/**
 * The vocabulary of the classifier: what reply texts, enhanced status codes and basic reply
 * codes say about why a message was refused, in Sisimai's reason names. `classify.ts` decides
 * which of these applies to a reply; this file only says what each one looks like.
 *
 * Phrases are general ("mailbox is full", "relay access denied"), each as receivers and MTAs
 * word it, never one message's exact text. Every pattern is a plain alternation with bounded
 * gaps, so it runs in linear time on the (bounded) reply text.
 */

/** Reasons whose phrases are matched against reply text. */
export type PhraseReason =
  | 'toomanyconn'
  | 'badreputation'
  | 'ratelimited'
  | 'mailboxfull'
  | 'mesgtoobig'
  | 'exceedlimit'
  | 'suspend'
  | 'hasmoved'
  | 'norelaying'
  | 'authfailure'
  | 'userunknown'
  | 'noaccount'
  | 'filtered'
  | 'requireptr'
  | 'notcompliantrfc'
  | 'contenterror'
  | 'rejected'
  | 'hostunknown'
  | 'spamdetected'
  | 'blocklisted'
  | 'virusdetected'
  | 'policyviolation'
  | 'systemerror'
  | 'networkerror'
  | 'systemfull'
  | 'notaccept'
  | 'expired'
  | 'failedstarttls'
  | 'securityerror'
  | 'mailererror'
  | 'refused';

export const PHRASES: Record<PhraseReason, RegExp> = {
  toomanyconn:
    /too many ([a-z]+ ){0,2}(connections|sessions)|connection (frequency|rate) limit|connection limit (exceeded|reached)|maximum connection limit|per-domain connection limit|too many errors from your ip|trop de connexions|max(imum)? messages? per connection/i,
  badreputation:
    /deferred due to unexpected volume or user complaints|(low|poor|bad|none\/bad) (email )?reputation|reputation (of the sending|problems|score)|ip reputation|sender reputation|domain reputation/i,
  ratelimited:
    /rate[- ]?limit|greylist|too many (messages|mails|e-?mails|recipients)|throttl|sending (rate|quota)|(daily|hourly) (sending |message |relay )?(quota|limit)|\bTSS0\d\b|unexpected volume|exceeded .{0,40}\brate\b|receiving mail (too quickly|at a rate)|max(imum)? (e-?mails|messages) per (hour|day)|relay quota|relay limit exceeded|sending limit exceeded/i,
  mailboxfull:
    /mailbox (is |was )?(full|over ?quota)|mailbox (size|storage) (limit )?exceeded|full mailbox|mail ?(box|folder)('s)? is full|over ?quota|quota (exceeded|violation|full)|exceeded (its|the|their|his|her|your) (storage|quota|mailbox|disk)|insufficient (storage|disk space)|not (sufficient|enough) (disk )?space|no space left|mailbox size limit|mailbox exceeds allowed size|storage (allocation|limit|quota) exceeded|exceeded storage allocation|user is over|(disk|maildir|mailbox) quota|too much mail data|too many messages (on the server|in (the|this) mailbox)|mailbox would exceed|space has been used up|(boite|bo[iî]te) du destinataire pleine|number of messages in recipient's mailbox exceeded|as their mailbox is full|mailbox has exceeded|account is (over|full)|out of storage space|inbox is full/i,
  exceedlimit:
    /length exceeds (the )?(administrative )?limit|exceeds (the )?recipient'?s? (size )?limit|message length exceeds administrative limit/i,
  mesgtoobig:
    /message (is )?too (big|large)|message size exceeds|size (limit )?exceeded|exceeds (the )?(maximum )?(message )?size|message length exceeds|message exceeds (the )?(maximum|max) (message )?size|mail size limit|too big for (the )?system/i,
  suspend:
    /(account|mailbox|address|user|recipient)( has been| is| was| is currently)? (disabled|suspended|deactivated|frozen|locked|discontinued|inactive|terminated|archived)|disabled (recipient|account|mailbox|user)|is (currently )?(disabled|inactive|suspended|deactivated)|has been (disabled|suspended)|inactive (account|user|mailbox)|temporar(il)?y (locked|inactive)|archived recipient|recipient suspend|user suspended|mailbox currently suspended|account is locked|no longer accepts mail|mailbox unavailable or access denied|invalid\/inactive user|is no longer valid(?! at)/i,
  hasmoved:
    /has moved|has been replaced by|no longer (valid|available) at|not our (user|customer)|user not local/i,
  norelaying:
    /relay(ing)? (access )?(denied|not permitted|not allowed|prohibited)|unable to relay|(we do not|cannot|can't|will not|do not) relay|not (permitted|allowed) to relay|no relaying|insecure mail relay|as a relay|relaying mail to|not an open relay|not a gateway|not configured to relay|isn't in my list of allowed rcpthosts|we don't handle mail for|mail for .{1,80} not accepted here|not local host|not authorized to send e-?mail directly|client was not authenticated/i,
  authfailure:
    /\bdmarc\b|bad spf records?|\bspf\b.{0,60}\b(hard ?fail|soft ?fail|fail(s|ed|ure)?|violation|error|invalid)\b|(fails? to pass|does not pass|did not pass|not passed)\b.{0,20}\b(spf|dkim|dmarc|authentication)|\bdkim\b.{0,40}\b(fail(s|ed|ure)?|invalid|missing)|does not have authentication information|authentication (checks|requirements|level)|sender policy framework|multiple authentication checks failed|not authenticated by (spf|dkim)|spf record of the sending domain|authenticate (their e-?mail )?with (either )?(spf|dkim)|aligned with either the authenticated/i,
  userunknown:
    /(user|mailbox|recipient|address|account|addressee|alias)( name)?( is)? (unknown|not found|does not exist|doesn't exist|invalid|unavailable|not exist|not known|not active)|no such (user|mailbox|recipient|address|account|person)|unknown (user|recipient|mailbox|address|local[- ]?part|e-?mail address|or illegal alias)|user doesn't have|doesn't have an? .{0,40}account|invalid (recipient|mailbox|address|user)|(?<!sender )address rejected(?!:)|recipient address rejected: (access denied|invalid user|unknown user|user unknown|user .{1,64} does not exist|userunknown)|not listed in (the |our )?(public |domino )?(directory|name & address book)|recipnotfound|recipient not found|adresse (destinataire )?(d au moins un destinataire )?invalide|not a valid (user|mailbox|recipient)|is not a (known|valid) (user|mailbox)|inactive email address|email account that you tried to reach does not exist|no (mailbox|account) (here )?by that name|(mailbox|account|address) .{0,20}(does not|doesn't) exist|there is no one at this address|user missing home directory|recipient (is not|not) (local|ok|accepted)|destination addresses were unknown|invalid final delivery userid|mail\.local: unknown user|badrcptto|recipient name is not recognized|utilisateur inconnu|nessun utente|no existe|no mail ?box available|address (does not|doesn't) exist|user .{1,64} (was not found|does not exist)|non-?existent user|this address no longer accepts mail|not a local address/i,
  noaccount:
    /(this|the) user doesn't have an? .{0,40}account|invalid recipient|mailbox unavailable|recipient name is not recognized|not listed in (the |our )?(public |domino )?(directory|name & address book)|invalid final delivery userid|mail\.local: unknown user|address couldn't be found|(email )?address could not be found|mailbox not found/i,
  filtered:
    /message filtered|rejected due to user rules|refuses? to receive|user reject|blocked by the recipient|only accepting mail from specific|recipient preferences|not accepting any mail|account is protected by|restricted sms e-mail|domain filter|filter(ed)? by (the )?recipient/i,
  requireptr:
    /reverse (dns|lookup)|\bptr\b|ip name lookup failed|no rdns|r?dns record|mismatches client ip|hostname does not match|cannot find your hostname|cannot resolve your (address|hostname)|unresolvable relay host|unverifiable sending ip|unverifyable sending ip|generic dns ptr|forward dns entry does not point/i,
  notcompliantrfc:
    /not (rfc ?\d+ )?compliant|rfc ?(5322|2822|822) (violation|compliance)|multiple .{0,20}(addresses in from|subject|from|date|message-id|sender|to)\b.{0,10}headers?|duplicate header|rfcmessagenoncompliant|missing a valid (address in the from|message-id)|multiple addresses in from|unicode character in a disallowed header|encoded-word syntax is not permitted|not a valid rfc ?5321 address|message is malformed/i,
  contenterror:
    /improper use of 8-bit|header size exceeds|mime complexity|invalid mime headers|improperly-formatted binary content|unnecessary base64 encoding|message header size|too many received: headers/i,
  rejected:
    /sender (address |domain |e-?mail address )?(rejected|refused|denied|unknown|invalid|verify failed|not pre-approved|is spammer|was rejected)|domain of sender address|(bad|invalid|unknown) sender|sender address (has )?null mx|purported\s+responsible address|envelope (sender|blocked)|mail from .{0,40}(rejected|refused|not accepted)|unroutable sender|empty envelope senders|null sender is not allowed|bogus mail from|sender domain is empty|batv|backscatter|returned mail not accepted|mail from not owned by user|from: domain is invalid|fully qualified email address required|not a registered gateway user|(sender|email) address (has been |is )?blacklisted|sender is in my black list|you are sending to\/from an address that has been blacklisted|your access to submit messages|not allowed to post to this mailing list|no third-party dsns|unsigned dsn|address is not verified|does not accept mail from|administrative prohibition|delivery not authorized|sender (was )?not authenticated|sender not in allowed-senders/i,
  hostunknown:
    /host or domain name not found|host unknown|unknown host|domain (does not exist|doesn't exist|is not reachable|not reachable|must exist)|domain name (does not exist|not found)(?!: )|no such domain|unrouteable|unroutable|name or service not known|domain .{0,40} not reachable|host unreachable|mail domain mentioned in email address is unknown|the account or domain may not exist|couldn't find any host named|unknown domain( name)?/i,
  spamdetected:
    /\bspam\b(?!haus|cop)|spam(my|-like|assassin|ming| score| content| filter)|junk mail|\bUBE\b|unsolicited|content (rejected|refused|filter)|bulk (e-?mail|mail|advertising)|message content rejected|rejecting (banned|mail) content|unacceptable content|mail content denied|classified as bulk|nature of the content or the links/i,
  blocklisted:
    /block ?list|black ?list(ed)?|deny ?list|spamhaus|spamcop|barracudacentral|abuseat\.org|\bsorbs\b|\b(rbl|dnsbl|uribl)\b|blocked using|client host (rejected|blocked)|banned|ip address .{0,20}(blocked|rejected)|blocked for (spam|abuse)|blocked by (ldap|our|the)|dynamic ip|dial-?up|go away|listed (on|in|at) .{0,40}\b(bl|list)\b|please use the smtp server of your isp|helo command rejected|not (currently )?accepting mail from your ip|mail server at .{0,60} is blocked|your network is|access from ip address|invalid ip for sending|confirm this mail server|open proxy|service not available, closing transmission channel|connection refused by|connection reset by peer|connection (was )?dropped|unwanted messages have been sent|looks suspiciously like spammer|not in whitelist|helo\/ehlo argument is invalid|unusual rate of (unsolicited )?mail/i,
  virusdetected: /virus|malware|infected|trojan|worm\b/i,
  policyviolation:
    /polic(y|ies)|protocol violation|potential security issue|closed mailing list|members-only list|not subscribed to this group|organizational settings|illegal attachment|header error|header are not accepted|mass mailer/i,
  systemerror:
    /system (error|config(uration)? error)|local error|internal (server )?error|service (currently |temporarily )?(unavailable|not available)|configuration error|queue file write error|server is misconfigured|interrupted system call|temporary local problem|loops back to myself|forwarding loop broken|would create a mail loop|timeout waiting for input|error while being processed|multiple retries|can't create user output file|temporary system problem|server busy|temporarily rejected (this )?message/i,
  networkerror:
    /too many hops|routing loop|mail loop|loop detected|hop count exceeded|message looping|forwarding loop|no route to host|host is unreachable|host name lookup failure|host not found, try again|name service error|malformed (or unexpected )?name server reply|unable to resolve route|could not connect and send|dns records for the destination|network error|dns error|lookup of \S+ (responded|had no)|name service error|exceeded \d+ hops|dns query failed/i,
  systemfull: /mail system full|system (storage|disk) (is )?full|insufficient system storage/i,
  notaccept:
    /null mx|does not accept (e-?mail|mail)|(doesn't|does not|do not) receive e-?mail|not accepting (any )?(e-?mail|mail|messages)|no mx (record )?found|couldn't find a mail exchanger|mail receiving disabled|no route for current request|indicated no smtp service|host does not accept mail|smtp protocol returned a permanent error|system not accepting network messages|no mail-enabled subscriptions/i,
  expired:
    /retry timeout exceeded|delivery (time )?expired|message expired|have been failing for a long time|been in the queue too long|could not be delivered for .{0,40}(days|hours)|could not deliver for the last|was not reachable within the allowed queue period|giving up on|delivery attempts will continue|connection timed out|timed out while|message timed out|server did not respond|retry time not reached|could not find a gateway for|failed to deliver to domain|not been collected after|cannot send message for|did not accept our requests to connect|host not reachable|failed (after )?\d+ (delivery )?attempts|unable to connect to remote server|wasn't able to establish an smtp connection|connection expired|timeout - closing connection/i,
  failedstarttls:
    /does not support (tls|starttls)|starttls (is )?(required|failed|negotiation)|requiretls|tls (is )?required|tls negotiation failed|must use tls|encryption (required|needed)/i,
  securityerror:
    /unauthenticated|authentication (required|failed|failure|credentials invalid)|must (authenticate|be authenticated)|not authorized|verification failure|account not subscribed to ses|executable files are not allowed/i,
  mailererror:
    /mailer error|pipe to \||procmail|bin\/maildrop|command (failed|died with status|output)|\|\| exit |x-unix;/i,
  refused: /blocked|denied|refused|not allowed|not accepting connections|connection refused/i,
};

/** Enhanced status (RFC 3463 and the IANA registry) to reason. */
export function reasonOfStatus(e: string): string | undefined {
  const [cls, subject, detail] = e.split('.');
  const sd = `${subject}.${detail}`;
  switch (sd) {
    case '1.0':
    case '1.1':
    case '1.3':
      return 'userunknown';
    case '1.2':
      return 'hostunknown';
    case '1.4':
      return 'filtered';
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
      // Mailbox disabled: for good it reads as a filter, for now as a block (Sisimai's table).
      return cls === '5' ? 'filtered' : 'blocked';
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
      // "Other mail system status": for good a system error, for now too vague to name.
      return cls === '5' ? 'systemerror' : undefined;
    case '3.3':
    case '3.5':
    case '4.3':
      return 'systemerror';
    case '4.4':
      // Unable to route: for good it means the domain has no mail host, for now a DNS hiccup.
      return cls === '5' ? 'hostunknown' : 'networkerror';
    case '4.0':
    case '4.2':
    case '4.6':
    case '4.8':
      return 'networkerror';
    case '4.1':
    case '4.7':
      return 'expired';
    case '4.5':
      return 'systemfull';
    case '5.3':
      return 'ratelimited';
    case '5.2':
    case '5.4':
    case '5.6':
      return 'syntaxerror';
    case '7.13':
      return 'suspend';
    case '7.16':
      return 'mesgtoobig';
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
      if (subject === '7')
        return cls === '4' && (detail === '1' || detail === '2') ? 'blocked' : 'securityerror';
      return undefined;
  }
}

/** Basic reply codes (RFC 5321, RFC 7504) that name a reason on their own. */
export function reasonOfCode(code: number): string | undefined {
  if (code >= 500 && code <= 504) return 'syntaxerror';
  if (code === 530 || code === 535 || code === 538) return 'securityerror';
  if (code === 551) return 'hasmoved';
  if (code === 552) return 'mailboxfull';
  if (code === 521 || code === 556) return 'notaccept';
  if (code === 451) return 'systemerror';
  if (code === 452) return 'systemfull';
  return undefined;
}
