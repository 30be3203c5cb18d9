/**
 * SmtpPool against real servers on loopback: reuse, caps, reconnects, idle close, shared
 * connection slots, and what happens to queued sends when connections fail.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { parseRelays } from '@volley/config';
import { SmtpConnectionError, SmtpReplyError } from '../src/errors.ts';
import type { ServerReply } from '../src/reply-parser.ts';
import { SmtpPool, type SlotLease, type SmtpPoolOptions } from '../src/pool.ts';
import { RelayPool } from '../src/relay-pool.ts';
import { waitUntil } from '@volley/testkit';
import {
  startScriptedServer,
  startSmtpServer,
  type ScriptedOptions,
  type ScriptedServer,
  type TestSmtpServer,
} from './fixtures/servers.ts';

const RAW = 'From: news@volley.test\r\nSubject: pool\r\n\r\nHello.\r\n';

function env(to: string): { from: string; to: string } {
  return { from: 'bounces@volley.test', to };
}

function poolFor(t: TestContext, port: number, opts: Partial<SmtpPoolOptions> = {}): SmtpPool {
  const pool = new SmtpPool({ host: '127.0.0.1', port, name: 'sender.volley.test', ...opts });
  t.after(() => pool.close());
  return pool;
}

async function scripted(t: TestContext, opts: ScriptedOptions = {}): Promise<ScriptedServer> {
  const s = await startScriptedServer(opts);
  t.after(() => s.close());
  return s;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

/** Sessions (by smtp-server id) that carried messages to these recipients. */
function sessionsOf(server: TestSmtpServer, prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of server.messages) {
    if (!m.to[0]?.startsWith(prefix)) continue;
    out.set(m.sessionId, (out.get(m.sessionId) ?? 0) + 1);
  }
  return out;
}

let server: TestSmtpServer;
before(async () => {
  server = await startSmtpServer({
    rejectRcpt: (a) =>
      a.startsWith('nobody') ? { code: 550, message: '5.1.1 no such user' } : undefined,
  });
});
after(() => server.close());

