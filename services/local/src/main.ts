/**
 * `npm start`: the whole engine on one machine with embedded defaults. A local Redis (unless
 * REDIS_URL is set), a mail capture server, and the api, sender, bounce and collector services
 * as child processes, as a deployment runs them. One engine per state folder: a second start
 * names the running one and leaves it alone.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  loadApiConfig,
  loadBounceConfig,
  loadCommonConfig,
  loadLocalConfig,
  loadSenderConfig,
  DKIM_SECRET_MIN,
  type LocalConfig,
} from '@volley/config';
import { startCaptureServer, type CaptureServer } from '@volley/mail-capture';
import { startLocalRedis, type LocalRedis } from '@volley/redis';
import { ROOT, localStateDir, lockStateDir, type EngineLock } from '@volley/runtime';
import { startMailView, type MailView } from './mail-view.ts';
import { Output } from './output.ts';
import {
  SERVICES,
  startService,
  stopChildren,
  type Service,
  type ServiceChild,
} from './supervisor.ts';

/** A key for the local engine only; printed at start. Deployments must set their own. */
const LOCAL_DEV_KEY = 'volley-local-dev-key';
/** Bounce domain of the local engine: `.localhost` names never leave this machine (RFC 6761). */
const LOCAL_BOUNCE_DOMAIN = 'bounces.localhost';
/**
 * The local Redis's port on a first start: next to Redis's own 6379, so a system Redis is left
 * alone. The port used is kept in the state folder and reused, so the URL stays the same.
 */
const LOCAL_REDIS_PORT = 6380;
/**
 * Time a service gets beyond the senders' drain deadline to close its connections and exit
 * before it is killed: closing takes well under a second when Redis answers.
 */
const STOP_GRACE_MS = 5000;

/** Set once VOLLEY_LOG_FORMAT is checked; until then, the format of the output. */
let out = new Output(undefined);

/**
 * A secret of the local engine, kept in the state folder: `verp-secret` signs VERP and
 * unsubscribe tokens, so the links in messages captured by an earlier run still work;
 * `dkim-secret` seals the DKIM keys of sending domains added with `npm run admin`, so they
 * still open after a restart.
 */
function localSecret(state: string, name: 'verp-secret' | 'dkim-secret'): string {
  const file = resolve(state, name);
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    // The shortest each variable accepts.
    if (kept.length >= (name === 'verp-secret' ? 16 : DKIM_SECRET_MIN)) return kept;
  }
  const secret = randomBytes(24).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function keptRedisPort(file: string): number {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(n) && n > 0 && n < 65536) return n;
  } catch {
    // First start.
  }
  return LOCAL_REDIS_PORT;
}

interface Plan {
  local: LocalConfig;
  /** Where the bounce service's inbound SMTP listens and for which domain, for the banner. */
  bounce: { smtpHost: string; smtpPort: number; bounceDomain: string };
  env: NodeJS.ProcessEnv;
  serviceEnv: Record<Service, NodeJS.ProcessEnv>;
  mailDir: string;
  apiKey: string;
}

/**
 * Every setting, the services' included, checked before anything starts: a wrong value stops
 * the start with all its problems and nothing running.
 */
