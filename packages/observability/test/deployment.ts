/**
 * A whole deployment for the observability tests: a real Redis, the four services as separate
 * processes (as Kubernetes runs them), a capture SMTP server that bounces, defers and throttles
 * as a provider would, and helpers to read their /metrics.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startLocalRedis, type LocalRedis } from '@volley/redis';
import {
  spawnService,
  startCaptureServer,
  uniquePrefix,
  type CaptureServer,
  type ServiceProcess,
} from '@volley/testkit';

const KEY = 'observability-key-0123456789';
export const SECRET = 'observability-verp-secret-0123';

export const SERVICES = ['api', 'sender', 'bounce', 'collector'] as const;
export type Service = (typeof SERVICES)[number];

/** The start line each service logs with its metrics port. */
const STARTED: Record<Service, RegExp> = {
  api: /api listening/,
  sender: /sender started/,
  bounce: /bounce started/,
  collector: /collector started/,
};

export interface DeploymentOptions {
  /** Shaping policy (YAML text); `off` turns shaping off. */
  policy: string;
  /** Per recipient: a reply code and text, or undefined to accept. */
  onRecipient?: (address: string) => { code: number; message: string } | undefined;
  senders?: number;
  env?: Record<string, string>;
  /** Holds each 250 after a message's data this long: a slow receiver. @defaultValue 0 */
  replyDelayMs?: number;
}

export class Deployment {
  readonly prefix = uniquePrefix('obs');
  readonly dir = mkdtempSync(join(tmpdir(), 'volley-obs-'));
  redis!: LocalRedis;
  capture!: CaptureServer;
  /** Messages the capture server has accepted. */
  received = 0;
  apiUrl = '';
  readonly processes = new Map<string, ServiceProcess>();
  readonly metricsPorts = new Map<string, number>();

  async start(o: DeploymentOptions): Promise<void> {
    this.redis = await startLocalRedis();
    this.capture = await startCaptureServer({
      onRecipient: o.onRecipient,
      keep: false,
      replyDelayMs: o.replyDelayMs,
      onMessage: () => {
        this.received++;
      },
    });
    const apiPort = await freePort();
    this.apiUrl = `http://127.0.0.1:${apiPort}`;
    let policy = 'off';
    if (o.policy !== 'off') {
      policy = join(this.dir, 'policy.yaml');
      writeFileSync(policy, o.policy);
    }
    const env = {
      REDIS_URL: this.redis.url,
      VOLLEY_REDIS_PREFIX: this.prefix,
      VOLLEY_METRICS_PORT: '0',
      VOLLEY_API_PORT: String(apiPort),
      VOLLEY_API_KEY: KEY,
      VOLLEY_SMTP_RELAY: `smtp://127.0.0.1:${this.capture.port}`,
      VOLLEY_SHAPING_POLICY: policy,
      VOLLEY_VERP_SECRET: SECRET,
      // The bounce service refuses to start without its domain; its SMTP server on a free port
      // so that parallel deployments (and `npm start`'s 2526) do not collide.
      VOLLEY_BOUNCE_DOMAIN: 'bounces.example',
      VOLLEY_BOUNCE_SMTP_PORT: '0',
      VOLLEY_UNSUBSCRIBE_URL: `${this.apiUrl}/unsubscribe`,
      VOLLEY_RETRY_BASE: '1s',
      VOLLEY_RETRY_MAX: '1s',
      VOLLEY_COLLECTOR_INTERVAL: '500ms',
      VOLLEY_COLLECTOR_LOCK: '3s',
      VOLLEY_WEBHOOK_RETRY_BASE: '200ms',
      ...o.env,
    };
    const names: string[] = ['api', 'bounce', 'collector'];
    for (let i = 0; i < (o.senders ?? 1); i++) names.push(`sender${i || ''}`);
    await Promise.all(
      names.map(async (name) => {
        const service = name.replace(/\d+$/, '') as Service;
        const p = spawnService(service, env);
        this.processes.set(name, p);
        // Five node processes compiling TypeScript at once on a shared 2-core machine: a start
        // took over 60 s at a load average of 26, so the bound is a hang guard, not a speed check.
        const line = await p.waitForLine(STARTED[service], 180_000);
        this.metricsPorts.set(name, (JSON.parse(line) as { metricsPort: number }).metricsPort);
      }),
    );
  }

  /** A request to the API with the deployment's key. */
  async api(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async metrics(name: string): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.metricsPorts.get(name)}/metrics`)).text();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.processes.values()].map((p) => p.stop('SIGTERM', 10_000)));
    await this.capture?.close();
    await this.redis?.stop();
  }
}

/** Series (sample lines) of an exposition, by metric family name. */
export function seriesByMetric(exposition: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of exposition.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '';
    const family = name.replace(/_(bucket|sum|count)$/, '');
    let list = out.get(family);
    if (!list) out.set(family, (list = []));
    list.push(line);
  }
  return out;
}
