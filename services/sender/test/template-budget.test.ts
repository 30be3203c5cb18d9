/**
 * Recipients whose variables push a valid template over the render budget, through the whole
 * engine: API, Redis, BullMQ, sender processes, SMTP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueEvents } from 'bullmq';
import { QUEUES } from '@volley/contracts';
import { connectRedis } from '@volley/redis';
import { CAMPAIGN, Harness, KEY, recipients, sharedRedis } from './harness.ts';

let shared: Awaited<ReturnType<typeof sharedRedis>>;
before(async () => {
  shared = await sharedRedis();
});
after(async () => {
  await shared.stop();
});

/**
 * For the tests that judge the iteration and output limits: the time budget out of their reach.
 * It is process CPU time, which the garbage collector's threads also spend: on a loaded machine
 * (test:repeat at load 9) a render stopped at 50 ms before its 10,000th iteration. The time
 * budget has a test of its own below.
 */
const JUDGE_COUNTS = { VOLLEY_TEMPLATE_TIME_BUDGET: '5s' };

const rows = (n: number) => Array.from({ length: n }, (_v, i) => i);

/** Two passes over the same list: accepted at submit, costly for a long list. */
const CROSS = {
  from: 'Volley Test <news@sender.example>',
  subject: 'Your grid, {{name}}',
  html: '<table>{{#each rows}}<tr>{{#each @root.rows}}<td>{{this}}</td>{{/each}}</tr>{{/each}}</table><p>{{#each rows}}{{@root.note}}{{/each}}</p>',
};

/**
 * Watches BullMQ's events of a harness's send queue: stalled jobs (a lock that expired) and
 * the ids of the jobs added. `settled()` waits for the batches still running to finish: a
 * campaign counts as completed when its last outcome is recorded, which a batch does before
 * BullMQ moves the batch's job from active to completed.
 */
async function watchStalls(h: Harness): Promise<{
  stalled: string[];
  added: string[];
  settled(): Promise<void>;
  close(): Promise<void>;
}> {
  const connection = connectRedis(shared.url, { name: 'queue-events', maxRetriesPerRequest: null });
  const events = new QueueEvents(QUEUES.send, {
    connection,
    prefix: h.keys.bullPrefix(QUEUES.send),
  });
  await events.waitUntilReady();
  const stalled: string[] = [];
  const added: string[] = [];
  events.on('stalled', ({ jobId }) => stalled.push(jobId));
  events.on('added', ({ jobId }) => added.push(jobId));
  return {
    stalled,
    added,
    async settled() {
      const running = await h.queues.send.getJobs(['active']);
      // A job that fails or is retried shows in the counts the tests assert next.
      await Promise.all(
        running.map((j) => j.waitUntilFinished(events, 30_000).catch(() => undefined)),
      );
    },
    async close() {
      await events.close();
      connection.disconnect();
    },
  };
}

async function upload(h: Harness, id: string, lines: unknown[]): Promise<void> {
  const res = await h.app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/recipients`,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' },
    payload: lines.map((l) => JSON.stringify(l)).join('\n'),
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json<{ invalid: number }>().invalid, 0, res.body);
}

async function start(h: Harness, id: string): Promise<void> {
  const res = await h.app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/start`,
    headers: { authorization: `Bearer ${KEY}` },
  });
  assert.equal(res.statusCode, 202, res.body);
}