function plan(state: string): Plan {
  const local = loadLocalConfig();
  const apiKey = process.env.VOLLEY_API_KEY ?? LOCAL_DEV_KEY;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Checked with a placeholder here; the real URL is known once Redis runs.
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    VOLLEY_API_KEY: apiKey,
    VOLLEY_API_PORT: String(local.apiPort),
    // Filled in with the capture server's port once it listens.
    VOLLEY_SMTP_RELAY: process.env.VOLLEY_SMTP_RELAY ?? `smtp://127.0.0.1:${local.capturePort}`,
    VOLLEY_BOUNCE_DOMAIN: process.env.VOLLEY_BOUNCE_DOMAIN ?? LOCAL_BOUNCE_DOMAIN,
    VOLLEY_UNSUBSCRIBE_URL:
      process.env.VOLLEY_UNSUBSCRIBE_URL ?? `http://127.0.0.1:${local.apiPort}/unsubscribe`,
    VOLLEY_VERP_SECRET: process.env.VOLLEY_VERP_SECRET ?? 'x'.repeat(16),
  };
  const envOf = (s: Service): NodeJS.ProcessEnv => ({
    ...env,
    VOLLEY_METRICS_PORT: String(local.metricsPorts[s]),
  });
  const serviceEnv: Record<Service, NodeJS.ProcessEnv> = {
    api: envOf('api'),
    sender: envOf('sender'),
    bounce: envOf('bounce'),
    collector: envOf('collector'),
  };
  out = new Output(loadApiConfig(serviceEnv.api).logFormat);
  loadSenderConfig(serviceEnv.sender);
  const { smtpHost, smtpPort, bounceDomain } = loadBounceConfig(serviceEnv.bounce);
  loadCommonConfig('collector', serviceEnv.collector);
  const mailDir = resolve(ROOT, local.captureDir ?? join(state, 'mail'));
  return { local, bounce: { smtpHost, smtpPort, bounceDomain }, env, serviceEnv, mailDir, apiKey };
}

async function main(): Promise<void> {
  const state = localStateDir();
  let p: Plan;
  try {
    p = plan(state);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`volley: ${err.message}\nNothing was started.\n`);
    process.exit(1);
  }
  mkdirSync(state, { recursive: true });
  const locked = lockStateDir(state);
  if (!locked.ok) {
    const h = locked.holder;
    process.stderr.write(
      [
        `volley: an engine is already running with state in ${state}:`,
        `  pid ${h.pid}, started ${h.startedAt}${h.state === 'starting' ? ' (still starting)' : ''}`,
        ...(h.apiUrl ? [`  API        ${h.apiUrl}`] : []),
        ...(h.mailViewUrl ? [`  mail view  ${h.mailViewUrl}`] : []),
        ...(h.redisUrl ? [`  Redis      ${h.redisUrl}`] : []),
        `It was left alone. Stop it with Ctrl-C in its terminal (or \`kill ${h.pid}\`), or give`,
        'this one its own folder and ports (VOLLEY_LOCAL_DIR, VOLLEY_API_PORT, ...).',
        '',
      ].join('\n'),
    );
    process.exit(1);
  }
  await run(state, p, locked.lock);
}

