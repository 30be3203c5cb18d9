/** Small hand-written messages in the shapes the parser reads, one per shape. */

/** Joins lines with CRLF, as messages travel. */
export function eml(lines: string[]): string {
  return `${lines.join('\r\n')}\r\n`;
}

/** A Postfix DSN for two recipients, returning only the headers (text/rfc822-headers). */
export const POSTFIX_DSN = eml([
  'Return-Path: <>',
  'From: MAILER-DAEMON@mx.example.net (Mail Delivery System)',
  'To: bounce+abc@bounces.example.com',
  'Subject: Undelivered Mail Returned to Sender',
  'Auto-Submitted: auto-replied',
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=delivery-status;',
  '\tboundary="B1"',
  '',
  '--B1',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'This is the mail system at host mx.example.net.',
  '',
  '<ada@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1',
  '    <ada@example.org>: Recipient address rejected: User unknown in local',
  '    recipient table (in reply to RCPT TO command)',
  '',
  '<bob@example.org>: host mx.example.org[192.0.2.1] said: 552 5.2.2',
  '    <bob@example.org>: Mailbox full (in reply to RCPT TO command)',
  '',
  '--B1',
  'Content-Type: message/delivery-status',
  '',
  'Reporting-MTA: dns; mx.example.net',
  'Arrival-Date: Mon, 1 Dec 2025 10:00:00 +0000',
  '',
  'Final-Recipient: rfc822; ada@example.org',
  'Original-Recipient: rfc822;ada@example.org',
  'Action: failed',
  'Status: 5.1.1',
  'Remote-MTA: dns; mx.example.org',
  'Diagnostic-Code: smtp; 550 5.1.1 <ada@example.org>: Recipient address rejected:',
  '    User unknown in local recipient table',
  '',
  'Final-Recipient: rfc822; bob@example.org',
  'Action: failed',
  'Status: 5.2.2',
  'Remote-MTA: dns; mx.example.org',
  'Diagnostic-Code: smtp; 552 5.2.2 <bob@example.org>: Mailbox full',
  '',
  '--B1',
  'Content-Type: text/rfc822-headers',
  '',
  'Return-Path: <bounce+abc@bounces.example.com>',
  'Message-ID: <c1.r42@volley.example.com>',
  'From: News <news@example.com>',
  'To: ada@example.org',
  'Subject: December news',
  'X-Volley-Campaign: c1',
  'X-Mailer: Volley',
  '',
  '--B1--',
]);

/** What POSTFIX_DSN reports, as `bounce:classify` prints it. */
export const POSTFIX_DSN_RECIPIENTS = [
  {
    recipient: 'ada@example.org',
    status: '5.1.1',
    replyCode: '550',
    reason: 'userunknown',
    hardBounce: true,
  },
  {
    recipient: 'bob@example.org',
    status: '5.2.2',
    replyCode: '552',
    reason: 'mailboxfull',
    hardBounce: false,
  },
];

/** A delay notice: the recipient is still being retried. */
export const DELAY_DSN = eml([
  'From: MAILER-DAEMON@mx.example.net',
  'Subject: Delayed Mail (still being retried)',
  'Content-Type: multipart/report; report-type=delivery-status; boundary="D1"',
  '',
  '--D1',
  'Content-Type: text/plain',
  '',
  'Your message could not be delivered for 4 hours. It will be retried until it is 5 days old.',
  '',
  '--D1',
  'Content-Type: message/delivery-status',
  '',
  'Reporting-MTA: dns; mx.example.net',
  '',
  'Final-Recipient: rfc822; carol@slow.example.org',
  'Action: delayed',
  'Status: 4.4.1',
  'Diagnostic-Code: smtp; 421 4.4.1 connect to mx.slow.example.org: Connection timed out',
  'Will-Retry-Until: Sat, 6 Dec 2025 10:00:00 +0000',
  '',
  '--D1--',
]);

/** An RFC 5965 complaint for two recipients, with the original message attached. */
export const ARF_REPORT = eml([
  'From: <fbl@isp.example.net>',
  'To: fbl@bounces.example.com',
  'Subject: Abuse report',
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=feedback-report; boundary="F1"',
  '',
  '--F1',
  'Content-Type: text/plain',
  '',
  'This is an email abuse report for a message received from IP 192.0.2.9.',
  '',
  '--F1',
  'Content-Type: message/feedback-report',
  '',
  'Feedback-Type: abuse',
  'User-Agent: ExampleFBL/1.0',
  'Version: 1',
  'Original-Mail-From: <bounce+abc@bounces.example.com>',
  'Original-Rcpt-To: <dan@isp.example.net>',
  'Original-Rcpt-To: <eve@isp.example.net>',
  'Arrival-Date: Mon, 1 Dec 2025 10:00:00 +0000',
  'Source-IP: 192.0.2.9',
  'Reported-Domain: example.com',
  '',
  '--F1',
  'Content-Type: message/rfc822',
  '',
  'Message-ID: <c1.r7@volley.example.com>',
  'From: News <news@example.com>',
  'To: dan@isp.example.net',
  'Subject: December news',
  'X-Volley-Campaign: c1',
  '',
  'Hello',
  '--F1--',
]);

