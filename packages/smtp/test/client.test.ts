/**
 * SmtpClient against real servers on loopback: smtp-server for what a full server checks,
 * scripted raw servers for exact protocol behaviour, Postfix's smtp-sink for volume.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { SMTPServerOptions } from 'smtp-server';
import { SmtpClient, type SmtpClientOptions } from '../src/client.ts';
import {
  SmtpConnectionError,
  SmtpEnvelopeError,
  SmtpOptionsError,
  SmtpReplyError,
} from '../src/errors.ts';
import { ReplyParser, type ServerReply } from '../src/reply-parser.ts';
import { SmtpPool } from '../src/pool.ts';
import {
  TLS_CERT,
  TLS_KEY,
  startScriptedServer,
  startSink,
  startSmtpServer,
  type ScriptedOptions,
  type ScriptedServer,
  type Sink,
  type TestSmtpServer,
} from './fixtures/servers.ts';

const ENVELOPE = { from: 'bounces@volley.test', to: 'rcpt@example.test' };
const RAW = 'From: news@volley.test\r\nTo: rcpt@example.test\r\nSubject: hi\r\n\r\nHello.\r\n';

async function client(
  t: TestContext,
  port: number,
  opts: Partial<SmtpClientOptions> = {},
): Promise<SmtpClient> {
  const c = new SmtpClient({ host: '127.0.0.1', port, name: 'sender.volley.test', ...opts });
  t.after(() => c.close());
  await c.connect();
  return c;
}

async function scripted(t: TestContext, opts: ScriptedOptions = {}): Promise<ScriptedServer> {
  const s = await startScriptedServer(opts);
  t.after(() => s.close());
  return s;
}

async function rejection<E extends Error>(
  p: Promise<unknown>,
  cls: new (...args: never[]) => E,
): Promise<E> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected ${cls.name}, but it resolved`);
}

let plainServer: TestSmtpServer;
before(async () => {
  plainServer = await startSmtpServer({
    rejectRcpt: (a) =>
      a.startsWith('nobody@') ? { code: 550, message: '5.1.1 no such user here' } : undefined,
  });
});
after(() => plainServer.close());

describe('reply parsing', () => {
  test('multi-line replies, several replies per packet and any split point give the same replies', () => {
    const wire = Buffer.from(
      '250-mx.example greets you\r\n250-PIPELINING\r\n250 SIZE 1000\r\n' +
        '550-5.1.1 first line\r\n550 5.1.1 second line\r\n' +
        '250 2.0.0 ok, déjà vu\r\n354 go\n',
      'utf8',
    );
    const expected: ServerReply[] = [
      {
        code: 250,
        text: '250-mx.example greets you\n250-PIPELINING\n250 SIZE 1000',
        enhanced: undefined,
      },
      { code: 550, text: '550-5.1.1 first line\n550 5.1.1 second line', enhanced: '5.1.1' },
      { code: 250, text: '250 2.0.0 ok, déjà vu', enhanced: '2.0.0' },
      { code: 354, text: '354 go', enhanced: undefined },
    ];
    for (let i = 0; i <= wire.length; i++) {
      for (let j = i; j <= wire.length; j++) {
        const p = new ReplyParser();
        const got = [
          ...p.feed(wire.subarray(0, i)),
          ...p.feed(wire.subarray(i, j)),
          ...p.feed(wire.subarray(j)),
        ];
        assert.deepEqual(got, expected, `split at ${i} and ${j}`);
      }
    }
  });

  test('input that is not SMTP is a protocol error', () => {
    assert.throws(() => new ReplyParser().feed(Buffer.from('HTTP/1.1 400 Bad Request\r\n')));
    assert.throws(() => new ReplyParser().feed(Buffer.alloc(20_000, 0x32)));
  });
});

describe('sending', () => {
  test('pipelines MAIL, RCPT and DATA in one write when PIPELINING is offered', async (t) => {
    const s = await scripted(t);
    const c = await client(t, s.port);
    assert.equal(c.extensions.pipelining, true);
    const reply = await c.send(ENVELOPE, RAW);
    assert.equal(reply.code, 250);
    assert.equal(reply.enhanced, '2.0.0');
    assert.ok(
      s.chunks.includes(
        'MAIL FROM:<bounces@volley.test>\r\nRCPT TO:<rcpt@example.test>\r\nDATA\r\n',
      ),
      `the three commands arrive together; chunks: ${JSON.stringify(s.chunks)}`,
    );
    assert.ok(s.chunks.includes(`${RAW}.\r\n`), 'the body and its end arrive in one write');
    assert.equal(c.messagesSent, 1);
  });

  test('sends one command at a time without PIPELINING', async (t) => {
    const s = await scripted(t, { ehlo: '250-raw.test\r\n250 8BITMIME' });
    const c = await client(t, s.port);
    assert.equal(c.extensions.pipelining, false);
    await c.send(ENVELOPE, RAW);
    const i = s.chunks.findIndex((x) => x.startsWith('MAIL FROM:'));
    assert.deepEqual(s.chunks.slice(i, i + 3), [
      'MAIL FROM:<bounces@volley.test>\r\n',
      'RCPT TO:<rcpt@example.test>\r\n',
      'DATA\r\n',
    ]);
  });

  test('dot-stuffs the body: it arrives byte-exact at smtp-server, with CRLF added at the end', async (t) => {
    const c = await client(t, plainServer.port);
    const raw =
      'Subject: dots\r\n\r\n.\r\n..x\r\n.start\r\nmiddle .\r\n.\r\n\r\nlast line without CRLF';
    const seen = once(plainServer.events, 'message');
    await c.send(ENVELOPE, raw);
    const [m] = (await seen) as [{ raw: Buffer }];
    assert.equal(m.raw.toString('utf8'), `${raw}\r\n`);

    // A Buffer body, and a dot at the very start.
    const rawBuf = Buffer.from('.first line\r\n..\r\nend\r\n');
    const seen2 = once(plainServer.events, 'message');
    await c.send(ENVELOPE, rawBuf);
    const [m2] = (await seen2) as [{ raw: Buffer }];
    assert.deepEqual(m2.raw, rawBuf);

    // Buffers with nothing to stuff go out as they are, the line end before the final dot
    // added when missing, a bare LF at the end made CRLF.
    for (const [given, arrives] of [
      ['Subject: b\r\n\r\nno final line end', 'Subject: b\r\n\r\nno final line end\r\n'],
      ['Subject: b\r\n\r\nbare LF at the end\n', 'Subject: b\r\n\r\nbare LF at the end\r\n'],
      ['Subject: b\r\n\r\nmiddle .dot\r\n', 'Subject: b\r\n\r\nmiddle .dot\r\n'],
    ] as const) {
      const seen3 = once(plainServer.events, 'message');
      await c.send(ENVELOPE, Buffer.from(given));
      const [m3] = (await seen3) as [{ raw: Buffer }];
      assert.equal(m3.raw.toString('latin1'), arrives);
    }
  });

  test('an 8-bit UTF-8 body arrives intact, announced as BODY=8BITMIME', async (t) => {
    const c = await client(t, plainServer.port);
    assert.equal(c.extensions.eightBitMime, true);
    const raw = 'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nGrüße, 日本語, emoji 🎉 — ✓\r\n';
    const seen = once(plainServer.events, 'message');
    await c.send(ENVELOPE, raw);
    const [m] = (await seen) as [{ raw: Buffer; bodyParam: string | undefined }];
    assert.deepEqual(m.raw, Buffer.from(raw, 'utf8'));
    assert.equal(m.bodyParam, '8BITMIME');

    // Raw bytes that are not UTF-8 (latin1) pass through a Buffer unchanged.
    const latin = Buffer.from([...Buffer.from('Subject: x\r\n\r\ncaf'), 0xe9, 0x0d, 0x0a]);
    const seen2 = once(plainServer.events, 'message');
    await c.send(ENVELOPE, latin);
    const [m2] = (await seen2) as [{ raw: Buffer }];
    assert.deepEqual(m2.raw, latin);
  });

  test('a refused RCPT yields the reply, is reset, and the connection takes the next message', async (t) => {
    const c = await client(t, plainServer.port);
    const err = await rejection(
      c.send({ from: ENVELOPE.from, to: 'nobody@example.test' }, RAW),
      SmtpReplyError,
    );
    assert.equal(err.code, 550);
    assert.equal(err.enhanced, '5.1.1');
    assert.equal(err.stage, 'rcpt');
    assert.match(err.text, /no such user here/);
    assert.equal(c.usable, true);
    const seen = once(plainServer.events, 'message');
    assert.equal((await c.send(ENVELOPE, RAW)).code, 250);
    const [m] = (await seen) as [{ to: string[] }];
    assert.deepEqual(m.to, [ENVELOPE.to], 'the refused recipient did not stay in the transaction');
    assert.equal(c.transactions, 2);
    assert.equal(c.messagesSent, 1);
  });

  test('a multi-line refusal keeps every line; RSET follows', async (t) => {
    const s = await scripted(t, {
      onCommand: (line) =>
        line.startsWith('RCPT TO:<rcpt@')
          ? '550-5.7.1 first line of the refusal\r\n550 5.7.1 see https://example.test/why'
          : undefined,
    });
    const c = await client(t, s.port);
    const err = await rejection(c.send(ENVELOPE, RAW), SmtpReplyError);
    assert.equal(
      err.text,
      '550-5.7.1 first line of the refusal\n550 5.7.1 see https://example.test/why',
    );
    assert.equal(err.enhanced, '5.7.1');
    // The scripted server took DATA regardless (RFC 2920 says it must not): the client ended
    // the data phase with an empty message before RSET, so the session stayed in step.
    assert.deepEqual(s.commands.slice(-2), ['DATA', 'RSET']);
    assert.equal(s.messages.at(-1), '');
    assert.equal(c.usable, true);
    assert.equal((await c.send({ from: ENVELOPE.from, to: 'ok@example.test' }, RAW)).code, 250);
  });

  test('replies that arrive a byte at a time are read whole', async (t) => {
    const s = await scripted(t, {
      dribble: true,
      ehlo: '250-raw.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250 8BITMIME',
    });
    const c = await client(t, s.port);
    assert.equal(c.extensions.size, 10485760);
    const reply = await c.send(ENVELOPE, RAW);
    assert.equal(reply.code, 250);
    assert.ok(s.commands.some((l) => l.endsWith(`SIZE=${Buffer.byteLength(RAW)}`)));
  });

  test('falls back to HELO when EHLO is refused', async (t) => {
    const s = await scripted(t, { ehlo: '502 5.5.2 EHLO not supported' });
    const c = await client(t, s.port);
    assert.ok(s.commands.includes('HELO sender.volley.test'));
    assert.equal(c.extensions.pipelining, false);
    assert.equal((await c.send(ENVELOPE, RAW)).code, 250);
  });

  test('an envelope address with CR/LF never reaches the wire', async (t) => {
    const s = await scripted(t);
    const c = await client(t, s.port);
    const err = await rejection(
      c.send({ from: ENVELOPE.from, to: 'a@b.test>\r\nRCPT TO:<evil@x.test' }, RAW),
      SmtpEnvelopeError,
    );
    assert.equal(err.errorCode, 'EENVELOPE');
    assert.ok(!s.commands.some((l) => l.startsWith('MAIL')));
    assert.equal(c.usable, true);
  });
});

describe('session errors', () => {
  test('a 421 greeting is a reply error at the greeting stage', async (t) => {
    const s = await scripted(t, { greeting: '421 4.3.2 too busy, try later' });
    const c = new SmtpClient({ host: '127.0.0.1', port: s.port });
    const err = await rejection(c.connect(), SmtpReplyError);
    assert.equal(err.code, 421);
    assert.equal(err.stage, 'greeting');
    assert.equal(err.enhanced, '4.3.2');
    assert.equal(c.usable, false);
  });

  test('a 421 to a pipelined RCPT is the answer, and the connection is not reused', async (t) => {
    const s = await scripted(t, {
      onCommand: (line) =>
        line.startsWith('RCPT') ? '421 4.7.0 too many errors, closing connection' : undefined,
    });
    const c = await client(t, s.port);
    const err = await rejection(c.send(ENVELOPE, RAW), SmtpReplyError);
    assert.equal(err.code, 421);
    assert.equal(err.stage, 'rcpt');
    assert.equal(c.usable, false);
    assert.ok(!s.commands.includes('RSET'), 'no RSET into a closing session');
  });

  test('a refused port is ECONNREFUSED', async () => {
    const s = await startScriptedServer();
    const port = s.port;
    await s.close();
    const c = new SmtpClient({ host: '127.0.0.1', port });
    const err = await rejection(c.connect(), SmtpConnectionError);
    assert.equal(err.errorCode, 'ECONNREFUSED');
    assert.equal(err.stage, 'connect');
  });

  test('no greeting within greetingTimeoutMs is ETIMEDOUT', async (t) => {
    const s = await scripted(t, { greeting: null });
    const c = new SmtpClient({ host: '127.0.0.1', port: s.port, greetingTimeoutMs: 150 });
    const closed = once(s.events, 'close');
    const err = await rejection(c.connect(), SmtpConnectionError);
    assert.equal(err.errorCode, 'ETIMEDOUT');
    assert.equal(err.stage, 'greeting');
    await closed;
  });

  test('a server that stops answering mid-session is ETIMEDOUT after socketTimeoutMs', async (t) => {
    const s = await scripted(t, {
      // Silent from MAIL on: a hung server answers none of the pipelined commands.
      onCommand: (line) => (/^(MAIL|RCPT|DATA)/.test(line) ? 'silent' : undefined),
    });
    const c = await client(t, s.port, { socketTimeoutMs: 500 });
    const err = await rejection(c.send(ENVELOPE, RAW), SmtpConnectionError);
    assert.equal(err.errorCode, 'ETIMEDOUT');
    assert.equal(err.stage, 'mail');
    assert.equal(err.maybeAccepted, false);
    assert.equal(c.usable, false);
  });

  test('a connection lost after the end of data may have delivered the message', async (t) => {
    const s = await scripted(t, { onMessage: () => 'drop' });
    const c = await client(t, s.port);
    const err = await rejection(c.send(ENVELOPE, RAW), SmtpConnectionError);
    assert.equal(err.errorCode, 'ECONNRESET');
    assert.equal(err.stage, 'message');
    assert.equal(err.maybeAccepted, true);
    assert.equal(c.usable, false);
  });

  test('no reply to the end of data within socketTimeoutMs may also have delivered it', async (t) => {
    const s = await scripted(t, { onMessage: () => 'silent' });
    const c = await client(t, s.port, { socketTimeoutMs: 500 });
    const err = await rejection(c.send(ENVELOPE, RAW), SmtpConnectionError);
    assert.equal(err.errorCode, 'ETIMEDOUT');
    assert.equal(err.maybeAccepted, true);
  });

  test('a connection lost before the body was sent cannot have delivered it', async (t) => {
    const s = await scripted(t, { onCommand: (l) => (l.startsWith('MAIL') ? 'drop' : undefined) });
    const c = await client(t, s.port);
    const err = await rejection(c.send(ENVELOPE, RAW), SmtpConnectionError);
    assert.equal(err.errorCode, 'ECONNRESET');
    assert.equal(err.maybeAccepted, false);
  });

  test('a 421 the server sends while idle closes the connection and reports it', async (t) => {
    const s = await scripted(t);
    let notify: (c: SmtpClient) => void = () => undefined;
    const closed = new Promise<SmtpClient>((resolve) => (notify = resolve));
    const c = await client(t, s.port, { onClose: (x) => notify(x) });
    assert.equal(c.usable, true);
    // The scripted server has no idle timer of its own: the test sends what one would.
    s.lastSocket()?.write('421 4.4.2 idle too long, closing\r\n');
    assert.equal(await closed, c);
    assert.equal(c.usable, false);
    assert.equal(c.failure?.errorCode, 'ECONNRESET');
    assert.match(c.failure?.message ?? '', /421 4\.4\.2 idle too long/);
  });
});

describe('TLS and AUTH', () => {
  let tlsServer: TestSmtpServer;
  let implicitTls: TestSmtpServer;
  let authServer: TestSmtpServer;
  let loginOnly: TestSmtpServer;
  let plainAuth: TestSmtpServer;
  /** AUTH commands plainAuth was given: it offers AUTH without STARTTLS, so it must see none. */
  let plainAuthAttempts = 0;
  before(async () => {
    tlsServer = await startSmtpServer({
      key: TLS_KEY,
      cert: TLS_CERT,
      disabledCommands: ['AUTH'],
    });
    implicitTls = await startSmtpServer({
      secure: true,
      key: TLS_KEY,
      cert: TLS_CERT,
      disabledCommands: ['AUTH'],
    });
    const onAuth: SMTPServerOptions['onAuth'] = (auth, _session, callback) => {
      if (auth.username === 'volley' && auth.password === 's3cret pass') {
        callback(null, { user: auth.username });
      } else {
        callback(new Error('5.7.8 invalid credentials'));
      }
    };
    // AUTH after STARTTLS, as a relay that takes credentials should offer it.
    authServer = await startSmtpServer({
      key: TLS_KEY,
      cert: TLS_CERT,
      onAuth,
      disabledCommands: [],
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: false,
    });
    loginOnly = await startSmtpServer({
      key: TLS_KEY,
      cert: TLS_CERT,
      onAuth,
      disabledCommands: [],
      authMethods: ['LOGIN'],
      authOptional: false,
    });
    // AUTH offered on a plaintext session, no STARTTLS: what a stripping man in the middle
    // or a misconfigured relay shows the client.
    plainAuth = await startSmtpServer({
      onAuth: (auth, session, callback) => {
        plainAuthAttempts++;
        onAuth(auth, session, callback);
      },
      disabledCommands: ['STARTTLS'],
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: true,
      authOptional: false,
    });
  });
  after(() =>
    Promise.all([
      tlsServer.close(),
      implicitTls.close(),
      authServer.close(),
      loginOnly.close(),
      plainAuth.close(),
    ]),
  );

  /** Options that verify the test certificate (CN=mx.test) of the STARTTLS servers. */
  const TRUST = { servername: 'mx.test', tls: { ca: TLS_CERT } } as const;

  test('upgrades with STARTTLS when offered, verifying the certificate', async (t) => {
    const c = await client(t, tlsServer.port, { servername: 'mx.test', tls: { ca: TLS_CERT } });
    assert.equal(c.secure, true);
    assert.equal(c.extensions.starttls, false, 'the second EHLO, over TLS, no longer offers it');
    const seen = once(tlsServer.events, 'message');
    await c.send(ENVELOPE, RAW);
    const [m] = (await seen) as [{ secure: boolean }];
    assert.equal(m.secure, true);
  });

  test('an untrusted certificate fails the handshake with ETLS', async (t) => {
    const c = new SmtpClient({ host: '127.0.0.1', port: tlsServer.port, servername: 'mx.test' });
    t.after(() => c.close());
    const err = await rejection(c.connect(), SmtpConnectionError);
    assert.equal(err.errorCode, 'ETLS');
    assert.equal(err.stage, 'tls');
  });

  test('opportunistic TLS accepts a self-signed certificate when told not to check', async (t) => {
    const c = await client(t, tlsServer.port, { tls: { rejectUnauthorized: false } });
    assert.equal(c.secure, true);
  });

  test('requireTLS fails when STARTTLS is not offered', async () => {
    const c = new SmtpClient({ host: '127.0.0.1', port: plainServer.port, requireTLS: true });
    const err = await rejection(c.connect(), SmtpConnectionError);
    assert.equal(err.errorCode, 'ETLS');
    assert.equal(err.stage, 'starttls');
  });

  test('a refused STARTTLS with TLS required is ETLS, a connection failure, not a refusal to bounce on', async (t) => {
    const s = await scripted(t, {
      ehlo: '250-raw.test\r\n250-STARTTLS\r\n250 AUTH PLAIN',
      onCommand: (line) => (line === 'STARTTLS' ? '554 5.7.3 TLS not available' : undefined),
    });
    const c = new SmtpClient({
      host: '127.0.0.1',
      port: s.port,
      auth: { user: 'volley', pass: 's3cret pass' },
    });
    const err = await rejection(c.connect(), SmtpConnectionError);
    assert.equal(err.errorCode, 'ETLS');
    assert.equal(err.stage, 'starttls');
    assert.match(err.message, /554 5\.7\.3 TLS not available/);
    assert.ok(!s.commands.some((l) => l.startsWith('AUTH')), 'no AUTH after the refusal');
  });

  test('implicit TLS (secure: true) from the first byte', async (t) => {
    const c = await client(t, implicitTls.port, {
      secure: true,
      servername: 'mx.test',
      tls: { ca: TLS_CERT },
    });
    assert.equal(c.secure, true);
    const seen = once(implicitTls.events, 'message');
    await c.send(ENVELOPE, RAW);
    const [m] = (await seen) as [{ secure: boolean }];
    assert.equal(m.secure, true);
  });

  test('AUTH PLAIN with the right credentials, after STARTTLS; the session is authenticated', async (t) => {
    const c = await client(t, authServer.port, {
      ...TRUST,
      auth: { user: 'volley', pass: 's3cret pass' },
    });
    assert.equal(c.secure, true);
    const seen = once(authServer.events, 'message');
    await c.send(ENVELOPE, RAW);
    const [m] = (await seen) as [{ user: string | undefined; secure: boolean }];
    assert.equal(m.user, 'volley');
    assert.equal(m.secure, true);
  });

  test('AUTH LOGIN when PLAIN is not offered', async (t) => {
    const c = await client(t, loginOnly.port, {
      ...TRUST,
      auth: { user: 'volley', pass: 's3cret pass' },
    });
    assert.deepEqual([...c.extensions.auth], ['LOGIN']);
    const seen = once(loginOnly.events, 'message');
    await c.send(ENVELOPE, RAW);
    const [m] = (await seen) as [{ user: string | undefined }];
    assert.equal(m.user, 'volley');
  });

  test('wrong credentials are a reply error at the auth stage', async () => {
    const c = new SmtpClient({
      host: '127.0.0.1',
      port: authServer.port,
      ...TRUST,
      auth: { user: 'volley', pass: 'wrong' },
    });
    const err = await rejection(c.connect(), SmtpReplyError);
    assert.equal(err.stage, 'auth');
    assert.equal(err.code, 535);
    assert.doesNotMatch(err.message, /wrong/, 'the password is not in the error');
  });

  test('credentials are never sent over a plaintext session: AUTH offered without STARTTLS fails with ETLS', async (t) => {
    const before = plainAuthAttempts;
    const c = new SmtpClient({
      host: '127.0.0.1',
      port: plainAuth.port,
      auth: { user: 'volley', pass: 's3cret pass' },
    });
    t.after(() => c.close());
    const closed = once(plainAuth.events, 'close');
    const err = await rejection(c.connect(), SmtpConnectionError);
    assert.equal(err.errorCode, 'ETLS');
    assert.match(err.message, /credentials|TLS/);
    assert.doesNotMatch(err.message, /s3cret/, 'the password is not in the error');
    assert.equal(c.usable, false);
    await closed;
    assert.equal(plainAuthAttempts, before, 'the server was never asked to authenticate');
  });

  test('credentials with ignoreTLS are refused before any connection', () => {
    assert.throws(
      () =>
        new SmtpClient({
          host: '127.0.0.1',
          port: plainAuth.port,
          ignoreTLS: true,
          auth: { user: 'volley', pass: 's3cret pass' },
        }),
      (e: unknown) => e instanceof SmtpOptionsError && /ignoreTLS/.test(e.message),
    );
  });
});

