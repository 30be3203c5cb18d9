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
    out: OUT_FLAG,
  },
  (v) => ({
    quick: v.quick,
    campaigns: v.campaigns ?? (v.quick ? 2 : 10),
    recipients: v.recipients ?? (v.quick ? 10_000 : 100_000),
    out: outOption(v.out, v.quick),
  }),
);

/** Rows per upload call and outcomes per finalize call: a sender records a few hundred at once. */
const UPLOAD_CHUNK = 5_000;
const FINALIZE_CHUNK = 500;

/**
 * `used_memory`, and the part of it that is the Lua interpreter's heap (`used_memory_vm_eval`):
 * the scripts' garbage, which grows with the largest call (an upload chunk) and not with the
 * number of recipients kept.
 */
async function usedMemory(redis: RedisClient): Promise<{ used: number; lua: number }> {
  const info = await redis.info('memory');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { used: field('used_memory'), lua: field('used_memory_vm_eval') };
}

async function main(): Promise<void> {
  const o = CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  const server = await startLocalRedis();
  const redis = connectRedis(server.url, { name: 'volley-bench-retention' });
  try {
    const keys = new Keys('bench');
    const store = new CampaignStore(redis, keys, { eventsMaxLen: DEFAULT_RETENTION.eventsMaxLen });
    const start = await usedMemory(redis);
    const ids: string[] = [];
    for (let c = 0; c < o.campaigns; c++) {
      const id = store.newId();
      ids.push(id);
      await store.create(id, {
        tenant: 'default',
        from: 'news@sender.example',
        subject: 'Hi {{name}}',
        html: '<p>Hello {{name}}</p>',
      });
      for (let from = 0; from < o.recipients; from += UPLOAD_CHUNK) {
        const n = Math.min(UPLOAD_CHUNK, o.recipients - from);
        await store.addRecipients(
          id,
          Array.from({ length: n }, (_v, k) => ({
            email: `user${from + k}@domain${(from + k) % 20}.example`,
            vars: { name: `Name ${from + k}`, n: from + k },
          })),
        );
      }
      await store.start(id);
      await store.advanceCursor(id, 0, o.recipients);
    }
    const inFlight = await usedMemory(redis);
    log(`${ids.length} campaigns of ${fmt(o.recipients)} uploaded and started`);

    let maxStream = 0;
    for (const id of ids) {
      for (let from = 0; from < o.recipients; from += FINALIZE_CHUNK) {
        const n = Math.min(FINALIZE_CHUNK, o.recipients - from);
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
      }
      maxStream = Math.max(maxStream, await redis.xlen(keys.events(id)));
      const status = await store.status(id);
      if (status !== 'completed') throw new Error(`campaign ${id} is ${String(status)}`);
    }
    const finished = await usedMemory(redis);
    log('all completed');

    const retention = new Retention(redis, keys, {
      retentionMs: DEFAULT_RETENTION.retentionMs,
      clock: () => Date.now() + DEFAULT_RETENTION.retentionMs + 1000,
    });
    const purged: string[] = [];
    for (let pass = 0; pass < 100 && purged.length < ids.length; pass++) {
      purged.push(...(await retention.sweep()).purged);
    }
    const after = await usedMemory(redis);
    let summaries = 0;
    for (const id of ids) {
      for (const key of [keys.campaign(id), keys.reasons(id)]) {
        summaries += (await redis.memory('USAGE', key)) ?? 0;
      }
    }
    summaries += (await redis.memory('USAGE', keys.tenantCampaigns('default'))) ?? 0;
    const total = o.campaigns * o.recipients;
    const expected = start.used + summaries;
    const off = (after.used - expected) / expected;
    // The same without the Lua heap's growth, which no key holds.
    const offData = (after.used - (after.lua - start.lua) - expected) / expected;
    const row = (what: string, m: { used: number; lua: number }, digits: number): string =>
      `| ${what} | ${fmt(m.used)} B | ${fmt(m.used - start.used)} B | ${fmt((m.used - start.used) / total, digits)} B | ${fmt(m.lua)} B |`;

    const lines = [
      '# Redis memory of campaigns, before and after retention',
      '',
      `${o.campaigns} campaigns of ${fmt(o.recipients)} recipients (${fmt(total)} in all), each recipient with two variables, every one sent; outcomes recorded by the finalize script the senders run, ${FINALIZE_CHUNK} at a time; then one retention pass with its clock ${DEFAULT_RETENTION.retentionMs / 86_400_000} days on. \`used_memory\` from INFO; BullMQ's jobs are not included (removed as they complete).`,
      '',
      '| point | used_memory | over the start | per recipient | of it the Lua heap |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| start | ${fmt(start.used)} B | | | ${fmt(start.lua)} B |`,
      row('uploaded and started (in flight)', inFlight, 1),
      row('all sent (finished, kept for the retention)', finished, 1),
      row('after retention', after, 3),
      '',
      `Campaigns whose per-recipient data retention removed: ${purged.length} of ${ids.length}. Their summaries (campaign hash, counts by reason, the tenant's campaign index): ${fmt(summaries)} B, ${fmt(summaries / o.campaigns)} B a campaign. After retention, used_memory is ${(off * 100).toFixed(2)}% off the start plus the summaries (issue 14: within 5%: ${Math.abs(off) <= 0.05 ? 'met' : 'not met'}); without the Lua heap's growth, ${(offData * 100).toFixed(2)}%.`,
      '',
      `Longest event stream: ${fmt(maxStream)} events (cap VOLLEY_EVENTS_MAXLEN = ${fmt(DEFAULT_RETENTION.eventsMaxLen)}).`,
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