describe('render budget in the sender', () => {
  test('a recipient over the budget fails alone: its batch sends the others and completes', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 1, env: JUDGE_COUNTS });
    const stalls = await watchStalls(h);
    try {
      // One domain, so the costly recipients share batches with the others.
      const list = Array.from({ length: 40 }, (_v, i) => ({
        email: `r${i}@one.example`,
        vars: { name: `R${i}`, rows: rows(i % 10 === 3 ? 2_000 : 3), note: 'n' },
      }));
      const id = await h.create({ ...CROSS, recipients: list });
      await h.completed(id);
      const c = await h.store.get(id);
      assert.deepEqual([c?.counts.sent, c?.counts.failed], [36, 4]);
      const { events } = await h.store.events(id, undefined, 100);
      const failed = events.filter((e) => e.outcome === 'failed');
      assert.deepEqual(failed.map((e) => e.email).sort(), [
        'r13@one.example',
        'r23@one.example',
        'r33@one.example',
        'r3@one.example',
      ]);
      for (const e of failed) {
        assert.equal(e.reason, 'template');
        assert.match(
          e.detail ?? '',
          /^html template: rendering stopped: more than 10000 loop iterations \(VOLLEY_TEMPLATE_MAX_ITERATIONS\)/,
        );
      }
      assert.equal(h.capture.messages.length, 36);
      await stalls.settled();
      assert.deepEqual(stalls.stalled, [], 'no batch outlasted its lock');
      const jobs = await h.queues.send.getJobCounts('failed', 'active', 'wait', 'delayed');
      assert.deepEqual(jobs, { failed: 0, active: 0, wait: 0, delayed: 0 });
    } finally {
      await stalls.close();
      await h.stop();
    }
  });

  test('a campaign over the budget beside a normal one: the normal one is all sent, the other all failed', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 1, capture: { keep: false }, env: JUDGE_COUNTS });
    const stalls = await watchStalls(h);
    try {
      const hostile = await h.create({ ...CROSS, draft: true });
      // Uploaded later, within the API's limits: 2,000 items, 4 million iterations each.
      await upload(
        h,
        hostile,
        Array.from({ length: 150 }, (_v, i) => ({
          email: `h${i}@${['one', 'two', 'three'][i % 3]}.example`,
          vars: { name: `H${i}`, rows: rows(2_000), note: 'n' },
        })),
      );
      // 1 MB variables, as no upload accepts: what reached Redis is not trusted either.
      await h.store.addRecipients(
        hostile,
        Array.from({ length: 10 }, (_v, i) => ({
          email: `big${i}@four.example`,
          vars: { name: 'Big', rows: rows(10), note: 'm'.repeat(1024 * 1024) },
        })),
      );
      await start(h, hostile);
      const normal = await h.create({ ...CAMPAIGN, recipients: recipients(400) });

      await h.completed(normal, 120_000);
      await h.completed(hostile, 120_000);
      const n = await h.store.get(normal);
      assert.deepEqual(
        [n?.counts.total, n?.counts.sent, n?.counts.failed],
        [400, 400, 0],
        JSON.stringify(n?.counts),
      );
      const x = await h.store.get(hostile);
      assert.deepEqual(
        [x?.counts.total, x?.counts.sent, x?.counts.failed],
        [160, 0, 160],
        JSON.stringify(x?.counts),
      );
      const { events } = await h.store.events(hostile, undefined, 200);
      assert.equal(events.length, 160);
      const limits = new Map<string, number>();
      for (const e of events) {
        assert.equal(e.reason, 'template', JSON.stringify(e));
        const limit = /\((VOLLEY_TEMPLATE_MAX_\w+)\)/.exec(e.detail ?? '')?.[1] ?? e.detail ?? '';
        limits.set(limit, (limits.get(limit) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries(limits), {
        VOLLEY_TEMPLATE_MAX_ITERATIONS: 150,
        VOLLEY_TEMPLATE_MAX_OUTPUT: 10,
      });
      // Hundreds of milliseconds of failed renders: the campaign was sent to the back.
      const line = await h.senders[0]!.waitForLine(/campaign demoted/);
      assert.equal((JSON.parse(line) as { campaignId: string }).campaignId, hostile);
      await stalls.settled();
      assert.deepEqual(stalls.stalled, [], 'no batch outlasted its lock');
      assert.equal((await h.queues.send.getJobCounts('failed')).failed, 0);
    } finally {
      await stalls.close();
      await h.stop();
    }
  });

  test('a demoted campaign renders a bounded number of recipients a run and sets the rest aside', async () => {
    const h = new Harness(shared.redis, shared.url);
    await h.start({ senders: 1, capture: { keep: false } });
    const stalls = await watchStalls(h);
    try {
      // 2,000 items (within the upload's 16 KB of variables) of 990 empty blocks each:
      // within the tag, iteration and output budgets, 2 million blocks of work (over a second
      // unbounded), so that every recipient costs a whole time budget (50 ms).
      const blocks = '{{#if @root.no}}{{/if}}'.repeat(990);
      const id = await h.create({
        from: CROSS.from,
        subject: 'Nothing, {{name}}',
        html: `<p>{{#each rows}}${blocks}{{/each}}</p>`,
        draft: true,
      });
      // One domain and the harness's batch size: one batch of all 12. After the first run (2 or
      // 3 renders), runs of 2 come at least 2 s apart (DEMOTED_SHARE): about 10 s in all, and
      // several times that on a loaded machine, where the spacing follows the runs' wall time.
      const size = 12;
      await upload(
        h,
        id,
        Array.from({ length: size }, (_v, i) => ({
          email: `t${i}@one.example`,
          vars: { name: `T${i}`, rows: rows(2_000) },
        })),
      );
      await start(h, id);
      await h.completed(id, 120_000);

      const c = await h.store.get(id);
      assert.deepEqual(
        [c?.counts.total, c?.counts.failed],
        [size, size],
        JSON.stringify(c?.counts),
      );
      const { events } = await h.store.events(id, undefined, 100);
      assert.equal(events.length, size, 'each recipient recorded once');
      for (const e of events) {
        assert.equal(e.reason, 'template');
        assert.match(e.detail ?? '', /more than 50 ms of CPU time \(VOLLEY_TEMPLATE_TIME_BUDGET\)/);
      }
      // Each recipient left unrendered by a run goes on in a job named after that run's
      // (`<parent>.l<first>n<count>`): what a run rendered is its count less its child's.
      const setAside = stalls.added.filter((j) => /\.l\d+n\d+$/.test(j));
      assert.ok(setAside.length > 0, `no batch was set aside: ${stalls.added.join(' ')}`);
      const countOf = (jobId: string): number => Number(/\.l\d+n(\d+)$/.exec(jobId)?.[1] ?? size);
      // Until demoted, 2 or 3 renders (100 ms over budget); once demoted, a run stops after
      // DEMOTED_RUN_MS (100 ms): 2 renders.
      for (const child of setAside) {
        const parent = child.slice(0, child.lastIndexOf('.l'));
        const rendered = countOf(parent) - countOf(child);
        assert.ok(
          rendered >= 0 && rendered <= 3,
          `${parent} rendered ${rendered} recipients before setting the rest aside`,
        );
      }
      const line = await h.senders[0]!.waitForLine(/campaign demoted/);
      assert.equal((JSON.parse(line) as { campaignId: string }).campaignId, id);
      await stalls.settled();
      assert.deepEqual(stalls.stalled, [], 'no batch outlasted its lock');
      const jobs = await h.queues.send.getJobCounts(
        'failed',
        'active',
        'wait',
        'delayed',
        'prioritized',
      );
      assert.deepEqual(jobs, { failed: 0, active: 0, wait: 0, delayed: 0, prioritized: 0 });
    } finally {
      await stalls.close();
      await h.stop();
    }
  });
});