describe('volume', () => {
  let sink: Sink;
  before(async () => {
    sink = await startSink();
  });
  after(() => sink.stop());

  test('thousands of messages on one connection leave no listener, waiter or timer behind', async (t) => {
    const c = await client(t, sink.port);
    await c.send(ENVELOPE, RAW);
    const base = c.diagnostics();
    const resources = process.getActiveResourcesInfo().length;
    for (let i = 0; i < 3000; i++) {
      await c.send({ from: ENVELOPE.from, to: `user${i}@example.test` }, RAW);
    }
    assert.deepEqual(c.diagnostics(), base);
    // Handles and timers: sockets of earlier tests may still be closing, so "no more than".
    assert.ok(process.getActiveResourcesInfo().length <= resources);
    assert.equal(c.messagesSent, 3001);
  });

  test('a pool carries a burst of thousands of messages and ends with nothing left open', async () => {
    const pool = new SmtpPool({ host: '127.0.0.1', port: sink.port, maxConnections: 4 });
    const sends: Promise<ServerReply>[] = [];
    for (let i = 0; i < 4000; i++) {
      sends.push(pool.send({ from: ENVELOPE.from, to: `burst${i}@example.test` }, RAW));
    }
    assert.equal(pool.stats().queued, 4000 - 4);
    const replies = await Promise.all(sends);
    assert.ok(replies.every((r) => r.code === 250));
    assert.deepEqual(pool.stats(), { open: 4, opening: 0, idle: 4, busy: 0, queued: 0 });
    await pool.close();
    assert.deepEqual(pool.stats(), { open: 0, opening: 0, idle: 0, busy: 0, queued: 0 });
  });
});
