/**
 * `npm run bench:build`: what a sender spends building one message, in this process, step by
 * step: render (Handlebars), compose (MIME), the bytes for the socket. The same templates and recipients as `npm run bench`; no Redis, no SMTP. It
 * isolates the build path from the rest of the send so that a change to it can be judged
 * without the full benchmark's noise; the full benchmark stays the figure that counts.
 *
 * Each repetition times every step over the same recipients; figures are medians over
 * repetitions in µs per message. Reported, not asserted.
 */
import { performance } from 'node:perf_hooks';
import { compileCampaignTemplates, MessageComposer, type RenderedContent } from '@volley/message';
import { defineCli, flag } from './lib/flags.ts';
import { runMain } from './lib/main.ts';
import { median } from './lib/stats.ts';
import { recipientOf, templatesOfSize } from './lib/workload.ts';

const CLI = defineCli(
  'npm run bench:build',
  {
    messages: flag.int('N', 'messages per repetition', 1000, 1_000_000).default(50_000),
    reps: flag.int('N', 'repetitions (the median is reported)', 1, 100).default(7),
    size: flag.int('BYTES', 'rendered HTML + text per message', 512, 1024 * 1024).default(4096),
    domains: flag.int('N', 'recipient domains', 1, 100_000).default(20),
  },
  (v) => v,
);

async function main(): Promise<void> {
  const o = CLI.parseOrExit(process.argv.slice(2));
  const templates = templatesOfSize(o.size);
  const compiled = compileCampaignTemplates(templates);
  const composer = new MessageComposer({
    campaignId: '0123456789abcdef0123',
    from: templates.from,
  });
  const list = Array.from({ length: o.messages }, (_, i) => recipientOf(i, o.domains));
  const steps = { render: [] as number[], compose: [] as number[], bytes: [] as number[] };
  let sink = 0;
  // One repetition more than reported: the first warms the JIT and is dropped. Each message
  // goes through all steps before the next, as in a sender, so caches and the garbage
  // collector see what they see there.
  for (let rep = 0; rep <= o.reps; rep++) {
    let render = 0;
    let compose = 0;
    let bytes = 0;
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      if (!r) continue;
      const t0 = performance.now();
      const content: RenderedContent = compiled.render({ ...(r.vars ?? {}), email: r.email });
      const t1 = performance.now();
      const raw = composer.compose(i, r.email, content).raw;
      const t2 = performance.now();
      sink += Buffer.from(raw, 'utf8').length;
      const t3 = performance.now();
      render += t1 - t0;
      compose += t2 - t1;
      bytes += t3 - t2;
    }
    if (rep === 0) continue;
    const per = (ms: number) => (ms * 1000) / list.length;
    steps.render.push(per(render));
    steps.compose.push(per(compose));
    steps.bytes.push(per(bytes));
  }
  const fmt = (xs: number[]) =>
    `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  const total = steps.render.map((_, k) =>
    Object.values(steps).reduce((a, s) => a + (s[k] ?? 0), 0),
  );
  console.log(
    `bench:build: ${o.messages} messages x ${o.reps} reps, ${o.size} B content (${sink > 0 ? 'ok' : 'empty'})`,
  );
  console.log('step      µs/message median (range)');
  for (const [name, xs] of Object.entries(steps)) console.log(`${name.padEnd(9)} ${fmt(xs)}`);
  console.log(`${'total'.padEnd(9)} ${fmt(total)}`);
}

runMain('bench:build', main);
