import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import {
  classifyReply,
  isHardBounce,
  type Disposition,
  type ReportContext,
  type SmtpReply,
} from '@volley/smtp';
import { sharedDir } from '@volley/testkit';

type Case = [reply: SmtpReply, disposition: Disposition, reason: string];

function check(cases: Case[]): void {
  for (const [reply, disposition, reason] of cases) {
    const c = classifyReply(reply);
    assert.deepEqual(
      { disposition: c.disposition, reason: c.reason },
      { disposition, reason },
      `${reply.code ?? reply.errorCode ?? '-'} ${reply.text}`,
    );
  }
}

describe('classifyReply', () => {
  test('2xx is delivered', () => {
    check([
      [{ code: 250, text: '250 2.0.0 Ok: queued as 4Z9kQ' }, 'delivered', 'delivered'],
      [{ code: 251, text: '251 User not local; will forward' }, 'delivered', 'delivered'],
    ]);
  });

  test('keeps the reply code, enhanced status and text', () => {
    const c = classifyReply({
      code: 550,
      text: '550-5.1.1 The email account that you tried to reach does not exist.',
    });
    assert.deepEqual(c, {
      disposition: 'bounced',
      reason: 'userunknown',
      code: 550,
      enhanced: '5.1.1',
      text: '550-5.1.1 The email account that you tried to reach does not exist.',
    });
    assert.equal(
      classifyReply({ code: 550, text: '550 #5.1.0 Address rejected.' }).enhanced,
      '5.1.0',
    );
    // Not an enhanced status: part of an IP address.
    assert.equal(
      classifyReply({ code: 554, text: '554 rejected from 10.2.5.100' }).enhanced,
      undefined,
    );
    assert.equal(classifyReply({ code: 550, text: 'x'.repeat(5000) }).text.length, 1000);
  });

  test('4xx is deferred, with the reason it gives', () => {
    check([
      [
        { code: 421, text: '421 4.7.0 Try again later, closing connection.' },
        'deferred',
        'ratelimited',
      ],
      [
        {
          code: 450,
          text: '450 4.2.1 The user you are trying to contact is receiving mail too quickly',
        },
        'deferred',
        'ratelimited',
      ],
      [{ code: 450, text: '450 4.2.1 Mailbox disabled for this recipient' }, 'deferred', 'suspend'],
      [
        { code: 452, text: '452 4.2.2 The email account that you tried to reach is over quota.' },
        'deferred',
        'mailboxfull',
      ],
      [
        { code: 451, text: '451 4.7.1 Greylisted, please retry in 5 minutes' },
        'deferred',
        'ratelimited',
      ],
      [
        { code: 451, text: '451 Requested action aborted: local error in processing' },
        'deferred',
        'systemerror',
      ],
      [
        {
          code: 450,
          text: '450 4.1.1 <x@example.org>: Recipient address rejected: User unknown in local recipient table',
        },
        'deferred',
        'userunknown',
      ],
      [{ code: 452, text: '452 4.5.3 Too many recipients' }, 'deferred', 'ratelimited'],
      [
        { code: 421, text: '421 Too many concurrent SMTP connections from this IP address' },
        'deferred',
        'toomanyconn',
      ],
    ]);
  });

  test('5xx bounces, with reasons in Sisimai\u2019s vocabulary', () => {
    check([
      [
        {
          code: 550,
          text: '550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown',
        },
        'bounced',
        'userunknown',
      ],
      [
        { code: 550, text: '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found' },
        'bounced',
        'userunknown',
      ],
      [{ code: 550, text: '550 No such user here' }, 'bounced', 'userunknown'],
      [{ code: 550, text: '550 5.1.1' }, 'bounced', 'userunknown'],
      [{ code: 552, text: '552 5.2.2 Mailbox full' }, 'bounced', 'mailboxfull'],
      [
        {
          code: 552,
          text: '552-5.2.2 The email account that you tried to reach is over quota and inactive.',
        },
        'bounced',
        'mailboxfull',
      ],
      // A full mailbox is not a rate limit, though both talk about a quota.
      [
        { code: 550, text: '550 5.2.2 User has exceeded their storage quota' },
        'bounced',
        'mailboxfull',
      ],
      [{ code: 550, text: '550 5.1.2 Host unknown' }, 'bounced', 'hostunknown'],
      [{ code: 550, text: '550 Unrouteable address' }, 'bounced', 'hostunknown'],
      [
        { code: 554, text: '554 5.7.1 Message rejected as spam by Content Filtering.' },
        'bounced',
        'spamdetected',
      ],
      [
        { code: 550, text: '550 5.7.1 Message content rejected, UBE, id=22220-02-222' },
        'bounced',
        'spamdetected',
      ],
      [
        {
          code: 554,
          text: '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org',
        },
        'bounced',
        'blocked',
      ],
      [
        { code: 550, text: '550 5.7.606 Access denied, banned sending IP [192.0.2.1].' },
        'bounced',
        'blocked',
      ],
      [
        { code: 553, text: '553 http://www.spamhaus.org/query/bl?ip=192.0.2.222' },
        'bounced',
        'blocked',
      ],
      [
        { code: 550, text: '550 5.2.1 The email account that you tried to reach is disabled.' },
        'bounced',
        'suspend',
      ],
      [{ code: 552, text: '552 5.3.4 Message size exceeds fixed limit' }, 'bounced', 'mesgtoobig'],
      [
        { code: 552, text: '552 5.2.3 Message length exceeds limit set by recipient' },
        'bounced',
        'exceedlimit',
      ],
      [
        {
          code: 550,
          text: '550 5.7.26 Unauthenticated email from example.com is not accepted due to domain\u2019s DMARC policy.',
        },
        'bounced',
        'authfailure',
      ],
      [
        {
          code: 550,
          text: '550 5.7.25 The IP address sending this message does not have a PTR record setup.',
        },
        'bounced',
        'requireptr',
      ],
      [
        { code: 554, text: '554 5.7.1 <x@example.org>: Relay access denied' },
        'bounced',
        'norelaying',
      ],
      [
        {
          code: 553,
          text: '553 5.1.8 <a@example.com>... Domain of sender address a@example.com does not exist',
        },
        'bounced',
        'rejected',
      ],
      [{ code: 556, text: '556 5.1.10 Recipient address has null MX' }, 'bounced', 'notaccept'],
      [
        { code: 554, text: '554 5.7.9 Message not accepted for policy reasons.' },
        'bounced',
        'policyviolation',
      ],
      [
        {
          code: 550,
          text: '550 5.7.1 Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address.',
        },
        'bounced',
        'badreputation',
      ],
      [{ code: 554, text: '554 5.6.0 Message contains a virus' }, 'bounced', 'virusdetected'],
      [
        { code: 550, text: '550 5.6.9 improper use of 8-bit data in message header' },
        'bounced',
        'contenterror',
      ],
      [{ code: 554, text: '554 5.4.6 Too many hops' }, 'bounced', 'networkerror'],
      [
        { code: 551, text: '551 User not local; please try <x@example.net>' },
        'bounced',
        'hasmoved',
      ],
      [{ code: 500, text: '500 5.5.1 Command unrecognized' }, 'bounced', 'syntaxerror'],
      [
        { code: 530, text: '530 5.7.0 Must issue a STARTTLS command first' },
        'bounced',
        'securityerror',
      ],
      [{ code: 554, text: '554 Transaction failed' }, 'bounced', 'undefined'],
    ]);
  });

  test('5xx replies that are really rate limits or temporary are deferred', () => {
    check([
      [
        { code: 550, text: '550 5.7.1 Too many messages from your IP, try again later' },
        'deferred',
        'ratelimited',
      ],
      [
        { code: 550, text: '550 5.7.1 Service unavailable, try again later' },
        'deferred',
        'systemerror',
      ],
      [
        { code: 554, text: '554 5.7.1 Message rejected, please try again later' },
        'deferred',
        'ratelimited',
      ],
      [
        { code: 550, text: '550 Connection frequency limited. http://service.mail.qq.com/...' },
        'deferred',
        'toomanyconn',
      ],
      [
        {
          code: 554,
          text: '554 5.7.0 Your message could not be sent. The limit on the number of allowed outgoing messages was exceeded: rate limited',
        },
        'deferred',
        'ratelimited',
      ],
      [
        { code: 554, text: '554 Throttling failure: Maximum sending rate exceeded.' },
        'deferred',
        'ratelimited',
      ],
      [
        { code: 550, text: '550 5.4.5 Daily user sending quota exceeded.' },
        'deferred',
        'ratelimited',
      ],
      [{ code: 553, text: '553 5.7.1 Greylisted, come back later' }, 'deferred', 'ratelimited'],
      [
        { code: 554, text: '554 4.4.7 Message expired: unable to deliver in 840 minutes.' },
        'deferred',
        'expired',
      ],
      // Yahoo's TSS04 names the sending IP's standing (volume and complaints): Sisimai calls it
      // badreputation. It stays a deferral, never a bounce.
      [
        {
          code: 421,
          text: '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints',
        },
        'deferred',
        'badreputation',
      ],
      [
        { code: 550, text: '550 5.7.1 [TSS04] Messages from 192.0.2.1 deferred' },
        'deferred',
        'ratelimited',
      ],
    ]);
  });

  test('connection-level errors without a reply code are deferred', () => {
    check([
      [{ text: 'Connection timeout', errorCode: 'ETIMEDOUT' }, 'deferred', 'networkerror'],
      [
        { text: 'connect ECONNREFUSED 127.0.0.1:25', errorCode: 'ECONNECTION' },
        'deferred',
        'networkerror',
      ],
      [
        { text: 'Invalid login: 535 5.7.8 Error: authentication failed', errorCode: 'EAUTH' },
        'deferred',
        'securityerror',
      ],
      [{ text: 'Error initiating TLS', errorCode: 'ETLS' }, 'deferred', 'failedstarttls'],
      [{ text: 'no relay available' }, 'deferred', 'networkerror'],
      // A 5xx-looking text without a code is still a connection failure, not a bounce.
      [{ text: '550 5.1.1 user unknown', errorCode: 'ESOCKET' }, 'deferred', 'networkerror'],
      [{ code: 0, text: 'garbage' }, 'deferred', 'networkerror'],
      [{ code: 354, text: '354 go ahead' }, 'deferred', 'networkerror'],
    ]);
  });

  test('the large providers’ documented replies get the reason they describe', () => {
    check([
      [
        { code: 452, text: "452 4.2.2 The recipient's inbox is out of storage space." },
        'deferred',
        'mailboxfull',
      ],
      [
        { code: 554, text: '554 5.4.6 Message exceeded 50 hops, this may indicate a mail loop.' },
        'bounced',
        'networkerror',
      ],
      [
        {
          code: 550,
          text: '550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.',
        },
        'bounced',
        'authfailure',
      ],
      [
        {
          code: 550,
          text: '550 5.7.1 Messages missing a valid Message-ID: header are not accepted.',
        },
        'bounced',
        'notcompliantrfc',
      ],
      [
        { code: 421, text: '421 4.7.0 IP not in whitelist for RCPT domain, closing connection.' },
        'deferred',
        'blocked',
      ],
      [
        {
          code: 550,
          text: "550 5.7.1 The IP you're using to send mail is not authorized to send email directly to our servers.",
        },
        'bounced',
        'norelaying',
      ],
      [
        { code: 550, text: '550 5.7.1 Delivery not authorized, message refused' },
        'bounced',
        'rejected',
      ],
    ]);
  });

  test('the command a reply answered tells an unknown mailbox from a content filter', () => {
    check([
      [{ code: 550, text: '550 User unknown', command: 'rcpt' }, 'bounced', 'userunknown'],
      [{ code: 550, text: '550 User unknown', command: 'data' }, 'bounced', 'filtered'],
      // The enhanced status says which it is, whatever the command.
      [{ code: 550, text: '550 5.1.1 User unknown', command: 'data' }, 'bounced', 'userunknown'],
      // A receiver saying it has no such account is not a filter, even after DATA.
      [
        {
          code: 554,
          text: "554 delivery error: dd This user doesn't have a example.com account",
          command: 'data',
        },
        'bounced',
        'userunknown',
      ],
    ]);
  });
});

