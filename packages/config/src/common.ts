/**
 * Settings more than one service reads: Redis, metrics and logs, how reported feedback
 * suppresses, and the bounce domain with the secret that signs its tokens. Each is parsed
 * here once, so every service checks a variable the same way.
 */
import { Reader, done, type Env } from './reader.ts';
import { eventsMaxLen } from './retention.ts';

export interface CommonConfig {
  redisUrl: string;
  /** Namespace of every Redis key, BullMQ's included. @defaultValue `volley` */
  redisPrefix: string;
  metricsPort: number;
  metricsHost: string;
  logLevel: string;
  /** Log lines as JSON or readable text. @defaultValue pretty on a terminal, JSON otherwise */
  logFormat: 'pretty' | 'json' | undefined;
}

/** How reported soft bounces turn into suppression; read by every service that applies feedback. */
export interface FeedbackConfig {
  /** Soft bounces of an address within the window that suppress it; 0 never. @defaultValue 3 */
  softBounceLimit: number;
  /** How far back soft bounces count. @defaultValue 30 days */
  softBounceWindowMs: number;
  /** Events a campaign's stream keeps (VOLLEY_EVENTS_MAXLEN); 0 all. @defaultValue 1,000,000 */
  eventsMaxLen: number;
}

/** Default metrics ports, one per service so they can share a host during development. */
export const DEFAULT_METRICS_PORTS = { api: 9464, sender: 9465, bounce: 9466, collector: 9467 };

/** Soft-bounce suppression when VOLLEY_SOFT_BOUNCE_LIMIT and VOLLEY_SOFT_BOUNCE_WINDOW are unset. */
export const DEFAULT_SOFT_BOUNCE = { limit: 3, windowMs: 30 * 86_400_000 } as const;

/** A URL with any password replaced by `***`, for messages and logs. */
export function mask(urlText: string): string {
  return urlText.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

export function common(r: Reader, defaultMetricsPort: number): CommonConfig {
  const redisUrl = r.required(
    'REDIS_URL',
    'the services keep campaigns and queues in Redis (e.g. redis://127.0.0.1:6379); `npm start` sets it for you',
  );
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    r.problems.push(
      `REDIS_URL=${JSON.stringify(mask(redisUrl))} must start with redis:// or rediss://`,
    );
  }
  const redisPrefix = r.raw('VOLLEY_REDIS_PREFIX') ?? 'volley';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(redisPrefix)) {
    r.problems.push('VOLLEY_REDIS_PREFIX may hold only letters, digits, _ . - (at most 64)');
  }
  return {
    redisUrl,
    redisPrefix,
    metricsPort: r.port('VOLLEY_METRICS_PORT', defaultMetricsPort),
    metricsHost: r.raw('VOLLEY_METRICS_HOST') ?? '127.0.0.1',
    logLevel: r.oneOf('VOLLEY_LOG_LEVEL', 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ]),
    logFormat: logFormat(r),
  };
}

/** VOLLEY_LOG_FORMAT; unset leaves the choice to the output (a terminal gets pretty lines). */
function logFormat(r: Reader): 'pretty' | 'json' | undefined {
  const v = r.raw('VOLLEY_LOG_FORMAT');
  if (v === undefined || v === 'pretty' || v === 'json') return v;
  r.problems.push(
    `VOLLEY_LOG_FORMAT=${JSON.stringify(v)} must be pretty or json (unset: pretty on a terminal, json otherwise)`,
  );
  return undefined;
}

export function feedbackSettings(r: Reader): FeedbackConfig {
  const softBounceLimit = r.limitOrOff(
    'VOLLEY_SOFT_BOUNCE_LIMIT',
    DEFAULT_SOFT_BOUNCE.limit,
    1000,
    'the soft bounces (mailbox full, blocked, ...) of one address within VOLLEY_SOFT_BOUNCE_WINDOW that put it on the suppression list; 0 or off never suppresses for soft bounces',
  );
  const softBounceWindowMs = r.durationMs(
    'VOLLEY_SOFT_BOUNCE_WINDOW',
    DEFAULT_SOFT_BOUNCE.windowMs,
  );
  // At least a minute, or a limit above one could never be reached by bounces of separate
  // messages; at most a year, which is as long as a count per address is worth keeping.
  if (softBounceWindowMs < 60_000 || softBounceWindowMs > 365 * 86_400_000) {
    r.problems.push(
      `VOLLEY_SOFT_BOUNCE_WINDOW=${JSON.stringify(r.raw('VOLLEY_SOFT_BOUNCE_WINDOW'))} must be from 1m to 365d: how far back the soft bounces of an address count towards VOLLEY_SOFT_BOUNCE_LIMIT`,
    );
  }
  return { softBounceLimit, softBounceWindowMs, eventsMaxLen: eventsMaxLen(r) };
}

/** Reported-feedback settings alone, for services that apply feedback (the bounce service). */
export function loadFeedbackConfig(env: Env = process.env): FeedbackConfig {
  const r = new Reader(env);
  return done(r, feedbackSettings(r));
}

/** VOLLEY_VERP_SECRET, checked for length when set. */
export function verpSecretSetting(r: Reader): string | undefined {
  const verpSecret = r.raw('VOLLEY_VERP_SECRET');
  if (verpSecret && verpSecret.length < 16) {
    r.problems.push('VOLLEY_VERP_SECRET must be at least 16 characters so tokens cannot be forged');
  }
  return verpSecret;
}

/** VOLLEY_BOUNCE_DOMAIN, lower-cased and checked to be a domain name when set. */
export function bounceDomainSetting(r: Reader): string | undefined {
  const bounceDomain = r.raw('VOLLEY_BOUNCE_DOMAIN')?.toLowerCase();
  if (bounceDomain && !/^([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/.test(bounceDomain)) {
    r.problems.push(`VOLLEY_BOUNCE_DOMAIN=${JSON.stringify(bounceDomain)} is not a domain name`);
  }
  return bounceDomain;
}
