import type { Logger } from 'pino';
import { ConfigError, unknownVariableWarnings, type CommonConfig } from '@volley/config';
import { createLogger } from './logger.ts';

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits. A second signal exits at once, for an
 * operator who does not want to wait for the drain.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  watchParent(logger, handler);
}

/**
 * Under `npm start` each service runs in its own process group, so a supervisor killed
 * outright (SIGKILL) would leave it behind. VOLLEY_PARENT_PID names the supervisor; when it is
 * gone the service shuts down as on SIGTERM. Checked once a second: there is no event for the
 * death of a process that is not our child.
 */
function watchParent(logger: Logger, stop: (signal: NodeJS.Signals) => void): void {
  const ppid = Number(process.env.VOLLEY_PARENT_PID);
  if (!Number.isInteger(ppid) || ppid <= 1) return;
  const timer = setInterval(() => {
    try {
      process.kill(ppid, 0);
    } catch {
      clearInterval(timer);
      logger.warn({ ppid }, 'supervisor is gone; shutting down');
      stop('SIGTERM');
    }
  }, 1000);
  timer.unref();
}

/**
 * Starts a service's main function; a configuration error is printed plainly (it is meant for
 * a person), anything else with its stack. Both exit with status 1.
 */
export function runService(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`volley ${name}: ${err.message}\n`);
    } else {
      process.stderr.write(
        `volley ${name}: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.exit(1);
  });
}

/**
 * A service's logger at its configured level and format. It warns first of each VOLLEY_
 * variable that nothing reads, so a misspelt setting is seen at start-up, not silently defaulted.
 */
export function serviceLogger(
  service: string,
  config: Pick<CommonConfig, 'logLevel' | 'logFormat'>,
  base?: Record<string, unknown>,
): Logger {
  const logger = createLogger(service, {
    level: config.logLevel,
    format: config.logFormat,
    ...(base ? { base } : {}),
  });
  for (const warning of unknownVariableWarnings()) logger.warn(warning);
  return logger;
}

export { waitForPort, portIsFree, tail, type ChildHandle } from './process.ts';
export {
  ROOT,
  TSX_NODE_ARGS,
  type ServiceRuntime,
  launch,
  launchTs,
  launchService,
  adopt,
  stopAll,
  stopAllOnSignals,
} from './launch.ts';
export {
  localStateDir,
  lockStateDir,
  runningEngine,
  type LocalEngineRecord,
  type EngineLock,
} from './local-engine.ts';
export {
  createLogger,
  lineWriter,
  parseRecord,
  prettyRecord,
  resolveLogFormat,
  type LogFormat,
} from './logger.ts';
