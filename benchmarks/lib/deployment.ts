/**
 * Volley deployed as production runs it, for `npm run bench` and `npm run bench:shaping`: a
 * fresh redis-server, one API and N sender processes, each configured only through its
 * environment and relaying into a sink of the caller's.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  findRedisServer,
  freePort,
  startLocalCluster,
  startLocalRedis,
  type LocalRedis,
} from '@volley/redis';
import { adopt, launchService, tail, type ChildHandle, type ServiceRuntime } from '@volley/runtime';

/** Redis key prefix of every Volley deployment the harness starts (each has a fresh Redis). */
export const PREFIX = 'bench';

/**
 * How long a stopped process may take to exit before it is killed: the senders' drain
 * (VOLLEY_DRAIN_TIMEOUT, 5 s here) has nothing left to wait for once a run has completed.
 */
export const STOP_GRACE_MS = 5000;

/** Fails before anything is built or started when there is no redis-server to start. */
export function requireRedisServer(): void {
  if (!findRedisServer()) {
    throw new Error(
      'redis-server was not found on PATH (Debian/Ubuntu: `sudo apt-get install -y redis-server`).',
    );
  }
}

/** Environment variables that tune the senders, passed through to them and recorded. */
const SENDER_TUNING = [
  'VOLLEY_SENDER_CONCURRENCY',
  'VOLLEY_SMTP_POOL_SIZE',
  'VOLLEY_BATCH_SIZE',
  'VOLLEY_EXPAND_WINDOW',
  // `off` measures the send path without its metrics, to compare with a run with them.
  'VOLLEY_SEND_METRICS',
];

/** The sender tuning variables set (not empty) in this process's environment. */
export function senderTuning(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SENDER_TUNING) {
    const v = process.env[name];
    if (v !== undefined && v.trim() !== '') out[name] = v.trim();
  }
  return out;
}

export interface DeploymentOptions {
  senders: number;
  /** Port of the SMTP server on 127.0.0.1 the senders relay to. */
  relayPort: number;
  /** Parameters of the relay URL (`?ca=FILE` for a sink with the run's certificate). @defaultValue '' */
  relayQuery?: string;
  /** Variables of every service, beyond Redis, the key prefix and metrics on a free port. */
  env?: Record<string, string>;
  apiEnv?: Record<string, string>;
  senderEnv?: Record<string, string>;
  /** Folder for V8 CPU profiles of the API and senders; none means no profiling. */
  profile?: { dir: string; rep: number } | undefined;
  /** Every line sender `k` (from 1) prints. */
  onSenderLine?: (k: number, line: string) => void;
  /** TypeScript through tsx, or the compiled dist/ as production runs it. @defaultValue 'tsx' */
  runtime?: ServiceRuntime;
  /** A Redis Cluster of this many masters instead of one Redis. @defaultValue 0 (one Redis) */
  clusterMasters?: number;
}

export interface Deployment {
  /** The Redis, or a cluster's first master. */
  redis: LocalRedis;
  /** Every Redis server process: the one Redis, or each master of the cluster. */
  redisNodes: LocalRedis[];
  /** What the services' REDIS_URL is (a cluster's seed list) and whether it is a cluster. */
  redisUrl: string;
  redisCluster: boolean;
  api: ChildHandle;
  senders: ChildHandle[];
  /** `http://127.0.0.1:<port>` of the API. */
  base: string;
  /** Headers that authenticate to the API. */
  auth: { authorization: string };
  /** The metrics port of each sender, from the line it printed when it started. */
  metricsPorts: number[];
  /** Fails, with its last output, if any service has exited. */
  assertRunning(): void;
  /** The services (SIGTERM, then SIGKILL), then Redis. */
  stop(): Promise<void>;
}

/** Starts Redis, the API and the senders, and waits until each says it is ready. */
export async function startDeployment(o: DeploymentOptions): Promise<Deployment> {
  const cluster = o.clusterMasters
    ? await startLocalCluster({ masters: o.clusterMasters })
    : undefined;
  const redisNodes = cluster ? cluster.nodes : [await startLocalRedis()];
  const redis = redisNodes[0] as LocalRedis;
  const redisUrl = cluster ? cluster.url : redis.url;
  const stopRedis = adopt(redis.pid, () => (cluster ? cluster.stop() : redis.stop()));
  const services: ChildHandle[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(services.map((p) => p.stop('SIGTERM', STOP_GRACE_MS)));
    await stopRedis();
  };
  try {
    const apiKey = randomBytes(24).toString('hex');
    const apiPort = await freePort();
    const common = {
      REDIS_URL: redisUrl,
      ...(cluster ? { VOLLEY_REDIS_CLUSTER: 'true' } : {}),
      VOLLEY_REDIS_PREFIX: PREFIX,
      VOLLEY_METRICS_PORT: '0',
      VOLLEY_METRICS_HOST: '127.0.0.1',
      ...o.env,
    };
    // One folder per process: tsx's loader thread writes a profile of its own next to the main one.
    const profiled = (name: string) =>
      o.profile ? { cpuProfileDir: join(o.profile.dir, `rep${o.profile.rep}-${name}`) } : {};
    const runtime = o.runtime ?? 'tsx';
    const api = launchService('api', {
      runtime,
      env: {
        ...common,
        VOLLEY_API_KEY: apiKey,
        VOLLEY_API_PORT: String(apiPort),
        VOLLEY_API_HOST: '127.0.0.1',
        ...o.apiEnv,
      },
      ...profiled('api'),
    });
    services.push(api);
    const senders: ChildHandle[] = [];
    for (let k = 1; k <= o.senders; k++) {
      const name = `sender-${k}`;
      const onLine = o.onSenderLine;
      const s = launchService('sender', {
        name,
        runtime,
        env: {
          ...common,
          VOLLEY_SMTP_RELAY: `smtp://127.0.0.1:${o.relayPort}${o.relayQuery ?? ''}`,
          VOLLEY_HELO_NAME: 'bench.example',
          // Nothing is in flight once the campaign has completed; a short drain keeps teardown quick.
          VOLLEY_DRAIN_TIMEOUT: '5s',
          ...o.senderEnv,
        },
        ...profiled(name),
        ...(onLine ? { onLine: (line: string) => onLine(k, line) } : {}),
      });
      senders.push(s);
      services.push(s);
    }
    const [, ...started] = await Promise.all([
      api.waitForLine(/api listening/, 60_000),
      ...senders.map((s) => s.waitForLine(/sender started/, 60_000)),
    ]);
    return {
      redis,
      redisNodes,
      redisUrl,
      redisCluster: cluster !== undefined,
      api,
      senders,
      base: `http://127.0.0.1:${apiPort}`,
      auth: { authorization: `Bearer ${apiKey}` },
      metricsPorts: started.map(
        (l) => (JSON.parse(l) as { metricsPort?: number }).metricsPort ?? 0,
      ),
      assertRunning() {
        for (const p of services) {
          if (!p.running())
            throw new Error(`${p.name} exited during the run; output:\n${tail(p.lines)}`);
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
