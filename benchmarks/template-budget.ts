/**
 * `npm run bench:templates`: how much of its send rate a normal campaign keeps while a campaign
 * whose every recipient goes over the render budget runs beside it (issue 14: at least 90%).
 * Each run deploys Volley afresh (Redis, one API, N senders, smtp-sink, shaping off, so the
 * senders' CPU is what both campaigns share); runs alone and beside alternate, and the report
 * gives each rate, the ratio of the medians and what became of the costly campaign.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keys } from '@volley/contracts';
import { connectRedis, type RedisClient } from '@volley/redis';
import { PREFIX, requireRedisServer, senderTuning, startDeployment } from './lib/deployment.ts';
import { defineCli, flag } from './lib/flags.ts';
import { fmt } from './lib/format.ts';
import { log } from './lib/log.ts';
import { describeMachine, machineSection } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { spread } from './lib/stats.ts';
import { OUT_FLAG, openResults, outOption } from './lib/results.ts';
import { redisVersion, sentTimes } from './lib/runs.ts';
import { checkPostfixTools, startSink } from './lib/sink.ts';
import { FROM, recipients, templatesOfSize } from './lib/workload.ts';

const CLI = defineCli(
  'npm run bench:templates',
  {
    quick: flag.switch(
      'smoke-sized: 5,000 recipients beside 200, 1 repetition; results go to benchmarks/results/tmp',
    ),
    recipients: flag
      .int('N', 'recipients of the normal campaign', 1000, 1_000_000)
      .defaultIs('20000; quick 5000'),
    hostile: flag
      .int('N', 'recipients of the campaign over budget', 10, 1_000_000)
      .defaultIs('500; quick 200'),
    senders: flag.int('N', 'sender processes', 1, 16).default(2),
    domains: flag.int('N', 'recipient domains of both campaigns', 1, 10_000).default(20),
    reps: flag.int('N', 'repetitions of each run, interleaved', 1, 20).default(3),
    timeout: flag.int('SECONDS', 'longest one campaign may take', 30, 86_400).default(600),
    out: OUT_FLAG,
  },
  (v) => ({
    quick: v.quick,
    recipients: v.recipients ?? (v.quick ? 5_000 : 20_000),
    hostile: v.hostile ?? (v.quick ? 200 : 500),
    senders: v.senders,
    domains: v.domains,
    reps: v.quick ? 1 : v.reps,
    timeoutS: v.timeout,
    out: outOption(v.out, v.quick),
  }),
);
type Options = ReturnType<typeof CLI.parseOrExit>;

/** Items of each costly recipient's list. */
const HOSTILE_ROWS = 200;
/** Empty blocks per item: 400,000 in all, far more than the 50 ms time budget renders. */
const HOSTILE_BLOCKS = 2_000;

/**
 * The most a recipient can cost: a template accepted at submit (one loop) whose render runs
 * the whole CPU time budget for these variables, producing nothing. Recipients that hit the
 * iteration or output budget stop sooner (1 to 10 ms).
 */
const HOSTILE = {
  from: FROM,
  subject: 'Nothing, {{name}}',
  html: `<p>{{#each rows}}${'{{#if @root.never}}{{/if}}'.repeat(HOSTILE_BLOCKS)}{{/each}}</p>`,
  text: 'See the HTML part.',
};

interface Campaign {
  status: string;
  startedAt?: string;
  completedAt?: string;
  counts: Record<string, number>;
}

interface Run {
  mode: 'alone' | 'beside';
  rep: number;
  sent: number;
  /** msg/s over the middle 80% of the normal campaign's sends (its own event times). */
  rate: number;
  /** msg/s from the campaign's start to its completion. */
  wholeRate: number;
  hostile?: {
    counts: Record<string, number>;
    /** Of its failed recipients, those failed for the render budget (reason template). */
    templateFailures: number;
    /** Seconds from the normal campaign's completion to the costly one's. */
    finishedAfterS: number;
    /** Sender processes that logged its demotion. */
    demotedBy: number;
    /** Its recipients that failed while the normal campaign was sending (first to last send). */
    failedMeanwhile: number;
  };
}

/** Sends per second between the 10th and the 90th percentile of the send times (ms). */
function middleRate(times: Float64Array): number {
  const lo = Math.floor(times.length * 0.1);
  const hi = Math.ceil(times.length * 0.9) - 1;
  const span = ((times[hi] ?? 0) - (times[lo] ?? 0)) / 1000;
  return span > 0 ? (hi - lo) / span : Number.NaN;
}

