import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBounce, type BounceRecipient } from '@volley/bounce';
import {
  ARF_REPORT,
  DELAY_DSN,
  DOMINO_TEXT,
  EXCHANGE_TEXT,
  EINSUNDEINS_TEXT,
  EXIM_DELAY,
  EXIM_LOCAL_DSN,
  EXIM_TEXT,
  FORWARDED_AS_ATTACHMENT,
  IMAIL_TEXT,
  INTERSCAN_TEXT,
  JAMES_TEXT,
  MAILMARSHAL_TEXT,
  NOT_A_BOUNCE,
  NOTIFICATION,
  POSTFIX_DSN,
  POSTFIX_DSN_RECIPIENTS,
  QMAIL_TEXT,
  READ_RECEIPT,
  SENDMAIL_TEXT,
  SMAIL_TEXT,
  VACATION,
} from './fixtures.ts';

/** The fields the command prints, plus the command and action the parser found. */
function brief(r: BounceRecipient) {
  return {
    recipient: r.recipient,
    status: r.status,
    replyCode: r.replyCode,
    reason: r.reason,
    hardBounce: r.hardBounce,
  };
}

describe('RFC 3464 delivery status notifications', () => {
  test('one result per recipient, in order, with status, reply code and reason', async () => {
    const report = await parseBounce(POSTFIX_DSN);
    assert.equal(report.kind, 'bounce');
    assert.equal(report.format, 'rfc3464');
    assert.deepEqual(report.recipients.map(brief), POSTFIX_DSN_RECIPIENTS);
    // The command comes from the human-readable part, which Postfix alone puts it in.
    assert.deepEqual(
      report.recipients.map((r) => [r.command, r.action, r.remoteMta]),
      [
        ['rcpt', 'failed', 'mx.example.org'],
        ['rcpt', 'failed', 'mx.example.org'],
      ],
    );
  });

  test('the returned headers give the original Message-ID, return path, To and X- headers', async () => {
    const { original } = await parseBounce(POSTFIX_DSN);
    assert.deepEqual(original, {
      messageId: '<c1.r42@volley.example.com>',
      returnPath: 'bounce+abc@bounces.example.com',
      from: 'News <news@example.com>',
      to: 'ada@example.org',
      subject: 'December news',
      xHeaders: { 'x-volley-campaign': 'c1', 'x-mailer': 'Volley' },
    });
  });

  test('a delayed recipient is reported as a soft, temporary failure', async () => {
    const report = await parseBounce(DELAY_DSN);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'carol@slow.example.org',
        status: '4.4.1',
        replyCode: '421',
        reason: 'expired',
        hardBounce: false,
      },
    ]);
    assert.equal(report.recipients[0]?.action, 'delayed');
  });

  test('a recipient the DSN names only by its mailbox file is the returned message’s', async () => {
    const report = await parseBounce(EXIM_LOCAL_DSN);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'xan@example.org',
        status: '5.0.0',
        replyCode: '',
        reason: 'mailboxfull',
        hardBounce: false,
      },
    ]);
  });

  test('a bounce forwarded as an attachment is read, with the campaign message’s Message-ID', async () => {
    const report = await parseBounce(FORWARDED_AS_ATTACHMENT);
    assert.equal(report.kind, 'bounce');
    assert.equal(report.format, 'forwarded-rfc3464');
    assert.deepEqual(report.recipients.map(brief), POSTFIX_DSN_RECIPIENTS);
    assert.equal(report.original.messageId, '<c1.r42@volley.example.com>');
  });

  test('a report of recipients relayed onwards reports nothing to act on', async () => {
    const relayed = POSTFIX_DSN.replace(/Action: failed/g, 'Action: relayed');
    const report = await parseBounce(relayed);
    assert.equal(report.kind, 'none');
    assert.deepEqual(report.recipients, []);
  });
});

