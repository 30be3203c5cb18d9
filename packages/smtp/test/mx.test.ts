/**
 * Direct-to-MX delivery against real parts on loopback: a DNS stub over UDP that the real
 * resolver queries, and real SMTP servers on 127.0.0.2-127.0.0.8 (Linux routes all of
 * 127.0.0.0/8 to loopback), all on one port because an MX host is always reached on one port.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import {
  startCaptureServer,
  startDnsStub,
  waitUntil,
  type CaptureServer,
  type DnsStub,
  type DnsZone,
} from '@volley/testkit';
import { MxPool, MxResolver, type MxPoolOptions, type MxResolverOptions } from '../src/index.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const IP = {
  a: '127.0.0.2',
  b: '127.0.0.3',
  /** Nothing listens here: connections are refused. */
  refused: '127.0.0.4',
  busy: '127.0.0.5',
  tls: '127.0.0.6',
  badTls: '127.0.0.7',
  counter: '127.0.0.8',
} as const;

const zone: DnsZone = {
  'pref.test': {
    mx: [
      { preference: 20, exchange: 'mx-b.pref.test' },
      { preference: 10, exchange: 'mx-a.pref.test' },
    ],
  },
  'mx-a.pref.test': { a: [IP.a] },
  'mx-b.pref.test': { a: [IP.b] },
  'failover.test': {
    mx: [
      { preference: 10, exchange: 'down.failover.test' },
      { preference: 20, exchange: 'up.failover.test' },
    ],
  },
  'down.failover.test': { a: [IP.refused] },
  'up.failover.test': { a: [IP.b] },
  'dead.test': { mx: [{ preference: 10, exchange: 'down.failover.test' }] },
  // No MX records at all: the A record is the implicit MX.
  'implicit.test': { a: [IP.a] },
  // The A record must not be used: a null MX says the domain takes no mail at all.
  'nullmx.test': { mx: [{ preference: 0, exchange: '.' }], a: [IP.counter] },
  'servfail.test': { rcode: 'SERVFAIL' },
  'timeout.test': { drop: true },
  'dangling.test': { mx: [{ preference: 10, exchange: 'ghost.dangling.test' }] },
  'busy.test': {
    mx: [
      { preference: 10, exchange: 'busy.busy.test' },
      { preference: 20, exchange: 'ok.busy.test' },
    ],
  },
  'busy.busy.test': { a: [IP.busy] },
  'ok.busy.test': { a: [IP.a] },
  'answer.test': {
    mx: [
      { preference: 10, exchange: 'mx-a.pref.test' },
      { preference: 20, exchange: 'mx-b.pref.test' },
    ],
  },
  'cache.test': { mx: [{ preference: 10, exchange: 'mx.cache.test' }] },
  'mx.cache.test': { a: [IP.a], ttl: 30 },
  'shared.test': { mx: [{ preference: 10, exchange: 'mx-a.pref.test' }] },
  'pool.test': { mx: [{ preference: 10, exchange: 'mx-a.pref.test' }] },
  'idle.test': { mx: [{ preference: 10, exchange: 'mx-a.pref.test' }] },
  'tls.test': { mx: [{ preference: 10, exchange: 'mx.tls.test' }] },
  'mx.tls.test': { a: [IP.tls] },
  'badtls.test': { mx: [{ preference: 10, exchange: 'mx.badtls.test' }] },
  'mx.badtls.test': { a: [IP.badTls] },
};

interface TlsSeen {
  to: string;
  secure: boolean;
  servername: string | undefined;
}

let dns: DnsStub;
let port: number;
let mxA: CaptureServer;
let mxB: CaptureServer;
/** Connections the server behind nullmx.test's A record received (it must get none). */
let counterConnections = 0;
/** Sessions the MX that greets with 421 was asked for. */
let busyConnections = 0;
/** Sessions the MX whose TLS handshake always fails was asked for. */
let badTlsConnections = 0;
const tlsSeen: TlsSeen[] = [];
const closers: (() => Promise<void>)[] = [];