async function runOnce(
  o: Options,
  mode: Run['mode'],
  rep: number,
  body: string,
  onVersion: (v: string) => void,
): Promise<Run> {
  const sink = await startSink();
  const demoted = new Set<number>();
  let client: RedisClient | undefined;
  const deployment = await startDeployment({
    senders: o.senders,
    relayPort: sink.port,
    apiEnv: {
      VOLLEY_MAX_INLINE_RECIPIENTS: String(Math.max(10_000, o.recipients)),
      VOLLEY_API_BODY_LIMIT: String(Math.max(10 * 1024 * 1024, 2 * Buffer.byteLength(body))),
    },
    senderEnv: { VOLLEY_SHAPING_POLICY: 'off', ...senderTuning() },
    onSenderLine: (k, line) => {
      if (line.includes('campaign demoted')) demoted.add(k);
    },
  }).catch(async (err: unknown) => {
    await sink.proc.stop('SIGTERM', 2000);
    throw err;
  });
  try {
    const { base, auth } = deployment;
    client = connectRedis(deployment.redis.url, { name: 'volley-bench' });
    onVersion(await redisVersion(client));
    const call = async (path: string, init?: RequestInit): Promise<unknown> => {
      const res = await fetch(`${base}${path}`, {
        ...init,
        headers: { ...auth, ...(init?.headers as Record<string, string> | undefined) },
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${text}`);
      return JSON.parse(text) as unknown;
    };
    const post = (path: string, json: unknown) =>
      call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(json),
      });
    const completed = async (id: string): Promise<Campaign> => {
      const deadline = Date.now() + o.timeoutS * 1000;
      for (;;) {
        deployment.assertRunning();
        const c = (await call(`/v1/campaigns/${id}`)) as Campaign;
        if (c.status === 'completed') return c;
        if (Date.now() > deadline) throw new Error(`campaign ${id} not done: ${JSON.stringify(c)}`);
        await sleep(100);
      }
    };

    let hostileId: string | undefined;
    if (mode === 'beside') {
      hostileId = ((await post('/v1/campaigns', { ...HOSTILE, draft: true })) as { id: string }).id;
      const rows = Array.from({ length: HOSTILE_ROWS }, (_v, i) => i);
      const lines = recipients(o.hostile, o.domains).map((r, i) =>
        JSON.stringify({ email: `costly-${r.email}`, vars: { name: `H${i}`, rows } }),
      );
      await call(`/v1/campaigns/${hostileId}/recipients`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: lines.join('\n'),
      });
      await post(`/v1/campaigns/${hostileId}/start`, {});
    }
    const id = (
      (await call('/v1/campaigns', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })) as { id: string }
    ).id;
    const normal = await completed(id);
    const normalDone = Date.now();
    const times = (await sentTimes(client, new Keys(PREFIX), id)).times;
    const sent = normal.counts.sent ?? 0;
    const wholeS =
      (Date.parse(normal.completedAt ?? '') - Date.parse(normal.startedAt ?? '')) / 1000;
    const run: Run = { mode, rep, sent, rate: middleRate(times), wholeRate: sent / wholeS };
    if (hostileId) {
      const h = await completed(hostileId);
      let templateFailures = 0;
      let failedMeanwhile = 0;
      const [first, last] = [times[0] ?? 0, times[times.length - 1] ?? 0];
      let cursor: string | undefined;
      for (let page = 0; page < 100_000; page++) {
        const q = `limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
        const p = (await call(`/v1/campaigns/${hostileId}/events?${q}`)) as {
          events: { outcome: string; reason: string; at: string }[];
          next?: string;
        };
        for (const e of p.events) {
          if (e.outcome === 'failed' && e.reason === 'template') templateFailures++;
          const at = Date.parse(e.at);
          if (at >= first && at <= last) failedMeanwhile++;
        }
        if (!p.next || p.events.length === 0) break;
        cursor = p.next;
      }
      run.hostile = {
        counts: h.counts,
        templateFailures,
        finishedAfterS: (Date.now() - normalDone) / 1000,
        demotedBy: demoted.size,
        failedMeanwhile,
      };
    }
    return run;
  } finally {
    client?.disconnect();
    await deployment.stop();
    await sink.proc.stop('SIGTERM', 2000);
  }
}

function markdown(o: Options, runs: Run[], machine: ReturnType<typeof describeMachine>): string {
  const alone = spread(runs.filter((r) => r.mode === 'alone').map((r) => r.rate));
  const beside = spread(runs.filter((r) => r.mode === 'beside').map((r) => r.rate));
  const ratio = beside.median / alone.median;
  const costly = runs.flatMap((r) => (r.hostile ? [r.hostile] : []));
  const lines = [
    '# A normal campaign beside one over the render budget',
    '',
    `Normal campaign: ${fmt(o.recipients)} recipients, 4 KB messages over ${o.domains} domains. ` +
      `Beside it: ${fmt(o.hostile)} recipients whose variables (lists of ${HOSTILE_ROWS}, ` +
      `${fmt(HOSTILE_ROWS * HOSTILE_BLOCKS)} blocks to render) each run the whole CPU time budget (50 ms by default), the most a recipient can cost. ` +
      `${o.senders} senders, shaping off, a fresh deployment per run; rates are msg/s over the middle 80% of the normal campaign's sends.`,
    '',
    '| run | alone msg/s | beside msg/s | beside / alone |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (let rep = 1; rep <= o.reps; rep++) {
    const a = runs.find((r) => r.mode === 'alone' && r.rep === rep);
    const b = runs.find((r) => r.mode === 'beside' && r.rep === rep);
    lines.push(
      `| ${rep} | ${fmt(a?.rate ?? NaN)} | ${fmt(b?.rate ?? NaN)} | ${fmt((b?.rate ?? NaN) / (a?.rate ?? NaN), 2)} |`,
    );
  }
  lines.push(
    `| **median** | **${fmt(alone.median)}** | **${fmt(beside.median)}** | **${fmt(ratio, 2)}** (target ≥ 0.90: ${ratio >= 0.9 ? 'met' : 'not met'}) |`,
    '',
    '| run | normal sent | costly failed (reason template) / total | of them while the normal one sent | costly done after the normal one | senders that demoted it |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of runs.filter((x) => x.mode === 'beside')) {
    const h = r.hostile;
    lines.push(
      `| ${r.rep} | ${fmt(r.sent)} | ${fmt(h?.templateFailures ?? NaN)} / ${fmt(h?.counts.total ?? NaN)} | ${fmt(h?.failedMeanwhile ?? NaN)} | ${fmt(h?.finishedAfterS ?? NaN, 1)} s | ${h?.demotedBy ?? 'n/a'} of ${o.senders} |`,
    );
  }
  const all = costly.every((h) => h.templateFailures === h.counts.total);
  lines.push(
    '',
    `Every costly recipient failed alone with reason \`template\`: ${all ? 'yes' : '**no**'}. Whole-campaign rates (start to completion): alone ${fmt(spread(runs.filter((r) => r.mode === 'alone').map((r) => r.wholeRate)).median)}, beside ${fmt(spread(runs.filter((r) => r.mode === 'beside').map((r) => r.wholeRate)).median)} msg/s.`,
    '',
    ...machineSection(machine, [], process.argv.slice(2).join(' ') || '(defaults)'),
  );
  return lines.join('\n');
}

async function main(): Promise<number> {
  const o = CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  checkPostfixTools();
  const machine = describeMachine();
  const place = openResults(o.out);
  const t = templatesOfSize(4096);
  const body = JSON.stringify({ ...t, recipients: recipients(o.recipients, o.domains) });
  const runs: Run[] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const mode of ['alone', 'beside'] as const) {
      log(`rep ${rep}/${o.reps}: ${mode}`);
      const r = await runOnce(o, mode, rep, body, (v) => (machine.redis = v));
      log(`  ${fmt(r.rate)} msg/s${r.hostile ? `; costly: ${JSON.stringify(r.hostile)}` : ''}`);
      runs.push(r);
    }
  }
  machine.loadAvgEnd = loadavg();
  const md = markdown(o, runs, machine);
  const name = `${place.stamp}-template-budget`;
  writeFileSync(join(place.dir, `${name}.md`), `${md}\n`);
  writeFileSync(
    join(place.dir, `${name}.json`),
    `${JSON.stringify({ startedAt: place.startedAt, options: o, machine, runs }, null, 2)}\n`,
  );
  process.stdout.write(`${md}\n`);
  process.stderr.write(
    `results: ${['json', 'md'].map((x) => relative(process.cwd(), join(place.dir, `${name}.${x}`))).join(', ')}\n`,
  );
  const failed = runs.some(
    (r) =>
      r.sent !== o.recipients ||
      (r.hostile && r.hostile.templateFailures !== (r.hostile.counts.total ?? -1)),
  );
  return failed ? 1 : 0;
}

runMain('bench:templates', main);