/** An out-of-office reply (RFC 3834). */
export const VACATION = eml([
  'From: Fay <fay@example.org>',
  'To: bounce+abc@bounces.example.com',
  'Subject: Out of office: December news',
  'Auto-Submitted: auto-replied',
  'Content-Type: text/plain',
  '',
  'I am away until Monday and will reply when I am back.',
]);

/** Exim's plain-text bounce, with the returned message after its marker. */
export const EXIM_TEXT = eml([
  'From: Mail Delivery System <Mailer-Daemon@mx.example.net>',
  'To: bounce+abc@bounces.example.com',
  'Subject: Mail delivery failed: returning message to sender',
  'X-Failed-Recipients: gus@example.org',
  'Auto-Submitted: auto-replied',
  '',
  'This message was created automatically by mail delivery software.',
  '',
  'A message that you sent could not be delivered to one or more of its',
  'recipients. This is a permanent error. The following address(es) failed:',
  '',
  '  gus@example.org',
  '    host mx.example.org [192.0.2.1]',
  '    SMTP error from remote mail server after RCPT TO:<gus@example.org>:',
  '    550 5.1.1 <gus@example.org>: Recipient address rejected: User unknown',
  '',
  '------ This is a copy of the message, including all the headers. ------',
  '',
  'Return-path: <bounce+abc@bounces.example.com>',
  'Message-ID: <c1.r9@volley.example.com>',
  'To: gus@example.org',
  'Subject: December news',
  'X-Volley-Campaign: c1',
  '',
  'Hello',
]);

/** qmail's plain-text bounce for two recipients. */
export const QMAIL_TEXT = eml([
  'From: MAILER-DAEMON@mx.example.net',
  'To: bounce+abc@bounces.example.com',
  'Subject: failure notice',
  '',
  'Hi. This is the qmail-send program at mx.example.net.',
  "I'm afraid I wasn't able to deliver your message to the following addresses.",
  "This is a permanent error; I've given up. Sorry it didn't work out.",
  '',
  '<hal@example.org>:',
  '192.0.2.1 does not like recipient.',
  'Remote host said: 552 5.2.2 <hal@example.org>... Mailbox full',
  'Giving up on 192.0.2.1.',
  '',
  '<ivy@nowhere.example>:',
  "Sorry, I couldn't find any host named nowhere.example. (#5.1.2)",
  '',
  '--- Below this line is a copy of the message.',
  '',
  'Message-ID: <c1.r11@volley.example.com>',
  'Subject: December news',
]);

/** A Sendmail transcript without a delivery-status part. */
export const SENDMAIL_TEXT = eml([
  'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>',
  'Subject: Returned mail: see transcript for details',
  '',
  '   ----- The following addresses had permanent fatal errors -----',
  '<joe@example.org>',
  '',
  '   ----- Transcript of session follows -----',
  '... while talking to mx.example.org.:',
  '>>> DATA',
  '<<< 554 5.7.1 Message rejected as spam by Content Filtering',
  '554 5.0.0 Service unavailable',
  '',
  '   ----- Original message follows -----',
  'Message-ID: <c1.r12@volley.example.com>',
]);

/** IMail-style: the failure first, then the address on the same line. */
export const IMAIL_TEXT = eml([
  'From: "Postmaster" <postmaster@example.org>',
  'Subject: Undeliverable Mail',
  '',
  'User mailbox exceeds allowed size: kim@example.org',
  '',
  'Original message follows.',
  '',
  'Message-ID: <c1.r13@volley.example.com>',
]);

/** An ordinary message that mentions addresses and failures in passing. */
export const NOT_A_BOUNCE = eml([
  'From: Lee <lee@example.org>',
  'To: news@example.com',
  'Subject: Re: December news',
  'Content-Type: text/plain',
  '',
  'Thanks! My colleague mo@example.org could not be reached last week, try again.',
  'target address: mo@example.org',
]);

/** Trustwave MailMarshal: the reason first, the affected addresses after it. */
export const MAILMARSHAL_TEXT = eml([
  'From: postmaster@gateway.example.net',
  'Subject: Undeliverable Mail: "December news"',
  '',
  'Your message:',
  '   From:    news@example.com',
  '   Subject: December news',
  '',
  'Could not be delivered because of',
  '',
  '550 5.1.1 User unknown',
  '',
  'The following recipients were affected:',
  '    nia@example.org',
  '',
  'Additional Information',
  '======================',
  'Original Sender:    <news@example.com>',
]);

