/**
 * Configuration from environment variables, parsed and validated once at start.
 * Every problem is collected, so one failed start shows all of them.
 */
import { ConfigError, Reader, done, type Env } from './reader.ts';
import { eventsMaxLen, retentionMs } from './retention.ts';

export { ConfigError, parseDuration, type Env } from './reader.ts';
export { DEFAULT_RETENTION } from './retention.ts';

export interface RelayTarget {
  /** The URL as given, with any password masked, for logs. */
  label: string;
  host: string;
  port: number;
  /** smtps:// means TLS from the first byte; smtp:// upgrades with STARTTLS when offered. */
  secure: boolean;
  auth?: { user: string; pass: string };
  /**
   * Refuse a session that is not encrypted (`?requireTLS=true`): the message is deferred
   * instead of going out in plaintext. Credentials are never sent without TLS, so a URL with
   * them cannot say false. @defaultValue true with credentials or smtps://, else false
   */
  requireTLS: boolean;
  /** Share of traffic relative to the other relays (`?weight=N`). @defaultValue 1 */
  weight: number;
}

export interface CommonConfig {
  redisUrl: string;
  /** Namespace of every Redis key, BullMQ's included. @defaultValue `volley` */
  redisPrefix: string;
  metricsPort: number;
  metricsHost: string;
  logLevel: string;
}

