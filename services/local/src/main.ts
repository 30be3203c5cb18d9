/**
 * `npm start`: the whole engine on one machine with embedded defaults. A local Redis (unless
 * REDIS_URL is set), a mail capture server that stores every message as an .eml file, and
 * the api, sender, bounce and collector services as child processes, as a deployment runs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { startCaptureServer } from '@volley/mail-capture';
import { startLocalRedis, type LocalRedis } from '@volley/redis';
import { DEFAULT_BOUNCE_SMTP, DEFAULT_METRICS_PORTS, DKIM_SECRET_MIN } from '@volley/config';
import { TSX_NODE_ARGS } from '@volley/runtime';

const ROOT = resolve(import.meta.dirname, '../../..');
const STATE = resolve(ROOT, process.env.VOLLEY_LOCAL_DIR ?? '.volley');
/** A key for the local engine only; printed at start. Deployments must set their own. */
const LOCAL_DEV_KEY = 'volley-local-dev-key';

/** Bounce domain of the local engine: `.localhost` names never leave this machine (RFC 6761). */
const LOCAL_BOUNCE_DOMAIN = 'bounces.localhost';

/**
 * A secret of the local engine, kept in the state folder: `verp-secret` signs VERP and
 * unsubscribe tokens, so the links in messages captured by an earlier run still work;
 * `dkim-secret` seals the DKIM keys of sending domains added with `npm run admin`, so they
 * still open after a restart.
 */
function localSecret(name: 'verp-secret' | 'dkim-secret'): string {
  const file = resolve(STATE, name);
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    // The shortest each variable accepts.
    if (kept.length >= (name === 'verp-secret' ? 16 : DKIM_SECRET_MIN)) return kept;
  }
  mkdirSync(STATE, { recursive: true });
  const secret = randomBytes(24).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

const SERVICES = ['api', 'sender', 'bounce', 'collector'] as const;
type Service = (typeof SERVICES)[number];

const COLORS: Record<Service, string> = { api: '36', sender: '32', bounce: '35', collector: '33' };
const tty = process.stdout.isTTY;
const tag = (name: string, color = '0'): string =>
  tty ? `\x1b[${color}m[${name}]\x1b[0m` : `[${name}]`;

function say(line: string): void {
  process.stdout.write(`${tag('volley', '1')} ${line}\n`);
}