describe('RFC 5965 feedback reports', () => {
  test('each Original-Rcpt-To is a complaint, with the feedback type and the original', async () => {
    const report = await parseBounce(ARF_REPORT);
    assert.equal(report.kind, 'feedback');
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'dan@isp.example.net',
        status: '',
        replyCode: '',
        reason: 'feedback',
        hardBounce: false,
      },
      {
        recipient: 'eve@isp.example.net',
        status: '',
        replyCode: '',
        reason: 'feedback',
        hardBounce: false,
      },
    ]);
    assert.equal(report.feedback?.feedbackType, 'abuse');
    assert.equal(report.feedback?.sourceIp, '192.0.2.9');
    assert.equal(report.feedback?.originalMailFrom, 'bounce+abc@bounces.example.com');
    assert.equal(report.original.messageId, '<c1.r7@volley.example.com>');
    assert.deepEqual(report.original.xHeaders, { 'x-volley-campaign': 'c1' });
  });
});

describe('automatic replies', () => {
  test('an out-of-office reply is a vacation notice from the replying mailbox, not a bounce', async () => {
    const report = await parseBounce(VACATION);
    assert.equal(report.kind, 'autoreply');
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'fay@example.org',
        status: '',
        replyCode: '',
        reason: 'vacation',
        hardBounce: false,
      },
    ]);
  });

  test('the usual headers mark a reply as automatic without RFC 3834', async () => {
    for (const header of ['X-Autoreply: yes', 'X-Autorespond: on', 'Precedence: auto_reply']) {
      const message = VACATION.replace('Auto-Submitted: auto-replied', header).replace(
        'Out of office: December news',
        'Re: December news',
      );
      assert.equal((await parseBounce(message)).kind, 'autoreply', header);
    }
  });

  test('automatic mail that answers nothing (notifications, read receipts) is not a vacation notice', async () => {
    for (const message of [NOTIFICATION, READ_RECEIPT]) {
      const report = await parseBounce(message);
      assert.equal(report.kind, 'none');
      assert.deepEqual(report.recipients, []);
    }
  });

  test('an automatic message from a mail system is never taken for a vacation notice', async () => {
    const message = VACATION.replace(
      'From: Fay <fay@example.org>',
      'From: MAILER-DAEMON@example.org',
    );
    assert.deepEqual((await parseBounce(message)).recipients, []);
  });
});

