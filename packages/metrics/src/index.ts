import { createServer, type Server } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';

export { senderMetrics, SHARED_POOL, type SenderMetrics, type PoolConnections } from './sender.ts';
export { apiMetrics, methodLabel, type ApiMetrics } from './api.ts';
export {
  collectorMetrics,
  resetClusterGauges,
  type BacklogState,
  type CollectorMetrics,
} from './collector.ts';
export { REASONS, OTHER_PROVIDER, outcomeLabel, reasonLabel } from './labels.ts';
export { bounceMetrics, type BounceMetrics } from './bounce.ts';

/** A registry with the process metrics and a `service` label on everything. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'volley_' });
  return registry;
}

export interface MetricsServerOptions {
  port: number;
  host: string;
  registry: Registry;
  /** Answers /readyz: true when the service can do its work (e.g. Redis connected). */
  ready?: () => boolean;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves /metrics, /healthz and /readyz for services that have no HTTP API of their own. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      opts.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics collection failed: ${String(err)}\n`);
        });
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}\n');
      return;
    }
    if (path === '/readyz') {
      const ok = opts.ready ? opts.ready() : true;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(ok ? '{"status":"ready"}\n' : '{"status":"not ready"}\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try /metrics, /healthz or /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