function listen(server: SMTPServer | Server, host: string, p: number): Promise<number> {
  const net = server instanceof SMTPServer ? server.server : server;
  return new Promise((resolve, reject) => {
    net.once('error', reject);
    const done = (): void => {
      net.off('error', reject);
      const addr = net.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    };
    if (server instanceof SMTPServer) server.listen(p, host, done);
    else server.listen(p, host, done);
  });
}

function closeSmtp(server: SMTPServer): () => Promise<void> {
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

/** An SMTP server offering STARTTLS that records, per message, whether the session was secure. */
function tlsServer(extra: { sigalgs?: string; onConnected?: () => void } = {}): SMTPServer {
  const { onConnected, ...tls } = extra;
  const server = new SMTPServer({
    key: readFileSync(new URL('mx-test.key', FIXTURES)),
    cert: readFileSync(new URL('mx-test.crt', FIXTURES)),
    ...tls,
    authOptional: true,
    logger: false,
    onConnect(_session, callback) {
      onConnected?.();
      callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      stream.resume();
      stream.on('end', () => {
        for (const r of session.envelope.rcptTo) {
          const servername =
            typeof session.servername === 'string' ? session.servername : undefined;
          tlsSeen.push({ to: r.address, secure: session.secure, servername });
        }
        callback();
      });
    },
  });
  // Failed handshakes are reported here; they are what one of the tests is about.
  server.on('error', () => undefined);
  return server;
}

/** Starts every server on one port, choosing another port if one of the addresses has it taken. */
async function startServers(): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const started: (() => Promise<void>)[] = [];
    try {
      mxA = await startCaptureServer({
        host: IP.a,
        onRecipient: (addr) => {
          if (addr.startsWith('reject-')) return { code: 550, message: '5.1.1 no such user here' };
          if (addr.startsWith('later-')) return { code: 451, message: '4.3.0 try again later' };
          return undefined;
        },
      });
      started.push(() => mxA.close());
      port = mxA.port;
      mxB = await startCaptureServer({ host: IP.b, port });
      started.push(() => mxB.close());

      const busy = new SMTPServer({
        logger: false,
        disabledCommands: ['STARTTLS', 'AUTH'],
        onConnect(_session, callback) {
          busyConnections++;
          const err = new Error('4.7.0 too busy, try another MX') as Error & {
            responseCode: number;
          };
          err.responseCode = 421;
          callback(err);
        },
      });
      busy.on('error', () => undefined);
      await listen(busy, IP.busy, port);
      started.push(closeSmtp(busy));

      const secure = tlsServer();
      await listen(secure, IP.tls, port);
      started.push(closeSmtp(secure));

      // An RSA certificate with only Ed25519 signatures allowed: every handshake fails.
      const broken = tlsServer({ sigalgs: 'ed25519', onConnected: () => badTlsConnections++ });
      await listen(broken, IP.badTls, port);
      started.push(closeSmtp(broken));

      const counter = createServer((socket) => {
        counterConnections++;
        socket.destroy();
      });
      await listen(counter, IP.counter, port);
      started.push(() => new Promise<void>((resolve) => counter.close(() => resolve())));

      closers.push(...started);
      return;
    } catch (e) {
      await Promise.all(started.map((c) => c()));
      if ((e as { code?: string }).code !== 'EADDRINUSE' || attempt >= 4) throw e;
    }
  }
}

before(async () => {
  dns = await startDnsStub(zone);
  closers.push(() => dns.close());
  await startServers();
});

after(async () => {
  await Promise.all(closers.map((c) => c()));
});

function resolverFor(opts: MxResolverOptions = {}): MxResolver {
  return new MxResolver({
    servers: [`127.0.0.1:${dns.port}`],
    // Short, so the "server never answers" case fails fast.
    timeoutMs: 250,
    tries: 1,
    tempFailTtlMs: 0,
    ...opts,
  });
}

