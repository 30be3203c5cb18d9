// End to end with a real MTA: a campaign goes out through a private Postfix relay, Postfix
// itself turns a next hop's 550 5.1.1 into a DSN for the VERP return path and delivers it to
// the bounce service; a complaint and a mailto unsubscribe take the same way in, and the
// one-click unsubscribe goes to the API. Each ends on the suppression list and in the stats.
// Complaints come both ways providers send them: to fbl@, and to the message's return path.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  SmtpTestClient,
  loopbackNexthop,
  startCaptureServer,
  startPostfix,
  waitUntil,
  type CaptureServer,
  type CapturedMessage,
  type PostfixInstance,
} from '@volley/testkit';
import { Harness, KEY, sharedRedis } from '@volley/sender/test-harness';
import { DOMAIN, SECRET, sample, startBounceService, type BounceService } from './service.ts';

const UNSUBSCRIBE_URL = 'http://127.0.0.1:8080/unsubscribe';
const auth = { authorization: `Bearer ${KEY}` };

let shared: Awaited<ReturnType<typeof sharedRedis>>;
let h: Harness;
let bounce: BounceService;
let dest: CaptureServer;
let pf: PostfixInstance;
let id: string;

before(async () => {
  shared = await sharedRedis();
  h = new Harness(shared.redis, shared.url);
  bounce = await startBounceService({ REDIS_URL: shared.url, VOLLEY_REDIS_PREFIX: h.keys.prefix });
  // The recipients' mail server: it knows every address but nobody@.
  dest = await startCaptureServer({
    onRecipient: (a) =>
      a.startsWith('nobody@') ? { code: 550, message: '5.1.1 user unknown' } : undefined,
  });
  pf = await startPostfix({
    transport: {
      [DOMAIN]: loopbackNexthop(bounce.smtpPort),
      'dest.test': loopbackNexthop(dest.port),
    },
  });
  await h.start({
    senders: 1,
    env: {
      VOLLEY_SMTP_RELAY: `smtp://127.0.0.1:${pf.port}`,
      VOLLEY_BOUNCE_DOMAIN: DOMAIN,
      VOLLEY_VERP_SECRET: SECRET,
      VOLLEY_UNSUBSCRIBE_URL: UNSUBSCRIBE_URL,
    },
    api: { unsubscribeUrl: UNSUBSCRIBE_URL, verpSecret: SECRET, unsubscribeRateLimit: 0 },
  });
  id = await h.create({
    from: 'News <news@sender.example>',
    subject: 'Hello {{name}}',
    text: 'Hi {{name}}',
    recipients: ['ada', 'bob', 'cy', 'dee', 'nobody'].map((name) => ({
      email: `${name}@dest.test`,
      vars: { name },
    })),
  });
  await h.completed(id);
  await dest.waitFor(4);
});

after(async () => {
  await h?.stop();
  await pf?.stop();
  await bounce?.proc.stop('SIGTERM', 10_000);
  await dest?.close();
  await shared?.stop();
});

async function api<T>(method: 'GET' | 'POST', url: string): Promise<{ status: number; json: T }> {
  const res = await h.app.inject({ method, url, headers: auth });
  return { status: res.statusCode, json: res.json<T>() };
}

interface Entry {
  email: string;
  source: string;
  reason: string;
}

/** Waits until `email` is on the default tenant's suppression list; fails with Postfix's log. */
async function suppressed(email: string): Promise<Entry> {
  let entry: Entry | undefined;
  await waitUntil(
    async () => {
      const r = await api<Entry>('GET', `/v1/suppressions/${encodeURIComponent(email)}`);
      if (r.status === 200) entry = r.json;
      return entry !== undefined;
    },
    `${email} on the suppression list\n${pf.logTail(20)}\n${bounce.proc.lines.slice(-10).join('\n')}`,
    60_000,
  );
  assert.ok(entry);
  return entry;
}

/**
 * The campaign's stats once they show a report. The bounce service applies a report to the
 * address (suppression) and then to the campaign (counts, events) in two scripts, as the two
 * live in different slots of a cluster; a suppression seen is therefore not yet a count seen.
 */
async function statsOnce(shows: (s: Stats) => boolean): Promise<{ json: Stats }> {
  let stats: { json: Stats } | undefined;
  await waitUntil(
    async () => {
      stats = await api<Stats>('GET', `/v1/campaigns/${id}/stats`);
      return shows(stats.json);
    },
    'the report in the campaign stats',
    60_000,
  );
  assert.ok(stats);
  return stats;
}