export interface ApiConfig extends CommonConfig, FeedbackConfig {
  port: number;
  host: string;
  apiKey: string;
  adminKey: string | undefined;
  /** Largest request body accepted, in bytes. @defaultValue 10 MiB */
  bodyLimit: number;
  /** Most inline recipients in one create request; larger lists go through upload. */
  maxInlineRecipients: number;
  /** Shaping policy file, to report the shaping state; `off` or unset as for the sender. */
  shapingPolicy: string | undefined;
  /** Largest recipient upload in bytes. @defaultValue 2 GiB */
  uploadLimit: number;
  /** Invalid rows an upload may contain before it is refused as a whole. @defaultValue 1000 */
  uploadMaxInvalid: number;
  /**
   * Requests one API key may make per window, counted in Redis across every API replica;
   * 0 turns rate limiting off. @defaultValue 6000 (100 a second over a minute)
   */
  rateLimit: number;
  /** Length of the rate-limit window in seconds. @defaultValue 60 */
  rateWindowSeconds: number;
  /**
   * Base URL of one-click unsubscribe: the API answers the path of `<URL>/<token>`; unset, it
   * serves no unsubscribe routes.
   */
  unsubscribeUrl: string | undefined;
  /** HMAC secret of VERP and unsubscribe tokens, the senders' own. */
  verpSecret: string | undefined;
  /**
   * Requests one client address may make per minute to the unsubscribe routes (which take no
   * key); 0 turns the limit off. @defaultValue 600
   */
  unsubscribeRateLimit: number;
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

export interface SenderConfig extends CommonConfig {
  delivery: 'relay' | 'mx';
  relays: RelayTarget[];
  /** DNS servers for MX lookups (`ip` or `ip:port`); empty uses the system's. */
  dnsServers: string[];
  /** Port of MX hosts in mx mode. @defaultValue 25 */
  mxPort: number;
  /** Batches processed at once by one sender process. @defaultValue 8 */
  concurrency: number;
  /** SMTP connections per relay held by one sender process. @defaultValue 10 */
  poolSize: number;
  /** Recipients (of one domain) per send job. @defaultValue 50 */
  batchSize: number;
  /** Recipients expanded into send jobs at a time per campaign; bounds Redis memory. @defaultValue 10000 */
  expandWindow: number;
  /** A deferred message older than this bounces as `expired`. @defaultValue 3 days */
  maxAgeMs: number;
  /** First retry delay of a deferred message; doubles per attempt, with jitter. @defaultValue 60 s */
  retryBaseMs: number;
  /** Longest delay between two attempts. @defaultValue 1 h */
  retryMaxMs: number;
  /** Name announced in EHLO. @defaultValue the host name */
  heloName: string | undefined;
  /** Deadline for in-flight messages on SIGTERM. @defaultValue 30 s */
  drainTimeoutMs: number;
  shapingPolicy: string | undefined;
  /** Domain of the VERP return path `bounces+<token>@<domain>`; unset sends with the From address. */
  bounceDomain: string | undefined;
  /** HMAC secret of VERP and unsubscribe tokens; required with a bounce domain. */
  verpSecret: string | undefined;
  /** Base https URL of one-click unsubscribe (RFC 8058); the token is appended as a path segment. */
  unsubscribeUrl: string | undefined;
  /**
   * Largest rendered message; a recipient whose variables make it larger fails alone instead
   * of exhausting the sender's memory. @defaultValue 10 MiB
   */
  maxMessageBytes: number;
  /**
   * How long a finished campaign keeps its per-recipient data (VOLLEY_RETENTION); senders
   * sweep it away after. @defaultValue 30 days
   */
  retentionMs: number;
  /** Events a campaign's stream keeps (VOLLEY_EVENTS_MAXLEN); 0 all. @defaultValue 1,000,000 */
  eventsMaxLen: number;
  /** DKIM keys: the From domain (or a parent) picks the keys that sign. */
  dkimKeys: DkimKeyRef[];
  /**
   * How long a batch stays locked to a sender without renewal; also how often stalled batches
   * (of a sender that died) are looked for. A dead sender's batches resume after at most about
   * twice this. @defaultValue 30 s
   */
  jobLockMs: number;
}

export interface DkimKeyRef {
  domain: string;
  selector: string;
  /** Path of the PEM private key file. */
  keyPath: string;
}

/**
 * Parses `VOLLEY_SMTP_RELAY`: comma-separated smtp:// or smtps:// URLs, optional `user:pass@`,
 * `?weight=N` and `?requireTLS=true|false`.
 */
export function parseRelays(text: string, problems: string[]): RelayTarget[] {
  const out: RelayTarget[] = [];
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      problems.push(
        `VOLLEY_SMTP_RELAY: ${JSON.stringify(mask(part))} is not a URL (expected smtp://host:port)`,
      );
      continue;
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      problems.push(
        `VOLLEY_SMTP_RELAY: ${JSON.stringify(mask(part))} must start with smtp:// or smtps://`,
      );
      continue;
    }
    const secure = url.protocol === 'smtps:';
    const port = url.port ? Number(url.port) : secure ? 465 : 587;
    const weightText = url.searchParams.get('weight');
    const weight = weightText === null ? 1 : Number(weightText);
    if (!Number.isFinite(weight) || weight <= 0) {
      problems.push(`VOLLEY_SMTP_RELAY: weight of ${url.hostname} must be a positive number`);
      continue;
    }
    if (!url.hostname) {
      problems.push(`VOLLEY_SMTP_RELAY: ${JSON.stringify(mask(part))} has no host`);
      continue;
    }
    const tlsText = url.searchParams.get('requireTLS');
    if (tlsText !== null && tlsText !== 'true' && tlsText !== 'false') {
      problems.push(
        `VOLLEY_SMTP_RELAY: requireTLS must be true or false, not ${JSON.stringify(tlsText)} (${JSON.stringify(mask(part))})`,
      );
      continue;
    }
    if (tlsText === 'false' && url.username) {
      problems.push(
        `VOLLEY_SMTP_RELAY: ${JSON.stringify(mask(part))} has credentials and requireTLS=false: credentials are never sent without TLS; drop requireTLS=false (STARTTLS is then required) or use smtps://`,
      );
      continue;
    }
    const target: RelayTarget = {
      label: `${url.protocol}//${url.username ? `${decodeURIComponent(url.username)}:***@` : ''}${url.host}`,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      secure,
      requireTLS: secure || tlsText === 'true' || url.username !== '',
      weight,
    };
    if (url.username) {
      target.auth = {
        user: decodeURIComponent(url.username),
        pass: decodeURIComponent(url.password),
      };
    }
    out.push(target);
  }
  if (out.length === 0 && problems.length === 0) {
    problems.push('VOLLEY_SMTP_RELAY names no relay: give at least one smtp://host:port');
  }
  return out;
}

function mask(urlText: string): string {
  return urlText.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function common(r: Reader, defaultMetricsPort: number): CommonConfig {
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
  };
}

/** Soft-bounce suppression when VOLLEY_SOFT_BOUNCE_LIMIT and VOLLEY_SOFT_BOUNCE_WINDOW are unset. */
export const DEFAULT_SOFT_BOUNCE = { limit: 3, windowMs: 30 * 86_400_000 } as const;

