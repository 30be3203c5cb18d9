/** The bounce service started as a deployment starts it, for the tests of this folder. */
import { spawnService, type ServiceProcess } from '@volley/testkit';

export const DOMAIN = 'bounce.volley.test';
export const SECRET = 'bounce-service-test-secret-0123';

export interface BounceService {
  proc: ServiceProcess;
  smtpPort: number;
  metricsPort: number;
  /** The service's /metrics text. */
  metrics(): Promise<string>;
}

/** Starts `services/bounce` on free loopback ports with the test domain and secret. */
export async function startBounceService(
  env: Record<string, string>,
  opts: { nodeArgs?: string[] } = {},
): Promise<BounceService> {
  const proc = spawnService(
    'bounce',
    {
      VOLLEY_BOUNCE_DOMAIN: DOMAIN,
      VOLLEY_VERP_SECRET: SECRET,
      VOLLEY_BOUNCE_SMTP_PORT: '0',
      VOLLEY_METRICS_PORT: '0',
      ...env,
    },
    opts,
  );
  const line = await proc.waitForLine(/bounce started/);
  const { smtpPort, metricsPort } = JSON.parse(line) as { smtpPort: number; metricsPort: number };
  return {
    proc,
    smtpPort,
    metricsPort,
    metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
  };
}

/** The value of one sample in a /metrics text (0 when absent). */
export function sample(metrics: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
