// The sink of `npm run bench -- --tls` (benchmarks/lib/tls-sink.ts, run as its own process as
// the benchmark runs it): with the run's certificate it offers STARTTLS, Volley's RelayPool
// negotiates it when given the certificate as `?ca=FILE`, and the sink's counts show that, which
// is what the benchmark's encryption check reads; without a certificate it offers plain SMTP only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRelays } from '@volley/config';
import { RelayPool } from '@volley/smtp';
import {
  makeSinkCertificate,
  relayQuery,
  startNodeSink,
  type NodeSink,
  type SinkTls,
} from '../lib/sink.ts';

let dir: string;
let tls: SinkTls;
let tlsSink: NodeSink;
let plainSink: NodeSink;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'volley-tls-sink-'));
  tls = makeSinkCertificate(dir);
  [tlsSink, plainSink] = await Promise.all([startNodeSink(tls), startNodeSink()]);
});
after(async () => {
  await Promise.all([tlsSink, plainSink].map((s) => s?.proc.stop('SIGTERM', 2000)));
  rmSync(dir, { recursive: true, force: true });
});

/** The extensions a server lists in its reply to EHLO, read over a raw socket. */
async function ehloExtensions(port: number): Promise<string[]> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let text = '';
  let sentEhlo = false;
  try {
    for await (const chunk of socket) {
      text += chunk as string;
      if (!sentEhlo && /^220 .*\r\n/m.test(text)) {
        sentEhlo = true;
        text = '';
        socket.write('EHLO probe.bench.example\r\n');
      } else if (sentEhlo && /^250 .*\r\n/m.test(text)) {
        break;
      }
    }
  } finally {
    socket.destroy();
  }
  // Every line but the first (the greeting of the EHLO reply) names one extension.
  return text
    .split('\r\n')
    .filter((l) => /^250[- ]/.test(l))
    .slice(1)
    .map((l) => l.slice(4).split(' ')[0] ?? '');
}

/** Reads chunks ('data' events: over TLS one record each) until `done` matches all read so far. */
async function chunksUntil(socket: Socket, done: RegExp): Promise<string[]> {
  const chunks: string[] = [];
  const onData = (c: Buffer): void => void chunks.push(c.toString('latin1'));
  socket.on('data', onData);
  try {
    while (!done.test(chunks.join(''))) {
      await Promise.race([
        once(socket, 'data'),
        once(socket, 'close').then(() => {
          throw new Error(`closed after ${JSON.stringify(chunks)}`);
        }),
      ]);
    }
  } finally {
    socket.off('data', onData);
  }
  return chunks;
}

/**
 * A session to `port` up to EHLO (over TLS after STARTTLS with `ca`), then MAIL, RCPT and DATA
 * in one write: the chunks in which the replies to that group arrived.
 */
async function pipelinedGroup(port: number, ca?: Buffer): Promise<string[]> {
  let socket: Socket = connect(port, '127.0.0.1');
  try {
    await chunksUntil(socket, /^220 .*\r\n/m);
    socket.write('EHLO probe.bench.example\r\n');
    await chunksUntil(socket, /^250 .*\r\n/m);
    if (ca) {
      socket.write('STARTTLS\r\n');
      await chunksUntil(socket, /^220 .*\r\n/m);
      const secure = tlsConnect({ socket, ca, servername: undefined, host: '127.0.0.1' });
      await once(secure, 'secureConnect');
      socket = secure;
      socket.write('EHLO probe.bench.example\r\n');
      await chunksUntil(socket, /^250 .*\r\n/m);
    }
    socket.write(
      'MAIL FROM:<news@sender.bench.example>\r\nRCPT TO:<ada@d001.bench.example>\r\nDATA\r\n',
    );
    return await chunksUntil(socket, /^354 .*\r\n/m);
  } finally {
    socket.destroy();
  }
}

async function sendOne(port: number, query: string): Promise<string> {
  const problems: string[] = [];
  const targets = parseRelays(`smtp://127.0.0.1:${port}${query}`, problems);
  assert.deepEqual(problems, []);
  const pool = new RelayPool(targets, { poolSize: 1 });
  try {
    const r = await pool.send({
      envelope: { from: 'news@sender.bench.example', to: 'ada@d001.bench.example' },
      raw: 'From: news@sender.bench.example\r\nTo: ada@d001.bench.example\r\nSubject: tls\r\n\r\nhi\r\n',
    });
    return `${r.disposition} ${r.text}`;
  } finally {
    pool.close();
  }
}

describe('the TLS benchmark sink', () => {
  test('with the run certificate it offers STARTTLS; without one it does not', async () => {
    assert.ok((await ehloExtensions(tlsSink.port)).includes('STARTTLS'));
    const plain = await ehloExtensions(plainSink.port);
    assert.ok(plain.includes('PIPELINING'), plain.join(' '));
    assert.ok(!plain.includes('STARTTLS'), plain.join(' '));
  });

  test("a RelayPool given the run's CA negotiates TLS, and the sink counts the message as encrypted", async () => {
    const before = await tlsSink.stats();
    const reply = await sendOne(tlsSink.port, relayQuery({ kind: 'smtp-server', tls }));
    assert.match(reply, /^delivered /);
    const now = await tlsSink.stats();
    assert.equal(now.messages - before.messages, 1);
    assert.equal(now.tlsMessages - before.tlsMessages, 1);
    assert.ok(now.tlsSessions > before.tlsSessions);
    assert.ok(
      Object.keys(now.ciphers).some((c) => /^TLSv1\.[23] /.test(c)),
      JSON.stringify(now),
    );
  });

  test('the plain sink takes the same message in plaintext and counts no TLS', async () => {
    const before = await plainSink.stats();
    assert.equal(relayQuery({ kind: 'smtp-server' }), '');
    const reply = await sendOne(plainSink.port, '');
    assert.match(reply, /^delivered /);
    const now = await plainSink.stats();
    assert.equal(now.messages - before.messages, 1);
    assert.equal(now.tlsMessages, 0);
    assert.equal(now.tlsSessions, 0);
    assert.ok(now.sessions > before.sessions);
  });

  test('the replies to a pipelined group leave in one write, over TLS in one record, as Postfix sends them', async () => {
    for (const [name, chunks] of [
      ['plain', await pipelinedGroup(plainSink.port)],
      ['STARTTLS', await pipelinedGroup(tlsSink.port, readFileSync(tls.certPath))],
    ] as const) {
      assert.equal(chunks.length, 1, `${name}: ${JSON.stringify(chunks)}`);
      assert.match(chunks[0] ?? '', /^250 .*\r\n250 .*\r\n354 .*\r\n$/, name);
    }
  });

  test('a RelayPool without the CA refuses the certificate: nothing reaches the sink in the clear', async () => {
    const before = await tlsSink.stats();
    const reply = await sendOne(tlsSink.port, '');
    assert.match(reply, /^deferred .*certificate/i);
    const now = await tlsSink.stats();
    assert.equal(now.messages, before.messages);
  });
});