function poolFor(t: TestContext, opts: MxPoolOptions = {}): MxPool {
  const pool = new MxPool({
    resolver: resolverFor(),
    port,
    poolSize: 2,
    heloName: 'sender.volley.test',
    connectionTimeoutMs: 5000,
    greetingTimeoutMs: 5000,
    ...opts,
  });
  t.after(() => pool.close());
  return pool;
}

let seq = 0;
function message(to: string): { envelope: { from: string; to: string }; raw: string } {
  seq++;
  return {
    envelope: { from: 'bounces@volley.test', to },
    raw: `From: news@volley.test\r\nTo: ${to}\r\nSubject: mx test ${seq}\r\nMessage-ID: <mx-${seq}@volley.test>\r\n\r\nHello.\r\n`,
  };
}

function received(server: CaptureServer, to: string): number {
  return server.messages.filter((m) => m.to.includes(to)).length;
}

function queriesFor(name: string, type: string): number {
  return dns.queries.filter((q) => q.name === name && q.type === type).length;
}

describe('MX lookup outcomes', () => {
  test('delivers to the MX host with the lowest preference number', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('pref@pref.test'), 'pref.test');
    assert.equal(res.disposition, 'delivered', res.text);
    assert.equal(res.relay, 'mx-a.pref.test');
    assert.equal(received(mxA, 'pref@pref.test'), 1);
    assert.equal(received(mxB, 'pref@pref.test'), 0);
  });

  test('uses the A record as implicit MX when the domain has no MX records', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('implicit@implicit.test'), 'implicit.test');
    assert.equal(res.disposition, 'delivered', res.text);
    assert.equal(res.relay, 'implicit.test');
    assert.equal(received(mxA, 'implicit@implicit.test'), 1);
    assert.ok(queriesFor('implicit.test', 'MX') >= 1 && queriesFor('implicit.test', 'A') >= 1);
  });

  test('bounces a null MX domain at once, without connecting to its A record', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('x@nullmx.test'), 'nullmx.test');
    assert.equal(res.disposition, 'bounced');
    assert.equal(res.reason, 'notaccept');
    assert.equal(res.enhanced, '5.1.10');
    assert.equal(counterConnections, 0);
    assert.equal(queriesFor('nullmx.test', 'A'), 0);
  });

  test('bounces a domain that does not exist (NXDOMAIN) as hostunknown', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('x@nosuch.test'), 'nosuch.test');
    assert.equal(res.disposition, 'bounced');
    assert.equal(res.reason, 'hostunknown');
    assert.equal(res.enhanced, '5.1.2');
  });

  test('bounces a domain whose only MX host has no address as hostunknown', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('x@dangling.test'), 'dangling.test');
    assert.equal(res.disposition, 'bounced');
    assert.equal(res.reason, 'hostunknown');
    assert.match(res.text, /ghost\.dangling\.test/);
  });

  test('defers, never bounces, when DNS answers SERVFAIL or does not answer', async (t) => {
    const pool = poolFor(t);
    const resolver = resolverFor();
    for (const [domain, code] of [
      ['servfail.test', 'ESERVFAIL'],
      ['timeout.test', 'ETIMEOUT'],
    ] as const) {
      const res = await pool.send(message(`x@${domain}`), domain);
      assert.equal(res.disposition, 'deferred', `${domain}: ${res.text}`);
      assert.equal(res.reason, 'networkerror');
      assert.equal(res.enhanced, '4.4.3');
      const lookup = await resolver.resolve(domain);
      assert.equal(lookup.ok ? 'ok' : lookup.failure.errorCode, code);
    }
  });
});

