// The private Postfix relay that end-to-end tests put between Volley and the bounce service:
// it relays what it is given, turns a next hop's 5xx into a real DSN sent to the envelope
// sender's domain, and leaves nothing running once stopped, even when its test process dies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { simpleParser, type Attachment } from 'mailparser';
import nodemailer from 'nodemailer';
import { freePort } from '@volley/redis';
import {
  ROOT,
  TSX_NODE_ARGS,
  loopbackNexthop,
  startCaptureServer,
  startPostfix,
  waitUntil,
  type CaptureServer,
  type CapturedMessage,
  type PostfixInstance,
} from '../src/index.ts';

const VERP = 'bounces+tok3n@bounce.volley.test';

let dest: CaptureServer;
let bounce: CaptureServer;
let pf: PostfixInstance;

before(async () => {
  dest = await startCaptureServer({
    onMessage: notify,
    onRecipient: (addr) =>
      addr.startsWith('nobody@') ? { code: 550, message: '5.1.1 user unknown' } : undefined,
  });
  bounce = await startCaptureServer({ onMessage: notify });
  const t0 = performance.now();
  pf = await startPostfix({
    transport: {
      'bounce.volley.test': loopbackNexthop(bounce.port),
      'dest.test': loopbackNexthop(dest.port),
    },
  });
  console.log(`# startPostfix: ${Math.round(performance.now() - t0)} ms`);
});

after(async () => {
  const t0 = performance.now();
  await pf?.stop();
  console.log(`# stop: ${Math.round(performance.now() - t0)} ms`);
  await Promise.all([dest?.close(), bounce?.close()]);
});

async function submit(from: string, to: string, raw: string, via = pf): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: via.port,
    secure: false,
    ignoreTLS: true,
  });
  try {
    await transport.sendMail({ envelope: { from, to: [to] }, raw });
  } finally {
    transport.close();
  }
}

const waiters: { rcpt: string; resolve: (m: CapturedMessage) => void }[] = [];
function notify(m: CapturedMessage): void {
  for (const w of waiters.filter((w) => m.to.includes(w.rcpt))) w.resolve(m);
}

