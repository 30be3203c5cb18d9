/**
 * `npm run bench:runtime`: what running compiled JavaScript (`node services/<s>/dist/main.js`,
 * as the container image does) changes against TypeScript through tsx (development), measured
 * in the same run, interleaved, rep by rep:
 * - start time of each service, from spawn to its "listening"/"started" line, and the CPU it
 *   spent getting there;
 * - steady-state CPU per message of the API and the senders during a real campaign into
 *   smtp-sink (the same run as `npm run bench`'s Volley run, shaping off).
 * It compiles first (`npm run build`), so the compiled side is the current code.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { freePort, startLocalRedis } from '@volley/redis';
import { adopt, launchService, ROOT, type ServiceRuntime } from '@volley/runtime';
import { defineCli, flag } from './lib/flags.ts';
import { log } from './lib/log.ts';
import { commitLabel } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { cpuSeconds } from './lib/proc-stats.ts';
import { OUT_FLAG, openResults, outOption } from './lib/results.ts';
import { runVolley } from './lib/runs.ts';
import { checkPostfixTools } from './lib/sink.ts';
import { median } from './lib/stats.ts';
import { recipients, templatesOfSize } from './lib/workload.ts';
import { requireRedisServer } from './lib/deployment.ts';

const CLI = defineCli(
  'npm run bench:runtime',
  {
    quick: flag.switch(
      'smoke-sized: 1 repetition, 10,000 recipients; results in benchmarks/results/tmp',
    ),
    reps: flag
      .int('N', 'repetitions, each runtime once per repetition, order alternating', 1, 20)
      .default(5),
    recipients: flag
      .int('N', 'campaign size of each CPU run', 1000, 1_000_000)
      .defaultIs('50000; quick 10000'),
    senders: flag.int('N', 'sender processes', 1, 16).default(2),
    out: OUT_FLAG,
  },
  (v) => ({
    quick: v.quick,
    reps: v.quick ? 1 : v.reps,
    recipients: v.recipients ?? (v.quick ? 10_000 : 50_000),
    senders: v.senders,
    out: outOption(v.out, v.quick),
  }),
);

const SERVICES = ['api', 'sender', 'bounce', 'collector'] as const;
type Service = (typeof SERVICES)[number];
const READY_LINE = /api listening|sender started|bounce started|collector started/;

interface StartSample {
  rep: number;
  runtime: ServiceRuntime;
  service: Service;
  /** Spawn to the ready line. */
  ms: number;
  /** CPU (user + system) of the process by then. */
  cpuMs: number;
}

interface CpuSample {
  rep: number;
  runtime: ServiceRuntime;
  msgPerS: number;
  /** CPU per delivered message, µs, by process kind (sender: all senders together). */
  usPerMessage: Record<string, number>;
}

async function startTimes(
  rep: number,
  runtime: ServiceRuntime,
  redisUrl: string,
): Promise<StartSample[]> {
  const out: StartSample[] = [];
  for (const service of SERVICES) {
    const env: Record<string, string> = {
      REDIS_URL: redisUrl,
      VOLLEY_METRICS_PORT: '0',
      VOLLEY_REDIS_PREFIX: `runtime-${rep}`,
      VOLLEY_SHAPING_POLICY: 'off',
    };
    if (service === 'api') {
      env.VOLLEY_API_KEY = 'bench-runtime-key-0123456789';
      env.VOLLEY_API_PORT = String(await freePort());
    }
    if (service === 'bounce') {
      // The bounce service refuses to start without the domain and secret it verifies mail
      // for; a port of 0 takes a free one.
      env.VOLLEY_BOUNCE_DOMAIN = 'bounces.bench.example';
      env.VOLLEY_VERP_SECRET = 'bench-runtime-verp-secret-0123456789';
      env.VOLLEY_BOUNCE_SMTP_PORT = '0';
    }
    const t0 = performance.now();
    const p = launchService(service, { runtime, env, name: `${service}-${runtime}` });
    await p.waitForLine(READY_LINE, 60_000);
    const ms = performance.now() - t0;
    const cpuMs = (cpuSeconds(p.pid) ?? Number.NaN) * 1000;
    await p.stop('SIGTERM', 5000);
    out.push({ rep, runtime, service, ms, cpuMs });
  }
  return out;
}

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/**
 * compiled / tsx of the same repetition, one ratio per repetition: the machine's load drifts
 * between repetitions, so only figures taken side by side are compared. A repetition missing
 * its tsx side gives NaN (shown as n/a), never a made-up 1.
 */
function pairedRatios<T extends { rep: number }>(
  tsx: T[],
  compiled: T[],
  pick: (s: T) => number,
): number[] {
  return compiled.map((c) => {
    const t = tsx.find((x) => x.rep === c.rep);
    return t ? pick(c) / pick(t) : Number.NaN;
  });
}