describe('MX host selection', () => {
  test('fails over to the next MX host when the first refuses connections', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('fo@failover.test'), 'failover.test');
    assert.equal(res.disposition, 'delivered', res.text);
    assert.equal(res.relay, 'up.failover.test');
    assert.equal(received(mxB, 'fo@failover.test'), 1);

    // The first host comes back within its rest: while it rests, the next message still goes
    // straight to the second host, and the first is not even connected to.
    let revived = 0;
    const listener = createServer((socket) => {
      revived++;
      socket.destroy();
    });
    await listen(listener, IP.refused, port);
    try {
      const again = await pool.send(message('fo2@failover.test'), 'failover.test');
      assert.equal(again.relay, 'up.failover.test');
      assert.equal(revived, 0, 'the refusing address is left out a while');
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  test('defers without connecting while every MX address of a domain is resting', async (t) => {
    const pool = poolFor(t);
    const first = await pool.send(message('x@dead.test'), 'dead.test');
    assert.equal(first.disposition, 'deferred');
    assert.equal(first.reason, 'networkerror');
    const second = await pool.send(message('y@dead.test'), 'dead.test');
    assert.equal(second.disposition, 'deferred');
    assert.match(second.text, /resting/);
  });

  test('tries the next MX host when the first greets with 421', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('busy@busy.test'), 'busy.test');
    assert.equal(res.disposition, 'delivered', res.text);
    assert.equal(res.relay, 'ok.busy.test');
    assert.equal(received(mxA, 'busy@busy.test'), 1);
    const tried = busyConnections;
    assert.ok(tried >= 1, 'the 421 host was tried first');
    const again = await pool.send(message('busy2@busy.test'), 'busy.test');
    assert.equal(again.relay, 'ok.busy.test');
    assert.equal(busyConnections, tried, 'then left out a while');
  });

  test('takes a 5xx or 4xx reply to RCPT as the answer: no other MX host is tried', async (t) => {
    const pool = poolFor(t);
    const bounced = await pool.send(message('reject-1@answer.test'), 'answer.test');
    assert.equal(bounced.disposition, 'bounced');
    assert.equal(bounced.reason, 'userunknown');
    assert.equal(bounced.code, 550);
    assert.equal(bounced.relay, 'mx-a.pref.test');

    const deferred = await pool.send(message('later-1@answer.test'), 'answer.test');
    assert.equal(deferred.disposition, 'deferred');
    assert.equal(deferred.code, 451);
    assert.equal(received(mxB, 'reject-1@answer.test') + received(mxB, 'later-1@answer.test'), 0);
  });
});

describe('MX cache', () => {
  test('a second send to the same domain makes no new DNS query', async (t) => {
    const pool = poolFor(t);
    assert.equal(
      (await pool.send(message('c1@cache.test'), 'cache.test')).disposition,
      'delivered',
    );
    const mxQueries = queriesFor('cache.test', 'MX');
    const aQueries = queriesFor('mx.cache.test', 'A');
    assert.equal(
      (await pool.send(message('c2@cache.test'), 'cache.test')).disposition,
      'delivered',
    );
    assert.equal(queriesFor('cache.test', 'MX'), mxQueries);
    assert.equal(queriesFor('mx.cache.test', 'A'), aQueries);
  });

  test('addresses expire with their TTL, MX answers with mxTtlMs, NXDOMAIN sooner', async () => {
    let clock = 1_000_000;
    const resolver = resolverFor({
      now: () => clock,
      mxTtlMs: 300_000,
      negativeTtlMs: 60_000,
      minTtlMs: 1000,
    });
    const mx = (): number => queriesFor('cache.test', 'MX');
    const a = (): number => queriesFor('mx.cache.test', 'A');
    const nx = (): number => queriesFor('gone.test', 'MX');

    await resolver.resolve('cache.test');
    await resolver.resolve('gone.test');
    const [mx0, a0, nx0] = [mx(), a(), nx()];

    clock += 31_000; // past the A record's TTL of 30 s only
    const lookup = await resolver.resolve('cache.test');
    assert.ok(lookup.ok);
    assert.deepEqual(lookup.hosts[0]?.addresses, [IP.a]);
    assert.equal(mx(), mx0);
    assert.equal(a(), a0 + 1);
    await resolver.resolve('gone.test');
    assert.equal(nx(), nx0);

    clock += 60_000; // past the negative TTL
    await resolver.resolve('gone.test');
    assert.equal(nx(), nx0 + 1);

    clock += 300_000; // past the MX cache time
    await resolver.resolve('cache.test');
    assert.equal(mx(), mx0 + 1);
  });

  test('concurrent lookups of one domain share one query', async () => {
    const resolver = resolverFor();
    const before = queriesFor('shared.test', 'MX');
    const results = await Promise.all(
      Array.from({ length: 5 }, () => resolver.resolve('shared.test')),
    );
    assert.ok(results.every((r) => r.ok));
    assert.equal(queriesFor('shared.test', 'MX'), before + 1);
  });
});

