/**
 * The deliver step alone: a real SMTP server (smtp-server, through the capture server) and a
 * real relay pool, no Redis and no BullMQ.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { parseRelays } from '@volley/config';
import { DkimSigner, readLinkToken, readVerpAddress, tokenNames } from '@volley/message';
import { RelayPool } from '@volley/smtp';
import { startCaptureServer, startDnsStub, type CaptureServer } from '@volley/testkit';
import {
  Deliverer,
  compileCampaign,
  unsubscribeTargets,
  type CampaignSource,
} from '../src/index.ts';

const SECRET = 'verp-secret-0123456789abcdef';
const ID = '0123456789abcdef0123';
const ed = generateKeyPairSync('ed25519');

let sink: CaptureServer;
let relay: RelayPool;
let dns: Awaited<ReturnType<typeof startDnsStub>>;
before(async () => {
  sink = await startCaptureServer({
    onRecipient: (addr) => {
      if (addr.startsWith('gone@')) return { code: 550, message: '5.1.1 no such user' };
      if (addr.startsWith('busy@')) return { code: 421, message: '4.7.0 try again later' };
      return undefined;
    },
  });
  const problems: string[] = [];
  relay = new RelayPool(parseRelays(`smtp://127.0.0.1:${sink.port}`, problems), { poolSize: 2 });
  assert.deepEqual(problems, []);
  dns = await startDnsStub({
    'ed1._domainkey.sender.example': {
      txt: [
        `v=DKIM1; k=ed25519; p=${ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64')}`,
      ],
    },
  });
});
after(async () => {
  relay.close();
  await Promise.all([sink.close(), dns.close()]);
});

const CAMPAIGN: CampaignSource = {
  id: ID,
  tenant: 'default',
  from: 'Volley Test <news@sender.example>',
  subject: 'Hello {{name}}',
  html: '<p>Hi {{name}}</p>',
};

function deliverer(opts: { maxMessageBytes?: number } = {}) {
  const counts = new Map<string, number>();
  const d = new Deliverer({
    transport: relay,
    maxMessageBytes: opts.maxMessageBytes ?? 1_000_000,
    verp: { secret: SECRET, bounceDomain: 'bounces.example' },
    smtpTime: (disposition) => counts.set(disposition, (counts.get(disposition) ?? 0) + 1),
  });
  // Replies timed, by disposition, as the latency histogram counts them.
  const observed = async () => [...counts].map(([outcome, n]) => [outcome, n]);
  return { d, observed };
}

const campaign = compileCampaign(
  CAMPAIGN,
  unsubscribeTargets(
    { secret: SECRET, url: 'https://u.example/unsub/', bounceDomain: undefined },
    ID,
  ),
);

function arrivedFor(to: string) {
  return sink.messages.filter((m) => m.to[0] === to);
}

describe('deliver: render, compose, sign, send, classify', () => {
  test('a message is rendered for its recipient and delivered with a VERP return path and a one-click unsubscribe', async () => {
    const { d, observed } = deliverer();
    const res = await d.deliver(
      campaign,
      { i: 7, email: 'ada@rcpt.example', vars: { name: 'Ada' } },
      undefined,
    );
    assert.deepEqual(
      { outcome: res.outcome, reason: res.reason, suppress: res.suppress, refusal: res.refusal },
      { outcome: 'sent', reason: 'delivered', suppress: false, refusal: undefined },
    );
    const [m] = arrivedFor('ada@rcpt.example');
    assert.ok(m);
    const text = m.raw.toString();
    assert.match(text, /^Subject: Hello Ada\r$/m);
    // Both tokens also carry the address (a keyed hash, encrypted), for after retention.
    const verp = readVerpAddress(SECRET, m.from);
    assert.deepEqual([verp.campaignId, verp.index], [ID, 7]);
    assert.equal(tokenNames(SECRET, verp, 'ada@rcpt.example'), true);
    const unsub = /^List-Unsubscribe: <https:\/\/u\.example\/unsub\/([a-z2-7]+)>\r$/m.exec(text);
    assert.ok(unsub?.[1], 'List-Unsubscribe names the endpoint with a token');
    assert.deepEqual(readLinkToken(SECRET, unsub[1]), {
      campaignId: ID,
      index: 7,
      email: 'ada@rcpt.example',
    });
    assert.match(text, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
    assert.deepEqual(await observed(), [['delivered', 1]]);
  });

  test('with a key for the From domain the message is DKIM-signed, and verifies as a receiver checks it', async () => {
    const dkim = new DkimSigner([
      {
        domain: 'sender.example',
        selector: 'ed1',
        privateKey: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
    ]);
    const { d } = deliverer();
    const res = await d.deliver(
      { ...campaign, dkim },
      { i: 8, email: 'signed@rcpt.example' },
      undefined,
    );
    assert.equal(res.outcome, 'sent');
    const [m] = arrivedFor('signed@rcpt.example');
    assert.ok(m);
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${dns.port}`]);
    const verified = (await dkimVerify(m.raw, {
      resolver: async (name: string, rr: string) =>
        (await resolver.resolve(name, rr)) as string[][],
    })) as unknown as { results: { signingDomain: string; status: { result: string } }[] };
    assert.deepEqual(
      verified.results.map((r) => [r.signingDomain, r.status.result]),
      [['sender.example', 'pass']],
    );
  });

  test('an unknown user bounces and is to be suppressed; a 421 is deferred; both carry the reply for the adaptive rules', async () => {
    const { d, observed } = deliverer();
    const gone = await d.deliver(campaign, { i: 1, email: 'gone@rcpt.example' }, undefined);
    assert.deepEqual(
      [gone.outcome, gone.reason, gone.suppress, gone.refusal?.code],
      ['bounced', 'userunknown', true, 550],
    );
    const busy = await d.deliver(campaign, { i: 2, email: 'busy@rcpt.example' }, undefined);
    assert.deepEqual([busy.outcome, busy.suppress, busy.refusal?.code], ['deferred', false, 421]);
    assert.match(busy.detail, /try again later/);
    assert.deepEqual(await observed(), [
      ['bounced', 1],
      ['deferred', 1],
    ]);
  });

  test('what cannot make a message fails without reaching the server', async () => {
    const { d, observed } = deliverer({ maxMessageBytes: 40 });
    const before = sink.messages.length;
    const bad = await d.deliver(campaign, { i: 3, email: 'not an address' }, undefined);
    assert.deepEqual([bad.outcome, bad.reason], ['failed', 'syntaxerror']);
    const big = await d.deliver(
      campaign,
      { i: 4, email: 'big@rcpt.example', vars: { name: 'x'.repeat(100) } },
      undefined,
    );
    assert.deepEqual([big.outcome, big.reason], ['failed', 'template']);
    assert.match(big.detail, /over VOLLEY_MAX_MESSAGE_SIZE \(40\)/);
    const broken = compileCampaign({ ...CAMPAIGN, subject: 'Hello {{#if}}' }, undefined);
    assert.ok(broken.templates instanceof Error);
    const res = await d.deliver(broken, { i: 5, email: 'ok@rcpt.example' }, undefined);
    assert.deepEqual([res.outcome, res.reason], ['failed', 'template']);
    assert.equal(sink.messages.length, before, 'nothing reached the server');
    assert.deepEqual(await observed(), []);
  });

  test('a route whose connection cap is full sends nothing: the message waits for a slot', async () => {
    const { d, observed } = deliverer();
    const before = sink.messages.length;
    const res = await d.deliver(
      campaign,
      { i: 6, email: 'capped@rcpt.example' },
      {
        key: 'domain:rcpt.example',
        acquireSlot: () => Promise.resolve(undefined),
      },
    );
    assert.deepEqual([res.outcome, res.suppress, res.refusal], ['noslot', false, undefined]);
    assert.equal(sink.messages.length, before);
    assert.deepEqual(await observed(), []);
  });
});
