/**
 * `npm run bench:scale-out`: the same campaign sent by 1, 2 and 4 sender processes, against
 * one Redis and against a Redis Cluster of three masters, into Postfix's smtp-sink; the runs
 * interleaved, each repetition in a different order of the counts. Throughput and Redis CPU
 * per message at each: how far one Redis goes, and what a cluster costs or gains here.
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defineCli, flag } from './lib/flags.ts';
import { fmt } from './lib/format.ts';
import { log } from './lib/log.ts';
import { loadavg } from 'node:os';
import { describeMachine } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { OUT_FLAG, openResults, outOption } from './lib/results.ts';
import { requireRedisServer, senderTuning } from './lib/deployment.ts';
import { checkPostfixTools } from './lib/sink.ts';
import { runVolley, type RunResult } from './lib/runs.ts';
import { median } from './lib/stats.ts';
import { recipients, templatesOfSize } from './lib/workload.ts';

const CLI = defineCli(
  'npm run bench:scale-out',
  {
    quick: flag.switch('smoke-sized: 5,000 recipients, 1 repetition; results go to results/tmp'),
    recipients: flag.int('N', 'campaign size', 1000, 1_000_000).defaultIs('30000; quick 5000'),
    reps: flag.int('N', 'repetitions of each run', 1, 20).defaultIs('2; quick 1'),
    masters: flag.int('N', 'masters of the Redis Cluster', 3, 9).default(3),
    timeout: flag.int('S', 'seconds one run may take', 30, 3600).default(600),
    out: OUT_FLAG,
  },
  (v) => ({
    quick: v.quick,
    recipients: v.recipients ?? (v.quick ? 5000 : 30_000),
    reps: v.reps ?? (v.quick ? 1 : 2),
    masters: v.masters,
    timeoutS: v.timeout,
    out: outOption(v.out, v.quick),
  }),
);

/** Sender processes per deployment. */
const SENDERS = [1, 2, 4] as const;
const DOMAINS = 20;
/** Rendered HTML + text bytes per message, as `npm run bench` sends by default. */
const SIZE = 4096;

interface Row {
  redis: 'single' | 'cluster';
  senders: number;
  rep: number;
  /** Steady msg/s (median of the 1-s windows). */
  rate: number;
  /** Microseconds of CPU per delivered message: every Redis process, and every sender. */
  redisUsPerMessage: number;
  senderUsPerMessage: number;
  redisCommandsPerRecipient: number;
}

function row(redis: Row['redis'], senders: number, r: RunResult): Row {
  const per = (kind: string): number => ((r.cpuSeconds[kind] ?? NaN) / r.messages) * 1e6;
  return {
    redis,
    senders,
    rep: r.rep,
    rate: r.throughput.rate,
    redisUsPerMessage: per('redis'),
    senderUsPerMessage: per('sender'),
    redisCommandsPerRecipient: r.volley?.commandsPerRecipient ?? NaN,
  };
}

async function main(): Promise<void> {
  const o = CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  checkPostfixTools();
  const place = openResults(o.out);
  const machineAtStart = describeMachine();
  const senderEnv = { VOLLEY_SHAPING_POLICY: 'off', ...senderTuning() };
  const body = JSON.stringify({
    ...templatesOfSize(SIZE),
    recipients: recipients(o.recipients, DOMAINS),
  });
  const rows: Row[] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    // Reversed every other repetition, so a drift in the machine's load does not favour a count.
    const order = rep % 2 === 1 ? [...SENDERS] : [...SENDERS].reverse();
    for (const senders of order) {
      for (const redis of ['single', 'cluster'] as const) {
        log(`repetition ${rep}/${o.reps}: ${senders} sender(s), ${redis} Redis`);
        const r = await runVolley({
          rep,
          recipients: o.recipients,
          senders,
          body,
          senderEnv,
          timeoutS: o.timeoutS,
          clusterMasters: redis === 'cluster' ? o.masters : undefined,
        });
        if (r.failed > 0) throw new Error(`${r.failed} messages did not reach the sink`);
        const x = row(redis, senders, r);
        rows.push(x);
        log(
          `  ${Math.round(x.rate)} msg/s; Redis ${x.redisUsPerMessage.toFixed(1)} us/msg, ` +
            `senders ${x.senderUsPerMessage.toFixed(1)} us/msg, ${x.redisCommandsPerRecipient.toFixed(2)} commands/recipient`,
        );
      }
    }
  }

  const med = (redis: Row['redis'], senders: number, f: (x: Row) => number): number =>
    median(rows.filter((x) => x.redis === redis && x.senders === senders).map(f));
  const summary = (['single', 'cluster'] as const).flatMap((redis) =>
    SENDERS.map((senders) => ({
      redis,
      senders,
      rate: med(redis, senders, (x) => x.rate),
      rateVsOneSender: med(redis, senders, (x) => x.rate) / med(redis, 1, (x) => x.rate),
      rateVsSingleRedis: med(redis, senders, (x) => x.rate) / med('single', senders, (x) => x.rate),
      redisUsPerMessage: med(redis, senders, (x) => x.redisUsPerMessage),
      senderUsPerMessage: med(redis, senders, (x) => x.senderUsPerMessage),
      redisCommandsPerRecipient: med(redis, senders, (x) => x.redisCommandsPerRecipient),
    })),
  );
  const machine = { ...machineAtStart, loadAvgEnd: loadavg() };
  const json = {
    startedAt: place.startedAt,
    machine,
    options: { ...o, senders: SENDERS, domains: DOMAINS, size: SIZE, senderEnv },
    runs: rows,
    medians: summary,
  };
  const jsonFile = join(place.dir, `${place.stamp}-scale-out.json`);
  writeFileSync(jsonFile, JSON.stringify(json, null, 2) + '\n');
  const lines = [
    '# Scale-out: sender processes against one Redis and a Redis Cluster',
    '',
    `${fmt(o.recipients)} recipients over ${DOMAINS} domains, ${SIZE} B messages, shaping off, into smtp-sink; ` +
      `${o.reps} repetition(s) of each run, interleaved; medians. Cluster: ${o.masters} masters, no replicas, ` +
      'on the same machine. Redis CPU is every Redis process (all masters for the cluster).',
    '',
    '| Redis | senders | msg/s | vs 1 sender | vs one Redis | Redis CPU µs/msg | sender CPU µs/msg | Redis commands/recipient |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...summary.map(
      (s) =>
        `| ${s.redis} | ${s.senders} | ${fmt(Math.round(s.rate))} | ${s.rateVsOneSender.toFixed(2)}x | ` +
        `${s.rateVsSingleRedis.toFixed(2)}x | ${s.redisUsPerMessage.toFixed(1)} | ${s.senderUsPerMessage.toFixed(1)} | ` +
        `${s.redisCommandsPerRecipient.toFixed(2)} |`,
    ),
    '',
    `Machine: ${JSON.stringify(machine)}.`,
    '',
  ];
  const md = lines.join('\n');
  writeFileSync(join(place.dir, `${place.stamp}-scale-out.md`), md);
  process.stdout.write(md);
  log(`results: ${relative(process.cwd(), jsonFile)}`);
}

runMain('bench:scale-out', main);