/** The message for `rcpt` that `server` received or will receive; fails with Postfix's log. */
function arrival(
  server: CaptureServer,
  rcpt: string,
  timeoutMs = 30_000,
): Promise<CapturedMessage> {
  const done = server.messages.find((m) => m.to.includes(rcpt));
  if (done) return Promise.resolve(done);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no message for ${rcpt} within ${timeoutMs} ms\n${pf.logTail(30)}`));
    }, timeoutMs);
    waiters.push({
      rcpt,
      resolve: (m) => {
        clearTimeout(timer);
        resolve(m);
      },
    });
  });
}

function lines(...l: string[]): string {
  return l.join('\r\n') + '\r\n';
}

describe('a private Postfix relay', () => {
  test('relays each message to the server its recipient domain maps to, adding only a Received header', async () => {
    const plain = lines(
      'From: News <news@sender.example>',
      'To: ada@dest.test',
      'Subject: relayed',
      'Message-ID: <relay-1@sender.example>',
      'Date: Sat, 06 Dec 2025 10:00:00 +0000',
      '',
      'plain body',
    );
    // The hand-made reports the end-to-end test relays to the bounce service: a feedback-loop
    // report (RFC 5965) from a mailbox provider, and a mailto unsubscribe from a recipient.
    const arf = lines(
      'From: Feedback Loop <fbl@mailbox.example>',
      'To: fbl@bounce.volley.test',
      'Subject: FW: complaint',
      'Message-ID: <arf-1@mailbox.example>',
      'Date: Sat, 06 Dec 2025 10:00:01 +0000',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'This is an abuse report.',
      '--b1',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'User-Agent: MailboxProvider/1.0',
      'Version: 1',
      'Original-Rcpt-To: ada@dest.test',
      '',
      '--b1',
      'Content-Type: text/rfc822-headers',
      '',
      `Return-Path: <${VERP}>`,
      'Message-ID: <relay-1@sender.example>',
      '',
      '--b1--',
    );
    const unsubscribe = lines(
      'From: ada@dest.test',
      'To: unsubscribe+t0ken@bounce.volley.test',
      'Subject: unsubscribe',
      'Message-ID: <unsub-1@dest.test>',
      'Date: Sat, 06 Dec 2025 10:00:02 +0000',
      '',
      'unsubscribe',
    );
    await submit(VERP, 'ada@dest.test', plain);
    await submit('fbl-sender@mailbox.example', 'fbl@bounce.volley.test', arf);
    await submit('ada@dest.test', 'unsubscribe+t0ken@bounce.volley.test', unsubscribe);

    const cases = [
      { server: dest, from: VERP, to: 'ada@dest.test', raw: plain },
      {
        server: bounce,
        from: 'fbl-sender@mailbox.example',
        to: 'fbl@bounce.volley.test',
        raw: arf,
      },
      {
        server: bounce,
        from: 'ada@dest.test',
        to: 'unsubscribe+t0ken@bounce.volley.test',
        raw: unsubscribe,
      },
    ];
    for (const c of cases) {
      const m = await arrival(c.server, c.to);
      assert.equal(m.from, c.from, 'the envelope sender is kept');
      assert.deepEqual(m.to, [c.to]);
      const text = m.raw.toString('utf8');
      assert.ok(text.endsWith(c.raw), `${c.to}: the message arrives as submitted:\n${text}`);
      const added = text.slice(0, text.length - c.raw.length);
      assert.match(
        added,
        /^Received: from [^\r\n]*\r\n\tby mta\.volley\.test \(Postfix\) with ESMTP id /,
      );
      assert.equal(added.match(/^\S/gm)?.length, 1, `only one header is added:\n${added}`);
    }
  });

  test("turns the next hop's 550 5.1.1 into a DSN delivered to the VERP sender's domain", async () => {
    const original = lines(
      'From: News <news@sender.example>',
      'To: nobody@dest.test',
      'Subject: will bounce',
      'Message-ID: <bounce-1@sender.example>',
      'Date: Sat, 06 Dec 2025 10:00:03 +0000',
      '',
      'body',
    );
    const sent = Date.now();
    await submit(VERP, 'nobody@dest.test', original);
    const dsn = await arrival(bounce, VERP);
    console.log(`# DSN arrived ${dsn.receivedAt - sent} ms after submission`);
    assert.equal(dsn.from, '', 'a DSN has the null return path');
    assert.ok(!dest.messages.some((m) => m.to.includes('nobody@dest.test')));

    // As attachments, so each part of the report can be judged on its own.
    const parsed = await simpleParser(dsn.raw, { keepDeliveryStatus: true });
    const type = parsed.headers.get('content-type') as {
      value: string;
      params: Record<string, string>;
    };
    assert.equal(type.value, 'multipart/report');
    assert.equal(type.params['report-type'], 'delivery-status');
    assert.match(parsed.from?.text ?? '', /MAILER-DAEMON@mta\.volley\.test/);

    const part = (t: string): Attachment | undefined =>
      parsed.attachments.find((a) => a.contentType === t);
    const status = part('message/delivery-status')?.content.toString('utf8') ?? '';
    assert.match(status, /^Final-Recipient: rfc822; ?nobody@dest\.test$/im);
    assert.match(status, /^Action: failed$/im);
    assert.match(status, /^Status: 5\.1\.1$/im);
    assert.match(status, /^Diagnostic-Code: smtp; ?550 5\.1\.1 user unknown$/im);
    const returned = part('message/rfc822')?.content.toString('utf8') ?? '';
    assert.match(
      returned,
      /^Message-ID: <bounce-1@sender\.example>$/im,
      'the original headers come back',
    );
    assert.match(returned, /^Subject: will bounce$/im);
    assert.ok(returned.endsWith('\r\nbody\r\n'), 'and its body (it is small)');

    // Nothing is left queued: the original is returned, the DSN delivered.
    await waitUntil(async () => (await pf.queue()).length === 0, 'an empty queue', 10_000, 50);
  });
});

describe('settings of the test', () => {
  test('a next hop that refuses connections: one attempt, then a DSN, with the queue lifetime at 0', async () => {
    const dead = await freePort();
    const own = await startPostfix({
      transport: {
        'bounce.volley.test': loopbackNexthop(bounce.port),
        'dead.test': loopbackNexthop(dead),
      },
      mainCf: { maximal_queue_lifetime: '0', bounce_queue_lifetime: '0' },
    });
    try {
      await submit(
        'bounces+expire@bounce.volley.test',
        'ada@dead.test',
        lines('Subject: s', '', 'b'),
        own,
      );
      const dsn = await arrival(bounce, 'bounces+expire@bounce.volley.test');
      const parsed = await simpleParser(dsn.raw, { keepDeliveryStatus: true });
      const status = parsed.attachments.find((a) => a.contentType === 'message/delivery-status');
      const text = status?.content.toString('utf8') ?? '';
      assert.match(text, /^Final-Recipient: rfc822; ?ada@dead\.test$/im);
      assert.match(text, /^Status: 4\.4\.1$/im);
      assert.match(text, /^Action: failed$/im);
    } finally {
      await own.stop();
    }
  });
});

