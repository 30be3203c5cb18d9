/**
 * `npm run bench:templates`: how much of its send rate a normal campaign keeps while a campaign
 * whose every recipient goes over the render budget runs beside it (issue 14: at least 90%).
 * Each run deploys Volley afresh (Redis, one API, N senders, smtp-sink, shaping off, so the
 * senders' CPU is what both campaigns share); runs alone and beside alternate (which goes first
 * too), and the report
 * gives each rate, the ratio of the medians and what became of the costly campaign.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keys } from '@volley/contracts';
import { connectRedis, type RedisClient } from '@volley/redis';
import { PREFIX, requireRedisServer, senderTuning, startDeployment } from './lib/deployment.ts';
import { defineCli, flag } from './lib/flags.ts';
import { benchApi } from './lib/api.ts';
import { fmt } from './lib/format.ts';
import { log } from './lib/log.ts';
import { describeMachine, machineSection } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { cpuOf, ticksPerSecond } from './lib/proc-stats.ts';
import { spread } from './lib/stats.ts';
import { monotonicUs, type ProfileWindow, summarizeProfiles } from './lib/profile.ts';
import { OUT_FLAG, openResults, outOption, profilesDir } from './lib/results.ts';
import { redisVersion, sentTimes } from './lib/runs.ts';
import { checkPostfixTools, startSink } from './lib/sink.ts';
import { FROM, recipients, templatesOfSize } from './lib/workload.ts';

const CLI = defineCli(
  'npm run bench:templates',
  {
    quick: flag.switch(
      'smoke-sized: 5,000 recipients beside 100, 1 repetition; results go to benchmarks/results/tmp',
    ),
    recipients: flag
      .int('N', 'recipients of the normal campaign', 1000, 1_000_000)
      .defaultIs('20000; quick 5000'),
    hostile: flag
      .int('N', 'recipients of the campaign over budget', 10, 1_000_000)
      .defaultIs('300; quick 100'),
    senders: flag.int('N', 'sender processes', 1, 16).default(2),
    domains: flag.int('N', 'recipient domains of both campaigns', 1, 10_000).default(20),
    reps: flag.int('N', 'repetitions of each run, interleaved', 1, 20).default(3),
    timeout: flag.int('SECONDS', 'longest one campaign may take', 30, 86_400).default(600),
    out: OUT_FLAG,
    profile: flag.switch(
      'V8 CPU profiles of the API and senders with a summary, in\n' +
        'benchmarks/results/tmp/profiles/templates-<time>/; each run stops when the normal\n' +
        'campaign completes, so the profiles cover it and not the costly tail',
    ),
  },
  (v) => ({
    quick: v.quick,
    recipients: v.recipients ?? (v.quick ? 5_000 : 20_000),
    hostile: v.hostile ?? (v.quick ? 100 : 300),
    senders: v.senders,
    domains: v.domains,
    reps: v.quick ? 1 : v.reps,
    timeoutS: v.timeout,
    out: outOption(v.out, v.quick),
    profile: v.profile,
  }),
);
type Options = ReturnType<typeof CLI.parseOrExit>;

/** Recipients of the campaign each run sends first, before anything it measures. */
const WARM_UP = 5_000;

/** Items of each costly recipient's list. */
const HOSTILE_ROWS = 400;
/**
 * Empty blocks per item: the template then holds 1,999 tags, one short of the default limit
 * (VOLLEY_TEMPLATE_MAX_TAGS), the most costly to compile; 400,000 blocks to render in all,
 * about six times what the 50 ms time budget renders.
 */
const HOSTILE_BLOCKS = 998;

/**
 * The most a campaign can cost: a template accepted at submit (one loop, as many tags as
 * allowed) whose render runs the whole CPU time budget for these variables, producing nothing.
 * Recipients that hit the iteration or output budget stop sooner (1 to 10 ms).
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
  /**
   * CPU (µs) per message sent over the middle 80% of the normal campaign's sends, by process,
   * and the rest of the machine (the bench itself, anything else running).
   */
  cpuPerMessageUs?: Record<CpuRole, number>;
  /** With --profile: the middle 80% of the normal campaign's sends on the profiles' clock. */
  profileWindow?: ProfileWindow;
}