/** Pino's JSON lines as short readable ones: level, message, then the interesting fields. */
function pretty(line: string): string {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const { level, msg, time: _t, pid: _p, hostname: _h, service: _s, ...rest } = o;
    const text = typeof msg === 'string' ? msg : JSON.stringify(msg ?? '');
    const names: Record<number, string> = {
      10: 'trace',
      20: 'debug',
      30: 'info',
      40: 'WARN',
      50: 'ERROR',
      60: 'FATAL',
    };
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${names[Number(level)] ?? String(level)}: ${text}${fields ? `  ${fields}` : ''}`;
  } catch {
    return line;
  }
}

function startService(name: Service, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(
    process.execPath,
    [...TSX_NODE_ARGS, resolve(ROOT, `services/${name}/src/main.ts`)],
    {
      cwd: ROOT,
      env: { ...env, VOLLEY_PARENT_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches only this supervisor, which stops the services in
      // order (one SIGTERM each, so senders drain instead of seeing a second signal and quitting).
      detached: true,
    },
  );
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (l) => {
      process.stdout.write(`${tag(name, COLORS[name])} ${pretty(l)}\n`);
    });
  }
  return child;
}

async function main(): Promise<void> {
  const apiPort = Number(process.env.VOLLEY_API_PORT ?? 8080);
  const capturePort = Number(process.env.VOLLEY_CAPTURE_PORT ?? 2525);
  const mailDir = resolve(ROOT, process.env.VOLLEY_CAPTURE_DIR ?? `${STATE}/mail`);
  const apiKey = process.env.VOLLEY_API_KEY ?? LOCAL_DEV_KEY;

  let redis: LocalRedis | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    redis = await startLocalRedis({
      dataDir: `${STATE}/redis`,
      onLog: (l) => process.stdout.write(`${tag('redis', '31')} ${l}\n`),
    });
    redisUrl = redis.url;
    say(`started redis-server (pid ${redis.pid}) on ${redis.url}, data in ${STATE}/redis`);
  } else {
    say(`using Redis at ${redisUrl.replace(/\/\/[^@]*@/, '//***@')}`);
  }

  let captured = 0;
  const capture = await startCaptureServer({
    port: capturePort,
    dir: mailDir,
    keep: false,
    onMessage: () => {
      captured++;
    },
  });
  say(`mail capture listening on smtp://127.0.0.1:${capture.port}, storing messages in ${mailDir}`);

  // Every message gets a signed return path and unsubscribe links to the local API, so the
  // links in the captured .eml files can be clicked (http is allowed for a loopback host).
  const unsubscribeUrl =
    process.env.VOLLEY_UNSUBSCRIBE_URL ?? `http://127.0.0.1:${apiPort}/unsubscribe`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: redisUrl,
    VOLLEY_API_KEY: apiKey,
    VOLLEY_API_PORT: String(apiPort),
    VOLLEY_SMTP_RELAY: process.env.VOLLEY_SMTP_RELAY ?? `smtp://127.0.0.1:${capture.port}`,
    VOLLEY_VERP_SECRET: process.env.VOLLEY_VERP_SECRET ?? localSecret('verp-secret'),
    VOLLEY_DKIM_SECRET: process.env.VOLLEY_DKIM_SECRET ?? localSecret('dkim-secret'),
    VOLLEY_BOUNCE_DOMAIN: process.env.VOLLEY_BOUNCE_DOMAIN ?? LOCAL_BOUNCE_DOMAIN,
    VOLLEY_UNSUBSCRIBE_URL: unsubscribeUrl,
  };
  // The bounce service's own default (127.0.0.1:2526) is the local one; shown in the banner so
  // a DSN, complaint or mailto unsubscribe for the demo's addresses can be sent to it by hand.
  const bouncePort = process.env.VOLLEY_BOUNCE_SMTP_PORT ?? String(DEFAULT_BOUNCE_SMTP.port);
  const children = new Map<Service, ChildProcess>();
  let stopping = false;

  const stopAll = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      say('stopping...');
      await Promise.all(
        [...children.values()].map(
          (c) =>
            new Promise<void>((done) => {
              if (c.exitCode !== null || c.signalCode !== null) return done();
              c.once('exit', () => done());
              c.kill('SIGTERM');
            }),
        ),
      );
      await capture.close();
      if (redis) await redis.stop();
      say(`stopped; ${captured} messages were captured this run`);
    }
    process.exit(code);
  };

  const metricsPort = (name: Service): string =>
    process.env[`VOLLEY_${name.toUpperCase()}_METRICS_PORT`] ?? String(DEFAULT_METRICS_PORTS[name]);
  for (const name of SERVICES) {
    const child = startService(name, { ...env, VOLLEY_METRICS_PORT: metricsPort(name) });
    children.set(name, child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`${name} exited (${signal ?? `code ${code}`}); stopping the engine`);
      void stopAll(1);
    });
  }

  say(
    [
      'engine starting:',
      `  API        http://127.0.0.1:${apiPort}   (Authorization: Bearer ${apiKey === LOCAL_DEV_KEY ? LOCAL_DEV_KEY : '<VOLLEY_API_KEY>'})`,
      `  metrics    ${SERVICES.map((s) => `${s} :${metricsPort(s)}`).join(', ')}`,
      `  mail       ${mailDir}`,
      `  unsubscribe ${unsubscribeUrl}/<token>   (the links in the captured messages)`,
      `  bounces    smtp://127.0.0.1:${bouncePort}   (bounces+<token>@, unsubscribe+<token>@ and fbl@${env.VOLLEY_BOUNCE_DOMAIN ?? LOCAL_BOUNCE_DOMAIN})`,
      '  try        npm run demo    (in another terminal)      stop: Ctrl-C',
    ].join('\n'),
  );

  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`volley: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
