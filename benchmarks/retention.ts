/**
 * `npm run bench:retention`: Redis memory per recipient while campaigns are in flight, once
 * they are finished, and after retention has removed their per-recipient data (issue 14:
 * `used_memory` back within 5% of its start plus the campaigns' summaries, event streams under
 * their cap throughout). Campaigns go through the store's own scripts (upload, start, the
 * finalize script a sender runs after each reply), without SMTP or BullMQ: what is measured is
 * what campaigns keep, not the queue's jobs, which BullMQ removes as they complete.
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CampaignStore, Retention } from '@volley/campaigns';
import { DEFAULT_RETENTION } from '@volley/config';
import { Keys } from '@volley/contracts';
import { connectRedis, startLocalRedis, type RedisClient } from '@volley/redis';
import { requireRedisServer } from './lib/deployment.ts';
import { defineCli, flag } from './lib/flags.ts';
import { fmt } from './lib/format.ts';
import { log } from './lib/log.ts';
import { runMain } from './lib/main.ts';
import { OUT_FLAG, openResults, outOption } from './lib/results.ts';

const CLI = defineCli(
  'npm run bench:retention',
  {
    quick: flag.switch('smoke-sized: 2 campaigns of 10,000; results go to benchmarks/results/tmp'),
    campaigns: flag.int('N', 'campaigns', 1, 100).defaultIs('10; quick 2'),
    recipients: flag
      .int('N', 'recipients of each campaign', 100, 10_000_000)
      .defaultIs('100000; quick 10000'),
    'events-maxlen': flag
      .int('N', "VOLLEY_EVENTS_MAXLEN of the campaigns' event streams", 0, 1_000_000_000)
      .defaultIs('1000000'),
    out: OUT_FLAG,
  },
  (v) => ({
    quick: v.quick,
    campaigns: v.campaigns ?? (v.quick ? 2 : 10),
    recipients: v.recipients ?? (v.quick ? 10_000 : 100_000),
    eventsMaxLen: v['events-maxlen'] ?? DEFAULT_RETENTION.eventsMaxLen,
    out: outOption(v.out, v.quick),
  }),
);

/** Rows per upload call and outcomes per finalize call: a sender records a few hundred at once. */
const UPLOAD_CHUNK = 5_000;
const FINALIZE_CHUNK = 500;

interface Memory {
  used: number;
  /**
   * The Lua interpreter's heap (`used_memory_vm_eval`): Redis 7.0 allocates it outside
   * `used_memory`, so it is shown beside it, not in it.
   */
  lua: number;
  /** Connections' input and output buffers: sized by the largest command, freed lazily. */
  clients: number;
  /** Command names with a latency histogram (INFO latencystats); see `withoutServerStats`. */
  histograms: number;
  /** Entries of the slow log (SLOWLOG LEN); see `withoutServerStats`. */
  slowlog: number;
}

async function usedMemory(redis: RedisClient): Promise<Memory> {
  const info = await redis.info('memory');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  const latency = await redis.info('latencystats');
  return {
    used: field('used_memory'),
    lua: field('used_memory_vm_eval'),
    clients: field('mem_clients_normal'),
    histograms: (latency.match(/^latency_percentiles_usec_/gm) ?? []).length,
    slowlog: Number(await redis.call('SLOWLOG', 'LEN')),
  };
}

/**
 * `used_memory` once Redis has shrunk what deleted keys left (its cron resizes the key tables):
 * read every 500 ms until two readings agree, at most 20 s.
 */
async function settledMemory(redis: RedisClient): Promise<Memory> {
  let last = await usedMemory(redis);
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await usedMemory(redis);
    if (now.used === last.used) return now;
    last = now;
  }
  return last;
}

/**
 * Settled `used_memory` with Redis's own statistics emptied first: what is left is what keys,
 * scripts and connections hold. Two things Redis keeps outside any key grow with use, not with
 * recipients, and are bounded: a latency histogram of about 24 KB for every command name it has
 * run (\`latency-tracking\`, on by default; emptied by CONFIG RESETSTAT), and the slow log
 * (\`slowlog-max-len\` 128 entries of up to 32 arguments, about 2 KB each for these scripts'
 * calls; emptied by SLOWLOG RESET). They are what earlier runs of this benchmark could not place.
 * Emptied at both ends of the comparison, the two readings hold the same few histograms.
 */