describe('connection reuse and caps', () => {
  test('messages one after another share one connection', async (t) => {
    const pool = poolFor(t, server.port);
    for (let i = 0; i < 5; i++) await pool.send(env(`seq${i}@x.test`), RAW);
    assert.equal(sessionsOf(server, 'seq').size, 1);
    assert.deepEqual(pool.stats(), { open: 1, opening: 0, idle: 1, busy: 0, queued: 0 });
  });

  test('a burst never opens more than maxConnections; the rest wait their turn', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const pool = poolFor(t, s.port, { maxConnections: 3 });
    const sends = Array.from({ length: 60 }, (_, i) => pool.send(env(`burst${i}@x.test`), RAW));
    assert.deepEqual(pool.stats(), { open: 0, opening: 3, idle: 0, busy: 0, queued: 57 });
    const replies = await Promise.all(sends);
    assert.ok(replies.every((r) => r.code === 250));
    assert.equal(s.peak, 3);
    assert.equal(s.connects, 3);
    assert.equal(s.messages.length, 60);
  });

  test('after maxMessagesPerConnection a connection says QUIT and a new one is opened', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const pool = poolFor(t, s.port, { maxConnections: 1, maxMessagesPerConnection: 4 });
    for (let i = 0; i < 10; i++) await pool.send(env(`max${i}@x.test`), RAW);
    assert.deepEqual([...sessionsOf(s, 'max').values()], [4, 4, 2]);
    assert.equal(s.connects, 3);
  });

  test('an idle connection is closed after idleTimeoutMs', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const pool = poolFor(t, s.port, { idleTimeoutMs: 100 });
    await pool.send(env('idle@x.test'), RAW);
    assert.equal(pool.stats().idle, 1);
    await once(s.events, 'close');
    assert.equal(pool.stats().open, 0);
    // The next message opens a fresh connection.
    await pool.send(env('idle2@x.test'), RAW);
    assert.equal(s.connects, 2);
  });

  test('a refused message resets the transaction; the connection carries the next one', async (t) => {
    const pool = poolFor(t, server.port);
    const err = await rejection(pool.send(env('nobody-pool@x.test'), RAW));
    assert.ok(err instanceof SmtpReplyError);
    assert.equal(err.code, 550);
    assert.equal((await pool.send(env('after-reject@x.test'), RAW)).code, 250);
    assert.deepEqual(pool.stats(), { open: 1, opening: 0, idle: 1, busy: 0, queued: 0 });
  });
  test('a message given as a builder is built only once its connection is taken', async (t) => {
    const pool = poolFor(t, server.port, { maxConnections: 1 });
    const built: string[] = [];
    /** Sends still waiting for the connection when each message was built. */
    const waiting: number[] = [];
    const replies = await Promise.all(
      ['lazy0', 'lazy1', 'lazy2'].map((name) =>
        pool.send(env(`${name}@x.test`), () => {
          built.push(name);
          waiting.push(pool.stats().queued);
          return RAW;
        }),
      ),
    );
    assert.deepEqual(
      replies.map((r) => r.code),
      [250, 250, 250],
    );
    assert.deepEqual(built, ['lazy0', 'lazy1', 'lazy2']);
    // Built one at a time as the connection came to each: the others were waiting unbuilt.
    assert.deepEqual(waiting, [2, 1, 0]);
  });

  test('a builder that throws sends nothing: the send fails with its error, the connection carries on', async (t) => {
    const s = await scripted(t);
    const pool = poolFor(t, s.port, { maxConnections: 1 });
    const boom = new Error('template failed');
    const err = await rejection(
      pool.send(env('broken@x.test'), () => {
        throw boom;
      }),
    );
    assert.equal(err, boom);
    assert.equal((await pool.send(env('fine@x.test'), RAW)).code, 250);
    assert.equal(s.connections, 1);
    assert.ok(!s.commands.some((c) => c.includes('broken@x.test')), s.commands.join(' | '));
    assert.deepEqual(pool.stats(), { open: 1, opening: 0, idle: 1, busy: 0, queued: 0 });
  });
  test("a waiting message's commands leave with the previous message's body (RFC 2920)", async (t) => {
    const s = await scripted(t);
    const pool = poolFor(t, s.port, { maxConnections: 1 });
    const replies = await Promise.all(
      ['p0', 'p1', 'p2'].map((name) => pool.send(env(`${name}@x.test`), RAW)),
    );
    assert.deepEqual(
      replies.map((r) => r.code),
      [250, 250, 250],
    );
    assert.equal(s.connections, 1);
    assert.equal(s.messages.length, 3);
    // The end of data of one message and the envelope of the next arrived in one read.
    for (const next of ['p1', 'p2']) {
      assert.ok(
        s.chunks.some((c) => c.includes('\r\n.\r\nMAIL FROM:') && c.includes(`<${next}@x.test>`)),
        `${next}: ${JSON.stringify(s.chunks)}`,
      );
    }
    assert.deepEqual(pool.stats(), { open: 1, opening: 0, idle: 1, busy: 0, queued: 0 });
  });
});

