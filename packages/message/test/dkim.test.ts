import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { startDnsStub, type DnsZone } from '@volley/testkit';
import fc from 'fast-check';
import { DkimKeyError, DkimSigner, relaxedBody } from '../src/dkim.ts';
import { MessageComposer } from '../src/compose.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const zone: DnsZone = {
  'rsa1._domainkey.sender.example': {
    txt: [
      `v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
    ],
  },
  // Ed25519 keys are published as the raw 32-byte key (RFC 8463 §4.2), the SPKI's last 32 bytes.
  'ed1._domainkey.sender.example': {
    txt: [
      `v=DKIM1; k=ed25519; p=${ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64')}`,
    ],
  },
};
let dns: Awaited<ReturnType<typeof startDnsStub>>;
let resolver: Resolver;

before(async () => {
  dns = await startDnsStub(zone);
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dns.port}`]);
});
after(async () => {
  await dns.close();
});

interface VerifyResult {
  results: { signingDomain: string; selector: string; algo: string; status: { result: string } }[];
}

/** Verifies as a receiver would: mailauth, with the keys fetched over DNS from the stub. */
async function verify(raw: string): Promise<VerifyResult['results']> {
  const res = (await dkimVerify(Buffer.from(raw), {
    resolver: async (name: string, rr: string) => (await resolver.resolve(name, rr)) as string[][],
  })) as unknown as VerifyResult;
  return res.results;
}

function compose(subject: string, html: string): string {
  const c = new MessageComposer({
    campaignId: 'c0ffee',
    from: 'Sender Name <news@sender.example>',
    replyTo: 'help@sender.example',
    headers: { 'X-Campaign': 'spring' },
  });
  return c.compose(7, 'ada@rcpt.example', { subject, html, text: undefined }).raw;
}

const signer = new DkimSigner([
  {
    domain: 'sender.example',
    selector: 'rsa1',
    privateKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  },
  {
    domain: 'sender.example',
    selector: 'ed1',
    privateKey: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  },
]);

describe('DKIM signing', () => {
  test('RSA-2048 and Ed25519 signatures verify with mailauth against keys served over DNS', async () => {
    const raw = signer.sign(
      compose(
        'Grüße, Ada — your plan',
        `<p>${'Long line with trailing spaces   '.repeat(20)}</p>\n\n\n`,
      ),
      'sender.example',
    );
    const results = await verify(raw);
    assert.equal(results.length, 2);
    for (const r of results)
      assert.equal(r.status.result, 'pass', `${r.selector}: ${JSON.stringify(r.status)}`);
    assert.deepEqual(results.map((r) => r.algo).sort(), ['ed25519-sha256', 'rsa-sha256']);
  });

  test('a message changed in transit fails verification', async () => {
    const raw = signer.sign(compose('Original subject', '<p>hello</p>'), 'sender.example');
    const tamperedSubject = raw.replace('Subject: Original subject', 'Subject: Changed subject');
    assert.notEqual(tamperedSubject, raw);
    // A broken header signature is "fail"; a body that no longer matches bh= is "neutral" in
    // mailauth's words. Either way, not "pass".
    for (const r of await verify(tamperedSubject)) assert.notEqual(r.status.result, 'pass');
    const tamperedBody = raw.replace('hello', 'hellO');
    for (const r of await verify(tamperedBody)) assert.notEqual(r.status.result, 'pass');
  });

  test('a subdomain From is signed by the parent domain key; an unrelated domain is left unsigned', () => {
    const raw = compose('x', '<p>y</p>');
    const sub = signer.sign(raw, 'news.sender.example');
    assert.ok(sub.endsWith(raw), 'the message follows its signatures unchanged');
    assert.match(sub, /^DKIM-Signature: v=1; a=\S+; c=relaxed\/relaxed; d=sender\.example;/);
    assert.equal(signer.sign(raw, 'other.example'), raw);
  });

  test('unusable keys are refused with the selector and the reason', () => {
    assert.throws(
      () => new DkimSigner([{ domain: 'a.example', selector: 's', privateKey: 'not a key' }]),
      DkimKeyError,
    );
    const weak = generateKeyPairSync('rsa', { modulusLength: 512 });
    assert.throws(
      () =>
        new DkimSigner([
          {
            domain: 'a.example',
            selector: 's',
            privateKey: weak.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          },
        ]),
      /s\._domainkey\.a\.example: RSA keys shorter than 1024 bits/,
    );
  });
});

describe('relaxed body canonicalization', () => {
  // RFC 6376 §3.4.4 written as directly as possible: the reference the fast version must match.
  function reference(body: string): string {
    let b = body.replace(/[ \t]+\r\n/g, '\r\n').replace(/[ \t]+/g, ' ');
    b = b.replace(/[ \t]+$/, '');
    b = b.replace(/(\r\n)+$/, '');
    return b.length ? `${b}\r\n` : '';
  }

  test('the RFC 6376 example and edge cases', () => {
    assert.equal(relaxedBody(' C \r\nD \t E\r\n\r\n\r\n'), ' C\r\nD E\r\n');
    assert.equal(relaxedBody(''), '');
    assert.equal(relaxedBody('\r\n\r\n'), '');
    assert.equal(relaxedBody('a  \t'), 'a\r\n');
    assert.equal(relaxedBody('a\r\n \r\n'), 'a\r\n');
  });

  test('matches the direct reading of the RFC on any body', () => {
    const piece = fc.constantFrom('a', 'b', ' ', '\t', '\r\n', '  ', '\r', '\n', '=20');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
        const body = parts.join('');
        assert.equal(relaxedBody(body), reference(body));
      }),
      { numRuns: 5000, seed: 20261128 },
    );
  });
});
