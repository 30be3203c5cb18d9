/**
 * A recipient whose variables push a valid template over the render budget: the deliver step
 * against a real SMTP server (smtp-server, through the capture server), no Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TEMPLATE_LIMITS, parseRelays } from '@volley/config';
import { RelayPool } from '@volley/smtp';
import { cpuTimeMs, startCaptureServer, type CaptureServer } from '@volley/testkit';
import { Deliverer, compileCampaign, type CampaignSource } from '../src/index.ts';
import type { Delivery } from '../src/deliver.ts';
import {
  DEMOTED_RUN_MS,
  DEMOTED_SHARE,
  DemotedRuns,
  RenderCost,
  renderAllowance,
} from '../src/render-cost.ts';

let sink: CaptureServer;
let relay: RelayPool;
let deliverer: Deliverer;
before(async () => {
  sink = await startCaptureServer();
  const problems: string[] = [];
  relay = new RelayPool(parseRelays(`smtp://127.0.0.1:${sink.port}`, problems), { poolSize: 2 });
  assert.deepEqual(problems, []);
  deliverer = new Deliverer({
    transport: relay,
    maxMessageBytes: 10 * 1024 * 1024,
    verp: undefined,
    // The reply latency is not what these tests judge.
    smtpTime: () => undefined,
  });
});
after(async () => {
  relay.close();
  await sink.close();
});

const HOSTILE: CampaignSource = {
  id: 'abcdef0123456789abcd',
  tenant: 'default',
  from: 'news@sender.example',
  subject: 'Hi {{name}}',
  // Two passes over the same list: accepted at submit, costly for a long list.
  html: '<p>{{#each rows}}{{#each @root.rows}}{{this}}{{/each}}{{/each}}</p><p>{{#each rows}}{{@root.s}}{{/each}}</p>',
};

const rows = (n: number) => Array.from({ length: n }, (_v, i) => i);

/** A fixed sequence in [0, 1) standing in for Math.random: the same spread at every run. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 16_807) % 2_147_483_647;
    return x / 2_147_483_647;
  };
}

describe('a recipient over the render budget', () => {
  test('fails alone, naming the limit, without reaching the server; the others are sent', async () => {
    // The time budget out of reach: the iteration and output counts are what must stop these
    // two. It is process CPU time, so on a loaded machine the GC's threads could spend it
    // before the 10,000th iteration and the test would judge the load (seen at load 25).
    const c = compileCampaign(HOSTILE, undefined, {
      ...DEFAULT_TEMPLATE_LIMITS,
      timeBudgetMs: 60_000,
    });
    const before = sink.messages.length;
    const outcomes: Promise<Delivery>[] = [];
    const ms = cpuTimeMs(() => {
      outcomes.push(
        deliverer.deliver(
          c,
          { i: 0, email: 'loops@rcpt.example', vars: { rows: rows(3_000) } },
          undefined,
        ),
        // 1 MB, as no upload accepts it: the sender does not trust what reached Redis.
        deliverer.deliver(
          c,
          { i: 1, email: 'big@rcpt.example', vars: { rows: rows(10), s: 'b'.repeat(1024 * 1024) } },
          undefined,
        ),
      );
    });
    const [loops, big] = await Promise.all(outcomes);
    assert.deepEqual([loops?.outcome, loops?.reason], ['failed', 'template']);
    assert.equal(
      loops?.detail,
      'html template: rendering stopped: more than 10000 loop iterations (VOLLEY_TEMPLATE_MAX_ITERATIONS); never sent',
    );
    assert.deepEqual([big?.outcome, big?.reason], ['failed', 'template']);
    assert.match(
      big?.detail ?? '',
      /more than 4194304 characters of output \(VOLLEY_TEMPLATE_MAX_OUTPUT\)/,
    );
    // Unbounded: 9 million iterations and a 10 MB message. Bounded: within two time budgets.
    assert.ok(ms < 2_000, `rendering both took ${ms} ms of CPU`);

    const ok = await deliverer.deliver(
      c,
      { i: 2, email: 'ok@rcpt.example', vars: { name: 'Ok', rows: rows(3), s: 's' } },
      undefined,
    );
    assert.equal(ok.outcome, 'sent', ok.detail);
    assert.deepEqual(
      sink.messages.slice(before).map((m) => m.to[0]),
      ['ok@rcpt.example'],
    );
  });

  test('the sender applies its configured budget', async () => {
    const limits = { ...DEFAULT_TEMPLATE_LIMITS, maxIterations: 100 };
    const one = compileCampaign(
      { ...HOSTILE, html: '{{#each rows}}.{{/each}}' },
      undefined,
      limits,
    );
    const fits = await deliverer.deliver(
      one,
      { i: 0, email: 'a@rcpt.example', vars: { rows: rows(100) } },
      undefined,
    );
    assert.equal(fits.outcome, 'sent', fits.detail);
    const res = await deliverer.deliver(
      one,
      { i: 1, email: 'b@rcpt.example', vars: { rows: rows(101) } },
      undefined,
    );
    assert.equal(res.outcome, 'failed');
    assert.match(res.detail, /more than 100 loop iterations/);
    // Two passes fit 10,000 iterations at 100 items a list; 9,999 cannot hold them.
    const refused = compileCampaign(HOSTILE, undefined, {
      ...DEFAULT_TEMPLATE_LIMITS,
      maxIterations: 9_999,
    });
    assert.ok(refused.templates instanceof Error);
    const all = await deliverer.deliver(refused, { i: 2, email: 'c@rcpt.example' }, undefined);
    assert.deepEqual([all.outcome, all.reason], ['failed', 'template']);
    assert.match(all.detail, /column 18: \{\{#each @root\.rows\}\} walks data/);
  });
});

describe('render cost', () => {
  test('a campaign is demoted once its failed renders cost more than it can spare, and forgiven as they stop', () => {
    let now = 0;
    const cost = new RenderCost(() => now);
    assert.equal(cost.demoted, false);
    // A few hostile recipients in a normal campaign: not worth demoting for.
    cost.overBudget(50);
    cost.overBudget(45);
    assert.equal(cost.demoted, false);
    cost.overBudget(50);
    assert.equal(cost.demoted, true);
    // Half-life 10 s: 145 ms of failures count 72.5 after 10 s, below the 100 that demote.
    now += 10_000;
    assert.equal(cost.demoted, false);
    // Spread thin enough, failures never add up: 5 ms every second settles near 72.
    for (let s = 0; s < 120; s++) {
      now += 1_000;
      cost.overBudget(5);
      assert.equal(cost.demoted, false, `after ${s + 1} s`);
    }
  });
});

describe('a demoted campaign', () => {
  /** Every recipient here goes over the iteration budget: 3,000 items walked 3,000 times. */
  const costly = (i: number) => ({ i, email: `d${i}@rcpt.example`, vars: { rows: rows(3_000) } });

  function demotedCampaign() {
    const c = compileCampaign(HOSTILE, undefined);
    // Twice the spend that demotes: still over it after the few ms this test takes.
    c.renderCost.overBudget(300);
    assert.equal(c.renderCost.demoted, true);
    return c;
  }

  test('a message its batch may not render now comes back later, not rendered and not sent', async () => {
    const c = demotedCampaign();
    const spent = c.renderCost.totalMs;
    const before = sink.messages.length;
    const res = await deliverer.deliver(c, costly(0), undefined, () => false);
    assert.deepEqual([res.outcome, res.reason], ['later', 'template']);
    assert.match(res.detail, /demoted for going over the render budget/);
    assert.equal(c.renderCost.totalMs, spent, 'nothing was rendered');
    // Allowed, it renders and fails alone as before, and what it cost is counted.
    const rendered = await deliverer.deliver(c, costly(1), undefined, () => true);
    assert.deepEqual([rendered.outcome, rendered.reason], ['failed', 'template']);
    assert.ok(c.renderCost.totalMs > spent);
    assert.equal(sink.messages.length, before);
  });

  test('a campaign that is not demoted never asks whether it may render', async () => {
    const c = compileCampaign(HOSTILE, undefined);
    let asked = 0;
    const res = await deliverer.deliver(
      c,
      { i: 0, email: 'n@rcpt.example', vars: { name: 'N', rows: rows(3), s: 's' } },
      undefined,
      () => {
        asked++;
        return false;
      },
    );
    assert.equal(res.outcome, 'sent', res.detail);
    assert.equal(asked, 0);
  });

  test('its renders take turns with the rest of the event loop, one a turn', async () => {
    const c = demotedCampaign();
    const order: string[] = [];
    let ticking = true;
    const tick = (): void => {
      order.push('tick');
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        deliverer.deliver(c, costly(i), undefined, () => {
          order.push('render');
          return true;
        }),
      ),
    );
    ticking = false;
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['failed', 'failed', 'failed', 'failed'],
    );
    const renders = order.flatMap((what, k) => (what === 'render' ? [k] : []));
    assert.equal(renders.length, 4);
    for (let k = 1; k < renders.length; k++) {
      const between = order.slice((renders[k - 1] ?? 0) + 1, renders[k]);
      assert.ok(
        between.includes('tick'),
        `renders ${k} and ${k + 1} ran in the same turn: ${order.join(' ')}`,
      );
    }
  });

  test('runs of demoted batches are spaced so that together they take a twentieth of the sender', () => {
    assert.equal(DEMOTED_SHARE, 0.05);
    let now = 1_000_000;
    const runs = new DemotedRuns(() => now);
    const spacing = DEMOTED_RUN_MS / DEMOTED_SHARE;
    // Batches set aside at the same moment come back one after the other.
    assert.deepEqual(
      [runs.reserve(), runs.reserve(), runs.reserve()],
      [spacing, 2 * spacing, 3 * spacing],
    );
    // Time passing uses up the reservations; an idle spell is not saved up for a burst.
    now += 10 * spacing;
    assert.equal(runs.reserve(), spacing);
    now += spacing / 2;
    assert.equal(runs.reserve(), spacing * 1.5);
  });

  test('a demoted run that took longer than its CPU (a loaded machine) spaces the next by its wall time', () => {
    let now = 1_000_000;
    const runs = new DemotedRuns(() => now);
    // 100 ms of CPU took 700 ms of wall time: the runs after it keep 19 times that free.
    runs.ran(7 * DEMOTED_RUN_MS);
    assert.equal(runs.reserve(), (7 * DEMOTED_RUN_MS) / DEMOTED_SHARE);
    // A run quicker than its CPU budget (it rendered little) does not shorten the spacing.
    now += 1_000_000;
    runs.ran(DEMOTED_RUN_MS / 4);
    assert.equal(runs.reserve(), DEMOTED_RUN_MS / DEMOTED_SHARE);
  });

  test('demoted runs that come due together start one at a time, spaced, and none is left behind', () => {
    let now = 1_000_000;
    const runs = new DemotedRuns(() => now, seeded(7));
    const spacing = DEMOTED_RUN_MS / DEMOTED_SHARE;
    // One runs; while it does, no other starts.
    const end = runs.start();
    assert.ok(end);
    assert.equal(runs.start(), undefined);
    now += DEMOTED_RUN_MS;
    end();
    // After it, the next may start no sooner than three quarters of the spacing from its start.
    now += spacing * 0.75 - DEMOTED_RUN_MS - 1;
    assert.equal(runs.start(), undefined);
    now += 1;
    const next = runs.start();
    assert.ok(next);
    next();

    // Ten batches due at the same moment (the queue was busy while they came due): each that
    // may not start goes back to its reserved slot, as the sender does, until all have run.
    now += 10 * spacing;
    let due = Array.from({ length: 10 }, () => now);
    const starts: number[] = [];
    for (let step = 0; step < 1_000 && due.length > 0; step++) {
      now = Math.min(...due);
      const later: number[] = [];
      for (const at of due) {
        if (at > now) {
          later.push(at);
          continue;
        }
        const done = runs.start();
        if (!done) {
          const retry = runs.retryIn();
          assert.ok(retry > 0, 'a batch that may not start now comes back later, not at once');
          later.push(now + retry);
          continue;
        }
        starts.push(now);
        now += DEMOTED_RUN_MS;
        done();
      }
      due = later;
    }
    assert.equal(starts.length, 10, 'every batch ran');
    for (let k = 1; k < starts.length; k++) {
      const gap = (starts[k] ?? 0) - (starts[k - 1] ?? 0);
      assert.ok(gap >= spacing * 0.75, `runs ${k} and ${k + 1} started ${gap} ms apart`);
    }
    // One every spacing or so: at most 1.75, the wait for a free sender plus the random part.
    assert.ok(
      (starts.at(-1) ?? 0) - (starts[0] ?? 0) <= 9 * 1.75 * spacing,
      `the ten runs took ${(starts.at(-1) ?? 0) - (starts[0] ?? 0)} ms`,
    );
  });

  test('two senders share the demoted batches either scheduled: each runs one at a time, spaced, and all run', () => {
    let now = 1_000_000;
    const random = seeded(11);
    const senders = [new DemotedRuns(() => now, random), new DemotedRuns(() => now, random)];
    const spacing = DEMOTED_RUN_MS / DEMOTED_SHARE;
    // Each sender set ten batches aside on its own schedule; the queue hands a due batch to
    // whichever sender asks next, here the two in turn.
    const due = senders.flatMap((r) => Array.from({ length: 10 }, () => now + r.reserve()));
    const starts: number[][] = [[], []];
    let turn = 0;
    for (let step = 0; step < 10_000 && due.length > 0; step++) {
      now = Math.min(...due);
      const k = due.indexOf(now);
      due.splice(k, 1);
      const s = turn++ % 2;
      const runs = senders[s]!;
      const done = runs.start();
      if (!done) {
        due.push(now + runs.retryIn());
        continue;
      }
      starts[s]!.push(now);
      now += DEMOTED_RUN_MS;
      done();
    }
    assert.equal(starts[0]!.length + starts[1]!.length, 20, 'every batch ran');
    for (const mine of starts) {
      for (let k = 1; k < mine.length; k++) {
        const gap = (mine[k] ?? 0) - (mine[k - 1] ?? 0);
        assert.ok(gap >= spacing * 0.75, `one sender started two runs ${gap} ms apart`);
      }
    }
    // Two senders, a run each per spacing or so: 20 runs in about 10 spacings (at most 1.75
    // each).
    const last = Math.max(...starts.flat()) - 1_000_000;
    assert.ok(last <= 10 * 1.75 * spacing, `the last run started ${last} ms after the first`);
  });

  test('a demoted batch renders two over budget a run, also on a sender that has not seen its campaign', () => {
    const now = 1_000_000;
    /** Renders, each 50 ms over budget, until the run may render no more. */
    const rendersOf = (cost: RenderCost, demotedRun: boolean) => {
      const may = renderAllowance(cost, demotedRun);
      let n = 0;
      for (; n < 100 && may(); n++) cost.overBudget(50);
      return n;
    };
    // A sender new to the campaign: not demoted here, but the batch's priority says it was.
    const fresh = new RenderCost(() => now);
    assert.equal(fresh.demoted, false);
    assert.equal(rendersOf(fresh, true), DEMOTED_RUN_MS / 50);
    // On the sender that demoted it, the same bound, run after run.
    const seen = new RenderCost(() => now);
    seen.overBudget(300);
    assert.equal(rendersOf(seen, true), DEMOTED_RUN_MS / 50);
    assert.equal(rendersOf(seen, true), DEMOTED_RUN_MS / 50);
    // A batch at normal priority renders until its campaign is demoted here, then none.
    const normal = new RenderCost(() => now);
    assert.equal(rendersOf(normal, false), 3);
    assert.equal(rendersOf(normal, false), 0);
  });
});
