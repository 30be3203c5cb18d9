// Per-relay TLS settings in the relay URL (issue 17, defect 10): a relay with a self-signed
// certificate, like Debian's default Postfix ("snakeoil"), gets mail when its URL names the CA
// file or turns verification off, and never silently otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRelays, relayWarnings } from '@volley/config';
import { RelayPool } from '../src/index.ts';
import { startSmtpServer, type TestSmtpServer } from './fixtures/servers.ts';

let dir: string;
let caFile: string;
let relay: TestSmtpServer;

before(async () => {
  // A self-signed certificate for 127.0.0.1, made for this run: its own CA, as snakeoil is.
  dir = mkdtempSync(join(tmpdir(), 'volley-relay-tls-'));
  caFile = join(dir, 'relay.crt');
  const keyFile = join(dir, 'relay.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      caFile,
      '-days',
      '2',
      '-subj',
      '/CN=relay.test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  relay = await startSmtpServer({
    disabledCommands: ['AUTH'],
    key: readFileSync(keyFile),
    cert: readFileSync(caFile),
  });
});
after(async () => {
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
});

function send(url: string) {
  const problems: string[] = [];
  const targets = parseRelays(url, problems);
  assert.deepEqual(problems, []);
  const pool = new RelayPool(targets, { poolSize: 1 });
  return pool
    .send({
      envelope: { from: 'news@sender.example', to: 'ada@rcpt.example' },
      raw: 'From: news@sender.example\r\nTo: ada@rcpt.example\r\nSubject: tls\r\n\r\nhi\r\n',
    })
    .finally(() => pool.close());
}

describe('relay TLS settings', () => {
  test('by default the certificate is checked against the system CAs: a self-signed relay gets nothing', async () => {
    const before = relay.messages.length;
    const r = await send(`smtp://127.0.0.1:${relay.port}`);
    assert.equal(r.disposition, 'deferred', r.text);
    assert.match(r.text, /certificate/i);
    assert.equal(relay.messages.length, before);
  });

  test('?ca=FILE verifies against that file: the relay gets the message over TLS', async () => {
    const before = relay.messages.length;
    const r = await send(`smtp://127.0.0.1:${relay.port}?ca=${encodeURIComponent(caFile)}`);
    assert.equal(r.disposition, 'delivered', r.text);
    assert.equal(relay.messages.length, before + 1);
    assert.equal(relay.messages.at(-1)?.secure, true);
  });

  test('?tlsVerify=false sends over TLS without checking, and the configuration warns about it', async () => {
    const url = `smtp://127.0.0.1:${relay.port}?tlsVerify=false`;
    const r = await send(url);
    assert.equal(r.disposition, 'delivered', r.text);
    assert.equal(relay.messages.at(-1)?.secure, true);
    const warnings = relayWarnings(parseRelays(url, []));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /127\.0\.0\.1.*certificate is not verified/);
    assert.deepEqual(relayWarnings(parseRelays(`smtp://127.0.0.1:${relay.port}`, [])), []);
  });

  test('a CA file that cannot be read, or a CA file with tlsVerify=false, is a configuration error', () => {
    const missing: string[] = [];
    parseRelays(`smtp://relay.example?ca=${encodeURIComponent(join(dir, 'nope.pem'))}`, missing);
    assert.match(missing[0] ?? '', /ca file .*nope\.pem.* cannot be read/);
    const both: string[] = [];
    parseRelays(`smtp://relay.example?tlsVerify=false&ca=${encodeURIComponent(caFile)}`, both);
    assert.match(both[0] ?? '', /ca and tlsVerify=false/);
    const bad: string[] = [];
    parseRelays('smtp://relay.example?tlsVerify=maybe', bad);
    assert.match(bad[0] ?? '', /tlsVerify must be true or false/);
  });
});
