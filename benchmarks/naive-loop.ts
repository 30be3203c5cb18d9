/**
 * Baseline (b): what a developer writes first. One Node process, a nodemailer pool of 10
 * connections, one `sendMail` per message (nodemailer builds the MIME each time), templates
 * rendered per recipient, no queue and no Redis. Started by run.ts; not meant to be run alone.
 *
 * Protocol with the harness: prints `ready` once set up, starts sending on SIGUSR2 (so that
 * start-up and module loading stay out of the CPU figures), prints `done <json>` at the end
 * and then idles until SIGTERM, so the harness can read its CPU time from /proc.
 */
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { compileCampaignTemplates } from '@volley/message';
import type { NaiveConfig } from './lib/naive-config.ts';
import { recipientOf, templatesOfSize } from './lib/workload.ts';

const config = JSON.parse(process.env.BENCH_NAIVE ?? 'null') as NaiveConfig | null;
if (!config) {
  process.stderr.write(
    'naive-loop: BENCH_NAIVE is not set; this program is started by benchmarks/run.ts\n',
  );
  process.exit(2);
}
const cfg: NaiveConfig = config;

const t = templatesOfSize(cfg.size);
const templates = compileCampaignTemplates(t);
const transport = nodemailer.createTransport({
  pool: true,
  host: '127.0.0.1',
  port: cfg.port,
  secure: false,
  maxConnections: cfg.poolSize,
  // Connections are kept, as the engine keeps them, so the baseline is not handicapped by
  // reconnecting every 100 messages (nodemailer's default).
  maxMessages: Infinity,
  ...(cfg.dkim ? { dkim: cfg.dkim } : {}),
  // STARTTLS, when the sink offers it, verified against the run's own certificate.
  ...(cfg.caPath ? { tls: { ca: [readFileSync(cfg.caPath)] } } : {}),
});

async function run(): Promise<void> {
  const started = Date.now();
  const deadline = started + cfg.timeoutMs;
  let next = 0;
  let sent = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < cfg.messages && Date.now() < deadline) {
      const i = next++;
      const r = recipientOf(i, cfg.domains);
      const c = templates.render({ ...(r.vars ?? {}), email: r.email });
      try {
        await transport.sendMail({
          from: t.from,
          to: r.email,
          subject: c.subject,
          html: c.html,
          text: c.text,
        });
        sent++;
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.inFlight }, () => worker()));
  transport.close();
  process.stdout.write(
    `done ${JSON.stringify({ sent, failed, firstError, ms: Date.now() - started })}\n`,
  );
}

process.once('SIGUSR2', () => {
  run().catch((err: unknown) => {
    process.stderr.write(
      `naive-loop: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  });
});
process.once('SIGTERM', () => process.exit(0));
// Bounded idle: if the harness disappears without stopping this process, it still ends.
setTimeout(() => process.exit(3), cfg.timeoutMs + 60_000).unref();
// Keeps the event loop alive while waiting for SIGUSR2.
const keepAlive = setInterval(() => undefined, 60_000);
process.once('exit', () => clearInterval(keepAlive));
process.stdout.write('ready\n');