describe('classifyReply on a reply a delivery report quotes', () => {
  type ReportCase = [
    reply: SmtpReply,
    report: ReportContext,
    disposition: Disposition,
    reason: string,
  ];
  function checkReports(cases: ReportCase[]): void {
    for (const [reply, report, disposition, reason] of cases) {
      const c = classifyReply(reply, report);
      assert.deepEqual(
        { disposition: c.disposition, reason: c.reason },
        { disposition, reason },
        `${reply.text} ${JSON.stringify(report)}`,
      );
    }
  }

  test('the reporting MTA’s own words classify without a reply code', () => {
    checkReports([
      [{ text: 'retry timeout exceeded' }, {}, 'bounced', 'expired'],
      [
        { text: 'Host or domain name not found. Name service error' },
        { status: '5.4.4' },
        'bounced',
        'hostunknown',
      ],
      [
        { text: 'Sorry, I couldn’t find a mail exchanger' },
        { status: '5.4.4' },
        'bounced',
        'hostunknown',
      ],
      [
        { text: "Sorry, I couldn't find a mail exchanger or IP address." },
        {},
        'bounced',
        'notaccept',
      ],
      [{ text: 'Mailbox quota exceeded' }, {}, 'bounced', 'mailboxfull'],
      // A reply code at the start of the quoted text is the reply's.
      [
        { text: '550 5.1.1 <a@example.org>... User Unknown', command: 'rcpt' },
        {},
        'bounced',
        'userunknown',
      ],
    ]);
  });

  test('the report’s Status, Action and diagnostic type fill in what the text leaves out', () => {
    checkReports([
      [{ text: '' }, { status: '5.2.2' }, 'bounced', 'mailboxfull'],
      [{ text: 'Service unavailable' }, { status: '5.1.1' }, 'bounced', 'userunknown'],
      // A generic Status yields to the specific code in the reply.
      [
        { text: '550 5.1.1 <a@example.org>: Recipient address rejected', command: 'rcpt' },
        { status: '5.0.0' },
        'bounced',
        'userunknown',
      ],
      [
        { text: 'Connection refused' },
        { status: '4.4.1', action: 'delayed' },
        'deferred',
        'expired',
      ],
      [{ text: 'still trying' }, { action: 'delayed' }, 'deferred', 'expired'],
      [
        { text: 'procmail: Quota exceeded' },
        { diagnosticType: 'x-unix', status: '5.3.0' },
        'bounced',
        'mailboxfull',
      ],
      [
        { text: 'exit 75' },
        { diagnosticType: 'x-unix', status: '5.0.0' },
        'bounced',
        'mailererror',
      ],
      [{ text: '250 2.0.0 Ok' }, { action: 'delivered' }, 'delivered', 'delivered'],
    ]);
  });

  test('a user-unknown reply whose command the report does not name reads as a filter', () => {
    // Sisimai's reading: the refusal may have come after DATA, from a content filter.
    checkReports([
      [{ code: 550, text: '550 Unknown user kijitora@example.net' }, {}, 'bounced', 'filtered'],
      [
        { code: 550, text: '550 Unknown user kijitora@example.net', command: 'rcpt' },
        {},
        'bounced',
        'userunknown',
      ],
    ]);
  });

  test('unexplained failures are onhold, empty ones undefined', () => {
    checkReports([
      [
        { text: 'Delivery failed for reasons unknown to us' },
        { status: '5.0.0' },
        'bounced',
        'onhold',
      ],
      [{ text: '' }, {}, 'bounced', 'undefined'],
    ]);
  });
});