/** Requests per minute one client address may make to the unsubscribe routes, by default. */
const DEFAULT_UNSUBSCRIBE_RATE_LIMIT = 600;

function feedbackSettings(r: Reader): FeedbackConfig {
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

/** Paths the API answers itself: an unsubscribe URL there could never be answered. */
const API_PATHS = /^\/(v1|docs|openapi\.json|healthz|readyz)(\/|$)/;
/** Hosts that are this machine: a link to them is only followed here, where https has no use. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * VOLLEY_UNSUBSCRIBE_URL and the secret that signs its tokens, as the sender (which writes the
 * links) and the API (which answers them) both read them.
 */
function unsubscribeSettings(r: Reader): { unsubscribeUrl?: string; verpSecret?: string } {
  const verpSecret = r.raw('VOLLEY_VERP_SECRET');
  if (verpSecret && verpSecret.length < 16) {
    r.problems.push('VOLLEY_VERP_SECRET must be at least 16 characters so tokens cannot be forged');
  }
  const unsubscribeUrl = r.raw('VOLLEY_UNSUBSCRIBE_URL');
  if (!unsubscribeUrl) return { verpSecret };
  const name = `VOLLEY_UNSUBSCRIBE_URL=${JSON.stringify(unsubscribeUrl)}`;
  let url: URL | undefined;
  try {
    url = new URL(unsubscribeUrl);
  } catch {
    r.problems.push(`${name} is not a URL (expected https://host/unsubscribe)`);
  }
  if (url) {
    // RFC 8058 one-click needs https. A loopback host is the exception: the link is only ever
    // followed on this machine (`npm start`, tests), where there is no certificate to have and
    // no network between client and API to protect.
    const loopback = url.protocol === 'http:' && LOOPBACK.has(url.hostname);
    if (url.protocol !== 'https:' && !loopback) {
      r.problems.push(
        `${name} must be an https:// URL (RFC 8058 one-click needs https; http only for 127.0.0.1, localhost or [::1])`,
      );
    }
    if (url.search || url.hash || unsubscribeUrl.includes('?') || unsubscribeUrl.includes('#')) {
      r.problems.push(
        `${name} may not have a query or fragment: the token is appended as a path segment`,
      );
    }
    if (API_PATHS.test(url.pathname)) {
      r.problems.push(
        `${name}: the API answers ${url.pathname} itself; choose another path, such as /unsubscribe`,
      );
    }
  }
  if (!verpSecret) {
    r.problems.push(
      'VOLLEY_UNSUBSCRIBE_URL needs VOLLEY_VERP_SECRET: unsubscribe links carry a signed token',
    );
  }
  return { unsubscribeUrl, verpSecret };
}

/** Per-key API rate limit when VOLLEY_API_RATE_LIMIT and VOLLEY_API_RATE_WINDOW are unset. */
export const DEFAULT_API_RATE_LIMIT = { limit: 6000, windowSeconds: 60 } as const;

/** Default metrics ports, one per service so they can share a host during development. */
export const DEFAULT_METRICS_PORTS = { api: 9464, sender: 9465, bounce: 9466, collector: 9467 };

export function loadApiConfig(env: Env = process.env): ApiConfig {
  const r = new Reader(env);
  const c = common(r, DEFAULT_METRICS_PORTS.api);
  const apiKey = r.required(
    'VOLLEY_API_KEY',
    'without it no client could authenticate; set a long random secret (e.g. `openssl rand -hex 24`)',
  );
  if (apiKey && apiKey.length < 16) {
    r.problems.push('VOLLEY_API_KEY must be at least 16 characters so it cannot be guessed');
  }
  const adminKey = r.raw('VOLLEY_ADMIN_KEY');
  if (adminKey !== undefined && adminKey.length < 16) {
    r.problems.push(
      'VOLLEY_ADMIN_KEY must be at least 16 characters so it cannot be guessed (it creates tenants and keys); set a long random secret (e.g. `openssl rand -hex 24`) or leave it unset to turn /v1/admin off',
    );
  }
  if (adminKey !== undefined && apiKey !== undefined && adminKey === apiKey) {
    r.problems.push(
      'VOLLEY_ADMIN_KEY must differ from VOLLEY_API_KEY: a client key would otherwise administer every tenant',
    );
  }
  return done(r, {
    ...c,
    port: r.port('VOLLEY_API_PORT', 8080),
    host: r.raw('VOLLEY_API_HOST') ?? '127.0.0.1',
    apiKey,
    adminKey,
    bodyLimit: r.int('VOLLEY_API_BODY_LIMIT', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxInlineRecipients: r.int('VOLLEY_MAX_INLINE_RECIPIENTS', 10_000, 1, 1_000_000),
    shapingPolicy: r.raw('VOLLEY_SHAPING_POLICY'),
    uploadLimit: r.int('VOLLEY_UPLOAD_LIMIT', 2 * 1024 ** 3, 1024, 64 * 1024 ** 3),
    uploadMaxInvalid: r.int('VOLLEY_UPLOAD_MAX_INVALID', 1000, 0, 100_000_000),
    rateLimit: r.limitOrOff(
      'VOLLEY_API_RATE_LIMIT',
      DEFAULT_API_RATE_LIMIT.limit,
      1_000_000_000,
      'the requests one API key may make per VOLLEY_API_RATE_WINDOW; 0 or off turns rate limiting off',
    ),
    rateWindowSeconds: r.int(
      'VOLLEY_API_RATE_WINDOW',
      DEFAULT_API_RATE_LIMIT.windowSeconds,
      1,
      86_400,
      'the length in seconds of the window VOLLEY_API_RATE_LIMIT counts requests in',
    ),
    unsubscribeUrl: undefined,
    verpSecret: undefined,
    ...unsubscribeSettings(r),
    unsubscribeRateLimit: r.limitOrOff(
      'VOLLEY_UNSUBSCRIBE_RATE_LIMIT',
      DEFAULT_UNSUBSCRIBE_RATE_LIMIT,
      1_000_000,
      'the requests one client address may make per minute to the unsubscribe routes; 0 or off turns the limit off',
    ),
    ...feedbackSettings(r),
  });
}

export function loadSenderConfig(env: Env = process.env): SenderConfig {
  const r = new Reader(env);
  const c = common(r, DEFAULT_METRICS_PORTS.sender);
  const delivery = r.oneOf('VOLLEY_DELIVERY', 'relay', ['relay', 'mx'] as const);
  const dnsServers = (r.raw('VOLLEY_DNS_SERVERS') ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const d of dnsServers) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|[0-9a-fA-F:]+)(:\d{1,5})?$/.test(d)) {
      r.problems.push(
        `VOLLEY_DNS_SERVERS: ${JSON.stringify(d)} is not an IP address (with optional :port); MX lookups would go nowhere`,
      );
    }
  }
  const relays = parseRelays(r.raw('VOLLEY_SMTP_RELAY') ?? 'smtp://127.0.0.1:2525', r.problems);
  const batchSize = r.int('VOLLEY_BATCH_SIZE', 50, 1, 1000);
  const expandWindow = r.int('VOLLEY_EXPAND_WINDOW', 10_000, 100, 10_000_000);
  if (expandWindow < batchSize) {
    r.problems.push('VOLLEY_EXPAND_WINDOW must be at least VOLLEY_BATCH_SIZE');
  }
  return done(r, {
    ...c,
    delivery,
    relays,
    dnsServers,
    mxPort: r.port('VOLLEY_MX_PORT', 25),
    concurrency: r.int('VOLLEY_SENDER_CONCURRENCY', 8, 1, 1000),
    poolSize: r.int('VOLLEY_SMTP_POOL_SIZE', 10, 1, 500),
    batchSize,
    expandWindow,
    maxAgeMs: r.durationMs('VOLLEY_MAX_AGE', 3 * 86_400_000),
    retryBaseMs: r.durationMs('VOLLEY_RETRY_BASE', 60_000),
    retryMaxMs: r.durationMs('VOLLEY_RETRY_MAX', 3_600_000),
    heloName: r.raw('VOLLEY_HELO_NAME'),
    drainTimeoutMs: r.durationMs('VOLLEY_DRAIN_TIMEOUT', 30_000),
    shapingPolicy: r.raw('VOLLEY_SHAPING_POLICY'),
    jobLockMs: r.durationMs('VOLLEY_JOB_LOCK', 30_000),
    maxMessageBytes: r.int('VOLLEY_MAX_MESSAGE_SIZE', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    retentionMs: retentionMs(r),
    eventsMaxLen: eventsMaxLen(r),
    ...messageIdentity(r),
  });
}

