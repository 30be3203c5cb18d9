import { loadApiConfig } from '@volley/config';
import { Keys } from '@volley/contracts';
import { createQueues } from '@volley/campaigns';
import { checkDkimSecret } from '@volley/domains';
import { connectRedis } from '@volley/redis';
import { createRegistry, startMetricsServer } from '@volley/metrics';
import { PolicyWatcher, Shaper, defaultPolicy } from '@volley/shaping';
import { buildApp } from './app.ts';
import { onShutdown, runService, serviceLogger } from '@volley/runtime';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = serviceLogger('api', config);
  const keys = new Keys(config.redisPrefix);
  const redis = connectRedis(config.redisUrl, {
    name: 'volley-api',
    cluster: config.redisCluster,
  });
  // Keys added with another secret (or none) would not open in the senders.
  await checkDkimSecret(redis, keys, config.dkimSecret);
  const queues = createQueues(redis, keys);
  const registry = createRegistry('api');
  // The API only reads shaping state; the senders enforce it.
  let shaper: Shaper | undefined;
  let watcher: PolicyWatcher | undefined;
  if (config.shapingPolicy !== 'off') {
    watcher = config.shapingPolicy ? await PolicyWatcher.open(config.shapingPolicy) : undefined;
    shaper = new Shaper({
      redis,
      prefix: config.redisPrefix,
      policy: watcher?.policy ?? defaultPolicy(),
    });
    watcher?.on('change', (p) => shaper?.setPolicy(p));
  }
  const app = await buildApp({ config, redis, keys, queues, registry, logger, shaper });
  const metrics = await startMetricsServer({
    port: config.metricsPort,
    host: config.metricsHost,
    registry,
    ready: () => redis.status === 'ready',
  });
  const address = await app.listen({ port: config.port, host: config.host });
  logger.info({ address, metricsPort: metrics.port }, 'api listening');
  onShutdown(logger, async () => {
    await app.close();
    watcher?.close();
    await metrics.close();
    await queues.close();
    redis.disconnect();
  });
}

runService('api', main);
