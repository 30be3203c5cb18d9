/**
 * `npm run bench:batch`: the unit of send work chosen by measurement. The same campaign runs
 * end to end with several VOLLEY_BATCH_SIZE values, interleaved with the naive loop in every
 * repetition, and each size is reported as medians and as a ratio to the naive loop of its own
 * repetition (the machine is shared, so absolute figures drift).
 * Flags: `npm run bench:batch -- --help`.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { defineCli, flag, wholeNumber } from './lib/flags.ts';
import { log } from './lib/log.ts';
import { requireRedisServer } from './lib/deployment.ts';
import { openResults } from './lib/results.ts';
import { runMain } from './lib/main.ts';
import { runNaive, runVolley, type RunResult } from './lib/runs.ts';
import { checkPostfixTools } from './lib/sink.ts';
import { median } from './lib/stats.ts';
import { recipients, templatesOfSize } from './lib/workload.ts';

const BATCH_CLI = defineCli(
  'npm run bench:batch',
  {
    sizes: flag
      .list('LIST', 'VOLLEY_BATCH_SIZE values to compare, comma-separated', (text, name) =>
        wholeNumber(text, name, 1),
      )
      .default([1, 10, 50, 200], '1,10,50,200'),
    recipients: flag.int('N', 'campaign size', 100).default(20_000),
    senders: flag.int('N', 'sender processes', 1).default(2),
    reps: flag.int('N', 'repetitions, the order of the sizes rotated in each', 1).default(3),
    domains: flag.int('N', 'recipient domains the campaign is spread over', 1).default(20),
    'naive-messages': flag.int('N', 'messages of the naive loop baseline', 100).default(10_000),
  },
  (v) => v,
);

interface Row {
  size: number;
  rep: number;
  rate: number;
  ratioToNaive: number;
  senderUsPerMsg: number;
  redisUsPerMsg: number;
  commandsPerMsg: number;
  p50S: number;
  p99S: number;
  redisBytesPerRecipient: number;
}

async function main(): Promise<void> {
  const {
    sizes,
    recipients: count,
    senders,
    reps,
    domains,
    'naive-messages': naiveMessages,
  } = BATCH_CLI.parseOrExit(process.argv.slice(2));
  checkPostfixTools();
  requireRedisServer();

  const templates = templatesOfSize(4096);
  const body = JSON.stringify({ ...templates, recipients: recipients(count, domains) });
  const timeoutS = 120 + Math.ceil(count / 100);
  const rows: Row[] = [];
  const naiveRates: number[] = [];
  const load0 = loadavg();
  for (let rep = 1; rep <= reps; rep++) {
    log(`repetition ${rep}/${reps}: naive nodemailer loop (${naiveMessages} messages)`);
    const naive = await runNaive({
      rep,
      messages: naiveMessages,
      size: 4096,
      domains,
      poolSize: 10,
      timeoutS,
      dkim: undefined,
    });
    naiveRates.push(naive.throughput.rate);
    log(`  naive: ${Math.round(naive.throughput.rate)} msg/s`);
    // Rotated per repetition, so no size always runs first (or last) on a drifting machine.
    const order = sizes.map((_s, k) => sizes[(k + rep - 1) % sizes.length] ?? 1);
    for (const size of order) {
      log(`repetition ${rep}/${reps}: Volley with VOLLEY_BATCH_SIZE=${size}`);
      const r: RunResult = await runVolley({
        rep,
        recipients: count,
        senders,
        body,
        senderEnv: { VOLLEY_SHAPING_POLICY: 'off', VOLLEY_BATCH_SIZE: String(size) },
        timeoutS,
        profileDir: undefined,
        policy: undefined,
      });
      if (r.failed > 0) throw new Error(`batch size ${size}: ${r.failed} messages not accepted`);
      const v = r.volley;
      const row: Row = {
        size,
        rep,
        rate: r.throughput.rate,
        ratioToNaive: r.throughput.rate / naive.throughput.rate,
        senderUsPerMsg: (r.cpuPer1000.sender ?? Number.NaN) * 1000,
        redisUsPerMsg: (r.cpuPer1000.redis ?? Number.NaN) * 1000,
        commandsPerMsg: v?.commandsPerRecipient ?? Number.NaN,
        p50S: v?.latency.p50S ?? Number.NaN,
        p99S: v?.latency.p99S ?? Number.NaN,
        redisBytesPerRecipient: v?.redis.perRecipientBytes ?? Number.NaN,
      };
      rows.push(row);
      log(
        `  size ${size}: ${Math.round(row.rate)} msg/s (${row.ratioToNaive.toFixed(2)}x naive), sender ${Math.round(row.senderUsPerMsg)} us/msg, redis ${Math.round(row.redisUsPerMsg)} us/msg, ${row.commandsPerMsg.toFixed(2)} cmds/msg`,
      );
    }
  }

  const med = (size: number, f: (r: Row) => number): number =>
    median(rows.filter((r) => r.size === size).map(f));
  const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  const lines = [
    `# Batch size: ${count} recipients, ${domains} domains, ${senders} senders, ${reps} interleaved repetitions (medians)`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown'}; load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}. Naive loop median ${fmt(median(naiveRates))} msg/s.`,
    '',
    '| batch size | msg/s | ÷ naive (same rep) | sender CPU µs/msg | Redis CPU µs/msg | Redis cmds/msg | latency p50 / p99 s | Redis B/recipient |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...sizes.map(
      (s) =>
        `| ${s} | ${fmt(med(s, (r) => r.rate))} | ${fmt(
          med(s, (r) => r.ratioToNaive),
          2,
        )} | ${fmt(med(s, (r) => r.senderUsPerMsg))} | ${fmt(med(s, (r) => r.redisUsPerMsg))} | ${fmt(
          med(s, (r) => r.commandsPerMsg),
          2,
        )} | ${fmt(
          med(s, (r) => r.p50S),
          1,
        )} / ${fmt(
          med(s, (r) => r.p99S),
          1,
        )} | ${fmt(med(s, (r) => r.redisBytesPerRecipient))} |`,
    ),
    '',
    'Redis commands include ingest (2 per recipient) and the harness sampling the campaign.',
    '',
  ];
  const md = lines.join('\n');
  const { dir: outDir, stamp } = openResults('benchmarks/results');
  const base = join(outDir, `${stamp}-batch-size`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(
    `${base}.json`,
    `${JSON.stringify({ count, domains, senders, reps, sizes, naiveRates, rows }, null, 2)}\n`,
  );
  process.stdout.write(`\n${md}\n`);
  log(
    `results: ${relative(process.cwd(), `${base}.md`)}, ${relative(process.cwd(), `${base}.json`)}`,
  );
}

runMain('bench:batch', main);