/** VERP, unsubscribe and DKIM settings, checked together because they depend on each other. */
function messageIdentity(
  r: Reader,
): Pick<SenderConfig, 'bounceDomain' | 'verpSecret' | 'unsubscribeUrl' | 'dkimKeys'> {
  const bounceDomain = r.raw('VOLLEY_BOUNCE_DOMAIN')?.toLowerCase();
  if (bounceDomain && !/^([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/.test(bounceDomain)) {
    r.problems.push(`VOLLEY_BOUNCE_DOMAIN=${JSON.stringify(bounceDomain)} is not a domain name`);
  }
  const { unsubscribeUrl, verpSecret } = unsubscribeSettings(r);
  if (bounceDomain && !verpSecret) {
    r.problems.push(
      'VOLLEY_VERP_SECRET is not set: with VOLLEY_BOUNCE_DOMAIN, return paths carry a signed token and the bounce collector needs the same secret to trust them',
    );
  }
  const dkimKeys: DkimKeyRef[] = [];
  for (const entry of (r.raw('VOLLEY_DKIM_KEYS') ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9.-]+):([A-Za-z0-9._-]+):(.+)$/.exec(entry);
    if (!m) {
      r.problems.push(
        `VOLLEY_DKIM_KEYS: ${JSON.stringify(entry)} must be domain:selector:/path/to/private-key.pem`,
      );
      continue;
    }
    dkimKeys.push({
      domain: (m[1] ?? '').toLowerCase(),
      selector: m[2] ?? '',
      keyPath: m[3] ?? '',
    });
  }
  return { bounceDomain, verpSecret, unsubscribeUrl, dkimKeys };
}

/** Services that only need Redis and a metrics port (bounce, collector, for now). */
export function loadCommonConfig(
  service: keyof typeof DEFAULT_METRICS_PORTS,
  env: Env = process.env,
): CommonConfig {
  const r = new Reader(env);
  return done(r, common(r, DEFAULT_METRICS_PORTS[service]));
}

/**
 * Variables read outside the service loaders: by `npm start` and `npm run demo`, and set by
 * the local supervisor for its children.
 */
const LOCAL_VARIABLES = [
  'VOLLEY_CAPTURE_PORT',
  'VOLLEY_CAPTURE_DIR',
  'VOLLEY_LOCAL_DIR',
  'VOLLEY_API_URL',
  'VOLLEY_DEMO_RECIPIENTS',
  'VOLLEY_PARENT_PID',
  // `npm start` gives each service its own metrics port through these.
  ...Object.keys(DEFAULT_METRICS_PORTS).map((s) => `VOLLEY_${s.toUpperCase()}_METRICS_PORT`),
];

let known: Set<string> | undefined;

/** Every VOLLEY_ variable some part of Volley reads, found by running each loader on an empty environment. */
export function knownVariables(): ReadonlySet<string> {
  if (known) return known;
  const names = new Set<string>(LOCAL_VARIABLES);
  const recording = new Proxy<Env>(
    {},
    {
      get(_target, key) {
        if (typeof key === 'string') names.add(key);
        return undefined;
      },
    },
  );
  const loaders: (() => unknown)[] = [
    () => loadApiConfig(recording),
    () => loadSenderConfig(recording),
    () => loadCommonConfig('bounce', recording),
  ];
  for (const load of loaders) {
    try {
      load();
    } catch (err) {
      // Required variables are missing in an empty environment; only the names matter here.
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  known = new Set([...names].filter((n) => n.startsWith('VOLLEY_')));
  return known;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * Warnings for VOLLEY_ variables that nothing reads: a misspelt name would otherwise be
 * ignored in silence and its default used. Each names the closest known variable.
 */
export function unknownVariableWarnings(env: Env = process.env): string[] {
  const all = knownVariables();
  const out: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('VOLLEY_') || all.has(name)) continue;
    let best: string | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const k of all) {
      // A known name that contains the unknown one (VOLLEY_CONCURRENCY in
      // VOLLEY_SENDER_CONCURRENCY) is the likeliest meaning.
      const score = k.includes(name.slice('VOLLEY_'.length)) ? 0 : editDistance(name, k);
      if (score < bestScore) {
        best = k;
        bestScore = score;
      }
    }
    const hint = best && bestScore <= Math.max(3, name.length / 3) ? `; did you mean ${best}?` : '';
    out.push(`${name} is not a Volley setting and is ignored${hint}`);
  }
  return out;
}