describe('stopping', () => {
  test('leaves no process of the instance, its port closed and its folder gone', async () => {
    const t0 = performance.now();
    const own = await startPostfix({ transport: { 'dest.test': loopbackNexthop(dest.port) } });
    const started = performance.now();
    const procs = own.processes();
    assert.ok(procs.includes(own.pid), 'the master is one of its processes');
    assert.ok(procs.length >= 2, `the master and its daemons run: ${procs.join(' ')}`);
    await own.stop();
    console.log(
      `# own instance: start ${Math.round(started - t0)} ms, stop ${Math.round(performance.now() - started)} ms`,
    );
    assert.deepEqual(own.processes(), []);
    assert.ok(!alive(own.pid), `master ${own.pid} is gone`);
    assert.ok(!existsSync(own.dir));
    await assert.rejects(connectTo(own.port), /ECONNREFUSED/);
    await own.stop(); // a second stop is harmless
  });

  test('a test process killed outright leaves no master behind', async () => {
    // A child test process starts an instance, reports it, and is killed with SIGKILL: no
    // `after` runs, so only the watchdog can clean up.
    const script = [
      "import { startPostfix, loopbackNexthop } from '@volley/testkit';",
      `const pf = await startPostfix({ transport: { 'dest.test': loopbackNexthop(${dest.port}) } });`,
      'console.log(JSON.stringify({ pid: pf.pid, dir: pf.dir, port: pf.port }));',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const { child, line } = await runScript(script);
    const info = JSON.parse(line) as { pid: number; dir: string; port: number };
    assert.ok(alive(info.pid), 'the child started a master');
    child.kill('SIGKILL');
    await waitUntil(() => !alive(info.pid), `master ${info.pid} to stop`, 20_000, 20);
    await waitUntil(() => !existsSync(info.dir), `${info.dir} to be removed`, 20_000, 20);
    await assert.rejects(connectTo(info.port), /ECONNREFUSED/);
  });
});

describe('refusals', () => {
  test('a user other than root is told that Postfix needs root', async () => {
    const script = [
      "import { startPostfix, loopbackNexthop } from '@volley/testkit';",
      `await startPostfix({ transport: { 'dest.test': loopbackNexthop(${dest.port}) } }).then(`,
      "  () => console.log('started'),",
      '  (err) => console.log(JSON.stringify({ code: err.code, message: err.message })),',
      ');',
    ].join('\n');
    // nobody: any unprivileged user will do.
    const { line } = await runScript(script, 65534);
    const answer = JSON.parse(line) as { code: string; message: string };
    assert.equal(answer.code, 'POSTFIX_NEEDS_ROOT');
    assert.match(answer.message, /needs root/);
  });

  test("a setting Postfix refuses fails the start with Postfix's own words, and leaves nothing", async () => {
    const err = await startPostfix({
      transport: { 'dest.test': loopbackNexthop(dest.port) },
      mainCf: { inet_interfaces: '192.0.2.1' },
    }).then(
      () => assert.fail('started with an address this machine does not have'),
      (e: unknown) => e as Error & { code?: string },
    );
    assert.equal(err.code, 'POSTFIX_START_FAILED');
    assert.match(err.message, /no local interface found for 192\.0\.2\.1/);
    const dir = /--- postfix -c (\S+)\/etc ---/.exec(err.message)?.[1] ?? '';
    assert.match(dir, /volley-postfix-/);
    assert.ok(!existsSync(dir), `${dir} is removed`);
  });

  test('bad options are refused with an error that names them', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /at least one domain/],
      [{ 'dest.test': 'smtp:mx.dest.test' }, /literal loopback/],
      [{ 'dest.test': 'smtp:[192.0.2.1]:2525' }, /literal loopback/],
      [{ 'dest.test': 'smtp:[127.0.0.1]:25' }, /port of the test's own server/],
      [{ 'dest.test': 'smtp:[127.0.0.1]' }, /literal loopback/],
      [{ 'dest test': loopbackNexthop(2525) }, /not a domain name/],
      [{ 'dest.test': 'local:' }, /literal loopback/],
    ];
    for (const [transport, message] of cases) {
      await assert.rejects(startPostfix({ transport }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'POSTFIX_BAD_OPTION');
        assert.match(err.message, message);
        return true;
      });
    }
    await assert.rejects(
      startPostfix({ transport: { 'dest.test': loopbackNexthop(2525) }, myhostname: 'mta' }),
      { code: 'POSTFIX_BAD_OPTION', message: /myhostname: "mta" is not a fully qualified/ },
    );
    const badSettings: Record<string, string>[] = [
      { 'x\ny': '1' },
      { smtpd_banner: 'a\nrelayhost = x' },
    ];
    for (const mainCf of badSettings) {
      await assert.rejects(
        startPostfix({ transport: { 'dest.test': loopbackNexthop(2525) }, mainCf }),
        { code: 'POSTFIX_BAD_OPTION' },
      );
    }
  });
});

/** Runs an ES module in a new Node process (as user `uid`); resolves with its first line. */
async function runScript(
  script: string,
  uid?: number,
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [...TSX_NODE_ARGS, '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) without a line`)));
  });
  return { child, line };
}

/** Whether a process runs (a zombie, dead but not yet reaped by init, does not). */
function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

function connectTo(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve();
    });
    s.once('error', reject);
  });
}