describe('isHardBounce', () => {
  test('suppresses unknown mailboxes, unknown domains and moved mailboxes whatever the code', () => {
    for (const reason of ['userunknown', 'hostunknown', 'hasmoved']) {
      for (const code of ['550', '450', '5.1.1', '', undefined]) {
        assert.equal(isHardBounce(reason, code), true, `${reason} ${code}`);
      }
    }
  });

  test('suppresses a domain that accepts no mail only when that is permanent', () => {
    assert.equal(isHardBounce('notaccept', '556'), true);
    assert.equal(isHardBounce('notaccept', '5.1.10'), true);
    assert.equal(isHardBounce('notaccept', 550), true);
    assert.equal(isHardBounce('notaccept', ''), true);
    assert.equal(isHardBounce('notaccept', '4.0.0'), false);
    assert.equal(isHardBounce('notaccept', 421), false);
  });

  test('never suppresses for blocks, spam, full mailboxes and the rest, even with a 5xx', () => {
    for (const reason of [
      'blocked',
      'spamdetected',
      'mailboxfull',
      'policyviolation',
      'suspend',
      'filtered',
      'expired',
      'feedback',
      'vacation',
      'undefined',
    ]) {
      assert.equal(isHardBounce(reason, '550'), false, reason);
      assert.equal(isHardBounce(reason, '5.7.1'), false, reason);
    }
  });
});

