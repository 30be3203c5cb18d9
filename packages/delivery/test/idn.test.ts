/**
 * Internationalized addresses (RFC 6531, 6532) from the recipient list to the wire: the deliver
 * step (render, compose, the relay pool and Volley's SMTP client) against two real smtp-server
 * instances, one that offers SMTPUTF8 and one that does not.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { parseRelays } from '@volley/config';
import { RelayPool } from '@volley/smtp';
import { Deliverer, compileCampaign, type CampaignSource } from '../src/index.ts';

interface Server {
  port: number;
  /** Every command line the server read, as sent (the server itself shows domains decoded). */
  commands: string[];
  messages: { from: string; to: string[]; raw: Buffer }[];
  close(): Promise<void>;
}

async function server(offerSmtpUtf8: boolean): Promise<Server> {
  const s: Server = { port: 0, commands: [], messages: [], close: async () => undefined };
  const quiet = (): void => undefined;
  // smtp-server logs each command line it reads at debug level as ('C:', line).
  const logger = {
    level: quiet,
    trace: quiet,
    info: quiet,
    warn: quiet,
    error: quiet,
    fatal: quiet,
    debug: (_meta: unknown, format: unknown, line: unknown): void => {
      if (format === 'C:' && typeof line === 'string') s.commands.push(line);
    },
  };
  const srv = new SMTPServer({
    logger: logger as unknown as SMTPServerOptions['logger'],
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSMTPUTF8: !offerSmtpUtf8,
    closeTimeout: 100,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        s.messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
  });
  s.port = await new Promise<number>((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  s.close = () => new Promise<void>((r) => srv.close(() => r()));
  return s;
}

const CAMPAIGN: CampaignSource = {
  id: 'idn0123456789abcdef0',
  tenant: 'default',
  from: 'Volley Test <news@sender.example>',
  subject: 'Hallo {{name}}',
  text: 'Hallo {{name}}',
};

/** As the upload stores it: the local part in NFC, the domain in A-labels. */
const STORED = 'üser@xn--exmple-cua.org';

let utf8: Server;
let ascii: Server;
const pools: RelayPool[] = [];
before(async () => {
  [utf8, ascii] = await Promise.all([server(true), server(false)]);
});
after(async () => {
  for (const p of pools) p.close();
  await Promise.all([utf8.close(), ascii.close()]);
});

function deliverer(port: number): Deliverer {
  const problems: string[] = [];
  const relay = new RelayPool(parseRelays(`smtp://127.0.0.1:${port}`, problems), { poolSize: 1 });
  assert.deepEqual(problems, []);
  pools.push(relay);
  return new Deliverer({
    transport: relay,
    maxMessageBytes: 1_000_000,
    verp: undefined,
    smtpTime: () => undefined,
  });
}

describe('internationalized addresses', () => {
  test('a UTF-8 local part goes with SMTPUTF8 to a server that offers it, the domain in A-labels, the To header in UTF-8', async () => {
    const d = deliverer(utf8.port);
    const res = await d.deliver(
      compileCampaign(CAMPAIGN, undefined),
      { i: 1, email: STORED, vars: { name: 'Jürgen' } },
      undefined,
    );
    assert.deepEqual([res.outcome, res.reason], ['sent', 'delivered'], res.detail);
    const mail = utf8.commands.filter((c) => /^(MAIL|RCPT) /.test(c));
    assert.equal(mail.length, 2, utf8.commands.join('\n'));
    assert.match(mail[0] ?? '', /^MAIL FROM:<news@sender\.example> .*\bSMTPUTF8\b/);
    assert.equal(mail[1], `RCPT TO:<${STORED}>`);
    const [m] = utf8.messages;
    assert.ok(m);
    // smtp-server reads the A-labels back into Unicode.
    assert.deepEqual(m.to, ['üser@exämple.org']);
    // RFC 6532: the address is in the header as UTF-8 octets, not an encoded word.
    assert.ok(m.raw.includes(Buffer.from(`\r\nTo: ${STORED}\r\n`, 'utf8')), m.raw.toString());
    // And a receiver reads it as the address it is (mailparser shows the domain decoded).
    const parsed = await simpleParser(m.raw);
    const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
    assert.equal(to?.value[0]?.address, 'üser@exämple.org');
  });

  test('an IDN domain with an ASCII local part needs no SMTPUTF8: it goes in A-labels to a server without it', async () => {
    const d = deliverer(ascii.port);
    const res = await d.deliver(
      compileCampaign(CAMPAIGN, undefined),
      { i: 2, email: 'info@xn--bcher-kva.example', vars: { name: 'Ada' } },
      undefined,
    );
    assert.equal(res.outcome, 'sent', res.detail);
    const m = ascii.messages.at(-1);
    assert.ok(m);
    const mail = ascii.commands.filter((c) => /^(MAIL|RCPT) /.test(c));
    assert.doesNotMatch(mail.at(-2) ?? '', /SMTPUTF8/);
    assert.equal(mail.at(-1), 'RCPT TO:<info@xn--bcher-kva.example>');
    assert.match(m.raw.toString('latin1'), /\r\nTo: info@xn--bcher-kva\.example\r\n/);
  });

  test('a UTF-8 local part to a server without SMTPUTF8 fails for good with the reason, and nothing is sent', async () => {
    const d = deliverer(ascii.port);
    const commandsBefore = ascii.commands.length;
    const messagesBefore = ascii.messages.length;
    const res = await d.deliver(
      compileCampaign(CAMPAIGN, undefined),
      { i: 3, email: STORED, vars: { name: 'Jürgen' } },
      undefined,
    );
    assert.equal(res.outcome, 'bounced');
    // The address may be fine elsewhere: it is not suppressed.
    assert.equal(res.suppress, false);
    assert.deepEqual([res.refusal?.code, res.refusal?.enhanced], [553, '5.6.7']);
    assert.match(res.detail, /does not offer SMTPUTF8, which the non-ASCII recipient üser@/);
    assert.deepEqual(
      ascii.commands.slice(commandsBefore).filter((c) => /^(MAIL|RCPT|DATA)/.test(c)),
      [],
      'no MAIL, RCPT or DATA was sent',
    );
    assert.equal(ascii.messages.length, messagesBefore);

    // The connection stays usable for the next message.
    const next = await d.deliver(
      compileCampaign(CAMPAIGN, undefined),
      { i: 4, email: 'ada@rcpt.example', vars: { name: 'Ada' } },
      undefined,
    );
    assert.equal(next.outcome, 'sent', next.detail);
  });
});