describe('plain-text bounces of MTAs without RFC 3464', () => {
  test('Exim: the failed address, the command and the reply', async () => {
    const report = await parseBounce(EXIM_TEXT);
    assert.equal(report.format, 'text');
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'gus@example.org',
        status: '5.1.1',
        replyCode: '550',
        reason: 'userunknown',
        hardBounce: true,
      },
    ]);
    assert.equal(report.recipients[0]?.command, 'rcpt');
    assert.equal(report.original.messageId, '<c1.r9@volley.example.com>');
    assert.deepEqual(report.original.xHeaders, { 'x-volley-campaign': 'c1' });
  });

  test('qmail: one block per address, replies or qmail’s own words', async () => {
    const report = await parseBounce(QMAIL_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'hal@example.org',
        status: '5.2.2',
        replyCode: '552',
        reason: 'mailboxfull',
        hardBounce: false,
      },
      {
        recipient: 'ivy@nowhere.example',
        status: '5.1.2',
        replyCode: '',
        reason: 'hostunknown',
        hardBounce: true,
      },
    ]);
    assert.equal(report.original.messageId, '<c1.r11@volley.example.com>');
  });

  test('Sendmail: the transcript’s reply and command', async () => {
    const report = await parseBounce(SENDMAIL_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'joe@example.org',
        status: '5.7.1',
        replyCode: '554',
        reason: 'spamdetected',
        hardBounce: false,
      },
    ]);
    assert.equal(report.recipients[0]?.command, 'data');
  });

  test('IMail: the failure before the address on one line', async () => {
    const report = await parseBounce(IMAIL_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'kim@example.org',
        status: '',
        replyCode: '',
        reason: 'mailboxfull',
        hardBounce: false,
      },
    ]);
  });

  test('Exchange: one recipient named twice, the reply under the diagnostic information', async () => {
    const report = await parseBounce(EXCHANGE_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'tom@example.org',
        status: '5.1.1',
        replyCode: '550',
        reason: 'userunknown',
        hardBounce: true,
      },
    ]);
    assert.equal(report.original.messageId, '<c1.r17@volley.example.com>');
  });

  test('Domino: the address under "was not delivered to", the cause under "because"', async () => {
    const report = await parseBounce(DOMINO_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'uma@example.org',
        status: '',
        replyCode: '',
        reason: 'userunknown',
        hardBounce: true,
      },
    ]);
  });

  test('a plain-text warning that delivery is still tried is a delay', async () => {
    const report = await parseBounce(EXIM_DELAY);
    assert.deepEqual(
      report.recipients.map((r) => [r.recipient, r.action, r.reason, r.hardBounce]),
      [['wes@slow.example.org', 'delayed', 'expired', false]],
    );
  });

  test('MailMarshal: the reply above the list of affected addresses', async () => {
    const report = await parseBounce(MAILMARSHAL_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'nia@example.org',
        status: '5.1.1',
        replyCode: '550',
        reason: 'userunknown',
        hardBounce: true,
      },
    ]);
  });

  test('InterScan: the recipient and the command from its reversed dialogue', async () => {
    const report = await parseBounce(INTERSCAN_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'oli@example.org',
        status: '5.1.1',
        replyCode: '550',
        reason: 'userunknown',
        hardBounce: true,
      },
    ]);
    assert.equal(report.recipients[0]?.command, 'rcpt');
  });

  test('1&1: the address alone, the reason in its own paragraph', async () => {
    const report = await parseBounce(EINSUNDEINS_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'pat@example.org',
        status: '',
        replyCode: '',
        reason: 'mesgtoobig',
        hardBounce: false,
      },
    ]);
    assert.equal(report.original.messageId, '<c1.r15@volley.example.com>');
  });

  test('Smail 3: bracketed and "address ... reason" lines between banners', async () => {
    const report = await parseBounce(SMAIL_TEXT);
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'quinn@example.org',
        status: '5.2.2',
        replyCode: '552',
        reason: 'mailboxfull',
        hardBounce: false,
      },
      {
        recipient: 'rae@nowhere.example',
        status: '',
        replyCode: '',
        reason: 'hostunknown',
        hardBounce: true,
      },
    ]);
    assert.equal(report.original.messageId, '<c1.r16@volley.example.com>');
  });

  test('Apache James: the recipient only in the details, the reply above them', async () => {
    const report = await parseBounce(JAMES_TEXT);
    assert.deepEqual(
      report.recipients.map((r) => [r.recipient, r.replyCode, r.diagnostic]),
      [['sam@example.org', '550', '550 - Requested action not taken: no such user here']],
    );
  });

  test('an ordinary message that mentions an address and a failure is not a bounce', async () => {
    const report = await parseBounce(NOT_A_BOUNCE);
    assert.equal(report.kind, 'none');
    assert.deepEqual(report.recipients, []);
  });
});

/** An SES delivery notification (SNS "email-json") whose SMTP response is `reply`. */
function sesDelivery(reply: string): string {
  const doc = {
    notificationType: 'Delivery',
    mail: { messageId: '0101-ses-id' },
    delivery: { recipients: ['bob@example.org'], smtpResponse: reply },
  };
  return [
    'From: AWS Notifications <no-reply@sns.amazonaws.com>',
    'To: feedback@bounce.example',
    'Subject: AWS Notification Message',
    'Content-Type: text/plain; charset=UTF-8',
    '',
    JSON.stringify(doc),
    '',
  ].join('\r\n');
}

