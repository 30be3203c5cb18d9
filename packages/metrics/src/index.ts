import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A registry with the process metrics and a `service` label on everything. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'volley_' });
  return registry;
}

/** Messages by outcome. `reason` is Sisimai's vocabulary: a bounded set, never an address or domain. */
export function messagesCounter(registry: Registry): Counter<'outcome' | 'reason'> {
  return new Counter({
    name: 'volley_messages_total',
    help: 'Messages by outcome (sent, deferred, bounced, suppressed, failed) and reason.',
    labelNames: ['outcome', 'reason'],
    registers: [registry],
  });
}

export function smtpDurationHistogram(registry: Registry): Histogram<'outcome'> {
  return new Histogram({
    name: 'volley_smtp_transaction_duration_seconds',
    help: 'Time from handing a message to the SMTP pool to the reply, by disposition.',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
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
