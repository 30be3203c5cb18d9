/**
 * `npm run bench:first-message`: how long from the request that starts a campaign to its first
 * message at the receiving SMTP server (issue 18: p50 and p99 for a 1-recipient and a
 * 100,000-recipient campaign, under 250 ms p50 for the first).
 *
 * One deployment (Redis, the API, 2 senders, the default shaping policy, as a user runs it)
 * relays to an SMTP server in this process (`smtp-server`), which stamps each message when its
 * data has arrived, on the same clock as the requests. For one recipient the time runs from
 * `POST /v1/campaigns` (recipients inline, started at once) to that message. For 100,000 the
 * list is uploaded to a draft first (the API takes at most VOLLEY_MAX_INLINE_RECIPIENTS,
 * 10,000, inline), and the time runs from `POST /v1/campaigns/{id}/start` to the first of its
 * messages; the campaign is then cancelled, so each repetition starts from an idle engine.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { connectRedis } from '@volley/redis';
import { requireRedisServer, startDeployment, type Deployment } from './lib/deployment.ts';
import { defineCli, flag } from './lib/flags.ts';
import { benchApi } from './lib/api.ts';
import { fmt } from './lib/format.ts';
import { log } from './lib/log.ts';
import { describeMachine, machineSection } from './lib/machine.ts';
import { runMain } from './lib/main.ts';
import { OUT_FLAG, openResults, outOption } from './lib/results.ts';
import { redisVersion } from './lib/runs.ts';
import { percentileSorted } from './lib/stats.ts';
import { FROM } from './lib/workload.ts';

const CLI = defineCli(
  'npm run bench:first-message',
  {
    quick: flag.switch(
      'smoke-sized: 10 single-recipient campaigns, 2 of 20,000; results go to benchmarks/results/tmp',
    ),
    single: flag.int('N', 'campaigns of one recipient', 5, 1000).defaultIs('100; quick 10'),
    large: flag.int('N', 'large campaigns', 1, 100).defaultIs('10; quick 2'),
    rows: flag
      .int('N', 'recipients of each large campaign', 1000, 1_000_000)
      .defaultIs('100000; quick 20000'),
    senders: flag.int('N', 'sender processes', 1, 16).default(2),
    out: OUT_FLAG,
  },
  (v) => ({
    quick: v.quick,
    single: v.single ?? (v.quick ? 10 : 100),
    large: v.large ?? (v.quick ? 2 : 10),
    rows: v.rows ?? (v.quick ? 20_000 : 100_000),
    senders: v.senders,
    out: outOption(v.out, v.quick),
  }),
);

/** The longest one campaign may take to reach the receiver; far above any healthy run. */
const FIRST_MESSAGE_TIMEOUT_MS = 60_000;
/** Recipient domains of a large campaign: spread like bench's default list. */
const DOMAINS = 20;

/**
 * The receiving server: accepts every message and stamps the first arrival of each campaign,
 * known by the prefix of its recipients' local part (`s12-…`, `l3-…`).
 */