describe('failures', () => {
  test('a message pipelined behind one lost after its end of data was not sent: it goes out again, once', async (t) => {
    const s = await scripted(t, { onMessage: (_b, c) => (c.index === 0 ? 'drop' : undefined) });
    const pool = poolFor(t, s.port, { maxConnections: 1 });
    const [first, second] = await Promise.allSettled([
      pool.send(env('lost@x.test'), RAW),
      pool.send(env('behind@x.test'), RAW),
    ]);
    assert.equal(first.status, 'rejected');
    assert.ok(first.reason instanceof SmtpConnectionError);
    assert.equal(first.reason.maybeAccepted, true, 'dropped after its end of data');
    assert.equal(second.status, 'fulfilled');
    assert.equal(second.value.code, 250);
    // It was pipelined on the lost connection (its envelope came with the first body), and
    // delivered on the second one only.
    assert.ok(s.chunks.some((c) => c.includes('\r\n.\r\n') && c.includes('<behind@x.test>')));
    assert.equal(s.connections, 2);
    assert.equal(s.messages.length, 2);
  });

  test('a message pipelined behind one answered 421 goes out on a new connection', async (t) => {
    const s = await scripted(t, {
      onMessage: (_b, c) => (c.index === 0 ? '421 4.3.2 closing' : undefined),
    });
    const pool = poolFor(t, s.port, { maxConnections: 1 });
    const [first, second] = await Promise.allSettled([
      pool.send(env('refused@x.test'), RAW),
      pool.send(env('after421@x.test'), RAW),
    ]);
    assert.equal(first.status, 'rejected');
    assert.ok(first.reason instanceof SmtpReplyError);
    assert.equal(first.reason.code, 421);
    assert.equal(second.status, 'fulfilled');
    assert.equal(second.value.code, 250);
    assert.equal(s.connections, 2);
  });

  test('a connection that failed at network level is discarded, the next send opens another', async (t) => {
    const s = await scripted(t, { onMessage: (_b, c) => (c.index === 0 ? 'drop' : undefined) });
    const pool = poolFor(t, s.port, { maxConnections: 1 });
    const err = await rejection(pool.send(env('a@x.test'), RAW));
    assert.ok(err instanceof SmtpConnectionError);
    assert.equal(err.maybeAccepted, true, 'dropped after the end of data');
    assert.equal((await pool.send(env('b@x.test'), RAW)).code, 250);
    assert.equal(s.connections, 2);
  });

  test('a reused connection that dies before any reply is retried once on a new one', async (t) => {
    // The first connection takes one message, then hangs up on the next MAIL: the race with
    // a server's idle timeout, made deterministic.
    const s = await scripted(t, {
      onCommand: (line, c) =>
        c.index === 0 && c.messages === 1 && line.startsWith('MAIL') ? 'drop' : undefined,
    });
    const pool = poolFor(t, s.port, { maxConnections: 1 });
    await pool.send(env('first@x.test'), RAW);
    assert.equal((await pool.send(env('second@x.test'), RAW)).code, 250);
    assert.equal(s.connections, 2);
    assert.equal(s.messages.length, 2);
  });

  test('a connect failure goes to the send that caused it, and to the queue when nothing is left', async (t) => {
    const s = await scripted(t, { greeting: '421 4.3.2 not now' });
    const pool = poolFor(t, s.port, { maxConnections: 2 });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => pool.send(env(`cf${i}@x.test`), RAW)),
    );
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof SmtpReplyError);
      assert.equal(r.reason.stage, 'greeting');
    }
    assert.equal(s.connections, 2, 'queued sends were not each given a doomed connect');
    assert.deepEqual(pool.stats(), { open: 0, opening: 0, idle: 0, busy: 0, queued: 0 });
  });

  test('close() fails queued sends with ECLOSED and closes every connection', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const pool = new SmtpPool({ host: '127.0.0.1', port: s.port, maxConnections: 1 });
    const first = pool.send(env('c0@x.test'), RAW);
    const queued = pool.send(env('c1@x.test'), RAW);
    await once(s.events, 'connect');
    const serverSaw = once(s.events, 'close');
    const closing = pool.close();
    const err = await rejection(queued);
    assert.ok(err instanceof SmtpConnectionError);
    assert.equal(err.errorCode, 'ECLOSED');
    assert.equal((await first).code, 250, 'the message in flight is finished');
    await closing;
    await serverSaw;
    assert.equal(s.closes, s.connects);
    const late = await rejection(pool.send(env('c2@x.test'), RAW));
    assert.ok(late instanceof SmtpConnectionError && late.errorCode === 'ECLOSED');
  });
});