describe('Amazon SES notifications', () => {
  test("a delivery's enhanced status comes from its SMTP response", async () => {
    const report = await parseBounce(sesDelivery('250 2.6.0 Message received'));
    assert.equal(report.format, 'amazonses');
    assert.deepEqual(report.recipients.map(brief), [
      {
        recipient: 'bob@example.org',
        status: '2.6.0',
        replyCode: '250',
        reason: 'delivered',
        hardBounce: false,
      },
    ]);
  });

  test('an IP address in the response is not read as an enhanced status', async () => {
    // "10.2.0.1" holds "2.0.1"; the response carries no enhanced status at all.
    const report = await parseBounce(sesDelivery('250 Ok queued as 10.2.0.1'));
    assert.equal(report.recipients.length, 1);
    assert.equal(report.recipients[0]?.status, '');
    assert.equal(report.recipients[0]?.reason, 'delivered');
  });
});

describe('hostile and malformed input', () => {
  test('empty input is unparseable, with a stable code', async () => {
    const report = await parseBounce('');
    assert.equal(report.kind, 'unparseable');
    assert.equal(report.error?.code, 'BOUNCE_EMPTY');
  });

  test('multiparts nested past the bound are refused before the MIME parser sees them', async () => {
    let s = 'From: MAILER-DAEMON@example.org\r\nSubject: x\r\n';
    for (let i = 0; i < 200; i++)
      s += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    s += 'Content-Type: text/plain\r\n\r\nhello\r\n';
    for (let i = 199; i >= 0; i--) s += `--b${i}--\r\n`;
    const report = await parseBounce(s);
    assert.equal(report.kind, 'unparseable');
    assert.equal(report.error?.code, 'BOUNCE_TOO_DEEP');
  });

  test('nesting within the bound is read', async () => {
    let s = 'From: a@example.org\r\nSubject: x\r\n';
    for (let i = 0; i < 5; i++)
      s += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    s += 'Content-Type: text/plain\r\n\r\nhello\r\n';
    for (let i = 4; i >= 0; i--) s += `--b${i}--\r\n`;
    assert.equal((await parseBounce(s)).kind, 'none');
  });

  test('broken structure, binary noise and pathological lines never throw', async () => {
    const inputs: (string | Buffer)[] = [
      // A report whose boundary never appears.
      POSTFIX_DSN.replace(/--B1/g, '--XX'),
      // Headers only, no body.
      'From: MAILER-DAEMON@example.org\r\nSubject: Undelivered Mail\r\n',
      // Random bytes.
      Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7919) % 256)),
      // One 2 MB header line, and a long body line of near-addresses ("a@" with no domain).
      `From: MAILER-DAEMON@example.org\r\nX-Long: ${'x'.repeat(2_000_000)}\r\n\r\n${'a@'.repeat(200_000)}\r\n`,
      // Delivery-status fields with absurd values.
      DELAY_DSN.replace('Status: 4.4.1', `Status: ${'9'.repeat(10_000)}`).replace(
        'Final-Recipient: rfc822; carol@slow.example.org',
        `Final-Recipient: rfc822; ${'c'.repeat(100_000)}@`,
      ),
      // Wrong charset names and invalid transfer encodings.
      POSTFIX_DSN.replace('charset=us-ascii', 'charset=x-no-such-charset').replace(
        'Content-Type: message/delivery-status',
        'Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64',
      ),
    ];
    for (const input of inputs) {
      const report = await parseBounce(input);
      assert.ok(['bounce', 'none', 'unparseable', 'autoreply', 'feedback'].includes(report.kind));
      for (const r of report.recipients) assert.ok(r.recipient.length <= 320);
    }
  });

  test('a message longer than the parser reads is cut and says so', async () => {
    const big = POSTFIX_DSN.replace(
      '--B1--',
      `--B1\r\nContent-Type: text/plain\r\n\r\n${'y'.repeat(5 * 1024 * 1024)}\r\n--B1--`,
    );
    const report = await parseBounce(big);
    assert.equal(report.truncated, true);
    // The report parts come first, so the recipients are still read.
    assert.deepEqual(
      report.recipients.map((r) => r.reason),
      ['userunknown', 'mailboxfull'],
    );
  });
});
