/**
 * The three kinds of run, each against a fresh smtp-sink: the wire ceiling (smtp-source), the
 * naive nodemailer loop, and Volley deployed as separate processes (one API, N senders, Redis).
 * Each returns the same measurements, taken the same way, so they can be compared. The naive
 * loop and Volley can send to the smtp-server sink instead, plain or with STARTTLS (`--tls`).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keys, QUEUES } from '@volley/contracts';
import { domainOf } from '@volley/message';
import { connectRedis, masterNodes, type RedisClient } from '@volley/redis';
import { launch, launchTs, tail, type ChildHandle, type ServiceRuntime } from '@volley/runtime';
import type { Policy } from '@volley/shaping';
import { measureConformance, type Conformance } from './conformance.ts';
import { PREFIX, startDeployment, STOP_GRACE_MS, type Deployment } from './deployment.ts';
import { log } from './log.ts';
import type { NaiveConfig } from './naive-config.ts';
import { cpuOf, cpuSeconds, peakRssBytes } from './proc-stats.ts';
import {
  openSink,
  relayQuery,
  sinkStats,
  SMTP_SOURCE,
  startSink,
  type SinkChoice,
} from './sink.ts';
import type { TlsSinkStats } from './tls-sink.ts';
import {
  percentileSorted,
  steadyRate,
  windowRates,
  type CountSample,
  type RatePoint,
  type SteadyRate,
} from './stats.ts';

export type RunKind = 'volley' | 'naive' | 'wire';

/** How often the harness samples the sink, the campaign and Redis while a run is going. */
const SAMPLE_EVERY_MS = 250;

export interface RunResult {
  kind: RunKind;
  rep: number;
  startedAt: string;
  /** Messages the sink accepted. */
  messages: number;
  /** Messages that did not reach the sink (errors, refusals); expected to be 0. */
  failed: number;
  throughput: SteadyRate;
  /** msg/s over consecutive windows of about 1 s, for the chart. */
  series: RatePoint[];
  /** Bytes the sink read per accepted message: SMTP commands, headers and body. */
  bytesPerMessage: number;
  /** CPU seconds (user + system) of each process kind over the run. */
  cpuSeconds: Record<string, number>;
  /** The same per 1,000 accepted messages. */
  cpuPer1000: Record<string, number>;
  wallS: number;
  volley?: VolleyDetails;
  /** What the smtp-server sink counted (sessions, TLS), read at the end of the run; smtp-sink counts nothing. */
  sinkStats?: TlsSinkStats;
}

export interface VolleyDetails {
  campaignId: string;
  senders: number;
  counts: Record<string, number>;
  ingestS: number;
  /** Recipients per second through `POST /v1/campaigns` (inline JSON). */
  ingestRate: number;
  /** Seconds from submitting the campaign to the SMTP acceptance of each recipient. */
  latency: { firstS: number; p50S: number; p99S: number; maxS: number };
  redis: {
    baselineBytes: number;
    peakBytes: number;
    /** (peak used_memory - baseline) / recipients queued. */
    perRecipientBytes: number;
    /** MEMORY USAGE at completion, summed by kind of key: where the bytes are. */
    atCompletionByKey: Record<string, number>;
  };
  /**
   * Redis commands per recipient from submit to completion, ingest included and commands run
   * inside Lua scripts counted (INFO commandstats), plus the harness's light sampling.
   */
  commandsPerRecipient: number;
  /** Throughput computed from Volley's own `sent` events, as a cross-check of the sink's. */
  eventsThroughput: SteadyRate;
  /** Per-domain rate against the shaping policy, when `--domain-limits` is not off. */
  conformance: Conformance | undefined;
  peakRssBytes: { api: number; senderMax: number };
}

interface ByteSample {
  t: number;
  bytes: number;
}

/**
 * The sink's bytes read turned into messages: the run's total bytes divided by the messages the
 * client knows were accepted gives the bytes per message, which scales every sample.
 */
