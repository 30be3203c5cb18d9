/**
 * `npm run bench:shaping`: per-domain traffic shaping measured at the receiving end. Volley runs
 * as a deployment does (one API, N sender processes, Redis), relaying into an SMTP sink that
 * logs every message and connection; each behaviour of the shaper has a destination of its own
 * (rates, a provider, connection caps, an adaptive slow-down, a suspension) plus unlimited
 * background mail. See benchmarks/README.md, "Traffic shaping".
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis } from '@volley/redis';
import { Keys, ShapingKeys } from '@volley/contracts';
import { createQueues, type Queues } from '@volley/campaigns';
import { Shaper, type ShapingEvent } from '@volley/shaping';
import { launchTs, ROOT, tail, type ChildHandle } from '@volley/runtime';
import { log } from './lib/log.ts';
import { cpuOf } from './lib/proc-stats.ts';
import {
  PREFIX,
  requireRedisServer,
  senderTuning,
  startDeployment,
  type Deployment,
} from './lib/deployment.ts';
import { openResults } from './lib/results.ts';
import { commitLabel } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { redisVersion } from './lib/runs.ts';
import {
  analyse,
  readSinkLog,
  type CampaignRecord,
  type LoggedShapingEvent,
  type StateSample,
} from './lib/shaping-analysis.ts';
import { SHAPING_CLI, type ShapingBenchOptions } from './lib/shaping-args.ts';
import { shapingMarkdown, type ShapingRunInfo } from './lib/shaping-report.ts';
import {
  addressesOf,
  buildScenario,
  bulkAddresses,
  type Scenario,
} from './lib/shaping-scenario.ts';
import type { ShapingSinkConfig } from './lib/shaping-sink.ts';
import { templatesOfSize, varsOf } from './lib/workload.ts';

/** The performance bar's message: 4 KB of rendered HTML + text, personalized per recipient. */
const MESSAGE_BYTES = 4096;
/** How often the adaptive state and the leases are read from Redis. */
const STATE_POLL_MS = 500;
/** Active jobs looked at per poll: above the 4 × 8 a default deployment runs at once. */
const ACTIVE_SAMPLE = 200;
/** How often unfinished campaigns are asked for their status. */
const STATUS_POLL_MS = 1000;

interface CampaignView {
  status: string;
  counts: Record<string, number>;
}

/** The senders' counter of batches held back by shaping, by reason (rate, suspended, connections). */
const DELAYS_METRIC = 'volley_shaping_delays_total';

/** Sums a Prometheus counter's samples by one of its labels. */
function counterByLabel(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${name}\\{([^}]*)\\}\\s+(\\S+)`, 'gm');
  for (const m of text.matchAll(re)) {
    const value = new RegExp(`${label}="([^"]*)"`).exec(m[1] ?? '')?.[1] ?? '';
    out.set(value, (out.get(value) ?? 0) + Number(m[2]));
  }
  return out;
}

interface RunData {
  /** CPU seconds of each kind of process from the first submission to completion. */
  cpu: Record<string, number>;
  /** Batches the senders held back, by reason, from their metrics at completion. */
  delays: Record<string, number>;
  campaigns: CampaignRecord[];
  events: LoggedShapingEvent[];
  states: StateSample[];
  redis: string;
  timedOut: boolean;
  /** Warnings and errors the services logged (the first ones). */
  problems: string[];
  sinkLog: string;
  endedAt: number;
}

