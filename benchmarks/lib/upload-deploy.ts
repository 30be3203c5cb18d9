/**
 * The API that `npm run bench:upload` and `npm run bench:cli-upload` upload into: its own
 * redis-server and the benchmark's API process (benchmarks/lib/upload-server.ts: the real
 * application plus the baseline routes), and fresh drafts to upload into.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Keys } from '@volley/contracts';
import { connectRedis, freePort, startLocalRedis, type RedisClient } from '@volley/redis';
import { adopt, launchTs, type ChildHandle } from '@volley/runtime';
import { PREFIX, STOP_GRACE_MS } from './deployment.ts';
import { log } from './log.ts';
import { redisVersion } from './runs.ts';

export interface UploadDeployment {
  base: string;
  apiKey: string;
  auth: Record<string, string>;
  api: ChildHandle;
  redisPid: number;
  redisVersion: string;
  /** A fresh draft campaign to upload into. */
  draft(): Promise<string>;
  /**
   * Gives a draft's memory back before the next run: DEL, not UNLINK, since a background free
   * would count as Redis CPU in the next run.
   */
  drop(id: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startUploadDeployment(opts: {
  apiCpuProfileDir?: string;
}): Promise<UploadDeployment> {
  const redis = await startLocalRedis();
  const stopRedis = adopt(redis.pid, () => redis.stop());
  const apiKey = randomBytes(24).toString('hex');
  const apiPort = await freePort();
  const api = launchTs('api', 'benchmarks/lib/upload-server.ts', {
    env: {
      REDIS_URL: redis.url,
      VOLLEY_REDIS_PREFIX: PREFIX,
      VOLLEY_API_KEY: apiKey,
      VOLLEY_API_PORT: String(apiPort),
      VOLLEY_API_HOST: '127.0.0.1',
      VOLLEY_LOG_LEVEL: 'info',
      VOLLEY_UPLOAD_LIMIT: String(64 * 1024 ** 3),
    },
    ...(opts.apiCpuProfileDir ? { cpuProfileDir: join(opts.apiCpuProfileDir, 'api') } : {}),
  });
  const client: RedisClient = connectRedis(redis.url, { name: 'volley-bench' });
  const stop = async (): Promise<void> => {
    client.disconnect();
    await api.stop('SIGTERM', STOP_GRACE_MS);
    await stopRedis();
  };
  try {
    await api.waitForLine(/api listening/, 60_000);
    await api.waitForPort(apiPort, 10_000);
    log(`pids: redis ${redis.pid}, api ${api.pid}`);
    const version = await redisVersion(client);
    const keys = new Keys(PREFIX);
    const base = `http://127.0.0.1:${apiPort}`;
    const auth = { authorization: `Bearer ${apiKey}` };
    return {
      base,
      apiKey,
      auth,
      api,
      redisPid: redis.pid,
      redisVersion: version,
      async draft() {
        const res = await fetch(`${base}/v1/campaigns`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({
            from: 'news@bench.example',
            subject: 'Hello {{name}}',
            text: 'Hello {{name}}, you are on the {{plan}} plan.',
            draft: true,
          }),
        });
        const text = await res.text();
        if (res.status !== 202) throw new Error(`POST /v1/campaigns: ${res.status} ${text}`);
        return (JSON.parse(text) as { id: string }).id;
      },
      async drop(id) {
        await client.del(
          keys.recipients(id),
          keys.seen(id),
          keys.destinations(id),
          keys.campaign(id),
        );
        await client.zrem(keys.tenantCampaigns('default'), id);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
