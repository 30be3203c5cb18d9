import { loadSenderConfig, relayWarnings } from '@volley/config';
import { SenderEngine } from '@volley/delivery';
import { createRegistry, startMetricsServer } from '@volley/metrics';
import { onShutdown, runService, serviceLogger } from '@volley/runtime';

async function main(): Promise<void> {
  const config = loadSenderConfig();
  const logger = serviceLogger('sender', config, { pid: process.pid });
  if (config.delivery === 'relay')
    for (const warning of relayWarnings(config.relays)) logger.warn(warning);
  const registry = createRegistry('sender');
  const engine = new SenderEngine({ config, logger, registry });
  const metrics = await startMetricsServer({
    port: config.metricsPort,
    host: config.metricsHost,
    registry,
    ready: () => engine.ready(),
  });
  await engine.start();
  process.on('SIGHUP', () => {
    engine.reloadPolicy().catch((err: unknown) => logger.error({ err }, 'policy reload failed'));
  });
  logger.info(
    {
      relays: config.relays.map((r) => r.label),
      concurrency: config.concurrency,
      metricsPort: metrics.port,
    },
    'sender started',
  );
  onShutdown(logger, async () => {
    await engine.stop();
    await metrics.close();
  });
}

runService('sender', main);