async function withoutServerStats(redis: RedisClient): Promise<Memory> {
  await redis.call('SLOWLOG', 'RESET');
  await redis.call('CONFIG', 'RESETSTAT');
  return settledMemory(redis);
}

/** `name +N B` for each byte-count field of INFO memory that moved by over 10 KB. */
function memoryMoves(before: string, after: string): string {
  const fields = (info: string) =>
    new Map([...info.matchAll(/^(\w+):(-?\d+)\r?$/gm)].map((m) => [m[1] ?? '', Number(m[2])]));
  const a = fields(before);
  const out: string[] = [];
  for (const [name, value] of fields(after)) {
    const d = value - (a.get(name) ?? 0);
    if (Math.abs(d) > 10_000 && !name.endsWith('_human'))
      out.push(`${name} ${d > 0 ? '+' : ''}${fmt(d)} B`);
  }
  return out.join(', ');
}

async function main(): Promise<void> {
  const o = CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  const server = await startLocalRedis();
  const redis = connectRedis(server.url, { name: 'volley-bench-retention' });
  try {
    const keys = new Keys('bench');
    const eventsMaxLen = o.eventsMaxLen;
    const store = new CampaignStore(redis, keys, { eventsMaxLen });
    const retention = new Retention(redis, keys, {
      retentionMs: DEFAULT_RETENTION.retentionMs,
      clock: () => Date.now() + DEFAULT_RETENTION.retentionMs + 1000,
    });
    // The longest event stream, read after every recorded chunk: "throughout", not at the end.
    let maxStream = 0;
    const ids: string[] = [];
    const run = async (id: string, recipients: number): Promise<void> => {
      for (let from = 0; from < recipients; from += FINALIZE_CHUNK) {
        const n = Math.min(FINALIZE_CHUNK, recipients - from);
        await store.finalizeMany(
          id,
          'default',
          Array.from({ length: n }, (_v, k) => ({
            index: from + k,
            email: `user${from + k}@domain${(from + k) % 20}.example`,
            outcome: 'sent' as const,
            reason: 'delivered',
            detail: '250 2.0.0 Ok: queued as 4BC2A1F0E3',
          })),
          1_000,
        );
        maxStream = Math.max(maxStream, await redis.xlen(keys.events(id)));
      }
      const status = await store.status(id);
      if (status !== 'completed') throw new Error(`campaign ${id} is ${String(status)}`);
    };
    const upload = async (recipients: number): Promise<string> => {
      const id = store.newId();
      await store.create(id, {
        tenant: 'default',
        from: 'news@sender.example',
        subject: 'Hi {{name}}',
        html: '<p>Hello {{name}}</p>',
      });
      for (let from = 0; from < recipients; from += UPLOAD_CHUNK) {
        const n = Math.min(UPLOAD_CHUNK, recipients - from);
        await store.addRecipients(
          id,
          Array.from({ length: n }, (_v, k) => ({
            email: `user${from + k}@domain${(from + k) % 20}.example`,
            vars: { name: `Name ${from + k}`, n: from + k },
          })),
        );
      }
      await store.start(id);
      await store.advanceCursor(id, 0, recipients);
      return id;
    };
    // The start is a Redis that has run one campaign of a full upload chunk through every
    // script and retention: what Redis keeps of that (the scripts, the Lua heap's high-water
    // mark, the first campaign's summary) is the same for one campaign as for ten, and is not
    // what the campaigns leave behind.
    const warm = await upload(UPLOAD_CHUNK);
    await run(warm, UPLOAD_CHUNK);
    await retention.sweep();
    const start = await withoutServerStats(redis);
    const infoAtStart = await redis.info('memory');
    const index = async (): Promise<number> =>
      (await redis.memory('USAGE', keys.tenantCampaigns('default'))) ?? 0;
    const indexAtStart = await index();
    for (let c = 0; c < o.campaigns; c++) {
      const id = await upload(o.recipients);
      ids.push(id);
    }
    const inFlight = await usedMemory(redis);
    log(`${ids.length} campaigns of ${fmt(o.recipients)} uploaded and started`);

    for (const id of ids) await run(id, o.recipients);
    const finished = await usedMemory(redis);
    log('all completed');

    const purged: string[] = [];
    for (let pass = 0; pass < 100 && purged.length < ids.length; pass++) {
      purged.push(...(await retention.sweep()).purged);
    }
    const afterRaw = await settledMemory(redis);
    const after = await withoutServerStats(redis);
    // Where the difference is, by INFO's own breakdown (fields that moved by over 10 KB).
    const moved = memoryMoves(infoAtStart, await redis.info('memory'));
    let summaries = 0;
    for (const id of ids) {
      for (const key of [keys.campaign(id), keys.reasons(id)]) {
        summaries += (await redis.memory('USAGE', key)) ?? 0;
      }
    }
    summaries += (await index()) - indexAtStart;
    const total = o.campaigns * o.recipients;
    const expected = start.used + summaries;
    const off = (after.used - expected) / expected;
    const offRaw = (afterRaw.used - expected) / expected;
    const row = (what: string, m: Memory, digits: number): string =>
      `| ${what} | ${fmt(m.used)} B | ${fmt(m.used - start.used)} B | ${fmt((m.used - start.used) / total, digits)} B | ${fmt(m.histograms)} | ${fmt(m.slowlog)} | ${fmt(m.clients)} B | ${fmt(m.lua)} B |`;

    const lines = [
      '# Redis memory of campaigns, before and after retention',
      '',
      `${o.campaigns} campaigns of ${fmt(o.recipients)} recipients (${fmt(total)} in all), each recipient with two variables, every one sent; outcomes recorded by the finalize script the senders run, ${FINALIZE_CHUNK} at a time; then retention passes with their clock ${DEFAULT_RETENTION.retentionMs / 86_400_000} days on. \`used_memory\` from INFO, after and before retention read once it stopped changing; the start is Redis after one warm-up campaign of ${fmt(UPLOAD_CHUNK)} went through the same scripts and retention (scripts loaded). The start and the last after-retention reading are taken right after \`SLOWLOG RESET\` and \`CONFIG RESETSTAT\`, which empty the slow log (up to 128 entries of about 2 KB) and Redis's per-command latency histograms (about 24 KB for each command name ever run): both in \`used_memory\` but in no key, growing with use and bounded, not with recipients; the other rows keep them. BullMQ's jobs are not included (removed as they complete; failed ones by retention).`,
      '',
      '| point | used_memory | over the start | per recipient | command names with a latency histogram | slow log entries | of it connection buffers | Lua heap (outside used_memory) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| start (statistics emptied) | ${fmt(start.used)} B | | | ${fmt(start.histograms)} | ${fmt(start.slowlog)} | ${fmt(start.clients)} B | ${fmt(start.lua)} B |`,
      row('uploaded and started (in flight)', inFlight, 1),
      row('all sent (finished, kept for the retention)', finished, 1),
      row('after retention', afterRaw, 3),
      row('after retention (statistics emptied)', after, 3),
      '',
      `Campaigns whose per-recipient data retention removed: ${purged.length} of ${ids.length}. Their summaries (campaign hash, counts by reason, the tenant's campaign index): ${fmt(summaries)} B, ${fmt(summaries / o.campaigns)} B a campaign. After retention, with those statistics emptied at both ends, used_memory is ${(off * 100).toFixed(2)}% off the start plus the summaries (issue 14: within 5%: ${Math.abs(off) <= 0.05 ? 'met' : 'not met'}); before emptying them ${(offRaw * 100).toFixed(2)}%, the difference being the latency histograms of ${fmt(afterRaw.histograms)} command names and ${fmt(afterRaw.slowlog)} slow log entries.`,
      '',
      `INFO memory fields that moved between the start and after retention: ${moved || 'none over 10 KB'}.`,
      '',
      `Longest event stream, read after every ${FINALIZE_CHUNK} outcomes: ${fmt(maxStream)} events (cap VOLLEY_EVENTS_MAXLEN = ${fmt(eventsMaxLen)}).`,
    ];
    const md = lines.join('\n') + '\n';
    process.stdout.write(md);
    const place = openResults(o.out);
    const file = join(place.dir, `${place.stamp}-retention.md`);
    writeFileSync(file, md);
    log(`results: ${relative(process.cwd(), file)}`);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

runMain('bench', main);