// --- The bounce corpus ----------------------------------------------------------------------

// Resolved from the repository root as CI lays it out; fails (never skips) when missing.
const CORPUS = join(sharedDir(), 'bounce-corpus');

interface Expected {
  index: number;
  status: string;
  replyCode: string;
  reason: string;
}

/**
 * Sisimai decides these from more than the reply: the SMTP command it answered (a "User
 * unknown" after DATA is `filtered`), the queue (`expired`, `onhold`), a local delivery program
 * (`mailererror`), or the message being an auto-reply or a complaint. A classifier that sees
 * one reply cannot produce them; for those only the disposition is checked.
 */
const NOT_FROM_REPLY = new Set([
  'filtered',
  'expired',
  'onhold',
  'mailererror',
  'undefined',
  'vacation',
  'feedback',
]);

/**
 * Replies whose expected reason comes from context the reply does not carry, mostly a
 * provider's own code table (Sisimai's rhost modules); the same words elsewhere in the corpus
 * map to the reason the classifier gives. Only the disposition is checked for these.
 */
const DECIDED_BY_CONTEXT = new Map([
  ['lhost-amavis-03.eml#1', 'notcompliantrfc for "Reject ... SPAM": from the amavis report'],
  ['lhost-exim-49.eml#1', 'blocked for a bare "550 Rejected"'],
  ['lhost-postfix-74.eml#1', 'rejected for Yahoo TSS04, which is a volume deferral'],
  ['lhost-postfix-77.eml#1', 'norelaying for an Amazon SES unverified identity'],
  ['lhost-powermta-01.eml#1', 'suspend for "5.2.1 ... User Unknown" (userunknown in postfix-57)'],
  ['lhost-powermta-03.eml#1', 'suspend for "5.2.1 ... User Unknown" (userunknown in postfix-57)'],
  ['lhost-sendmail-16.eml#1', 'blocked from the "(BL)" tag of one provider'],
  ['lhost-sendmail-31.eml#1', 'policyviolation: the DSN cut the reply off mid-sentence'],
  ['lhost-sendmail-31.eml#2', 'policyviolation: the DSN cut the reply off mid-sentence'],
  ['rfc3464-01.eml#1', 'mailboxfull for "5.1.1 ... User Unknown"'],
  ['rhost-cox-01.eml#1', 'blocked from the Cox AUP#CDRBL code'],
  ['rhost-franceptt-08.eml#1', 'systemerror from the Orange OFR005 code'],
  ['rhost-mimecast-02.eml#1', 'virusdetected from the Mimecast signature name'],
  ['rhost-nttdocomo-02.eml#1', 'rejected for "Unknown user" (filtered in nttdocomo-01)'],
  ['rhost-spectrum-01.eml#1', 'toomanyconn from the Spectrum AUP#In-1310 code'],
]);