const CPU_ROLES = ['senders', 'api', 'redis', 'sink', 'rest of machine'] as const;
type CpuRole = (typeof CPU_ROLES)[number];

/** Busy and total CPU seconds of the whole machine, from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const ticks = f.reduce((a, b) => a + b, 0);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const hz = ticksPerSecond();
  return { busy: (ticks - idle) / hz, total: ticks / hz };
}

interface CpuSample {
  at: number;
  byRole: Record<CpuRole, number>;
}

/**
 * Samples every 50 ms the CPU seconds each process of the deployment has used, so that a span
 * of the normal campaign's sends can be charged to each.
 */
function sampleCpu(pids: Record<Exclude<CpuRole, 'rest of machine'>, number[]>): {
  samples: CpuSample[];
  stop(): void;
} {
  const samples: CpuSample[] = [];
  const take = () => {
    // A process gone (the run is failing) leaves the samples as they are; the run reports why.
    let ours;
    try {
      ours = {
        senders: cpuOf(pids.senders),
        api: cpuOf(pids.api),
        redis: cpuOf(pids.redis),
        sink: cpuOf(pids.sink),
      };
    } catch {
      return;
    }
    const used = ours.senders + ours.api + ours.redis + ours.sink;
    samples.push({
      at: Date.now(),
      byRole: { ...ours, 'rest of machine': machineCpu().busy - used },
    });
  };
  take();
  const timer = setInterval(take, 50);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
    },
  };
}

/** CPU µs per message of each role between the samples that bracket [from, to]. */
function cpuPerMessage(
  samples: CpuSample[],
  from: number,
  to: number,
  sends: number,
): Record<CpuRole, number> | undefined {
  const a = samples.findLast((x) => x.at <= from);
  const b = samples.find((x) => x.at >= to);
  if (!a || !b || sends <= 0) return undefined;
  // The bracket is up to 100 ms wider than the span: scale its CPU to the span's sends.
  const perS = sends / ((to - from) / 1000);
  const spanS = (b.at - a.at) / 1000;
  return Object.fromEntries(
    CPU_ROLES.map((r) => [r, ((b.byRole[r] - a.byRole[r]) / (spanS * perS)) * 1e6]),
  ) as Record<CpuRole, number>;
}

/** The 10th and the 90th percentile of the send times (epoch ms, sorted) and the sends between. */
function middle(times: Float64Array): { from: number; to: number; sends: number } {
  const lo = Math.floor(times.length * 0.1);
  const hi = Math.ceil(times.length * 0.9) - 1;
  return { from: times[lo] ?? 0, to: times[hi] ?? 0, sends: hi - lo };
}

/** Sends per second over the middle 80% of the send times (ms). */
function middleRate(times: Float64Array): number {
  const m = middle(times);
  const span = (m.to - m.from) / 1000;
  return span > 0 ? m.sends / span : Number.NaN;
}

