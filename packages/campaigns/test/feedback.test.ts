import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Keys } from '@volley/contracts';
import { connectRedis, type LocalRedis, type RedisClient } from '@volley/redis';
import { startRedis, uniquePrefix } from '@volley/testkit';
import {
  CampaignStore,
  Feedback,
  FeedbackError,
  SuppressionList,
  type FeedbackOutcome,
} from '../src/index.ts';

let server: LocalRedis;
let redis: RedisClient;

before(async () => {
  server = await startRedis();
  redis = connectRedis(server.url, { name: 'feedback-test' });
  await redis.ping();
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

const DAY = 86_400_000;

interface World {
  keys: Keys;
  store: CampaignStore;
  feedback: Feedback;
  list: SuppressionList;
}

function world(opts: { softBounceLimit?: number; softBounceWindowMs?: number } = {}): World {
  // Volley's defaults (packages/config): 3 within 30 days.
  const keys = new Keys(uniquePrefix('fb'));
  return {
    keys,
    store: new CampaignStore(redis, keys),
    feedback: new Feedback(redis, keys, {
      softBounceLimit: opts.softBounceLimit ?? 3,
      softBounceWindowMs: opts.softBounceWindowMs ?? 30 * DAY,
    }),
    list: new SuppressionList(redis, keys),
  };
}

/** A running campaign of `n` recipients `r<i>@example.org`, the first `sent` of them sent. */
async function campaign(w: World, n: number, sent: number, tenant = 't1'): Promise<string> {
  const id = w.store.newId();
  await w.store.create(id, { tenant, from: 'a@example.com', subject: 's', text: 'x' });
  await w.store.addRecipients(
    id,
    Array.from({ length: n }, (_v, i) => ({ email: `R${i}@Example.org` })),
  );
  await w.store.start(id);
  await w.store.advanceCursor(id, 0, n);
  const entries = Array.from({ length: sent }, (_v, i) => ({
    index: i,
    email: `R${i}@Example.org`,
    outcome: 'sent' as const,
    reason: 'delivered',
  }));
  if (entries.length > 0) await w.store.finalizeMany(id, tenant, entries, 0);
  return id;
}

const HARD: FeedbackOutcome = {
  kind: 'bounced',
  reason: 'userunknown',
  hardBounce: true,
  source: 'dsn',
  status: '5.1.1',
  replyCode: 550,
  detail: '550 5.1.1 <r0@example.org>: no such user',
};
const SOFT: FeedbackOutcome = {
  kind: 'bounced',
  reason: 'mailboxfull',
  hardBounce: false,
  source: 'dsn',
  status: '4.2.2',
  replyCode: 452,
};

/** Everything a report could change, to compare before and after a repeat. */
async function snapshot(w: World, id: string, tenant = 't1'): Promise<unknown> {
  return {
    campaign: await redis.hgetall(w.keys.campaign(id)),
    reasons: await w.store.reasonCounts(id),
    events: await redis.xlen(w.keys.events(id)),
    list: (await w.list.page(tenant, { limit: 1000 })).entries,
  };
}

describe('feedback effects', () => {
  test('a hard bounce of a sent recipient suppresses the address at once and counts a late bounce, not a second outcome', async () => {
    const w = world();
    const id = await campaign(w, 4, 4);
    const at = Date.now();
    const r = await w.feedback.apply({ campaignId: id, index: 0 }, HARD, at);
    assert.deepEqual(r, {
      applied: true,
      suppressed: true,
      tenant: 't1',
      email: 'R0@Example.org',
      campaignId: id,
      index: 0,
      late: true,
      finalized: false,
    });
    assert.deepEqual(await w.store.suppressedFlags('t1', ['r0@example.org', 'r1@example.org']), [
      true,
      false,
    ]);
    assert.deepEqual(await w.list.get('t1', 'r0@example.org'), {
      email: 'r0@example.org',
      source: 'bounce',
      reason: 'userunknown',
      at,
      campaignId: id,
      detail: '550 5.1.1 <r0@example.org>: no such user',
    });
    const rec = await w.store.get(id);
    assert.equal(rec?.status, 'completed');
    assert.deepEqual(
      [rec?.counts.sent, rec?.counts.bounced, rec?.counts.lateBounced, rec?.counts.total],
      [4, 0, 1, 4],
      'sent stays what the server accepted; the bounce is counted beside it',
    );
    assert.deepEqual(await w.store.reasonCounts(id), {
      'sent:delivered': 4,
      'lateBounced:userunknown': 1,
    });
    const { events } = await w.store.events(id, undefined, 100);
    const last = events[events.length - 1];
    assert.deepEqual(
      { ...last, id: undefined },
      {
        id: undefined,
        campaignId: id,
        index: 0,
        email: 'R0@Example.org',
        outcome: 'bounced',
        reason: 'userunknown',
        detail: '550 5.1.1 <r0@example.org>: no such user',
        at,
        source: 'dsn',
        status: '5.1.1',
        replyCode: 550,
        hardBounce: true,
        late: true,
      },
    );

    const before = await snapshot(w, id);
    const again = await w.feedback.apply({ campaignId: id, index: 0 }, HARD, at + 5000);
    assert.equal(again.applied, false);
    assert.equal(again.suppressed, false);
    assert.deepEqual(await snapshot(w, id), before, 'the same DSN twice changes nothing');
  });

  test('a bounce of a recipient waiting for a retry gives it its final state, once, and can complete the campaign', async () => {
    const w = world();
    const id = await campaign(w, 2, 1);
    await w.store.defer(id, 1, 'R1@Example.org', {
      reason: 'timeout',
      detail: 'connection lost after DATA',
      lowWater: 0,
    });
    assert.equal((await w.store.get(id))?.counts.deferred, 1);
    const r = await w.feedback.apply({ campaignId: id, index: 1 }, SOFT);
    assert.deepEqual([r.applied, r.finalized, r.late, r.suppressed], [true, true, false, false]);
    const rec = await w.store.get(id);
    assert.deepEqual(
      [rec?.counts.sent, rec?.counts.bounced, rec?.counts.deferred, rec?.counts.lateBounced],
      [1, 1, 0, 0],
    );
    assert.equal(rec?.status, 'completed', 'every recipient now has its final state');
    assert.deepEqual(await w.store.doneFlags(id, [1]), [true], 'the retry will skip it');
    // The sender's late record of the same recipient is not counted again.
    const late = await w.store.finalize(
      id,
      't1',
      { index: 1, email: 'R1@Example.org', outcome: 'sent' },
      0,
    );
    assert.equal(late.recorded, false);
    assert.equal((await w.store.get(id))?.counts.sent, 1);
  });

  test('soft bounces suppress at the limit within the window; the same report twice and old ones do not count', async () => {
    const w = world({ softBounceLimit: 3, softBounceWindowMs: 7 * DAY });
    const now = Date.now();
    const ids = [] as string[];
    for (let k = 0; k < 4; k++) ids.push(await campaign(w, 1, 1));
    const soft = (k: number, at: number) =>
      w.feedback.apply({ campaignId: ids[k] ?? '', index: 0 }, SOFT, at);

    // One that leaves the window before the others (10 days ago), then three inside it, one of
    // them reported twice.
    assert.equal((await soft(0, now - 10 * DAY)).softBounces, 1);
    assert.equal((await soft(1, now - 2 * DAY)).softBounces, 1, 'the old one fell out');
    const second = await soft(2, now - DAY);
    assert.deepEqual([second.softBounces, second.suppressed], [2, false]);
    const repeat = await soft(2, now - DAY + 1000);
    assert.deepEqual([repeat.applied, repeat.suppressed], [false, false]);
    assert.deepEqual(await w.store.suppressedFlags('t1', ['r0@example.org']), [false]);

    const third = await soft(3, now);
    assert.deepEqual([third.softBounces, third.suppressed], [3, true]);
    const entry = await w.list.get('t1', 'r0@example.org');
    assert.deepEqual(
      [entry?.source, entry?.reason, entry?.campaignId, entry?.detail],
      ['bounce', 'mailboxfull', ids[3], '3 soft bounces within 7d'],
    );
    for (const id of ids) assert.equal((await w.store.get(id))?.counts.lateBounced, 1);
  });

  test('a hard bounce after a soft one for the same message suppresses without counting the recipient twice', async () => {
    const w = world();
    const id = await campaign(w, 1, 1);
    await w.feedback.apply({ campaignId: id, index: 0 }, SOFT);
    const hard = await w.feedback.apply({ campaignId: id, index: 0 }, HARD);
    assert.deepEqual([hard.applied, hard.suppressed], [true, true]);
    assert.equal((await w.store.get(id))?.counts.lateBounced, 1);
    assert.deepEqual(await w.store.reasonCounts(id), {
      'sent:delivered': 1,
      'lateBounced:mailboxfull': 1,
    });
    const again = await w.feedback.apply({ campaignId: id, index: 0 }, HARD);
    assert.equal(again.applied, false);
    const soft = await w.feedback.apply({ campaignId: id, index: 0 }, SOFT);
    assert.equal(soft.applied, false, 'a soft report after the hard one adds nothing');
  });

  test('complaints and unsubscribes suppress at once, count once each, and say where they came from', async () => {
    const w = world();
    const id = await campaign(w, 3, 3);
    const complaint = await w.feedback.apply(
      { campaignId: id, index: 1 },
      { kind: 'complained', feedbackType: 'Abuse', source: 'arf' },
    );
    const unsub = await w.feedback.apply(
      { campaignId: id, index: 2 },
      { kind: 'unsubscribed', source: 'one-click' },
    );
    assert.deepEqual([complaint.suppressed, unsub.suppressed], [true, true]);
    // The same recipient may both unsubscribe and complain: each counts once.
    const both = await w.feedback.apply(
      { campaignId: id, index: 1 },
      { kind: 'unsubscribed', source: 'mailto' },
    );
    assert.deepEqual([both.applied, both.suppressed], [true, false]);
    for (const repeat of [
      w.feedback.apply(
        { campaignId: id, index: 1 },
        { kind: 'complained', feedbackType: 'abuse', source: 'arf' },
      ),
      w.feedback.apply({ campaignId: id, index: 2 }, { kind: 'unsubscribed', source: 'one-click' }),
    ]) {
      assert.equal((await repeat).applied, false);
    }
    const rec = await w.store.get(id);
    assert.deepEqual(
      [rec?.counts.sent, rec?.counts.complained, rec?.counts.unsubscribed],
      [3, 1, 2],
    );
    assert.deepEqual(await w.store.reasonCounts(id), {
      'sent:delivered': 3,
      'complained:abuse': 1,
      'unsubscribed:one-click': 1,
      'unsubscribed:mailto': 1,
    });
    const list = (await w.list.page('t1', { limit: 10 })).entries;
    assert.deepEqual(
      list.map((e) => [e.email, e.source, e.reason]),
      [
        ['r1@example.org', 'complaint', 'abuse'],
        ['r2@example.org', 'unsubscribe', 'one-click'],
      ],
    );
    const { events } = await w.store.events(id, undefined, 100);
    assert.deepEqual(
      events.slice(3).map((e) => [e.index, e.outcome, e.reason, e.source]),
      [
        [1, 'complained', 'abuse', 'arf'],
        [2, 'unsubscribed', 'one-click', 'one-click'],
        [1, 'unsubscribed', 'mailto', 'mailto'],
      ],
    );
  });

  test("the address is suppressed for the campaign's tenant only", async () => {
    const w = world();
    const a = await campaign(w, 1, 1, 'tenant-a');
    await campaign(w, 1, 1, 'tenant-b');
    await w.feedback.apply({ campaignId: a, index: 0 }, HARD);
    assert.deepEqual(await w.store.suppressedFlags('tenant-a', ['r0@example.org']), [true]);
    assert.deepEqual(await w.store.suppressedFlags('tenant-b', ['r0@example.org']), [false]);
    assert.equal(await w.list.count('tenant-b'), 0);
  });

  test('an unknown recipient, an address that does not match, or a malformed report changes nothing', async () => {
    const w = world();
    const id = await campaign(w, 1, 1);
    const before = await snapshot(w, id);
    const refused: [() => Promise<unknown>, string][] = [
      [() => w.feedback.apply({ campaignId: id, index: 1 }, HARD), 'FEEDBACK_UNKNOWN_RECIPIENT'],
      [
        () => w.feedback.apply({ campaignId: w.store.newId(), index: 0 }, HARD),
        'FEEDBACK_UNKNOWN_RECIPIENT',
      ],
      [
        () =>
          w.feedback.apply({ campaignId: id, index: 0, expectEmail: 'someone@else.example' }, HARD),
        'FEEDBACK_ADDRESS_MISMATCH',
      ],
      [
        () => w.feedback.apply({ campaignId: id, index: 0 }, { ...SOFT, reason: 'Mailbox Full!' }),
        'FEEDBACK_INVALID',
      ],
      [
        () => w.feedback.apply({ campaignId: id, index: 0 }, { ...HARD, status: '5.1' }),
        'FEEDBACK_INVALID',
      ],
      [
        () =>
          w.feedback.apply({ campaignId: id, index: 0 }, {
            kind: 'opened',
            source: 'one-click',
          } as unknown as FeedbackOutcome),
        'FEEDBACK_INVALID',
      ],
    ];
    for (const [call, code] of refused) {
      await assert.rejects(
        call,
        (err: unknown) => err instanceof FeedbackError && err.code === code,
      );
    }
    assert.deepEqual(await snapshot(w, id), before);
    const ok = await w.feedback.apply(
      { campaignId: id, index: 0, expectEmail: 'r0@EXAMPLE.org' },
      HARD,
    );
    assert.equal(ok.suppressed, true, 'the address compares case-insensitively');
  });

  test('feedback about an address outside any campaign suppresses it, and counts soft bounces by message', async () => {
    const w = world({ softBounceLimit: 2 });
    const target = (ref: string) => ({ tenant: 't1', email: 'Lost@Example.org', ref });
    const first = await w.feedback.apply(target('<m1@x>'), SOFT);
    const repeat = await w.feedback.apply(target('<m1@x>'), SOFT);
    assert.deepEqual([first.applied, first.softBounces, repeat.applied], [true, 1, false]);
    const second = await w.feedback.apply(target('<m2@x>'), SOFT);
    assert.deepEqual([second.softBounces, second.suppressed], [2, true]);
    const complaint = await w.feedback.apply(target('<m3@x>'), {
      kind: 'complained',
      feedbackType: 'abuse',
      source: 'webhook',
    });
    assert.deepEqual([complaint.applied, complaint.suppressed], [false, false]);
    const entry = await w.list.get('t1', 'lost@example.org');
    assert.deepEqual(
      [entry?.source, entry?.reason, entry?.campaignId],
      ['bounce', 'mailboxfull', undefined],
    );
  });

  test('with the soft-bounce limit off, soft bounces never suppress; removing an address resets its count', async () => {
    const off = world({ softBounceLimit: 0 });
    for (let k = 0; k < 5; k++) {
      const r = await off.feedback.apply(
        { tenant: 't1', email: 'a@example.org', ref: `m${k}` },
        SOFT,
      );
      assert.equal(r.suppressed, false);
    }
    const w = world({ softBounceLimit: 2 });
    await w.feedback.apply({ tenant: 't1', email: 'a@example.org', ref: 'm1' }, SOFT);
    await w.feedback.apply({ tenant: 't1', email: 'a@example.org', ref: 'm2' }, SOFT);
    assert.equal(await w.list.remove('t1', 'a@example.org'), true);
    const after = await w.feedback.apply({ tenant: 't1', email: 'a@example.org', ref: 'm3' }, SOFT);
    assert.deepEqual([after.softBounces, after.suppressed], [1, false]);
  });

  test("the sender's own hard bounces land on the list with their source, reason and reply", async () => {
    const w = world();
    const id = await campaign(w, 1, 0);
    const at = Date.now();
    await w.store.finalize(
      id,
      't1',
      {
        index: 0,
        email: 'R0@Example.org',
        outcome: 'bounced',
        reason: 'userunknown',
        detail: '550 5.1.1 unknown\r\nuser',
        suppress: true,
      },
      0,
      at,
    );
    assert.deepEqual(await w.list.get('t1', 'r0@example.org'), {
      email: 'r0@example.org',
      source: 'bounce',
      reason: 'userunknown',
      at,
      campaignId: id,
      detail: '550 5.1.1 unknown  user',
    });
  });
});
