import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, masterNodes, type LocalCluster, type RedisClient } from '@volley/redis';
import {
  startCaptureServer,
  startRedisCluster,
  waitUntil,
  type CapturedMessage,
} from '@volley/testkit';
import { CAMPAIGN, DOMAINS, Harness, KEY, recipients } from './harness.ts';

let cluster: LocalCluster;
let redis: RedisClient;
before(async () => {
  cluster = await startRedisCluster();
  redis = connectRedis(cluster.url, { name: 'cluster-test', cluster: true });
});
after(async () => {
  redis.disconnect();
  await cluster.stop();
});

const CONCURRENCY = 4;
const BATCH = 50;
/** Connections of each of a sender's pools (VOLLEY_SMTP_POOL_SIZE). */
const POOL = 10;
const TOTAL = 4000;
/** Recipients the sink defers once (451) and accepts on the retry. */
const deferredOnce = (i: number): boolean => i % 10 === 3;
/** Recipients the sink refuses for good (550 5.1.1): bounced and suppressed. */
const gone = (i: number): boolean => i % 800 === 7;

function indexOf(address: string): number {
  return Number(/^user(\d+)@/.exec(address)?.[1] ?? -1);
}

async function action(h: Harness, id: string, what: string): Promise<number> {
  const res = await h.app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/${what}`,
    headers: { authorization: `Bearer ${KEY}` },
  });
  return res.statusCode;
}

describe('on a Redis Cluster of three masters', () => {
  test('a campaign with per-domain rates, deferrals, a pause and resume and a SIGKILLed sender: every recipient delivered, each recorded once', async (t) => {
    const received = new Map<string, number>();
    const tries = new Map<string, number>();
    let total = 0;
    const dir = mkdtempSync(join(tmpdir(), 'volley-cluster-policy-'));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      [
        'version: 1',
        'defaults: { rate: unlimited }',
        'domains:',
        `  ${DOMAINS[0]}: { rate: 150/s, burst: 10 }`,
        `  ${DOMAINS[1]}: { rate: 200/s, burst: 20, connections: 2 }`,
        '',
      ].join('\n'),
    );
    // One receiver's behaviour behind two ports: the sender to be killed relays to a port of
    // its own, so the messages it had handed over when it died are known exactly.
    const receiver = {
      keep: false,
      onRecipient(address: string) {
        const n = (tries.get(address) ?? 0) + 1;
        tries.set(address, n);
        const i = indexOf(address);
        if (gone(i)) return { code: 550, message: '5.1.1 user unknown' };
        if (deferredOnce(i) && n === 1) return { code: 451, message: '4.3.0 try again later' };
        return undefined;
      },
      onMessage(m: CapturedMessage) {
        const to = m.to[0] ?? '';
        received.set(to, (received.get(to) ?? 0) + 1);
        total++;
      },
    };
    const byVictim = new Set<string>();
    const victimSink = await startCaptureServer({
      ...receiver,
      onMessage(m) {
        receiver.onMessage(m);
        byVictim.add(m.to[0] ?? '');
      },
    });
    const h = new Harness(redis, cluster.url);
    await h.start({
      senders: 1,
      env: {
        VOLLEY_REDIS_CLUSTER: 'true',
        VOLLEY_SHAPING_POLICY: policy,
        VOLLEY_RETRY_BASE: '100ms',
        VOLLEY_RETRY_MAX: '500ms',
        // Short locks so the killed sender's batches come back quickly.
        VOLLEY_JOB_LOCK: '2s',
        VOLLEY_SENDER_CONCURRENCY: String(CONCURRENCY),
        VOLLEY_BATCH_SIZE: String(BATCH),
        VOLLEY_SMTP_POOL_SIZE: String(POOL),
        VOLLEY_EXPAND_WINDOW: '1000',
      },
      capture: receiver,
    });
    const victim = h.addSender({ VOLLEY_SMTP_RELAY: `smtp://127.0.0.1:${victimSink.port}` });
    await victim.waitForLine(/sender started/);
    const arrived = (n: number, what: () => boolean = () => true) =>
      waitUntil(() => total >= n && what(), `${n} messages to arrive`, 120_000);
    try {
      const id = await h.create({ ...CAMPAIGN, recipients: recipients(TOTAL) });

      await arrived(800);
      assert.equal(await action(h, id, 'pause'), 202);
      // Paused: every batch still queued is parked; nothing waits or runs.
      await waitUntil(async () => {
        const c = await h.queues.send.getJobCounts('waiting', 'active', 'prioritized');
        return (c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) === 0;
      }, 'the paused campaign to go quiet');
      const atPause = received.size;
      assert.ok(atPause < TOTAL, 'the campaign was paused mid-way');
      assert.equal(await action(h, id, 'resume'), 202);

      const victimAtResume = byVictim.size;
      // Both senders at work again, the victim with messages of its own since the resume.
      await arrived(atPause + 800, () => byVictim.size >= victimAtResume + 100);
      victim.child.kill('SIGKILL');
      await victim.exited;
      // Its connections are closed once their last bytes are read: every message it handed over
      // is counted by then.
      await waitUntil(
        () => victimSink.connections.open === 0,
        "the killed sender's connections to close",
      );
      // What can go out twice: a message the receiver accepted whose sent marker the sender
      // had not written when it died (the window between the 250 and the marker's write).
      const accepted = [...byVictim];
      const marked = await h.store.doneFlags(id, accepted.map(indexOf));
      const unmarked = new Set(accepted.filter((_a, k) => !marked[k]));
      await h.addSender().waitForLine(/sender started/);

      await h.completed(id, 240_000);
      const bounced = Array.from({ length: TOTAL }, (_v, i) => i).filter(gone);
      const c = await h.store.get(id);
      assert.deepEqual(
        { sent: c?.counts.sent, bounced: c?.counts.bounced, deferred: c?.counts.deferred },
        { sent: TOTAL - bounced.length, bounced: bounced.length, deferred: 0 },
      );
      assert.equal(
        received.size,
        TOTAL - bounced.length,
        'every deliverable recipient received it',
      );
      for (let i = 3; i < TOTAL; i += 10) {
        if (gone(i)) continue;
        const address = `user${i}@${DOMAINS[i % DOMAINS.length]}`;
        assert.ok((tries.get(address) ?? 0) >= 2, `${address} was deferred, then retried`);
      }

      // Each recipient has exactly one final event: recorded once, whatever ran twice.
      const finals = new Map<number, number>();
      for (let cursor: string | undefined; ;) {
        const page = await h.store.events(id, cursor, 1000);
        for (const e of page.events) {
          if (e.outcome === 'sent' || e.outcome === 'bounced') {
            finals.set(e.index, (finals.get(e.index) ?? 0) + 1);
          }
        }
        if (!page.next) break;
        cursor = page.next;
      }
      assert.equal(finals.size, TOTAL);
      assert.ok(
        [...finals.values()].every((n) => n === 1),
        'one final event per recipient',
      );
      // The hard bounces were suppressed on the tenant's list (another slot than the campaign).
      const suppressed = await redis.smismember(
        h.keys.suppression('default'),
        ...bounced.map((i) => `user${i}@${DOMAINS[i % DOMAINS.length]}`),
      );
      assert.deepEqual(
        suppressed,
        bounced.map(() => 1),
      );

      // Only a message between the server's 250 and its sent marker can go out twice: each
      // duplicate is one the killed sender had handed over with its marker unwritten. How many
      // of those there are depends on how far the receiver's 250s run ahead of the marker
      // writes (pipelined transactions, a loaded Redis), but never past what the sender holds
      // in flight: each marker is written before its batch ends, and it ran CONCURRENCY
      // batches of BATCH recipients at most.
      const duplicates = [...received].filter(([, n]) => n > 1).map(([address]) => address);
      const extra = [...received.values()].reduce((a, n) => a + n - 1, 0);
      t.diagnostic(
        `duplicates=${extra} unmarked at the kill=${unmarked.size} of ${accepted.length} the killed sender handed over`,
      );
      assert.deepEqual(
        duplicates.filter((a) => !unmarked.has(a)),
        [],
        'every duplicate was accepted from the killed sender without its sent marker',
      );
      assert.equal(extra, duplicates.length, 'no recipient received it more than twice');
      assert.ok(
        unmarked.size <= CONCURRENCY * BATCH,
        `${unmarked.size} accepted but unmarked exceed the killed sender's in-flight messages`,
      );

      // The data is sharded: the queues' tags (fixed names) put the send and control queues on
      // different masters of three with even slot ranges; the campaign's and the tenant's keys
      // go where their ids hash.
      const sizes = await Promise.all(masterNodes(redis).map((n) => n.dbsize()));
      t.diagnostic(`keys per master: ${sizes.join(', ')}`);
      assert.equal(sizes.length, 3);
      assert.ok(
        sizes.filter((n) => n > 0).length >= 2,
        `the keys are spread over masters (${sizes.join(', ')})`,
      );
    } finally {
      await h.stop();
      await victimSink.close();
    }
  });
});