async function runOnce(
  o: Options,
  mode: Run['mode'],
  rep: number,
  body: { normal: string; warmUp: string },
  onVersion: (v: string) => void,
  profileDir: string | undefined,
): Promise<Run> {
  const sink = await startSink();
  const demoted = new Set<number>();
  let client: RedisClient | undefined;
  const deployment = await startDeployment({
    senders: o.senders,
    relayPort: sink.port,
    apiEnv: {
      VOLLEY_MAX_INLINE_RECIPIENTS: String(Math.max(10_000, o.recipients)),
      VOLLEY_API_BODY_LIMIT: String(Math.max(10 * 1024 * 1024, 2 * Buffer.byteLength(body.normal))),
    },
    senderEnv: { VOLLEY_SHAPING_POLICY: 'off', ...senderTuning() },
    profile: profileDir ? { dir: join(profileDir, mode), rep } : undefined,
    onSenderLine: (k, line) => {
      if (line.includes('campaign demoted')) demoted.add(k);
    },
  }).catch(async (err: unknown) => {
    await sink.proc.stop('SIGTERM', 2000);
    throw err;
  });
  const cpu = sampleCpu({
    senders: deployment.senders.map((x) => x.pid),
    api: [deployment.api.pid],
    redis: deployment.redisNodes.map((x) => x.pid),
    sink: [sink.proc.pid],
  });
  try {
    client = connectRedis(deployment.redis.url, { name: 'volley-bench' });
    onVersion(await redisVersion(client));
    const { call, post, createCampaign } = benchApi(deployment);
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

    // Both modes start from senders that have sent: the first messages of a fresh process run
    // cold (JIT, module loading), and alone the normal campaign would pay for that while beside
    // the costly campaign's batches had warmed the senders up first.
    await completed(await createCampaign(body.warmUp));

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
    const id = await createCampaign(body.normal);
    const normal = await completed(id);
    const normalDone = Date.now();
    const times = (await sentTimes(client, new Keys(PREFIX), id)).times;
    const sent = normal.counts.sent ?? 0;
    const wholeS =
      (Date.parse(normal.completedAt ?? '') - Date.parse(normal.startedAt ?? '')) / 1000;
    const run: Run = { mode, rep, sent, rate: middleRate(times), wholeRate: sent / wholeS };
    const m = middle(times);
    run.cpuPerMessageUs = cpuPerMessage(cpu.samples, m.from, m.to, m.sends);
    if (profileDir) {
      const offsetUs = monotonicUs() - Date.now() * 1000;
      run.profileWindow = { fromUs: m.from * 1000 + offsetUs, toUs: m.to * 1000 + offsetUs };
    }
    if (hostileId && !profileDir) {
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
    cpu.stop();
    client?.disconnect();
    await deployment.stop();
    await sink.proc.stop('SIGTERM', 2000);
  }
}

/**
 * CPU per message of processes outside the deployment (the bench itself, anything else on the
 * machine) past which a run counts as disturbed: its rate says more about them than about Volley.
 */
const DISTURBED_SHARE = 0.1;

function disturbed(r: Run | undefined): boolean {
  const c = r?.cpuPerMessageUs;
  if (!c) return false;
  const all = CPU_ROLES.reduce((t, role) => t + c[role], 0);
  return c['rest of machine'] > DISTURBED_SHARE * all;
}

function markdown(o: Options, runs: Run[], machine: ReturnType<typeof describeMachine>): string {
  const pair = (rep: number) =>
    [
      runs.find((r) => r.mode === 'alone' && r.rep === rep),
      runs.find((r) => r.mode === 'beside' && r.rep === rep),
    ] as const;
  const reps = Array.from({ length: o.reps }, (_v, i) => i + 1);
  const clean = reps.filter((rep) => !pair(rep).some(disturbed));
  // The headline compares undisturbed pairs only, when there are any.
  const counted = clean.length > 0 ? clean : reps;
  const rates = (k: 0 | 1) => spread(counted.map((rep) => pair(rep)[k]?.rate ?? Number.NaN));
  const alone = rates(0);
  const beside = rates(1);
  const ratio = beside.median / alone.median;
  const costly = runs.flatMap((r) => (r.hostile ? [r.hostile] : []));
  const lines = [
    '# A normal campaign beside one over the render budget',
    '',
    `Normal campaign: ${fmt(o.recipients)} recipients, 4 KB messages over ${o.domains} domains. ` +
      `Beside it: ${fmt(o.hostile)} recipients whose variables (lists of ${HOSTILE_ROWS}, ` +
      `${fmt(HOSTILE_ROWS * HOSTILE_BLOCKS)} blocks to render, in a template of 1,999 tags) each run the whole CPU time budget (50 ms by default), the most a recipient can cost. ` +
      `${o.senders} senders, shaping off, a fresh deployment per run, warmed up by a campaign of ${fmt(WARM_UP)} before anything measured; rates are msg/s over the middle 80% of the normal campaign's sends. ` +
      `A run is disturbed when processes outside the deployment took more than ${DISTURBED_SHARE * 100}% of the CPU per message; ` +
      (clean.length === reps.length
        ? 'none was.'
        : clean.length > 0
          ? `the medians count only the ${clean.length} pairs without one.`
          : '**every pair had one**: the medians count them all and say little.'),
    '',
    '| run | alone msg/s | beside msg/s | beside / alone | disturbed |',
    '| --- | ---: | ---: | ---: | --- |',
  ];
  for (const rep of reps) {
    const [a, b] = pair(rep);
    const which = [disturbed(a) && 'alone', disturbed(b) && 'beside'].filter(Boolean).join(', ');
    lines.push(
      `| ${rep} | ${fmt(a?.rate ?? NaN)} | ${fmt(b?.rate ?? NaN)} | ${fmt((b?.rate ?? NaN) / (a?.rate ?? NaN), 2)} | ${which} |`,
    );
  }
  lines.push(
    `| **median** | **${fmt(alone.median)}** | **${fmt(beside.median)}** | **${fmt(ratio, 2)}** (target ≥ 0.90: ${ratio >= 0.9 ? 'met' : 'not met'}) | ${counted.length} of ${reps.length} pairs |`,
    '',
    'CPU per message over the middle 80% of the normal campaign (µs, median of the pairs counted): where the time of the run beside goes.',
    '',
    `| mode | ${CPU_ROLES.join(' | ')} | all |`,
    `| --- | ${CPU_ROLES.map(() => '---:').join(' | ')} | ---: |`,
    ...(['alone', 'beside'] as const).map((mode) => {
      const of = runs
        .filter((r) => r.mode === mode && counted.includes(r.rep))
        .map((r) => r.cpuPerMessageUs);
      const med = (f: (c: Record<CpuRole, number>) => number) =>
        spread(of.flatMap((c) => (c ? [f(c)] : []))).median;
      const all = (c: Record<CpuRole, number>) => CPU_ROLES.reduce((t, r) => t + c[r], 0);
      return `| ${mode} | ${CPU_ROLES.map((r) => fmt(med((c) => c[r]))).join(' | ')} | ${fmt(med(all))} |`;
    }),
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
  const body = {
    normal: JSON.stringify({ ...t, recipients: recipients(o.recipients, o.domains) }),
    warmUp: JSON.stringify({
      ...t,
      recipients: recipients(WARM_UP, o.domains).map((r) => ({ ...r, email: `warm-${r.email}` })),
    }),
  };
  const profileDir = o.profile ? profilesDir(`templates-${place.stamp}`) : undefined;
  const runs: Run[] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    // Alternating which goes first, so that a drift of the machine over a pair favours neither.
    const order = rep % 2 === 1 ? (['alone', 'beside'] as const) : (['beside', 'alone'] as const);
    for (const mode of order) {
      log(`rep ${rep}/${o.reps}: ${mode}`);
      const r = await runOnce(o, mode, rep, body, (v) => (machine.redis = v), profileDir);
      log(`  ${fmt(r.rate)} msg/s${r.hostile ? `; costly: ${JSON.stringify(r.hostile)}` : ''}`);
      runs.push(r);
    }
  }
  machine.loadAvgEnd = loadavg();
  if (profileDir) {
    for (const mode of ['alone', 'beside']) {
      const summary = join(profileDir, mode, 'summary.md');
      // Only the middle of the normal campaign's sends: the rate compared is measured there.
      const windowOf = (name: string) =>
        runs.find((r) => r.mode === mode && name.startsWith(`rep${r.rep}-`))?.profileWindow;
      writeFileSync(summary, summarizeProfiles(join(profileDir, mode), 25, windowOf));
      log(`CPU profile summary: ${relative(process.cwd(), summary)}`);
    }
  }
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
