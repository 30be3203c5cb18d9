import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRelays } from '@volley/config';
import { freePort } from '@volley/redis';
import { startCaptureServer, waitUntil, type CaptureServer } from '@volley/testkit';
import { RelayPool } from '../src/index.ts';
import { startSmtpServer, type TestSmtpServer } from './fixtures/servers.ts';

let a: CaptureServer;
let b: CaptureServer;
before(async () => {
  a = await startCaptureServer();
  b = await startCaptureServer({
    onRecipient: (addr) =>
      addr.startsWith('reject@') ? { code: 550, message: '5.1.1 no such user' } : undefined,
  });
});
after(async () => {
  await Promise.all([a.close(), b.close()]);
});

function message(i: number): { envelope: { from: string; to: string }; raw: string } {
  return {
    envelope: { from: 'news@sender.example', to: `user${i}@rcpt.example` },
    raw: `From: news@sender.example\r\nTo: user${i}@rcpt.example\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`,
  };
}

function pool(urls: string, downBaseMs?: number): RelayPool {
  const problems: string[] = [];
  const relays = parseRelays(urls, problems);
  assert.deepEqual(problems, []);
  return new RelayPool(relays, { poolSize: 2, ...(downBaseMs ? { downBaseMs } : {}) });
}

describe('relay pool', () => {
  test('spreads traffic by weight', async () => {
    const before = [a.messages.length, b.messages.length];
    const p = pool(`smtp://127.0.0.1:${a.port}?weight=3,smtp://127.0.0.1:${b.port}?weight=1`);
    try {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => p.send(message(i))));
      assert.ok(results.every((r) => r.disposition === 'delivered'));
      // Smooth weighted round robin is exact over whole cycles: 150 and 50.
      assert.equal(a.messages.length - (before[0] ?? 0), 150);
      assert.equal(b.messages.length - (before[1] ?? 0), 50);
    } finally {
      p.close();
    }
  });

  test('a relay that refuses connections is left out and its traffic goes to the other', async () => {
    const dead = await freePort();
    const before = a.messages.length;
    const p = pool(`smtp://127.0.0.1:${dead},smtp://127.0.0.1:${a.port}`, 60_000);
    let revived: CaptureServer | undefined;
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => p.send(message(i))));
      assert.ok(
        results.every((r) => r.disposition === 'delivered'),
        'no message fails while one relay is up',
      );
      assert.equal(a.messages.length - before, 40);
      // The relay comes back within its rest: it is not tried before the rest is over, where
      // weighted round robin would otherwise give it every other message.
      revived = await startCaptureServer({ port: dead });
      for (let i = 40; i < 44; i++) {
        assert.equal((await p.send(message(i))).disposition, 'delivered');
      }
      assert.equal(a.messages.length - before, 44);
      assert.equal(revived.connections.total, 0, 'the resting relay got no connection');
    } finally {
      p.close();
      await revived?.close();
    }
  });

  test('when every relay is down the message is deferred, not bounced', async () => {
    const p = pool(`smtp://127.0.0.1:${await freePort()}`);
    try {
      const r = await p.send(message(1));
      assert.equal(r.disposition, 'deferred');
      assert.equal(r.reason, 'networkerror');
    } finally {
      p.close();
    }
  });

  test('an SMTP rejection is an answer, classified, and not retried on another relay', async () => {
    const before = a.messages.length;
    const p = pool(`smtp://127.0.0.1:${b.port},smtp://127.0.0.1:${a.port}`);
    try {
      const r = await p.send({
        envelope: { from: 'n@s.example', to: 'reject@rcpt.example' },
        raw: 'Subject: x\r\n\r\nx\r\n',
      });
      assert.equal(r.disposition, 'bounced');
      assert.equal(r.reason, 'userunknown');
      assert.equal(r.code, 550);
      assert.equal(r.enhanced, '5.1.1');
      assert.equal(a.messages.length, before);
    } finally {
      p.close();
    }
  });

  test('a route gets connections of its own; with its cap full nothing is sent and no relay rests', async () => {
    const c = await startCaptureServer();
    // A second relay that round robin would pick only after hundreds of messages: the one
    // place the last message goes should the first relay be left out.
    const standby = await startCaptureServer();
    const p = pool(`smtp://127.0.0.1:${c.port}?weight=1000,smtp://127.0.0.1:${standby.port}`);
    try {
      let granted = 0;
      let released = 0;
      const route = {
        key: 'capped',
        maxMessagesPerConnection: 3,
        // One slot in all, as if other workers held the rest of the cap.
        acquireSlot: async () => (granted++ === 0 ? { release: () => void released++ } : undefined),
      };
      const sent = await Promise.all(
        Array.from({ length: 3 }, (_, i) => p.send(message(i), 'x', route)),
      );
      assert.ok(sent.every((r) => r.disposition === 'delivered'));
      // The third message used the connection up (3 per connection): it closes, and its slot
      // comes back.
      await waitUntil(async () => released === 1, 'the lease to be released');
      const denied = await p.send(message(9), 'x', route);
      assert.equal(denied.noSlot, true);
      assert.equal(c.messages.length, 3, 'nothing was sent without a slot');
      // The relay is not rested: a message without a route goes out at once, through it.
      assert.equal((await p.send(message(10))).disposition, 'delivered');
      assert.equal(standby.connections.total, 0, 'the relay was not left out');
      const sessions = new Set(c.messages.map((m) => m.sessionId));
      assert.equal(
        sessions.size,
        2,
        'the routed messages and the other one used separate connections',
      );
    } finally {
      p.close();
      await Promise.all([c.close(), standby.close()]);
    }
  });

  describe('credentials and TLS', () => {
    let plainAuth: TestSmtpServer;
    /** AUTH commands the plaintext relay was given: it must see none. */
    let authAttempts = 0;
    before(async () => {
      // Offers AUTH on a plaintext session and no STARTTLS: a misconfigured relay, or what a
      // man in the middle who strips STARTTLS from the EHLO reply shows the sender.
      plainAuth = await startSmtpServer({
        onAuth: (_auth, _session, callback) => {
          authAttempts++;
          callback(null, { user: 'volley' });
        },
        disabledCommands: ['STARTTLS'],
        authMethods: ['PLAIN', 'LOGIN'],
        allowInsecureAuth: true,
        authOptional: true,
      });
    });
    after(() => plainAuth.close());

    test('a relay URL with credentials never authenticates over plaintext: the message is deferred, not bounced', async () => {
      const p = pool(`smtp://volley:s3cret@127.0.0.1:${plainAuth.port}`);
      try {
        const r = await p.send(message(1));
        assert.equal(r.disposition, 'deferred', r.text);
        assert.equal(r.reason, 'failedstarttls');
        assert.doesNotMatch(r.text, /s3cret/, 'the password is not in the result');
        assert.equal(authAttempts, 0, 'no AUTH reached the server');
        assert.equal(plainAuth.messages.length, 0, 'nothing was sent');
      } finally {
        p.close();
      }
    });

    test('requireTLS=true on a relay without credentials refuses a session that stays plaintext', async () => {
      const p = pool(`smtp://127.0.0.1:${plainAuth.port}?requireTLS=true`);
      try {
        const r = await p.send(message(2));
        assert.equal(r.disposition, 'deferred', r.text);
        assert.equal(r.reason, 'failedstarttls');
        assert.equal(plainAuth.messages.length, 0, 'nothing was sent in plaintext');
      } finally {
        p.close();
      }
    });
  });
});
