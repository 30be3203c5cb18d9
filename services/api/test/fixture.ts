import { spawn } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { Keys } from '@volley/contracts';
import { CampaignStore, createQueues, type Queues } from '@volley/campaigns';
import { DomainStore } from '@volley/domains';
import { connectRedis, type RedisClient } from '@volley/redis';
import { ROOT, startRedis, TSX_NODE_ARGS, uniquePrefix } from '@volley/testkit';
import { buildApp, type AppDeps } from '../src/app.ts';

export const KEY = 'test-key-0123456789abcdef';
export const auth = { authorization: `Bearer ${KEY}` };
/** VOLLEY_DKIM_SECRET of the tests. */
export const DKIM_SECRET = 'test-dkim-secret-0123456789abcdef-0123';

/**
 * Gives a tenant a sending domain (with an Ed25519 key, the quickest to make), as an operator
 * would before the tenant's campaigns from that domain are accepted.
 */
export async function addSendingDomain(
  redis: RedisClient,
  keys: Keys,
  tenant: string,
  domain: string,
): Promise<void> {
  const store = new DomainStore(redis, keys, { secret: DKIM_SECRET });
  await store.add(tenant, { domain, keyType: 'ed25519' });
}

/** An RFC 9457 problem as the API answers it. */
export interface Problem {
  status: number;
  title: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

export interface ApiFixture {
  app: FastifyInstance;
  redis: RedisClient;
  /** The URL of the fixture's redis-server, for processes and connections of their own. */
  url: string;
  keys: Keys;
  store: CampaignStore;
  queues: Queues;
  close(): Promise<void>;
}

/**
 * The API built in process (`app.inject`) against a real redis-server of its own, with a key
 * prefix no other test uses. `extra` builds more dependencies (a Shaper, say) on the fixture's
 * Redis and key prefix.
 */
export async function apiFixture(
  config: Partial<AppDeps['config']> = {},
  extra: (redis: RedisClient, keys: Keys) => Partial<AppDeps> = () => ({}),
): Promise<ApiFixture> {
  const server = await startRedis();
  const redis = connectRedis(server.url, { name: 'api-test' });
  await redis.ping();
  const keys = new Keys(uniquePrefix('api'));
  const queues = createQueues(redis, keys);
  const app = await buildApp({
    config: { apiKey: KEY, bodyLimit: 256 * 1024, maxInlineRecipients: 1000, ...config },
    redis,
    keys,
    queues,
    registry: new Registry(),
    logger: false,
    ...extra(redis, keys),
  });
  return {
    app,
    redis,
    url: server.url,
    keys,
    store: new CampaignStore(redis, keys),
    queues,
    async close() {
      await app.close();
      await queues.close();
      redis.disconnect();
      await server.stop();
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run admin` as an operator would (through node directly, to skip npm's banner). */
export function runAdminCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TSX_NODE_ARGS, 'services/api/src/cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Streams `body` to a campaign's recipient upload as `type`. */
export function uploadRecipients(app: FastifyInstance, id: string, type: string, body: string) {
  return app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/recipients`,
    headers: { ...auth, 'content-type': type },
    payload: body,
  });
}