async function runScenario(
  o: ShapingBenchOptions,
  sc: Scenario,
  work: string,
  tuning: Record<string, string>,
): Promise<RunData> {
  const policyPath = join(work, 'policy.yaml');
  writeFileSync(policyPath, sc.policyYaml);
  const sinkLog = join(work, 'sink.ndjson');
  const sinkCfg: ShapingSinkConfig = {
    port: 0,
    logPath: sinkLog,
    faults: sc.faults,
    replyDelayMs: sc.replyDelayMs,
  };
  const events: LoggedShapingEvent[] = [];
  const states: StateSample[] = [];
  const problems: string[] = [];
  const campaigns: CampaignRecord[] = [];
  let volley: Deployment | undefined;
  let sink: ChildHandle | undefined;
  let client: ReturnType<typeof connectRedis> | undefined;
  let queues: Queues | undefined;
  let poller: NodeJS.Timeout | undefined;
  try {
    sink = launchTs('shaping-sink', 'benchmarks/lib/shaping-sink.ts', {
      env: { BENCH_SHAPING_SINK: JSON.stringify(sinkCfg) },
    });
    const sinkProc = sink;
    const sinkPort = Number((await sink.waitForLine(/^listening \d+$/, 60_000)).split(' ')[1]);
    const largest = Math.max(...sc.destinations.map((d) => d.recipients), sc.bulk.perCampaign);
    const onSenderLine = (sender: number, line: string): void => {
      if (!line.startsWith('{')) return;
      let rec: { level?: number; time?: number; msg?: string; shaping?: ShapingEvent };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        return;
      }
      if (rec.shaping) events.push({ t: rec.time ?? Date.now(), sender, event: rec.shaping });
      if ((rec.level ?? 0) >= 40 && problems.length < 20) {
        problems.push(`sender-${sender}: ${rec.msg ?? ''} ${line.slice(0, 300)}`);
      }
    };
    volley = await startDeployment({
      senders: o.senders,
      relayPort: sinkPort,
      env: { VOLLEY_SHAPING_POLICY: policyPath },
      apiEnv: {
        VOLLEY_MAX_INLINE_RECIPIENTS: String(Math.max(10_000, largest)),
        VOLLEY_API_BODY_LIMIT: String(256 * 1024 * 1024),
        // The harness polls every unfinished campaign each second; the API's per-key limit is
        // for clients, not for this.
        VOLLEY_API_RATE_LIMIT: 'off',
      },
      senderEnv: {
        VOLLEY_DELIVERY: 'relay',
        // Deferrals the policy has no schedule for retry within the run, not after an hour.
        VOLLEY_RETRY_BASE: '2s',
        VOLLEY_RETRY_MAX: '10s',
        ...tuning,
      },
      onSenderLine,
    });
    const { redis, api, senders, metricsPorts, base, auth } = volley;
    log(
      `pids: redis ${redis.pid}, sink ${sink.pid}, api ${api.pid}, senders ${senders.map((s) => s.pid).join(' ')}`,
    );
    client = connectRedis(redis.url, { name: 'volley-bench-shaping' });
    const redisVer = await redisVersion(client);
    const shaper = new Shaper({ redis: client, prefix: PREFIX, policy: sc.policy });
    const shapingKeys = new ShapingKeys(PREFIX);
    const capped = sc.destinations
      .filter((d) => sc.policy.domains.get(d.domains[0] ?? '')?.connections !== undefined)
      .map((d) => d.key);
    const redisClient = client;
    queues = createQueues(client, new Keys(PREFIX));
    const sendQueue = queues.send;
    /** What the senders' workers are busy with: active batches by domain, and the queue depths. */
    const queueState = async (): Promise<StateSample['queue']> => {
      const [counts, active] = await Promise.all([
        sendQueue.getJobCounts('wait', 'active', 'delayed'),
        sendQueue.getActive(0, ACTIVE_SAMPLE - 1),
      ]);
      const byDomain: Record<string, number> = {};
      for (const job of active) {
        const d = (job.data as { domain?: string } | undefined)?.domain ?? '?';
        byDomain[d] = (byDomain[d] ?? 0) + 1;
      }
      return {
        waiting: counts.wait ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        activeByDomain: byDomain,
      };
    };
    /** Senders (by pid) holding a lease of each capped key now: lease ids start with the holder. */
    const holders = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const key of capped) {
        const ids = await redisClient.zrange(shapingKeys.leases(key), '0', '-1');
        out[key] = new Set(ids.map((id) => id.split(':').slice(0, -1).join(':'))).size;
      }
      return out;
    };
    let polling = false;
    poller = setInterval(() => {
      if (polling) return;
      polling = true;
      Promise.all([shaper.snapshot(), holders(), queueState()])
        .then(([snap, held, queue]) => {
          const keys: StateSample['keys'] = {};
          for (const d of snap.destinations) {
            const until = Math.max(0, ...d.suspensions.map((s) => s.until));
            keys[d.key] = {
              factor: d.factor,
              leases: d.connectionsInUse,
              ahead: d.delayed,
              ...(held[d.key] !== undefined ? { holders: held[d.key] } : {}),
              ...(until > 0 ? { suspendedUntil: until } : {}),
            };
          }
          states.push({ t: snap.at, keys, queue });
        })
        .catch(() => undefined)
        .finally(() => (polling = false));
    }, STATE_POLL_MS);

    const running = volley;
    const alive = (): void => {
      running.assertRunning();
      if (!sinkProc.running()) {
        throw new Error(`${sinkProc.name} exited during the run; output:\n${tail(sinkProc.lines)}`);
      }
    };
    const templates = templatesOfSize(MESSAGE_BYTES);
    const bodyOf = (emails: string[]): string =>
      JSON.stringify({
        ...templates,
        recipients: emails.map((email, i) => ({ email, vars: varsOf(i) })),
      });
    const create = async (
      key: string,
      role: CampaignRecord['role'],
      body: string,
      total: number,
      n?: number,
    ): Promise<void> => {
      const submittedAt = Date.now();
      const res = await fetch(`${base}/v1/campaigns`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body,
      });
      const text = await res.text();
      if (res.status !== 202) {
        throw new Error(
          `POST /v1/campaigns (${key}) answered ${res.status}: ${text.slice(0, 300)}`,
        );
      }
      const id = (JSON.parse(text) as { id: string }).id;
      campaigns.push({
        id,
        key,
        role,
        total,
        submittedAt,
        status: 'running',
        counts: {},
        ...(n === undefined ? {} : { n }),
      });
    };

    // Built before the clock starts: the limited campaigns go in together, so that every key's
    // windows line up.
    const limitedBodies = sc.destinations.map((d) => ({ d, body: bodyOf(addressesOf(d)) }));
    log(
      `submitting ${sc.destinations.length} limited campaigns (${sc.destinations.reduce((n, d) => n + d.recipients, 0)} recipients) ` +
        `and background campaigns of ${sc.bulk.perCampaign}, one a second while they run (at least ${sc.bulk.campaigns})`,
    );
    const cpuNow = (): Record<string, number> => ({
      senders: cpuOf(senders.map((x) => x.pid)),
      api: cpuOf([api.pid]),
      redis: cpuOf([redis.pid]),
      sink: cpuOf([sinkProc.pid]),
    });
    const cpu0 = cpuNow();
    const t0 = performance.now();
    await Promise.all(
      limitedBodies.map(({ d, body }) => create(d.key, d.role, body, d.recipients)),
    );
    const bulkPosts: Promise<void>[] = [];
    const poll = async (): Promise<boolean> => {
      alive();
      const open = campaigns.filter((c) => c.status !== 'completed' && c.status !== 'cancelled');
      await Promise.all(
        open.map(async (c) => {
          const res = await fetch(`${base}/v1/campaigns/${c.id}`, { headers: auth });
          if (!res.ok)
            throw new Error(`GET /v1/campaigns/${c.id}: ${res.status} ${await res.text()}`);
          const view = (await res.json()) as CampaignView;
          c.status = view.status;
          c.counts = view.counts;
        }),
      );
      return open.length === 0;
    };
    let lastProgress = 0;
    // Background mail goes on while a destination with rate windows still sends (the adaptive
    // ones may end late), so that head-of-line blocking is measured over all of them: at least
    // `campaigns`, at most `maxCampaigns` of them.
    const windowed = new Set(['rate', 'provider', 'adaptive', 'suspend']);
    const limitedOpen = (): boolean =>
      campaigns.some((c) => windowed.has(c.role) && c.status !== 'completed');
    for (let n = 0; n < sc.bulk.maxCampaigns; n++) {
      if (n >= sc.bulk.campaigns && !limitedOpen()) break;
      const due = t0 + n * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      bulkPosts.push(create('bulk', 'bulk', bodyOf(bulkAddresses(sc, n)), sc.bulk.perCampaign, n));
      alive();
      if (n >= sc.bulk.campaigns - 1) await poll();
      if (performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now();
        const sent = campaigns.reduce((k, c) => k + (c.counts.sent ?? 0), 0);
        log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${sent} sent so far`);
        await poll();
      }
    }
    await Promise.all(bulkPosts);
    log(
      `all campaigns submitted after ${((performance.now() - t0) / 1000).toFixed(0)} s; waiting for completion`,
    );
    const deadline = Date.now() + o.timeoutS * 1000;
    let timedOut = false;
    lastProgress = performance.now();
    for (;;) {
      if (await poll()) break;
      if (Date.now() > deadline) {
        timedOut = true;
        log(`timed out after ${o.timeoutS} s waiting for the campaigns to complete`);
        break;
      }
      if (performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now();
        const left = campaigns.filter((c) => c.status !== 'completed');
        log(
          `  ${((performance.now() - t0) / 1000).toFixed(0)} s: waiting for ${left.map((c) => `${c.key} ${c.counts.sent ?? 0}/${c.total}`).join(', ')}`,
        );
      }
      await sleep(STATUS_POLL_MS);
    }
    const cpu1 = cpuNow();
    const cpu: Record<string, number> = {};
    for (const [k, v] of Object.entries(cpu1)) cpu[k] = v - (cpu0[k] ?? 0);
    const delays: Record<string, number> = {};
    for (const port of metricsPorts) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      if (!res?.ok) continue;
      for (const [reason, n] of counterByLabel(await res.text(), DELAYS_METRIC, 'reason')) {
        delays[reason] = (delays[reason] ?? 0) + n;
      }
    }
    return {
      cpu,
      delays,
      campaigns,
      events,
      states,
      redis: redisVer,
      timedOut,
      problems,
      sinkLog,
      endedAt: Date.now(),
    };
  } finally {
    if (poller) clearInterval(poller);
    await queues?.close().catch(() => undefined);
    client?.disconnect();
    // Senders first, so their connections end (QUIT) before the sink stops and flushes its log.
    await volley?.stop();
    await sink?.stop('SIGTERM', 10_000);
  }
}

async function main(): Promise<number> {
  const o = SHAPING_CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  // The sender tuning variables `npm run bench` passes through are passed through here too.
  const tuning = senderTuning();
  const sc = buildScenario({
    durationS: o.durationS,
    senders: o.senders,
    bulkPerSecond: o.bulkPerSecond,
    timeoutS: o.timeoutS,
  });
  const { dir: outDir, startedAt, stamp } = openResults(o.out);
  const work = mkdtempSync(join(tmpdir(), 'volley-shaping-'));
  const loadAvgStart = loadavg();
  let loadMax = loadAvgStart[0] ?? 0;
  const loadTimer = setInterval(() => (loadMax = Math.max(loadMax, loadavg()[0] ?? 0)), 5000);
  loadTimer.unref();
  const wall0 = performance.now();
  log(
    `${o.senders} senders, ${o.durationS} s of backlog, ${sc.totalRecipients} recipients (background ones may add up to ${(sc.bulk.maxCampaigns - sc.bulk.campaigns) * sc.bulk.perCampaign}); load average ${loadAvgStart.map((x) => x.toFixed(2)).join(' ')}; work dir ${work}`,
  );
  const data = await runScenario(o, sc, work, tuning);
  clearInterval(loadTimer);
  const sink = readSinkLog(data.sinkLog, sc.bulk.domain, data.endedAt);
  const analysis = analyse({
    scenario: sc,
    endAt: data.endedAt,
    sink,
    campaigns: data.campaigns,
    events: data.events,
    states: data.states,
  });
  if (data.timedOut) {
    analysis.bars.push({
      id: 'timeout',
      title: 'the run finished within its deadline',
      ok: false,
      detail: `campaigns still open ${o.timeoutS} s after the last submission`,
    });
  }
  const info: ShapingRunInfo = {
    startedAt,
    commit: commitLabel(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    redis: data.redis,
    quick: o.quick,
    senders: o.senders,
    durationS: o.durationS,
    loadAvgStart,
    loadAvgEnd: loadavg(),
    loadAvgMax1: Math.max(loadMax, loadavg()[0] ?? 0),
    senderEnv: tuning,
    wallS: (performance.now() - wall0) / 1000,
    cpuSeconds: data.cpu,
    shapingDelays: data.delays,
  };
  const md = shapingMarkdown(info, sc, analysis);
  const file = join(outDir, `${stamp}-shaping`);
  writeFileSync(
    `${file}.json`,
    `${JSON.stringify(
      {
        info,
        scenario: {
          durationS: sc.durationS,
          senders: sc.senders,
          destinations: sc.destinations,
          bulk: sc.bulk,
          adaptive: sc.adaptive,
          suspend: sc.suspend,
          faults: sc.faults,
          replyDelayMs: sc.replyDelayMs,
          policyYaml: sc.policyYaml,
        },
        analysis,
        campaigns: data.campaigns,
        shapingEvents: data.events,
        statePolls: data.states,
        serviceWarnings: data.problems,
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(`${file}.md`, `${md}\n`);
  process.stdout.write(`${md}\n`);
  log(`results: ${relative(ROOT, file)}.{json,md}`);
  if (data.problems.length) log(`services logged ${data.problems.length}+ warnings; see the JSON`);
  const missed = analysis.bars.filter((b) => !b.ok);
  if (missed.length === 0) {
    rmSync(work, { recursive: true, force: true });
    log('every bar met');
    return 0;
  }
  for (const b of missed) log(`MISSED: ${b.title}: ${b.detail}`);
  log(`the sink's log and the policy are kept in ${work} for investigation`);
  return 1;
}

runMain('bench:shaping', main, 5000);