describe('shared connection slots', () => {
  function slots(grant: number): {
    acquireSlot: () => Promise<SlotLease | undefined>;
    asked: () => number;
    held: () => number;
  } {
    let asked = 0;
    let held = 0;
    return {
      acquireSlot: async () => {
        asked++;
        if (held >= grant) return undefined;
        held++;
        let released = false;
        return {
          release() {
            if (!released) held--;
            released = true;
          },
        };
      },
      asked: () => asked,
      held: () => held,
    };
  }

  test('no slot and no connection: the send fails at once with ENOSLOT', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const cap = slots(0);
    const pool = poolFor(t, s.port, { acquireSlot: cap.acquireSlot });
    const err = await rejection(pool.send(env('noslot@x.test'), RAW));
    assert.ok(err instanceof SmtpConnectionError);
    assert.equal(err.errorCode, 'ENOSLOT');
    assert.equal(s.connects, 0);
  });

  test('no slot but a connection of its own: the send waits for that connection', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const cap = slots(1);
    const pool = poolFor(t, s.port, { maxConnections: 3, acquireSlot: cap.acquireSlot });
    const sends: Promise<ServerReply>[] = [];
    for (let i = 0; i < 5; i++) sends.push(pool.send(env(`slot${i}@x.test`), RAW));
    const replies = await Promise.all(sends);
    assert.ok(replies.every((r) => r.code === 250));
    assert.equal(s.connects, 1, 'one slot, one connection');
    assert.equal(sessionsOf(s, 'slot').size, 1);
    assert.ok(cap.asked() >= 3, 'each new connection asked for a slot');
    assert.equal(cap.held(), 1);
    await pool.close();
    assert.equal(cap.held(), 0, 'the slot is released when its connection closes');
  });

  test('with slotWaitMs a send without a slot waits for one to free, and then goes out', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const cap = slots(1);
    // Another worker holds the only slot, and gives it back a little later.
    const other = await cap.acquireSlot();
    const pool = poolFor(t, s.port, { acquireSlot: cap.acquireSlot, slotWaitMs: 5000 });
    const sending = pool.send(env('waits@x.test'), RAW);
    await waitUntil(async () => cap.asked() >= 3, 'the pool to ask again');
    assert.equal(s.connects, 0, 'no connection without a slot');
    other?.release();
    const reply = await sending;
    assert.equal(reply.code, 250);
    assert.equal(s.connects, 1);
  });

  test('a connection retired by its message limit hands its slot to the next connection once it has closed', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const cap = slots(1);
    const pool = poolFor(t, s.port, {
      maxConnections: 1,
      maxMessagesPerConnection: 2,
      acquireSlot: cap.acquireSlot,
      slotWaitMs: 3000,
    });
    const sending = Promise.all(
      Array.from({ length: 6 }, (_, i) => pool.send(env(`handed${i}@x.test`), RAW)),
    );
    await waitUntil(() => cap.held() === 1, 'the pool to take the slot');
    // Another worker asks for the same slot all along and keeps it if it gets it: it must not
    // get it between this pool's connections while this pool has sends waiting.
    let otherGot: SlotLease | undefined;
    let stop = false;
    const other = (async () => {
      while (!stop && !otherGot) {
        otherGot = await cap.acquireSlot();
        await new Promise((r) => setImmediate(r));
      }
    })();
    let replies: ServerReply[];
    try {
      replies = await sending;
    } finally {
      stop = true;
      await other;
      otherGot?.release();
    }
    assert.equal(otherGot, undefined, 'the slot stayed with the pool whose sends were waiting');
    assert.ok(replies.every((r) => r.code === 250));
    assert.equal(s.connects, 3, 'a new connection every 2 messages');
    assert.equal(s.peak, 1, 'the retired connection had closed before the next opened');
    await pool.close();
    assert.equal(cap.held(), 0, 'released when the last connection closed');
  });

  test('with slotWaitMs a send still fails with ENOSLOT when no slot frees in time', async (t) => {
    const s = await startSmtpServer();
    t.after(() => s.close());
    const cap = slots(0);
    const pool = poolFor(t, s.port, { acquireSlot: cap.acquireSlot, slotWaitMs: 300 });
    const err = await rejection(pool.send(env('late@x.test'), RAW));
    assert.ok(err instanceof SmtpConnectionError && err.errorCode === 'ENOSLOT');
    assert.ok(cap.asked() >= 2, 'it asked more than once');
    assert.equal(s.connects, 0);
  });

  test('a slot is released when its connection fails to open', async (t) => {
    const s = await scripted(t, { greeting: '554 5.7.1 go away' });
    const cap = slots(5);
    const pool = poolFor(t, s.port, { acquireSlot: cap.acquireSlot });
    const closed = once(s.events, 'close');
    const err = await rejection(pool.send(env('x@x.test'), RAW));
    assert.ok(err instanceof SmtpReplyError && err.code === 554);
    await closed;
    await pool.close();
    assert.equal(cap.held(), 0);
  });
});

