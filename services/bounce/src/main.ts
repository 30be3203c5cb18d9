import { readFileSync } from 'node:fs';
import { Feedback } from '@volley/campaigns';
import { loadBounceConfig } from '@volley/config';
import { Keys } from '@volley/contracts';
import { startBounceServer } from '@volley/bounce/inbound';
import { bounceMetrics, createRegistry, startMetricsServer } from '@volley/metrics';
import { connectRedis } from '@volley/redis';
import { onShutdown, runService, serviceLogger } from '@volley/runtime';

/**
 * The bounce service: the bounce domain's inbound SMTP server (DSNs, complaint reports and
 * mailto unsubscribes), and /metrics, /healthz and /readyz.
 */
async function main(): Promise<void> {
  const config = loadBounceConfig();
  const logger = serviceLogger('bounce', config);
  const tls = config.tls && {
    cert: readFileSync(config.tls.certPath),
    key: readFileSync(config.tls.keyPath),
  };
  // An MTA waits for the answer to its message: after a couple of reconnects, fail the
  // command so it gets a 451 and retries later, rather than holding its session.
  const redis = connectRedis(config.redisUrl, {
    name: 'volley-bounce',
    maxRetriesPerRequest: 2,
    cluster: config.redisCluster,
  });
  // Reported once per outage, not at every reconnect attempt; meanwhile reports get 451.
  let redisDown = false;
  redis.on('error', (err: Error) => {
    if (redisDown) return;
    redisDown = true;
    logger.warn(
      { err: err.message },
      'Redis unavailable: reports are answered 451 until it is back',
    );
  });
  redis.on('ready', () => {
    if (!redisDown) return;
    redisDown = false;
    logger.info('Redis available again');
  });
  const registry = createRegistry('bounce');
  const smtp = await startBounceServer({
    host: config.smtpHost,
    port: config.smtpPort,
    domain: config.bounceDomain,
    secret: config.verpSecret,
    feedback: new Feedback(redis, new Keys(config.redisPrefix), config),
    metrics: bounceMetrics(registry),
    logger,
    maxMessageBytes: config.maxMessageBytes,
    maxClients: config.maxClients,
    rateLimit: config.rateLimit,
    tls,
  });
  const metrics = await startMetricsServer({
    port: config.metricsPort,
    host: config.metricsHost,
    registry,
    ready: () => redis.status === 'ready',
  });
  logger.info(
    {
      smtp: `${config.smtpHost}:${smtp.port}`,
      smtpPort: smtp.port,
      domain: config.bounceDomain,
      starttls: tls !== undefined,
      metricsPort: metrics.port,
    },
    'bounce started',
  );
  onShutdown(logger, async () => {
    await smtp.close();
    await metrics.close();
    redis.disconnect();
  });
}

runService('bounce', main);
