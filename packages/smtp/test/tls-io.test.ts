/**
 * The TLS side of the client's socket. Replies as a server that writes each reply on its own
 * sends them (smtp-server does): one TLS record each, several records arriving in one read,
 * each handed to the client as a 'data' event of its own; the client must read exactly what
 * the server sent, and a 421 that arrives with the end of the connection is the answer, not a
 * lost connection. And the TLS contexts connections share (one per CA and minimum version):
 * sharing must never lend one client's trust or version floor to another.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { SmtpClient } from '../src/client.ts';
import { SmtpConnectionError, SmtpReplyError as ReplyError } from '../src/errors.ts';
import { TLS_CERT, TLS_KEY, startSmtpServer } from './fixtures/servers.ts';

/**
 * The server's side of the TCP connection under its TLS session: while `hold` is set, the
 * ciphertext of every record written is kept, and `release` sends it in one TCP write.
 */
class HeldLink extends Duplex {
  hold = false;
  private held: Buffer[] = [];

  constructor(private readonly tcp: Socket) {
    super();
    tcp.on('data', (c: Buffer) => this.push(c));
    tcp.on('end', () => this.push(null));
    tcp.on('error', () => this.destroy());
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error) => void): void {
    if (this.hold) this.held.push(chunk);
    else this.tcp.write(chunk);
    cb();
  }

  override _final(cb: (err?: Error) => void): void {
    this.release();
    this.tcp.end();
    cb();
  }

  release(): void {
    this.hold = false;
    if (this.held.length > 0) this.tcp.write(Buffer.concat(this.held));
    this.held = [];
  }
}

/** Writes each reply as a record of its own (one write per turn of the event loop), held. */
async function records(tls: TLSSocket, link: HeldLink, replies: string[]): Promise<void> {
  link.hold = true;
  for (const r of replies) {
    tls.write(`${r}\r\n`);
    // A write while the previous one is in flight would join it in one record.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

interface Scripted {
  port: number;
  /** What the server does once the end of data arrives, given the session. */
  server: Server;
}

/** Implicit TLS; the replies to MAIL, RCPT and DATA, and to the end of data, as `onEnd` says. */
async function startServer(
  onEnd: (tls: TLSSocket, link: HeldLink) => Promise<void>,
): Promise<Scripted> {
  const server = createServer((tcp) => {
    tcp.on('error', () => undefined);
    const link = new HeldLink(tcp);
    const tls = new TLSSocket(link, { isServer: true, key: TLS_KEY, cert: TLS_CERT });
    tls.on('error', () => undefined);
    let text = '';
    let inData = false;
    tls.on('secure', () => tls.write('220 mx.test ESMTP\r\n'));
    tls.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      void (async () => {
        if (inData) {
          if (!text.endsWith('\r\n.\r\n')) return;
          text = '';
          inData = false;
          await onEnd(tls, link);
          return;
        }
        if (/^EHLO .*\r\n$/.test(text)) {
          text = '';
          tls.write('250-mx.test\r\n250 PIPELINING\r\n');
        } else if (/^MAIL .*\r\nRCPT .*\r\nDATA\r\n$/.test(text)) {
          text = '';
          inData = true;
          await records(tls, link, ['250 2.1.0 sender ok', '250 2.1.5 rcpt ok', '354 go ahead']);
          link.release();
        }
      })();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, server };
}

const ENVELOPE = { from: 'bounces@volley.test', to: 'rcpt@example.test' };
const RAW = 'From: news@volley.test\r\nTo: rcpt@example.test\r\nSubject: hi\r\n\r\nHello.\r\n';

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup) f();
  cleanup = [];
});

async function connect(port: number): Promise<SmtpClient> {
  const c = new SmtpClient({
    host: '127.0.0.1',
    port,
    secure: true,
    servername: 'mx.test',
    tls: { ca: TLS_CERT },
    name: 'sender.volley.test',
  });
  cleanup.push(() => c.close());
  await c.connect();
  return c;
}