async function run(state: string, p: Plan, lock: EngineLock): Promise<void> {
  const { local } = p;
  let redis: LocalRedis | undefined;
  let capture: CaptureServer | undefined;
  let mailView: MailView | undefined;
  const children: ServiceChild[] = [];
  let captured = 0;
  let stopping = false;

  const stopAll = async (code: number, why?: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    out.say(why ? `${why}; stopping the engine` : 'stopping...');
    const killed = await stopChildren(children, local.drainTimeoutMs + STOP_GRACE_MS);
    if (killed.length > 0) {
      out.say(
        `${killed.join(', ')} did not stop within ${local.drainTimeoutMs + STOP_GRACE_MS} ms (the drain deadline and ${STOP_GRACE_MS} ms) and ${killed.length === 1 ? 'was' : 'were'} killed`,
        { killed },
        40,
      );
    }
    await mailView?.close();
    await capture?.close();
    await redis?.stop();
    lock.release();
    out.say(`stopped; ${captured} messages were captured this run`, { captured });
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const portFile = join(state, 'redis', 'port');
      mkdirSync(join(state, 'redis'), { recursive: true });
      redis = await startLocalRedis({
        dataDir: join(state, 'redis'),
        preferredPort: keptRedisPort(portFile),
        onLog: (l) => out.line('redis', l),
      });
      writeFileSync(portFile, `${redis.port}\n`);
      redisUrl = redis.url;
      const r = redis;
      void r.exited.then(() => void stopAll(1, `redis-server (pid ${r.pid}) exited`));
      out.say(`started redis-server (pid ${redis.pid}) on ${redis.url}, data in ${state}/redis`);
    } else {
      out.say(`using Redis at ${redisUrl.replace(/\/\/[^@]*@/, '//***@')}`);
    }
    capture = await startCaptureServer({
      port: local.capturePort,
      dir: p.mailDir,
      retain: local.captureKeep,
      keep: false,
      onMessage: () => {
        captured++;
      },
    });
    out.say(`mail capture listening on smtp://127.0.0.1:${capture.port}, storing in ${p.mailDir}`);
    mailView = await startMailView(p.mailDir, local.mailViewPort);
    lock.update({ mailViewUrl: mailView.url });

    const verpSecret = process.env.VOLLEY_VERP_SECRET ?? localSecret(state, 'verp-secret');
    const dkimSecret = process.env.VOLLEY_DKIM_SECRET ?? localSecret(state, 'dkim-secret');
    if (process.env.VOLLEY_DKIM_SECRET === undefined) {
      lock.update({ dkimSecretFile: resolve(state, 'dkim-secret') });
    }
    for (const name of SERVICES) {
      const env = {
        ...p.serviceEnv[name],
        REDIS_URL: redisUrl,
        VOLLEY_VERP_SECRET: verpSecret,
        VOLLEY_DKIM_SECRET: dkimSecret,
        VOLLEY_SMTP_RELAY: process.env.VOLLEY_SMTP_RELAY ?? `smtp://127.0.0.1:${capture.port}`,
      };
      const child = startService(name, env, (n, l) => out.line(n, l));
      children.push(child);
      void child.exited.then(() => {
        const c = child.child;
        void stopAll(1, `${name} exited (${c.signalCode ?? `code ${c.exitCode}`})`);
      });
    }
    lock.update({
      redisUrl,
      pids: {
        ...(redis ? { redis: redis.pid } : {}),
        ...Object.fromEntries(children.map((c) => [c.name, c.child.pid ?? -1])),
      },
    });
    const started = await Promise.all(children.map((c) => c.started));
    if (stopping) return;
    const apiUrl = started[0]?.address ?? `http://127.0.0.1:${local.apiPort}`;
    lock.update({
      state: 'running',
      apiUrl,
      apiKey: p.apiKey,
      metricsPorts: Object.fromEntries(SERVICES.map((s, i) => [s, started[i]?.metricsPort ?? 0])),
    });
    const metrics = SERVICES.map((s, i) => `${s} :${started[i]?.metricsPort ?? '?'}`).join(', ');
    const key = p.apiKey === LOCAL_DEV_KEY ? LOCAL_DEV_KEY : '<VOLLEY_API_KEY>';
    out.say(
      [
        'engine running:',
        `  API        ${apiUrl}   (Authorization: Bearer ${key})`,
        `  Redis      ${redisUrl.replace(/\/\/[^@]*@/, '//***@')}`,
        `  metrics    ${metrics}`,
        `  mail view  ${mailView.url}   (the last ${local.captureKeep} messages, in ${p.mailDir}; npm run mail:clean empties it)`,
        `  unsubscribe ${p.env.VOLLEY_UNSUBSCRIBE_URL}/<token>   (the links in the captured messages)`,
        `  bounces    smtp://${p.bounce.smtpHost}:${p.bounce.smtpPort}   (bounces+<token>@, unsubscribe+<token>@ and fbl@${p.bounce.bounceDomain})`,
        '  try        npm run demo    (in another terminal)      stop: Ctrl-C',
      ].join('\n'),
      { apiUrl, metrics },
    );
  } catch (err) {
    out.say(`start failed: ${err instanceof Error ? err.message : String(err)}`, {}, 50);
    await stopAll(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`volley: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
