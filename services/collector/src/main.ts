import { loadCollectorConfig } from '@volley/config';
import { Collector } from '@volley/observability';
import { createRegistry, startMetricsServer } from '@volley/metrics';
import { onShutdown, runService, serviceLogger } from '@volley/runtime';

/**
 * The collector: the cluster-wide gauges (backlog, queues, campaign progress, shaping state,
 * Redis), the campaign event streams and signed webhooks. Any number may run: one holds the
 * lock and computes; every one delivers webhooks.
 */
async function main(): Promise<void> {
  const config = loadCollectorConfig();
  const logger = serviceLogger('collector', config);
  const registry = createRegistry('collector');
  const collector = new Collector({ config, logger, registry });
  const metrics = await startMetricsServer({
    port: config.metricsPort,
    host: config.metricsHost,
    registry,
    ready: () => collector.ready(),
  });
  await collector.start();
  logger.info({ metricsPort: metrics.port }, 'collector started');
  onShutdown(logger, async () => {
    await collector.stop();
    await metrics.close();
  });
}

runService('collector', main);