describe('replies in several TLS records of one read', () => {
  test('each reply of a pipelined group in a record of its own, all in one read: every reply read as sent', async () => {
    const s = await startServer(async (tls, link) => {
      await records(tls, link, ['250 2.0.0 queued as ABC123']);
      link.release();
    });
    cleanup.push(() => s.server.close());
    const c = await connect(s.port);
    const reply = await c.send(ENVELOPE, RAW);
    assert.deepEqual(reply, { code: 250, text: '250 2.0.0 queued as ABC123', enhanced: '2.0.0' });
    // The next transaction on the same connection lines up with its own replies.
    const again = await c.send(ENVELOPE, RAW);
    assert.equal(again.text, '250 2.0.0 queued as ABC123');
  });

  test('a 421 that arrives in the same read as the end of the connection is the answer', async () => {
    const s = await startServer(async (tls, link) => {
      await records(tls, link, ['421 4.3.2 shutting down']);
      tls.end();
    });
    cleanup.push(() => s.server.close());
    const c = await connect(s.port);
    await assert.rejects(c.send(ENVELOPE, RAW), (e: unknown) => {
      assert.ok(e instanceof ReplyError, String(e));
      assert.equal(e.code, 421);
      assert.equal(e.text, '421 4.3.2 shutting down');
      return true;
    });
  });
});

describe('TLS contexts shared between connections', () => {
  /** STARTTLS with the test certificate (CN=mx.test); `maxVersion` caps what it offers. */
  async function server(maxVersion?: 'TLSv1.2'): Promise<number> {
    const s = await startSmtpServer({
      key: TLS_KEY,
      cert: TLS_CERT,
      disabledCommands: ['AUTH'],
      ...(maxVersion ? { maxVersion } : {}),
    });
    cleanup.push(() => void s.close());
    return s.port;
  }

  async function outcome(port: number, tls: { ca?: Buffer; minVersion?: 'TLSv1.3' }) {
    const c = new SmtpClient({ host: '127.0.0.1', port, servername: 'mx.test', tls });
    cleanup.push(() => c.close());
    try {
      await c.connect();
      return c.secure ? 'secure' : 'plain';
    } catch (e) {
      assert.ok(e instanceof SmtpConnectionError, String(e));
      return e.errorCode;
    }
  }

  test('a client without the CA is refused after, and between, clients that trust it', async () => {
    const port = await server();
    const trusted = { ca: TLS_CERT };
    assert.equal(await outcome(port, trusted), 'secure');
    assert.equal(await outcome(port, {}), 'ETLS');
    // The same CA given again, as another object: trusted all the same.
    assert.equal(await outcome(port, { ca: Buffer.from(TLS_CERT) }), 'secure');
    assert.equal(await outcome(port, trusted), 'secure');
    assert.equal(await outcome(port, {}), 'ETLS');
  });

  test('the next connection to a server resumes the TLS session, still verified', async () => {
    const reused: boolean[] = [];
    const s = await startSmtpServer({
      key: TLS_KEY,
      cert: TLS_CERT,
      disabledCommands: ['AUTH'],
      onSecure(socket, _session, callback) {
        reused.push(socket instanceof TLSSocket && socket.isSessionReused());
        callback();
      },
    });
    cleanup.push(() => void s.close());
    const ca = Buffer.from(TLS_CERT);
    for (let i = 0; i < 3; i++) {
      const c = new SmtpClient({
        host: '127.0.0.1',
        port: s.port,
        servername: 'mx.test',
        tls: { ca },
      });
      await c.connect();
      assert.equal(c.secure, true);
      await c.quit();
    }
    assert.deepEqual(reused, [false, true, true]);
    // Another client's trust is its own: without the CA, no session of those is resumed.
    assert.equal(await outcome(s.port, {}), 'ETLS');
  });

  test('a client that asks for TLS 1.3 is refused by a TLS 1.2 server; one with the default floor is not', async () => {
    const port = await server('TLSv1.2');
    assert.equal(await outcome(port, { ca: TLS_CERT }), 'secure');
    assert.equal(await outcome(port, { ca: TLS_CERT, minVersion: 'TLSv1.3' }), 'ETLS');
    assert.equal(await outcome(port, { ca: TLS_CERT }), 'secure');
  });
});