/** Submits a message to the Postfix relay, as another MTA or a mail client would. */
async function viaPostfix(from: string, to: string, raw: string): Promise<void> {
  const client = new SmtpTestClient({ port: pf.port, ignoreTLS: true });
  try {
    await client.connect();
    const answer = await client.send({ from, to }, raw);
    assert.equal(answer.code, 250, `Postfix took the message: ${answer.text}`);
  } finally {
    await client.quit();
  }
}

function delivered(to: string): CapturedMessage {
  const m = dest.messages.find((x) => x.to.includes(to));
  assert.ok(m, `the message to ${to} reached its server`);
  return m;
}

interface Stats {
  counts: { sent: number; bounced: number; lateBounced: number; complained: number };
  feedback: {
    lateBounced: Record<string, number>;
    complained: Record<string, number>;
    unsubscribed: Record<string, number>;
  };
}

describe('feedback through a real MTA', () => {
  test("Postfix's own DSN for a refused recipient reaches the bounce service: suppressed, and a late bounce in stats and events", async () => {
    const entry = await suppressed('nobody@dest.test');
    assert.deepEqual([entry.source, entry.reason], ['bounce', 'userunknown']);
    const stats = await statsOnce((s) => s.counts.lateBounced > 0);
    assert.equal(stats.json.counts.sent, 5, 'Postfix accepted all five');
    assert.equal(stats.json.counts.lateBounced, 1);
    assert.deepEqual(stats.json.feedback.lateBounced, { userunknown: 1 });
    const events = await api<{ events: Record<string, unknown>[] }>(
      'GET',
      `/v1/campaigns/${id}/events?limit=100`,
    );
    const bounced = events.json.events.filter((e) => e.outcome === 'bounced');
    assert.equal(bounced.length, 1);
    assert.equal(bounced[0]?.email, 'nobody@dest.test');
    assert.equal(bounced[0]?.reason, 'userunknown');
    assert.equal(bounced[0]?.status, '5.1.1');
    assert.equal(bounced[0]?.late, true);
    const m = await bounce.metrics();
    assert.equal(
      sample(m, 'volley_bounce_messages_total', { address: 'verp', kind: 'bounce' }),
      1,
      'the DSN arrived at the VERP address',
    );
  });

  test('a complaint report (ARF) about a delivered message, sent to fbl@ through Postfix, suppresses its recipient', async () => {
    // The mailbox provider returns the headers of the message as its user received it.
    const original = delivered('ada@dest.test').raw.toString('utf8');
    const headers = original.slice(0, original.indexOf('\r\n\r\n') + 2);
    // No return path in them (it is added at final delivery): the report is tied to the
    // message by its Message-ID, and applies because it names the address that id went to.
    assert.doesNotMatch(headers, /^Return-Path:/im);
    assert.match(headers, new RegExp(`^Message-ID: <${id}\\.0@sender\\.example>`, 'im'));
    const report = [
      'From: Feedback Loop <fbl@mailbox.example>',
      `To: fbl@${DOMAIN}`,
      'Subject: complaint about a message from your network',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="arf"',
      '',
      '--arf',
      'Content-Type: text/plain',
      '',
      'A user of ours marked this message as spam.',
      '--arf',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'User-Agent: MailboxProvider/1.0',
      'Version: 1',
      'Original-Rcpt-To: ada@dest.test',
      '',
      '--arf',
      'Content-Type: text/rfc822-headers',
      '',
      headers,
      '--arf--',
      '',
    ].join('\r\n');
    await viaPostfix('fbl-sender@mailbox.example', `fbl@${DOMAIN}`, report);
    const entry = await suppressed('ada@dest.test');
    assert.deepEqual([entry.source, entry.reason], ['complaint', 'abuse']);
    const stats = await statsOnce((s) => s.counts.complained > 0);
    assert.deepEqual(stats.json.feedback.complained, { abuse: 1 });
  });

  test("a complaint report (ARF) sent to the message's own VERP return path through Postfix is a complaint, not a bounce", async () => {
    const sent = delivered('dee@dest.test');
    const returnPath = sent.from;
    assert.match(returnPath, new RegExp(`^bounces\\+[a-z2-7]+@${DOMAIN.replace(/\./g, '\\.')}$`));
    const before = await api<Stats>('GET', `/v1/campaigns/${id}/stats`);
    const complaintsBefore = sample(await bounce.metrics(), 'volley_bounce_effects_total', {
      effect: 'complaint',
    });
    // What a provider's feedback loop sends to the return path of the message its user marked
    // as spam (RFC 5965): the whole message as delivered, with the Return-Path header the
    // final delivery added, from the null sender as other automatic reports.
    const report = [
      'From: Feedback Loop <feedback@mailbox.example>',
      `To: ${returnPath}`,
      'Subject: Abuse report',
      `Date: ${new Date().toUTCString()}`,
      'Message-ID: <fbl-dee-1@mailbox.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="part1_13d.2e68ed54"',
      '',
      '--part1_13d.2e68ed54',
      'Content-Type: text/plain; charset="US-ASCII"',
      'Content-Transfer-Encoding: 7bit',
      '',
      'This is an email abuse report for an email message received from IP 127.0.0.1.',
      '',
      '--part1_13d.2e68ed54',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'User-Agent: MailboxProvider-FBL/2.0',
      'Version: 1',
      `Original-Mail-From: <${returnPath}>`,
      'Original-Rcpt-To: <dee@dest.test>',
      `Arrival-Date: ${new Date(sent.receivedAt).toUTCString()}`,
      'Reporting-MTA: dns; mx.mailbox.example',
      'Source-IP: 127.0.0.1',
      'Reported-Domain: sender.example',
      '',
      '--part1_13d.2e68ed54',
      'Content-Type: message/rfc822',
      'Content-Disposition: inline',
      '',
      `Return-Path: <${returnPath}>`,
      sent.raw.toString('utf8').replace(/\r\n$/, ''),
      '--part1_13d.2e68ed54--',
      '',
    ].join('\r\n');
    await viaPostfix('', returnPath, report);
    const entry = await suppressed('dee@dest.test');
    assert.deepEqual([entry.source, entry.reason], ['complaint', 'abuse']);

    const after = await statsOnce((s) => s.counts.complained > before.json.counts.complained);
    assert.equal(after.json.counts.complained, before.json.counts.complained + 1);
    assert.equal(
      after.json.feedback.complained.abuse,
      (before.json.feedback.complained.abuse ?? 0) + 1,
    );
    // Not a bounce: neither a late bounce of a sent recipient nor a final bounce.
    assert.equal(after.json.counts.lateBounced, before.json.counts.lateBounced);
    assert.deepEqual(after.json.feedback.lateBounced, before.json.feedback.lateBounced);
    assert.equal(after.json.counts.bounced, before.json.counts.bounced);
    assert.equal(after.json.counts.sent, before.json.counts.sent);
    const events = await api<{ events: Record<string, unknown>[] }>(
      'GET',
      `/v1/campaigns/${id}/events?limit=100`,
    );
    const dee = events.json.events.filter((e) => e.email === 'dee@dest.test');
    assert.deepEqual(
      dee.map((e) => [e.outcome, e.reason, e.source]),
      [
        ['sent', 'delivered', undefined],
        ['complained', 'abuse', 'arf'],
      ],
    );
    const m = await bounce.metrics();
    assert.equal(
      sample(m, 'volley_bounce_messages_total', { address: 'verp', kind: 'feedback' }),
      1,
      'the report arrived at the VERP address',
    );
    assert.equal(
      sample(m, 'volley_bounce_effects_total', { effect: 'complaint' }),
      complaintsBefore + 1,
    );
  });

  test('both unsubscribe routes of a message: one-click POST to the API, and mail to its mailto through Postfix', async () => {
    const targets = (to: string): { url: string; mailto: string } => {
      const raw = delivered(to).raw.toString('utf8');
      const m = /\r\nList-Unsubscribe: <([^>]+)>,\r\n <mailto:([^>]+)>\r\n/.exec(raw);
      assert.ok(m?.[1] && m[2], `the message to ${to} carries both targets:\n${raw}`);
      return { url: m[1], mailto: m[2] };
    };
    const bob = targets('bob@dest.test');
    const click = await h.app.inject({
      method: 'POST',
      url: new URL(bob.url).pathname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    assert.equal(click.statusCode, 200, click.body);
    const b = await suppressed('bob@dest.test');
    assert.deepEqual([b.source, b.reason], ['unsubscribe', 'one-click']);

    const cy = targets('cy@dest.test');
    assert.match(
      cy.mailto,
      new RegExp(`^unsubscribe\\+[a-z2-7]+@${DOMAIN.replace(/\./g, '\\.')}$`),
    );
    await viaPostfix(
      'cy@dest.test',
      cy.mailto,
      `From: cy@dest.test\r\nTo: ${cy.mailto}\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n`,
    );
    const c = await suppressed('cy@dest.test');
    assert.deepEqual([c.source, c.reason], ['unsubscribe', 'mailto']);
    const stats = await statsOnce((s) => Object.keys(s.feedback.unsubscribed).length >= 2);
    assert.deepEqual(stats.json.feedback.unsubscribed, { 'one-click': 1, mailto: 1 });
  });
});
