/**
 * The engine end to end for tests: a real Redis, the API in process and sender processes
 * relaying to a capture server. The API's tests that need real senders (stats, preview) take
 * it through the name services/sender's package.json exports: @volley/sender/test-harness.
 */
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { Keys } from '@volley/contracts';
import { CampaignStore, createQueues, type Queues } from '@volley/campaigns';
import { connectRedis, type RedisClient } from '@volley/redis';
import {
  spawnService,
  startCaptureServer,
  startRedis,
  uniquePrefix,
  waitUntil,
  type CaptureServer,
  type ServiceProcess,
} from '@volley/testkit';
import { buildApp, type AppDeps } from '@volley/api';

export const KEY = 'test-key-0123456789abcdef';
export const DOMAINS = [
  'one.example',
  'two.example',
  'three.example',
  'four.example',
  'five.example',
];

/** A real redis-server shared by the tests of one file; each Harness uses its own prefix. */
export async function sharedRedis(): Promise<{
  url: string;
  redis: RedisClient;
  stop(): Promise<void>;
}> {
  const server = await startRedis();
  const redis = connectRedis(server.url, { name: 'sender-test' });
  await redis.ping();
  return {
    url: server.url,
    redis,
    async stop() {
      redis.disconnect();
      await server.stop();
    },
  };
}

/** One isolated engine: its own key prefix, capture server, API (in-process) and sender processes. */
export class Harness {
  readonly keys = new Keys(uniquePrefix('snd'));
  readonly store: CampaignStore;
  queues!: Queues;
  app!: FastifyInstance;
  capture!: CaptureServer;
  senders: ServiceProcess[] = [];
  private senderEnv: Record<string, string> = {};

  constructor(
    private readonly redis: RedisClient,
    private readonly redisUrl: string,
  ) {
    this.store = new CampaignStore(redis, this.keys);
  }

  async start(opts: {
    senders: number;
    env?: Record<string, string>;
    capture?: Parameters<typeof startCaptureServer>[0];
    /** More API configuration (one-click unsubscribe, an admin key, the DKIM secret, ...). */
    api?: Partial<AppDeps['config']>;
  }): Promise<void> {
    this.capture = await startCaptureServer(opts.capture);
    this.queues = createQueues(this.redis, this.keys);
    this.app = await buildApp({
      config: {
        apiKey: KEY,
        bodyLimit: 10 * 1024 * 1024,
        maxInlineRecipients: 100_000,
        ...opts.api,
      },
      redis: this.redis,
      keys: this.keys,
      queues: this.queues,
      registry: new Registry(),
      logger: false,
    });
    this.senderEnv = {
      REDIS_URL: this.redisUrl,
      VOLLEY_REDIS_PREFIX: this.keys.prefix,
      VOLLEY_SMTP_RELAY: `smtp://127.0.0.1:${this.capture.port}`,
      VOLLEY_METRICS_PORT: '0',
      VOLLEY_BATCH_SIZE: '20',
      VOLLEY_EXPAND_WINDOW: '400',
      // Shaping has its own tests; here the default policy's per-domain limits would only slow
      // the tests down.
      VOLLEY_SHAPING_POLICY: 'off',
      ...opts.env,
    };
    for (let i = 0; i < opts.senders; i++) this.addSender();
    await Promise.all(this.senders.map((s) => s.waitForLine(/sender started/)));
  }

  /** Starts one more sender process with the harness's environment, and `env` over it. */
  addSender(env: Record<string, string> = {}): ServiceProcess {
    const p = spawnService('sender', { ...this.senderEnv, ...env });
    this.senders.push(p);
    return p;
  }

  async create(payload: Record<string, unknown>): Promise<string> {
    const res = await this.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: { authorization: `Bearer ${KEY}` },
      payload,
    });
    assert.equal(res.statusCode, 202, res.body);
    return res.json<{ id: string }>().id;
  }

  async completed(id: string, timeoutMs = 60_000): Promise<void> {
    await waitUntil(
      async () => (await this.store.status(id)) === 'completed',
      `campaign ${id} to complete`,
      timeoutMs,
    );
  }

  async metricsOf(p: ServiceProcess): Promise<string> {
    const line = await p.waitForLine(/sender started/);
    const port = (JSON.parse(line) as { metricsPort: number }).metricsPort;
    return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  }

  /** Stops the senders still running (SIGTERM; they must exit 0) and everything else. */
  async stop(): Promise<void> {
    const running = this.senders.filter(
      (s) => s.child.exitCode === null && s.child.signalCode === null,
    );
    const codes = await Promise.all(running.map((s) => s.stop('SIGTERM')));
    assert.deepEqual(
      codes,
      codes.map(() => 0),
      'senders exit cleanly on SIGTERM',
    );
    await this.app.close();
    await this.queues.close();
    await this.capture.close();
  }
}

export function recipients(n: number): { email: string; vars: Record<string, unknown> }[] {
  return Array.from({ length: n }, (_, i) => ({
    email: `user${i}@${DOMAINS[i % DOMAINS.length]}`,
    vars: { name: `Name${i}`, n: i },
  }));
}

export const CAMPAIGN = {
  from: 'Volley Test <news@sender.example>',
  subject: 'Hello {{name}}',
  html: '<p>Hi {{name}}, you are number {{n}}.</p>',
};

export function sentCount(metrics: string): number {
  const m = /volley_messages_total\{[^}]*outcome="sent"[^}]*\} (\d+)/.exec(metrics);
  return m ? Number(m[1]) : 0;
}
