import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Keys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import {
  CampaignStore,
  SuppressionError,
  SuppressionList,
  type SuppressionEntry,
} from '../src/index.ts';

let server: LocalRedis;
let redis: RedisClient;

before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'suppressions-test' });
  await redis.ping();
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

function fresh(): { keys: Keys; list: SuppressionList; store: CampaignStore } {
  const keys = new Keys(uniquePrefix('sup'));
  return { keys, list: new SuppressionList(redis, keys), store: new CampaignStore(redis, keys) };
}

async function walk(
  list: SuppressionList,
  tenant: string,
  opts: { limit: number; reason?: string; source?: 'manual' | 'bounce' },
): Promise<{ emails: string[]; pages: number }> {
  const emails: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const p = await list.page(tenant, { ...opts, cursor });
    assert.ok(p.entries.length <= opts.limit);
    emails.push(...p.entries.map((e) => e.email));
    cursor = p.next;
    pages++;
    assert.ok(pages < 1000, 'the cursor never ended');
  } while (cursor);
  return { emails, pages };
}

async function walkRemoving(
  list: SuppressionList,
  tenant: string,
  limit: number,
): Promise<{ emails: string[]; pages: number }> {
  const emails: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const p = await list.page(tenant, { limit, cursor });
    emails.push(...p.entries.map((e) => e.email));
    const last = p.entries[p.entries.length - 1];
    if (last) await list.remove(tenant, last.email);
    cursor = p.next;
    pages++;
    assert.ok(pages < 1000, 'the cursor never ended');
  } while (cursor);
  return { emails, pages };
}