class Receiver {
  private readonly firsts = new Map<string, number>();
  private readonly waiting = new Map<string, (at: number) => void>();
  messages = 0;
  readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH'],
    // Plain SMTP on loopback: TLS is another figure (issue 18's STARTTLS mode).
    hideSTARTTLS: true,
    disableReverseLookup: true,
    logger: false,
    maxClients: 1000,
    onData: (stream, session, done) => {
      stream.on('end', () => {
        const at = performance.now();
        this.messages++;
        for (const rcpt of session.envelope.rcptTo) this.arrived(rcpt.address, at);
        done();
      });
      stream.resume();
    },
  });

  private arrived(address: string, at: number): void {
    const key = address.slice(0, address.indexOf('-'));
    if (this.firsts.has(key)) return;
    this.firsts.set(key, at);
    this.waiting.get(key)?.(at);
    this.waiting.delete(key);
  }

  /** When the first message of `key` arrives (or has). */
  first(key: string): Promise<number> {
    const at = this.firsts.get(key);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`no message of ${key} within ${FIRST_MESSAGE_TIMEOUT_MS} ms`));
      }, FIRST_MESSAGE_TIMEOUT_MS);
      this.waiting.set(key, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    return (this.server.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Sample {
  /** From sending the request to the first message's arrival. */
  firstMs: number;
  /** From sending the request to the API's answer. */
  answerMs: number;
}

interface Campaign {
  status: string;
}

function api(d: Deployment) {
  const { call, post } = benchApi(d);
  /** Polls until the campaign has ended: the next repetition starts from an idle engine. */
  const ended = async (id: string): Promise<void> => {
    const deadline = Date.now() + FIRST_MESSAGE_TIMEOUT_MS;
    for (;;) {
      d.assertRunning();
      const c = (await call(`/v1/campaigns/${id}`)) as Campaign;
      if (c.status === 'completed' || c.status === 'cancelled') return;
      if (Date.now() > deadline) throw new Error(`campaign ${id} still ${c.status}`);
      await sleep(20);
    }
  };
  return { call, post, ended };
}

const MESSAGE = { from: FROM, subject: 'First, {{name}}', text: 'Hello {{name}}.' };

async function single(d: Deployment, r: Receiver, rep: number): Promise<Sample> {
  const { post, ended } = api(d);
  const key = `s${rep}`;
  const first = r.first(key);
  const t0 = performance.now();
  const { id } = (await post('/v1/campaigns', {
    ...MESSAGE,
    recipients: [{ email: `${key}-0@latency.example`, vars: { name: 'Ada' } }],
  })) as { id: string };
  const answered = performance.now();
  const at = await first;
  await ended(id);
  return { firstMs: at - t0, answerMs: answered - t0 };
}

async function large(d: Deployment, r: Receiver, rep: number, rows: number): Promise<Sample> {
  const { call, post, ended } = api(d);
  const key = `l${rep}`;
  const { id } = (await post('/v1/campaigns', { ...MESSAGE, draft: true })) as { id: string };
  const lines = ['email,name'];
  // Domains of its own: a campaign to the same domains right after a cancelled one would wait
  // for the send slots that one had reserved (a figure of its own, not of starting).
  for (let i = 0; i < rows; i++) lines.push(`${key}-${i}@d${i % DOMAINS}.${key}.example,N${i}`);
  await call(`/v1/campaigns/${id}/recipients`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv' },
    body: `${lines.join('\n')}\n`,
  });
  const first = r.first(key);
  const t0 = performance.now();
  await post(`/v1/campaigns/${id}/start`, {});
  const answered = performance.now();
  const at = await first;
  await post(`/v1/campaigns/${id}/cancel`, {});
  await ended(id);
  return { firstMs: at - t0, answerMs: answered - t0 };
}

interface Figures {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  answerP50: number;
}

function figures(samples: Sample[]): Figures {
  const first = samples.map((s) => s.firstMs).sort((a, b) => a - b);
  const answer = samples.map((s) => s.answerMs).sort((a, b) => a - b);
  return {
    n: first.length,
    p50: percentileSorted(first, 50),
    p99: percentileSorted(first, 99),
    min: first[0] ?? Number.NaN,
    max: first.at(-1) ?? Number.NaN,
    answerP50: percentileSorted(answer, 50),
  };
}

async function main(): Promise<void> {
  const o = CLI.parseOrExit(process.argv.slice(2));
  requireRedisServer();
  const env = describeMachine();
  const { dir: outDir, startedAt, stamp } = openResults(o.out);
  const receiver = new Receiver();
  const port = await receiver.listen();
  const d = await startDeployment({
    senders: o.senders,
    relayPort: port,
    apiEnv: { VOLLEY_API_BODY_LIMIT: String(64 * 1024 * 1024) },
  }).catch(async (err: unknown) => {
    await receiver.close();
    throw err;
  });
  const singles: Sample[] = [];
  const larges: Sample[] = [];
  try {
    const client = connectRedis(d.redisUrl, { name: 'volley-bench' });
    env.redis = await redisVersion(client);
    await client.quit();
    // Warm-up, not recorded: the first requests pay for JIT and lazy loading in every process.
    await single(d, receiver, 0);
    // Interleaved, so a drift of the machine over the run touches both kinds alike.
    const perLarge = Math.max(1, Math.floor(o.single / o.large));
    let s = 1;
    for (let l = 1; l <= o.large || s <= o.single; l++) {
      for (let k = 0; k < perLarge && s <= o.single; k++, s++) {
        singles.push(await single(d, receiver, s));
      }
      if (l <= o.large) {
        const x = await large(d, receiver, l, o.rows);
        larges.push(x);
        log(
          `large ${l}/${o.large}: first message ${x.firstMs.toFixed(1)} ms after the start request; ` +
            `singles so far: p50 ${percentileSorted(
              singles.map((v) => v.firstMs).sort((a, b) => a - b),
              50,
            ).toFixed(1)} ms`,
        );
      }
    }
  } finally {
    await d.stop();
    await receiver.close();
  }
  env.loadAvgEnd = loadavg();
  const one = figures(singles);
  const many = figures(larges);
  const ms = (v: number): string => `${fmt(v, 1)} ms`;
  const row = (what: string, f: Figures): string =>
    `| ${what} | ${f.n} | **${ms(f.p50)}** | ${ms(f.p99)} | ${ms(f.min)}–${ms(f.max)} | ${ms(f.answerP50)} |`;
  const md = [
    '# From the request that starts a campaign to its first message at the receiver',
    '',
    `One deployment (Redis, the API, ${o.senders} senders, the default shaping policy) relaying to an SMTP server in the benchmark's process, which stamps each message when its data has arrived. One recipient: from \`POST /v1/campaigns\` (inline, started at once) to that message. ${fmt(o.rows)} recipients: uploaded to a draft first, then from \`POST /v1/campaigns/{id}/start\` to the first of its messages (the campaign is then cancelled). The two kinds interleaved; each campaign ended before the next began. Percentiles by nearest rank: with ${o.large} large campaigns, p99 is the slowest of them.`,
    '',
    '| campaign | runs | p50 | p99 | min–max | API answer, p50 |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    row('1 recipient', one),
    row(`${fmt(o.rows)} recipients`, many),
    '',
    `Issue 18: under 250 ms p50 for one recipient: ${one.p50 < 250 ? 'met' : 'not met'} (${ms(one.p50)}).`,
    '',
    ...machineSection(
      env,
      [['messages received', fmt(receiver.messages)]],
      `--single ${o.single} --large ${o.large} --rows ${o.rows} --senders ${o.senders}`,
    ),
  ].join('\n');
  const name = `${stamp}-first-message${o.quick ? '-quick' : ''}`;
  writeFileSync(join(outDir, `${name}.md`), `${md}\n`);
  writeFileSync(
    join(outDir, `${name}.json`),
    `${JSON.stringify({ startedAt, options: o, environment: env, single: one, large: many, singles, larges }, null, 2)}\n`,
  );
  process.stdout.write(`\n${md}\n`);
  log(
    `results: ${['md', 'json'].map((x) => relative(process.cwd(), join(outDir, `${name}.${x}`))).join(', ')}`,
  );
}

runMain('bench:first-message', main);