describe('MX connections', () => {
  test('reuses pooled connections for messages to one host', async (t) => {
    const pool = poolFor(t, { poolSize: 2 });
    const sequential = ['p1', 'p2', 'p3'].map((l) => `${l}@pool.test`);
    for (const to of sequential) {
      assert.equal((await pool.send(message(to), 'pool.test')).disposition, 'delivered');
    }
    const seqSessions = new Set(
      mxA.messages.filter((m) => sequential.includes(m.to[0] ?? '')).map((m) => m.sessionId),
    );
    assert.equal(seqSessions.size, 1, 'one after another, the messages share one session');

    const burst = Array.from({ length: 10 }, (_, i) => `burst${i}@pool.test`);
    const results = await Promise.all(burst.map((to) => pool.send(message(to), 'pool.test')));
    assert.ok(results.every((r) => r.disposition === 'delivered'));
    const burstSessions = new Set(
      mxA.messages.filter((m) => burst.includes(m.to[0] ?? '')).map((m) => m.sessionId),
    );
    assert.ok(burstSessions.size <= 2, `at most poolSize sessions, saw ${burstSessions.size}`);
  });

  test('closes the connections of a destination left idle', async (t) => {
    const pool = poolFor(t, { idleMs: 100 });
    assert.equal((await pool.send(message('i@idle.test'), 'idle.test')).disposition, 'delivered');
    assert.ok(mxA.connections.open >= 1);
    // Earlier tests' pools are closed when they end; this one is not until the test ends.
    await waitUntil(
      () => mxA.connections.open === 0,
      'the idle destination to be closed at the server',
      5000,
    );
  });

  test('upgrades with STARTTLS when offered, despite a self-signed certificate', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('tls@tls.test'), 'tls.test');
    assert.equal(res.disposition, 'delivered', res.text);
    const seen = tlsSeen.find((s) => s.to === 'tls@tls.test');
    assert.ok(seen);
    assert.equal(seen.secure, true);
    assert.equal(seen.servername, 'mx.tls.test', 'SNI names the MX host');
  });

  test('falls back to plaintext when the TLS handshake fails', async (t) => {
    const pool = poolFor(t);
    const res = await pool.send(message('plain@badtls.test'), 'badtls.test');
    assert.equal(res.disposition, 'delivered', res.text);
    assert.equal(tlsSeen.find((s) => s.to === 'plain@badtls.test')?.secure, false);
    const sessions = badTlsConnections;

    // The host is not left out (it is the only MX: a resting host would defer the message),
    // and it keeps getting plaintext: no new session, so no second failing handshake.
    const again = await pool.send(message('plain2@badtls.test'), 'badtls.test');
    assert.equal(again.disposition, 'delivered', again.text);
    assert.equal(tlsSeen.find((s) => s.to === 'plain2@badtls.test')?.secure, false);
    assert.equal(badTlsConnections, sessions, 'the plaintext session was reused');
  });
});