interface DiagnosticField {
  type: string;
  value: string;
}

/** `Diagnostic-Code: type; text` fields (RFC 3464 §2.3.6), unfolded. */
function diagnosticFields(text: string): DiagnosticField[] {
  const unfolded = text.replace(/\r\n?/g, '\n').replace(/\n[ \t]+/g, ' ');
  return [...unfolded.matchAll(/^Diagnostic-Code:[ \t]*([^;\n]*);[ \t]*(.*)$/gim)].map((m) => ({
    type: (m[1] ?? '').trim().toLowerCase(),
    value: (m[2] ?? '').trim(),
  }));
}

/**
 * The SMTP reply inside a diagnostic: from its reply code on, as a client would have read it.
 * Most start with the code; some MTAs put their own words first ("host x said: 550 ...",
 * "5.3.0 - Other mail system problem 550-'...'"). Diagnostics without a code (DNS errors,
 * connection time-outs, local delivery exit codes) are not replies and are skipped.
 */
function replyOf(field: DiagnosticField): SmtpReply | undefined {
  const m = /(?:^|[\s:;'"(<])([245]\d\d)(?=[ -])/.exec(field.value);
  if (!m?.[1]) return undefined;
  return { code: Number(m[1]), text: field.value.slice(m.index + m[0].length - 3) };
}

/** Diagnostics of a bounce, from its decoded parts; from the raw text when the MIME is broken. */
async function diagnosticsOf(raw: Buffer): Promise<DiagnosticField[]> {
  const mail = await simpleParser(raw);
  // Delivery-status parts only: an attached original message may quote older bounces.
  const fields = [
    ...diagnosticFields(mail.text ?? ''),
    ...mail.attachments
      .filter((a) => /^message\/(global-)?delivery-status$/i.test(a.contentType))
      .flatMap((a) => diagnosticFields(a.content.toString('utf8'))),
  ];
  return fields.length > 0 ? fields : diagnosticFields(raw.toString('utf8'));
}

/**
 * What should happen to a message that got this reply: retry for a 4xx (or a 4.x.x enhanced
 * status), for a 5xx that says to try later, and for pace limits; give up otherwise.
 */
function expectedDisposition(reply: SmtpReply, e: Expected, byContext: boolean): Disposition {
  const code = reply.code ?? 0;
  if (code < 500 || /^[245]\d\d[ -]+#?4\.\d/.test(reply.text)) return 'deferred';
  if (/try (again )?later/i.test(reply.text)) return 'deferred';
  if (!byContext && (e.reason === 'toomanyconn' || e.reason === 'ratelimited')) return 'deferred';
  return 'bounced';
}

describe('classifyReply on the bounce corpus', () => {
  test('the reasons and dispositions Sisimai expects for every diagnostic SMTP reply', async () => {
    const expected = JSON.parse(readFileSync(join(CORPUS, 'expected.json'), 'utf8')) as Record<
      string,
      Expected[]
    >;
    const failures: string[] = [];
    const unpaired: string[] = [];
    let checkedReasons = 0;
    let checkedDispositions = 0;
    for (const file of readdirSync(join(CORPUS, 'bounces')).sort()) {
      const replies = (await diagnosticsOf(readFileSync(join(CORPUS, 'bounces', file))))
        .map(replyOf)
        .filter((r): r is SmtpReply => r !== undefined);
      const entries = expected[file] ?? [];
      if (replies.length === 0) continue;
      // Diagnostics follow the recipients in order. A message with fewer diagnostics than
      // recipients pairs only if they all share one reason (one reply quoted for all).
      let pairs: [SmtpReply, Expected][];
      if (replies.length === entries.length)
        pairs = replies.map((r, i) => [r, entries[i] as Expected]);
      else if (
        replies.length === 1 &&
        entries.length > 0 &&
        entries.every((e) => e.reason === entries[0]?.reason)
      ) {
        pairs = [[replies[0] as SmtpReply, entries[0] as Expected]];
      } else {
        unpaired.push(file);
        continue;
      }
      for (const [reply, e] of pairs) {
        const key = `${file}#${e.index}`;
        const byContext = DECIDED_BY_CONTEXT.has(key);
        const got = classifyReply(reply);
        const disposition = expectedDisposition(reply, e, byContext);
        checkedDispositions++;
        if (got.disposition !== disposition)
          failures.push(`${key}: ${got.disposition}, expected ${disposition}: ${reply.text}`);
        if (byContext || NOT_FROM_REPLY.has(e.reason)) continue;
        checkedReasons++;
        if (got.reason !== e.reason)
          failures.push(`${key}: ${got.reason}, expected ${e.reason}: ${reply.text}`);
      }
    }
    assert.deepEqual(failures, []);
    // The one message whose diagnostics do not line up with its recipients (2 replies, 3 entries).
    assert.deepEqual(unpaired, ['rfc3464-35.eml']);
    // Guards the helper above: if it stopped finding replies, the checks would pass vacuously.
    assert.ok(checkedDispositions >= 150, `only ${checkedDispositions} replies checked`);
    assert.ok(checkedReasons >= 115, `only ${checkedReasons} reasons checked`);
  });

  test('messages that are not bounces carry no SMTP reply to classify', async () => {
    const files = readdirSync(join(CORPUS, 'not-bounces'));
    assert.ok(files.length > 0);
    for (const file of files) {
      const replies = (await diagnosticsOf(readFileSync(join(CORPUS, 'not-bounces', file))))
        .map(replyOf)
        .filter(Boolean);
      assert.deepEqual(replies, [], file);
    }
  });

  test('every context exception is still in the corpus and still needs to be one', async () => {
    for (const key of DECIDED_BY_CONTEXT.keys()) {
      const [file, index] = key.split('#');
      const replies = (await diagnosticsOf(readFileSync(join(CORPUS, 'bounces', file ?? ''))))
        .map(replyOf)
        .filter((r): r is SmtpReply => r !== undefined);
      const reply = replies[Number(index) - 1];
      assert.ok(reply, `${key}: no reply`);
      const e = (
        JSON.parse(readFileSync(join(CORPUS, 'expected.json'), 'utf8')) as Record<
          string,
          Expected[]
        >
      )[file ?? '']?.[Number(index) - 1];
      assert.ok(e, `${key}: no expectation`);
      assert.notEqual(
        classifyReply(reply).reason,
        e.reason,
        `${key} is classified as expected now: drop the exception`,
      );
    }
  });
});