describe('suppression list', () => {
  test('entries keep source, reason and date; the sender sees them; removal takes them off', async () => {
    const { list, store } = fresh();
    const res = await list.add(
      't1',
      [
        { email: 'a@example.org', source: 'manual', reason: 'manual' },
        {
          email: 'b@example.org',
          source: 'unsubscribe',
          reason: 'imported',
          at: 1_700_000_000_000,
        },
        { email: 'a@example.org', source: 'complaint', reason: 'abuse' },
      ],
      1_800_000_000_000,
    );
    assert.deepEqual(res, { added: 2, existing: 1 });
    assert.deepEqual(await list.get('t1', 'a@example.org'), {
      email: 'a@example.org',
      source: 'manual',
      reason: 'manual',
      at: 1_800_000_000_000,
    } satisfies SuppressionEntry);
    assert.deepEqual(await store.suppressedFlags('t1', ['A@example.org', 'c@example.org']), [
      true,
      false,
    ]);
    const page = await list.page('t1', { limit: 10 });
    assert.deepEqual(
      page.entries.map((e) => e.email),
      ['b@example.org', 'a@example.org'],
      'oldest first',
    );
    assert.equal(page.next, undefined);
    assert.equal(await list.remove('t1', 'a@example.org'), true);
    assert.equal(await list.remove('t1', 'a@example.org'), false);
    assert.equal(await list.get('t1', 'a@example.org'), undefined);
    assert.deepEqual(await store.suppressedFlags('t1', ['a@example.org']), [false]);
    await assert.rejects(
      list.add('t1', [{ email: 'x@example.org', source: 'manual', reason: 'Not A Token' }]),
      SuppressionError,
    );
    assert.equal(await list.count('t1'), 1);
  });

  test('paging walks every entry once, even 300 added at the same millisecond, and survives removals', async () => {
    const { list } = fresh();
    const all = Array.from({ length: 300 }, (_v, i) => `u${String(i).padStart(3, '0')}@x.example`);
    await list.add(
      't1',
      all.map((email) => ({ email, source: 'manual' as const, reason: 'manual' })),
      1_800_000_000_000,
    );
    const plain = await walk(list, 't1', { limit: 40 });
    assert.equal(plain.pages, 8);
    assert.deepEqual(plain.emails, all);

    // Remove the last entry of each page (the one the cursor names) before the next page is
    // read, as a client cleaning up while it walks would: nothing is skipped or repeated.
    const removing = await walkRemoving(list, 't1', 25);
    assert.deepEqual(removing.emails, all);
    assert.equal(await list.count('t1'), 300 - removing.pages);
  });

  test('a filter by reason or source pages through sparse matches without examining everything at once', async () => {
    const { list } = fresh();
    const rows = Array.from({ length: 12_000 }, (_v, i) => ({
      email: `n${i}@x.example`,
      source: i % 4000 === 7 ? ('bounce' as const) : ('manual' as const),
      reason: i % 4000 === 7 ? 'userunknown' : 'manual',
    }));
    await list.add('t1', rows);
    const byReason = await walk(list, 't1', { limit: 100, reason: 'userunknown' });
    // Added in one call, they share a date: entries of one date come in byte order.
    assert.deepEqual(byReason.emails, ['n4007@x.example', 'n7@x.example', 'n8007@x.example']);
    assert.ok(byReason.pages >= 3, 'a page examines a bounded number of entries');
    const bySource = await walk(list, 't1', { limit: 2, source: 'bounce' });
    assert.deepEqual(bySource.emails, byReason.emails);
    const none = await walk(list, 't1', { limit: 10, reason: 'hostunknown', source: 'bounce' });
    assert.deepEqual(none.emails, []);
  });

  test('a cursor that was not given by a page is refused', async () => {
    const { list } = fresh();
    for (const cursor of ['abc', Buffer.from('12:nope').toString('base64url'), '!!']) {
      await assert.rejects(
        list.page('t1', { limit: 10, cursor }),
        (err: unknown) => err instanceof SuppressionError && err.code === 'SUPPRESSION_BAD_CURSOR',
      );
    }
  });

  test('addresses suppressed before entries were kept are listed with reason unknown', async () => {
    const { list, keys } = fresh();
    await redis.sadd(keys.suppression('t1'), 'old1@x.example', 'old2@x.example');
    await list.add('t1', [{ email: 'new@x.example', source: 'manual', reason: 'manual' }]);
    const page = await list.page('t1', { limit: 10 });
    assert.deepEqual(page.entries, [
      { email: 'old1@x.example', source: 'manual', reason: 'unknown' },
      { email: 'old2@x.example', source: 'manual', reason: 'unknown' },
      { ...page.entries[2], email: 'new@x.example', source: 'manual', reason: 'manual' },
    ]);
    assert.equal(await list.remove('t1', 'old1@x.example'), true);
    assert.equal(await redis.zcard(keys.suppressionLog('t1')), 2);
  });

  test('a staged import changes nothing until committed, and nothing at all when dropped', async () => {
    const { list, keys } = fresh();
    await list.add('t1', [{ email: 'a@x.example', source: 'manual', reason: 'manual' }]);
    const dropped = list.beginImport();
    await list.stage('t1', dropped, [{ email: 'b@x.example', source: 'manual', reason: 'x' }]);
    assert.equal(await list.count('t1'), 1);
    await list.dropImport('t1', dropped);
    assert.equal(await redis.exists(keys.suppressionImport('t1', dropped)), 0);

    const kept = list.beginImport();
    const rows = Array.from({ length: 2500 }, (_v, i) => ({
      email: `i${i}@x.example`,
      source: 'bounce' as const,
      reason: 'userunknown',
      at: 1_600_000_000_000 + i,
    }));
    await list.stage('t1', kept, rows);
    await list.stage('t1', kept, [{ email: 'a@x.example', source: 'complaint', reason: 'abuse' }]);
    assert.deepEqual(await list.commitImport('t1', kept), { added: 2500, existing: 1 });
    assert.equal(await list.count('t1'), 2501);
    assert.equal(await redis.exists(keys.suppressionImport('t1', kept)), 0);
    assert.deepEqual(await list.get('t1', 'i5@x.example'), {
      email: 'i5@x.example',
      source: 'bounce',
      reason: 'userunknown',
      at: 1_600_000_000_005,
    });
    assert.equal((await list.get('t1', 'a@x.example'))?.source, 'manual', 'the first entry stands');
  });
});