function markdown(starts: StartSample[], cpu: CpuSample[], info: Record<string, unknown>): string {
  const lines = [
    `# tsx against compiled JavaScript (${String(info.startedAt)})`,
    '',
    `commit ${String(info.commit)}, Node ${process.version}, ${String(info.reps)} repetitions (medians; ratio = compiled / tsx of the same repetition, median over repetitions); load average ${String(info.loadAvgStart)} at start, ${String(info.loadAvgEnd)} at the end`,
    '',
    '## Start time: spawn to the "listening"/"started" line',
    '',
    '| service | tsx ms | compiled ms | ratio | tsx CPU ms | compiled CPU ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const service of SERVICES) {
    const of = (r: ServiceRuntime) =>
      starts.filter((s) => s.service === service && s.runtime === r);
    const ratios = pairedRatios(of('tsx'), of('compiled'), (s) => s.ms);
    lines.push(
      `| ${service} | ${fmt(median(of('tsx').map((s) => s.ms)))} | ${fmt(median(of('compiled').map((s) => s.ms)))} | ${fmt(median(ratios), 2)} | ${fmt(median(of('tsx').map((s) => s.cpuMs)))} | ${fmt(median(of('compiled').map((s) => s.cpuMs)))} |`,
    );
  }
  lines.push(
    '',
    `## Steady state: ${String(info.recipients)} recipients, ${String(info.senders)} senders, into smtp-sink`,
    '',
  );
  lines.push('| | tsx | compiled | ratio |', '| --- | ---: | ---: | ---: |');
  const of = (r: ServiceRuntime) => cpu.filter((c) => c.runtime === r);
  const row = (label: string, pick: (c: CpuSample) => number, digits: number) => {
    const ratios = pairedRatios(of('tsx'), of('compiled'), pick);
    lines.push(
      `| ${label} | ${fmt(median(of('tsx').map(pick)), digits)} | ${fmt(median(of('compiled').map(pick)), digits)} | ${fmt(median(ratios), 2)} |`,
    );
  };
  row('msg/s', (c) => c.msgPerS, 0);
  for (const kind of ['sender', 'api', 'redis']) {
    row(`${kind} CPU µs/msg`, (c) => c.usPerMessage[kind] ?? Number.NaN, 1);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const o = CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  checkPostfixTools();
  const place = openResults(o.out);
  log('compiling: npm run build');
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });

  const redis = await startLocalRedis();
  const stopRedis = adopt(redis.pid, () => redis.stop());
  const body = JSON.stringify({
    ...templatesOfSize(4096),
    recipients: recipients(o.recipients, 20),
  });
  const starts: StartSample[] = [];
  const cpu: CpuSample[] = [];
  // The machine is shared: wall times mean little without the load they were taken under.
  const loadAvgStart = (loadavg()[0] ?? Number.NaN).toFixed(1);
  try {
    for (let rep = 1; rep <= o.reps; rep++) {
      // Alternating order, so neither runtime always runs on a warmer machine.
      const order: ServiceRuntime[] = rep % 2 === 1 ? ['tsx', 'compiled'] : ['compiled', 'tsx'];
      for (const runtime of order) {
        log(`rep ${rep}: ${runtime}: start times`);
        starts.push(...(await startTimes(rep, runtime, redis.url)));
      }
      for (const runtime of order) {
        log(`rep ${rep}: ${runtime}: campaign of ${o.recipients}`);
        const r = await runVolley({
          rep,
          recipients: o.recipients,
          senders: o.senders,
          body,
          senderEnv: { VOLLEY_SHAPING_POLICY: 'off' },
          timeoutS: 120 + Math.ceil(o.recipients / 500),
          runtime,
        });
        if (r.failed > 0)
          throw new Error(`${runtime}: ${r.failed} messages did not reach the sink`);
        const usPerMessage: Record<string, number> = {};
        for (const [k, v] of Object.entries(r.cpuPer1000)) usPerMessage[k] = v * 1000;
        cpu.push({ rep, runtime, msgPerS: r.throughput.rate, usPerMessage });
      }
    }
  } finally {
    await stopRedis();
  }
  const info = {
    startedAt: place.startedAt,
    commit: commitLabel(),
    reps: o.reps,
    recipients: o.recipients,
    senders: o.senders,
    node: process.version,
    loadAvgStart,
    loadAvgEnd: (loadavg()[0] ?? Number.NaN).toFixed(1),
  };
  const md = markdown(starts, cpu, info);
  const name = `${place.stamp}-runtime`;
  writeFileSync(join(place.dir, `${name}.md`), md);
  writeFileSync(
    join(place.dir, `${name}.json`),
    `${JSON.stringify({ ...info, starts, cpu }, null, 2)}\n`,
  );
  process.stdout.write(md);
  process.stderr.write(`results: ${relative(process.cwd(), join(place.dir, `${name}.md`))}\n`);
}

runMain('bench:runtime', main);