function toCounts(
  samples: ByteSample[],
  messages: number,
): { counts: CountSample[]; bytesPerMessage: number } {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || messages <= 0 || last.bytes <= first.bytes) {
    return { counts: [], bytesPerMessage: Number.NaN };
  }
  const bytesPerMessage = (last.bytes - first.bytes) / messages;
  return {
    counts: samples.map((s) => ({ t: s.t, n: (s.bytes - first.bytes) / bytesPerMessage })),
    bytesPerMessage,
  };
}

function per1000(cpu: Record<string, number>, messages: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(cpu))
    out[k] = messages > 0 ? (v / messages) * 1000 : Number.NaN;
  return out;
}

/** Calls `tick` every SAMPLE_EVERY_MS until it returns true; fails past the deadline. */
async function sampleUntil(
  deadline: number,
  what: string,
  tick: () => Promise<boolean> | boolean,
): Promise<void> {
  for (;;) {
    if (await tick()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(SAMPLE_EVERY_MS);
  }
}

function result(
  kind: RunKind,
  rep: number,
  startedAt: number,
  samples: ByteSample[],
  messages: number,
  failed: number,
  cpu: Record<string, number>,
): RunResult {
  const { counts, bytesPerMessage } = toCounts(samples, messages);
  return {
    kind,
    rep,
    startedAt: new Date(startedAt).toISOString(),
    messages,
    failed,
    throughput: steadyRate(counts, messages),
    series: windowRates(counts).map(({ t, rate }) => ({ t, rate })),
    bytesPerMessage,
    cpuSeconds: cpu,
    cpuPer1000: per1000(cpu, messages),
    wallS: (samples[samples.length - 1]?.t ?? Number.NaN) - (samples[0]?.t ?? 0),
  };
}

// ---------------------------------------------------------------------------------------------
// (a) wire ceiling: smtp-source -> smtp-sink

export interface WireOptions {
  rep: number;
  messages: number;
  connections: number;
  /** A message composed by Volley's composer, written with LF line ends. */
  emlPath: string;
  timeoutS: number;
}

/** CPU of the children of the shell, from the `times` builtin: its second line, user then system. */
function parseTimes(lines: string[]): number {
  const line = lines.filter((l) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(l.trim())).pop();
  if (!line) return Number.NaN;
  let total = 0;
  for (const m of line.matchAll(/(\d+)m([\d.]+)s/g)) total += Number(m[1]) * 60 + Number(m[2]);
  return total;
}

export async function runWire(o: WireOptions): Promise<RunResult> {
  const sink = await startSink();
  try {
    const args = ['-d', '-s', String(o.connections), '-m', String(o.messages), '-F', o.emlPath];
    args.push(
      '-M',
      'bench.example',
      '-f',
      'news@sender.bench.example',
      '-t',
      'user1@d001.bench.example',
    );
    args.push(`127.0.0.1:${sink.port}`);
    // smtp-source is gone by the time its CPU could be read from /proc; the shell that waits
    // for it reports its children's CPU with `times`. The trap passes a stop on to it.
    const script = `trap 'kill $p 2>/dev/null' TERM INT; ${SMTP_SOURCE} "$@" & p=$!; wait $p; s=$?; times; exit $s`;
    const samples: ByteSample[] = [];
    const sinkCpu0 = sink.cpu();
    const t0 = performance.now();
    const startedAt = Date.now();
    samples.push({ t: 0, bytes: sink.bytesRead() });
    const source = launch('smtp-source', '/bin/sh', ['-c', script, 'sh', ...args], {
      env: { PATH: process.env.PATH ?? '' },
    });
    let code: number | null | undefined;
    void source.exited.then((c) => (code = c));
    await sampleUntil(Date.now() + o.timeoutS * 1000, 'smtp-source to finish', () => {
      samples.push({ t: (performance.now() - t0) / 1000, bytes: sink.bytesRead() });
      return code !== undefined;
    }).finally(() => source.stop('SIGTERM', 1000));
    if (code !== 0)
      throw new Error(`smtp-source failed (exit ${code}); output:\n${tail(source.lines)}`);
    const cpu = { 'smtp-source': parseTimes(source.lines), sink: sink.cpu() - sinkCpu0 };
    return result('wire', o.rep, startedAt, samples, o.messages, 0, cpu);
  } finally {
    await sink.proc.stop('SIGTERM', STOP_GRACE_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// (b) naive loop: one Node process, nodemailer pool, sendMail per message

export interface NaiveOptions {
  rep: number;
  messages: number;
  size: number;
  domains: number;
  poolSize: number;
  timeoutS: number;
  /** nodemailer's DKIM options; none sends unsigned. */
  dkim?: NaiveConfig['dkim'];
  /** The receiver. @defaultValue smtp-sink */
  sink?: SinkChoice | undefined;
}

export async function runNaive(o: NaiveOptions): Promise<RunResult> {
  const sink = await openSink(o.sink);
  let loop: ChildHandle | undefined;
  try {
    const cfg: NaiveConfig = {
      dkim: o.dkim,
      caPath: o.sink?.kind === 'smtp-server' ? o.sink.tls?.certPath : undefined,
      port: sink.port,
      messages: o.messages,
      size: o.size,
      domains: o.domains,
      poolSize: o.poolSize,
      // Five calls waiting per connection keep each one busy without a deep hidden queue.
      inFlight: o.poolSize * 5,
      timeoutMs: o.timeoutS * 1000,
    };
    loop = launchTs('naive-loop', 'benchmarks/naive-loop.ts', {
      env: { BENCH_NAIVE: JSON.stringify(cfg) },
    });
    await loop.waitForLine(/^ready$/, 60_000);
    const samples: ByteSample[] = [];
    const cpu0 = { naive: cpuOf([loop.pid]), sink: sink.cpu() };
    const t0 = performance.now();
    const startedAt = Date.now();
    samples.push({ t: 0, bytes: sink.bytesRead() });
    loop.child.kill('SIGUSR2');
    let doneLine: string | undefined;
    const proc = loop;
    void proc.waitForLine(/^done /, o.timeoutS * 1000 + 30_000).then(
      (l) => (doneLine = l),
      () => undefined,
    );
    await sampleUntil(Date.now() + (o.timeoutS + 30) * 1000, 'the naive loop to finish', () => {
      samples.push({ t: (performance.now() - t0) / 1000, bytes: sink.bytesRead() });
      if (proc.child.exitCode !== null)
        throw new Error(`naive loop exited early; output:\n${tail(proc.lines)}`);
      return doneLine !== undefined;
    });
    const cpu = { naive: cpuOf([loop.pid]) - cpu0.naive, sink: sink.cpu() - cpu0.sink };
    const done = JSON.parse((doneLine ?? 'done {}').slice(5)) as {
      sent: number;
      failed: number;
      firstError?: string;
    };
    if (done.failed > 0)
      process.stderr.write(
        `bench: naive loop: ${done.failed} sends failed, first: ${done.firstError}\n`,
      );
    const run = result('naive', o.rep, startedAt, samples, done.sent, done.failed, cpu);
    const counted = await sinkStats(sink);
    if (counted) run.sinkStats = counted;
    return run;
  } finally {
    await loop?.stop('SIGTERM', STOP_GRACE_MS);
    await sink.proc.stop('SIGTERM', STOP_GRACE_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// Volley: one API, N sender processes, Redis, all as separate processes

export interface VolleyOptions {
  rep: number;
  recipients: number;
  senders: number;
  /** The create request, serialized once before any run so that its cost is not measured. */
  body: string;
  /** Tuning variables passed to every sender (VOLLEY_SENDER_CONCURRENCY, ...). */
  senderEnv: Record<string, string>;
  timeoutS: number;
  /** Folder for V8 CPU profiles of the API and senders; none means no profiling. */
  profileDir?: string | undefined;
  /** The shaping policy the senders run with (`--domain-limits`); none when off. */
  policy?: Policy | undefined;
  /** How the API and senders run (`npm run bench:runtime`). @defaultValue 'tsx' */
  runtime?: ServiceRuntime | undefined;
  /** A Redis Cluster of this many masters instead of one Redis. @defaultValue 0 (one Redis) */
  clusterMasters?: number | undefined;
  /** The receiver. @defaultValue smtp-sink */
  sink?: SinkChoice | undefined;
  /**
   * Called with each recipient domain's acceptance times (epoch ms) and the submit time, for a
   * mode that reads more from them than the run's own figures (`--workload realistic`).
   */
  onSent?: ((byDomain: Map<string, number[]>, submittedAt: number) => void) | undefined;
}

/** Largest body the API accepts (its configuration's upper bound). */
const MAX_BODY_LIMIT = 1024 * 1024 * 1024;
function infoField(info: string, field: string): number {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : Number.NaN;
}

/** INFO `section` of every master (one Redis: its own). */
async function infoOfAll(client: RedisClient, section: string): Promise<string[]> {
  return Promise.all(masterNodes(client).map((n) => n.info(section)));
}

/** A numeric INFO field summed over every master (one Redis: its own). */
async function infoSum(client: RedisClient, section: string, field: string): Promise<number> {
  return (await infoOfAll(client, section)).reduce((a, i) => a + infoField(i, field), 0);
}

/** Commands served so far, by every master. */
async function commandsServed(client: RedisClient): Promise<number> {
  return (await infoOfAll(client, 'commandstats')).reduce((a, i) => a + totalCommands(i), 0);
}

export async function redisVersion(client: RedisClient): Promise<string> {
  return /^redis_version:(\S+)/m.exec(await client.info('server'))?.[1] ?? 'unknown';
}

interface CampaignView {
  status: string;
  counts: Record<string, number>;
}

/**
 * Memory of every key under the prefix at completion, grouped by what it holds. The SCAN is
 * bounded: the groups are a diagnosis, not a measurement, and a finished campaign leaves few keys.
 */
async function memoryByKey(
  client: RedisClient,
  keys: Keys,
  id: string,
): Promise<Record<string, number>> {
  const names = new Map<string, string>([
    [keys.recipients(id), 'recipient list'],
    [keys.events(id), 'event stream'],
    [keys.done(id), 'done bitmap'],
    [keys.deferred(id), 'deferred bitmap'],
    [keys.seen(id), 'dedup set'],
    [keys.campaign(id), 'campaign hash'],
  ]);
  const out: Record<string, number> = {};
  let seen = 0;
  // A cluster's keys are scanned node by node.
  for (const node of masterNodes(client)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) {
        if (++seen > 100_000) return out;
        const bytes = Number(await client.memory('USAGE', key, 'SAMPLES', 0));
        const group =
          names.get(key) ??
          (Object.values(QUEUES).some((q) => key.startsWith(`${keys.bullPrefix(q)}:`))
            ? 'BullMQ queues and jobs'
            : 'other');
        out[group] = (out[group] ?? 0) + (Number.isFinite(bytes) ? bytes : 0);
      }
    } while (cursor !== '0');
  }
  return out;
}

/**
 * Reads the `sent` events of the campaign's stream: when each recipient was accepted, in order,
 * and the same times grouped by recipient domain (for rate conformance).
 */
export async function sentTimes(
  client: RedisClient,
  keys: Keys,
  id: string,
): Promise<{ times: Float64Array; byDomain: Map<string, number[]> }> {
  const out: number[] = [];
  const byDomain = new Map<string, number[]>();
  let start = '-';
  // Pages of 10,000 keep each reply small; the loop ends when a page comes back short.
  for (let guard = 0; guard < 100_000; guard++) {
    const rows = await client.xrange(keys.events(id), start, '+', 'COUNT', 10_000);
    for (const [, flat] of rows) {
      let outcome: string | undefined;
      let at: number | undefined;
      let email = '';
      for (let i = 0; i + 1 < flat.length; i += 2) {
        if (flat[i] === 'o') outcome = flat[i + 1];
        else if (flat[i] === 't') at = Number(flat[i + 1]);
        else if (flat[i] === 'e') email = flat[i + 1] ?? '';
      }
      if (outcome !== 'sent' || at === undefined) continue;
      out.push(at);
      const domain = domainOf(email);
      let list = byDomain.get(domain);
      if (!list) byDomain.set(domain, (list = []));
      list.push(at);
    }
    const last = rows[rows.length - 1];
    if (rows.length < 10_000 || !last) break;
    start = `(${last[0]}`;
  }
  return { times: Float64Array.from(out).sort(), byDomain };
}

/** Sum of `calls` over every command in an INFO commandstats answer. */
function totalCommands(info: string): number {
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) n += Number(m[1]);
  return n;
}

export async function runVolley(
  o: VolleyOptions,
  onVersion?: (v: string) => void,
): Promise<RunResult> {
  const sink = await openSink(o.sink);
  let volley: Deployment | undefined;
  let client: RedisClient | undefined;
  try {
    volley = await startDeployment({
      senders: o.senders,
      relayPort: sink.port,
      relayQuery: relayQuery(o.sink),
      apiEnv: {
        VOLLEY_MAX_INLINE_RECIPIENTS: String(Math.max(10_000, o.recipients)),
        // Twice the body leaves room for the JSON of a larger --size without hitting the limit.
        VOLLEY_API_BODY_LIMIT: String(
          Math.min(MAX_BODY_LIMIT, Math.max(10 * 1024 * 1024, 2 * Buffer.byteLength(o.body))),
        ),
      },
      senderEnv: o.senderEnv,
      profile: o.profileDir ? { dir: o.profileDir, rep: o.rep } : undefined,
      ...(o.runtime ? { runtime: o.runtime } : {}),
      ...(o.clusterMasters ? { clusterMasters: o.clusterMasters } : {}),
    });
    const { redisNodes, api, senders, base, auth } = volley;
    log(
      `    pids: redis ${redisNodes.map((r) => r.pid).join(' ')}, ${sink.proc.name} ${sink.proc.pid}, api ${api.pid}, senders ${senders.map((s) => s.pid).join(' ')}`,
    );
    client = connectRedis(volley.redisUrl, { name: 'volley-bench', cluster: volley.redisCluster });
    onVersion?.(await redisVersion(client));
    const keys = new Keys(PREFIX);

    // Every Redis process: a cluster's work is the sum of its masters'.
    const redisCpu = (): number =>
      redisNodes.reduce((a, r) => a + (cpuSeconds(r.pid) ?? Number.NaN), 0);
    const cpu0 = {
      sender: cpuOf(senders.map((s) => s.pid)),
      api: cpuOf([api.pid]),
      redis: redisCpu(),
      sink: sink.cpu(),
    };
    const baselineBytes = await infoSum(client, 'memory', 'used_memory');
    const commands0 = await commandsServed(client);
    const samples: ByteSample[] = [];
    let sampledPeak = baselineBytes;
    let view: CampaignView | undefined;
    let id: string | undefined;
    const t0 = performance.now();
    const submittedAt = Date.now();
    samples.push({ t: 0, bytes: sink.bytesRead() });

    const c = client;
    const running = volley;
    const tick = async (): Promise<boolean> => {
      running.assertRunning();
      samples.push({ t: (performance.now() - t0) / 1000, bytes: sink.bytesRead() });
      sampledPeak = Math.max(sampledPeak, await infoSum(c, 'memory', 'used_memory'));
      if (id === undefined) return false;
      const res = await fetch(`${base}/v1/campaigns/${id}`, { headers: auth });
      if (!res.ok) throw new Error(`GET /v1/campaigns/${id}: ${res.status} ${await res.text()}`);
      view = (await res.json()) as CampaignView;
      return view.status === 'completed' || view.status === 'cancelled';
    };

    // The sampler runs during the create request as well: Redis memory grows while it ingests.
    const deadline = Date.now() + o.timeoutS * 1000;
    let submitError: Error | undefined;
    const submit = (async () => {
      const res = await fetch(`${base}/v1/campaigns`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: o.body,
      });
      const text = await res.text();
      if (res.status !== 202)
        throw new Error(`POST /v1/campaigns answered ${res.status}: ${text.slice(0, 500)}`);
      const ingestS = (performance.now() - t0) / 1000;
      id = (JSON.parse(text) as { id: string }).id;
      return ingestS;
    })().catch((err: unknown) => {
      submitError = err instanceof Error ? err : new Error(String(err));
      return Number.NaN;
    });
    await sampleUntil(deadline, 'the campaign to complete', async () => {
      if (submitError) throw submitError;
      return tick();
    });
    const ingestS = await submit;

    const cpu = {
      sender: cpuOf(senders.map((s) => s.pid)) - cpu0.sender,
      api: cpuOf([api.pid]) - cpu0.api,
      redis: redisCpu() - cpu0.redis,
      sink: sink.cpu() - cpu0.sink,
    };
    // Counted right at completion; the harness's own sampling (a few calls per tick) is in it.
    const commands = (await commandsServed(client)) - commands0;
    const peakBytes = Math.max(sampledPeak, await infoSum(client, 'memory', 'used_memory_peak'));
    const counts = view?.counts ?? {};
    const sent = counts.sent ?? 0;
    const total = counts.total ?? o.recipients;
    const run = result('volley', o.rep, submittedAt, samples, sent, total - sent, cpu);
    const counted = await sinkStats(sink);
    if (counted) run.sinkStats = counted;

    const { times, byDomain } = await sentTimes(client, keys, id ?? '');
    o.onSent?.(byDomain, submittedAt);
    const latency = {
      firstS: ((times[0] ?? Number.NaN) - submittedAt) / 1000,
      p50S: (percentileSorted(times, 50) - submittedAt) / 1000,
      p99S: (percentileSorted(times, 99) - submittedAt) / 1000,
      maxS: ((times[times.length - 1] ?? Number.NaN) - submittedAt) / 1000,
    };
    // The same series from Volley's side: events counted at every SAMPLE_EVERY_MS mark.
    const eventCounts: CountSample[] = [];
    let k = 0;
    const end = (times[times.length - 1] ?? submittedAt) - submittedAt;
    for (let ms = 0; ms <= end + SAMPLE_EVERY_MS; ms += SAMPLE_EVERY_MS) {
      while (k < times.length && (times[k] ?? 0) - submittedAt <= ms) k++;
      eventCounts.push({ t: ms / 1000, n: k });
    }
    run.volley = {
      campaignId: id ?? '',
      senders: o.senders,
      counts,
      ingestS,
      ingestRate: total / ingestS,
      latency,
      redis: {
        baselineBytes,
        peakBytes,
        perRecipientBytes: (peakBytes - baselineBytes) / total,
        atCompletionByKey: await memoryByKey(client, keys, id ?? ''),
      },
      eventsThroughput: steadyRate(eventCounts, times.length),
      commandsPerRecipient: commands / total,
      conformance: o.policy ? measureConformance(o.policy, byDomain) : undefined,
      peakRssBytes: {
        api: peakRssBytes(api.pid) ?? Number.NaN,
        senderMax: Math.max(...senders.map((s) => peakRssBytes(s.pid) ?? Number.NaN)),
      },
    };
    return run;
  } finally {
    client?.disconnect();
    await volley?.stop();
    await sink.proc.stop('SIGTERM', STOP_GRACE_MS);
  }
}
