/**
 * Settings of the local engine (`npm start`) that no service reads: the capture server and how
 * the services' metrics ports are spread out.
 */
import { DEFAULT_METRICS_PORTS } from './common.ts';
import { Reader, done, type Env } from './reader.ts';

export interface LocalConfig {
  apiPort: number;
  capturePort: number;
  /** Folder of captured mail; unset means `<state folder>/mail`. */
  captureDir: string | undefined;
  /** Captured messages kept; the oldest are removed beyond it. @defaultValue 10000 */
  captureKeep: number;
  mailViewPort: number;
  /**
   * Each service's metrics port: its VOLLEY_<SERVICE>_METRICS_PORT, else VOLLEY_METRICS_PORT for
   * the api and the next ones for the rest.
   */
  metricsPorts: Record<keyof typeof DEFAULT_METRICS_PORTS, number>;
  /** The senders' drain deadline, which bounds how long stopping the engine may take. */
  drainTimeoutMs: number;
}

/** Default of VOLLEY_CAPTURE_KEEP: the demo ten times over, about 40 MB of 4 KB messages. */
const DEFAULT_CAPTURE_KEEP = 10_000;
/** Mail catchers' usual web port (MailHog, Mailpit): where a newcomer looks first. */
const DEFAULT_MAIL_VIEW_PORT = 8025;

export function loadLocalConfig(env: Env = process.env): LocalConfig {
  const r = new Reader(env);
  const services = Object.keys(DEFAULT_METRICS_PORTS) as (keyof typeof DEFAULT_METRICS_PORTS)[];
  const base = r.int(
    'VOLLEY_METRICS_PORT',
    DEFAULT_METRICS_PORTS.api,
    0,
    65535 - (services.length - 1),
    `under \`npm start\` the api's /metrics takes this port and the ${services.slice(1).join(', ')} services the next ${services.length - 1}; 0 picks free ports`,
  );
  // A service's own VOLLEY_<SERVICE>_METRICS_PORT, when set, wins over its place after the base.
  const metricsPorts = Object.fromEntries(
    services.map((s, i) => [
      s,
      r.port(`VOLLEY_${s.toUpperCase()}_METRICS_PORT`, base === 0 ? 0 : base + i),
    ]),
  ) as LocalConfig['metricsPorts'];
  return done(r, {
    apiPort: r.port('VOLLEY_API_PORT', 8080),
    capturePort: r.port('VOLLEY_CAPTURE_PORT', 2525),
    captureDir: r.raw('VOLLEY_CAPTURE_DIR'),
    captureKeep: r.int(
      'VOLLEY_CAPTURE_KEEP',
      DEFAULT_CAPTURE_KEEP,
      1,
      10_000_000,
      'the captured messages kept; older ones are removed',
    ),
    mailViewPort: r.port('VOLLEY_MAIL_VIEW_PORT', DEFAULT_MAIL_VIEW_PORT),
    metricsPorts,
    drainTimeoutMs: r.durationMs('VOLLEY_DRAIN_TIMEOUT', 30_000),
  });
}