/** Trend Micro InterScan: the dialogue with the arrows the other way round. */
export const INTERSCAN_TEXT = eml([
  'From: "InterScan MSS" <postmaster@gateway.example.net>',
  'Subject: Mail could not be delivered',
  '',
  'Mail could not be delivered',
  '',
  'Sent <<< RCPT TO:<oli@example.org>',
  'Received >>> 550 5.1.1 <oli@example.org>... user unknown',
  '',
  'Content-Type: message/rfc822',
  '',
  'Message-ID: <c1.r14@volley.example.com>',
]);

/** 1&1 (and GMX): the address alone, then "For the following reason:". */
export const EINSUNDEINS_TEXT = eml([
  'From: "Mail Delivery System" <mailer-daemon@mx.example.net>',
  'Subject: Mail delivery failed: returning message to sender',
  '',
  'This message was created automatically by mail delivery software.',
  '',
  'A message that you sent could not be delivered to one or more of',
  'its recipients. This is a permanent error. The following address',
  'failed:',
  '',
  'pat@example.org',
  '',
  'For the following reason:',
  '',
  'Mail size limit exceeded. For explanation visit',
  'http://postmaster.example.net/en/error-messages?ip=192.0.2.1',
  '',
  '--- The header of the original message is following. ---',
  '',
  'Message-ID: <c1.r15@volley.example.com>',
]);

/** Smail 3 (Deutsche Telekom's fork): banners around the failed addresses. */
export const SMAIL_TEXT = eml([
  'From: Mail Delivery System <Mailer-Daemon@mx.example.net>',
  'Subject: mail failed, returning to sender',
  '',
  '|------------------------- Failed addresses follow: ---------------------|',
  ' <quinn@example.org>',
  '   552 5.2.2 <quinn@example.org> Quota exceeded (mailbox for user is full)',
  ' rae@nowhere.example ... unknown host',
  '|------------------------- Message header follows: ----------------------|',
  'Message-ID: <c1.r16@volley.example.com>',
]);

/** Apache James (and Verizon): the error, then the message's details with RCPT TO. */
export const JAMES_TEXT = eml([
  'From: postmaster@mx.example.net',
  'Subject: [BOUNCE]',
  '',
  'Hi. This is the James mail server at mx.example.net.',
  "I'm afraid I wasn't able to deliver your message to the following addresses.",
  '',
  'Error message below:',
  '550 - Requested action not taken: no such user here',
  '',
  'Message details:',
  '  Subject: December news',
  '  MAIL FROM: bounce+abc@bounces.example.com',
  '  RCPT TO: sam@example.org',
  '  From: News <news@example.com>',
]);

/** Exchange 2010's plain-text NDR: the address twice, the reply under "Diagnostic information". */
export const EXCHANGE_TEXT = eml([
  'From: Microsoft Exchange <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.net>',
  'Subject: Undeliverable: December news',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'Delivery has failed to these recipients or groups:',
  '',
  'tom@example.org',
  "The e-mail address you entered couldn't be found. Please check the recipient's e-mail",
  'address and try to resend the message.',
  '',
  'Diagnostic information for administrators:',
  '',
  'Generating server: mail.example.net',
  '',
  'tom@example.org',
  '#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##',
  '',
  'Original message headers:',
  '',
  'Message-ID: <c1.r17@volley.example.com>',
  'Subject: December news',
]);

/** Lotus Domino's plain-text notice. */
export const DOMINO_TEXT = eml([
  'From: Postmaster@mail.example.net',
  'Subject: DELIVERY FAILURE: User uma (uma@example.org) not listed in Domino Directory',
  '',
  'Your message',
  '',
  '  Subject: December news',
  '',
  'was not delivered to:',
  '',
  '  uma@example.org',
  '',
  'because:',
  '',
  '  User uma (uma@example.org) not listed in Domino Directory',
]);

/** Automatic mail that is neither a bounce nor an absence notice. */
export const NOTIFICATION = eml([
  'From: Example Service <noreply@service.example.net>',
  'To: news@example.com',
  'Subject: Your weekly summary',
  'Auto-Submitted: auto-generated',
  'Content-Type: text/plain',
  '',
  'support@service.example.net answers questions about your account.',
  'billing@service.example.net sent 2 invoices this week.',
]);

/** A read receipt (RFC 8098). */
export const READ_RECEIPT = eml([
  'From: Val <val@example.org>',
  'To: news@example.com',
  'Subject: Read: December news',
  'Auto-Submitted: auto-replied',
  'Content-Type: multipart/report; report-type=disposition-notification; boundary="R1"',
  '',
  '--R1',
  'Content-Type: text/plain',
  '',
  'Your message was displayed.',
  '',
  '--R1',
  'Content-Type: message/disposition-notification',
  '',
  'Final-Recipient: rfc822; val@example.org',
  'Disposition: manual-action/MDN-sent-manually; displayed',
  '',
  '--R1--',
]);