describe('RelayPool failover on the new client', () => {
  // The accepting relay is the file's shared server: it outlives the pools (a closing
  // smtp-server waits for its clients, and RelayPool.close() does not wait for its sockets).
  function relays(t: TestContext, urls: string): RelayPool {
    const problems: string[] = [];
    const targets = parseRelays(urls, problems);
    assert.deepEqual(problems, []);
    const pool = new RelayPool(targets, { poolSize: 1, downBaseMs: 60_000 });
    t.after(() => pool.close());
    return pool;
  }

  test('a relay that refuses the session (421 greeting) rests; the other relay takes the message', async (t) => {
    const busy = await scripted(t, { greeting: '421 4.3.2 too busy' });
    const p = relays(t, `smtp://127.0.0.1:${busy.port},smtp://127.0.0.1:${server.port}`);
    const r = await p.send({ envelope: env('relay-fo@x.test'), raw: RAW });
    assert.equal(r.disposition, 'delivered', r.text);
    assert.equal(r.relay, `smtp://127.0.0.1:${server.port}`);
    assert.equal(busy.connections, 1);
    // Resting, it is not tried again: with both up, weighted round robin would come back to
    // it by the third message.
    for (let i = 0; i < 4; i++) {
      const next = await p.send({ envelope: env(`relay-fo${i}@x.test`), raw: RAW });
      assert.equal(next.disposition, 'delivered', next.text);
    }
    assert.equal(busy.connections, 1, 'the refusing relay was left out');
  });

  test('a connection lost after the end of data defers the message: no second relay gets it', async (t) => {
    const dropper = await scripted(t, { onMessage: () => 'drop' });
    const p = relays(t, `smtp://127.0.0.1:${dropper.port},smtp://127.0.0.1:${server.port}`);
    const r = await p.send({ envelope: env('relay-dup@x.test'), raw: RAW });
    assert.equal(r.disposition, 'deferred');
    assert.equal(r.reason, 'networkerror');
    assert.match(r.text, /may have been delivered/);
    assert.equal(dropper.messages.length, 1);
    assert.equal(sessionsOf(server, 'relay-dup').size, 0, 'not sent twice');
  });

  test('an envelope address with CR/LF bounces without a connection being opened', async (t) => {
    const s = await scripted(t);
    const p = relays(t, `smtp://127.0.0.1:${s.port}`);
    const r = await p.send({ envelope: env('a@x.test\r\nRCPT TO:<b@x.test>'), raw: RAW });
    assert.equal(r.disposition, 'bounced');
    assert.equal(r.enhanced, '5.1.3');
    assert.equal(s.connections, 0);
  });
});
