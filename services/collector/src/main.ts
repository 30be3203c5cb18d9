import { loadCommonConfig, unknownVariableWarnings } from '@volley/config';
import { connectRedis } from '@volley/redis';
import { createRegistry, startMetricsServer } from '@volley/metrics';
import { createLogger, onShutdown, runService } from '@volley/runtime';

/**
 * The collector service: for now it connects to Redis and serves /metrics, /healthz and /readyz;
 * its own work arrives with its issue.
 */
async function main(): Promise<void> {
  const config = loadCommonConfig('collector');
  const logger = createLogger('collector', {
    level: config.logLevel,
    format: config.logFormat,
  });
  for (const warning of unknownVariableWarnings()) logger.warn(warning);
  const redis = connectRedis(config.redisUrl, { name: 'volley-collector' });
  const registry = createRegistry('collector');
  const metrics = await startMetricsServer({
    port: config.metricsPort,
    host: config.metricsHost,
    registry,
    ready: () => redis.status === 'ready',
  });
  logger.info({ metricsPort: metrics.port }, 'collector started');
  onShutdown(logger, async () => {
    await metrics.close();
    redis.disconnect();
  });
}

runService('collector', main);
