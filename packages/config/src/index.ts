/**
 * Configuration from environment variables, parsed and validated once at start.
 * Every problem is collected, so one failed start shows all of them.
 */

export class ConfigError extends Error {
  readonly code = 'VOLLEY_CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

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

export interface ApiConfig extends CommonConfig {
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

export type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  required(name: string, why: string): string {
    const v = this.raw(name);
    if (v === undefined) {
      this.problems.push(`${name} is not set: ${why}`);
      return '';
    }
    return v;
  }

  int(name: string, def: number, min: number, max: number, why = ''): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(
        `${name}=${JSON.stringify(v)} must be a whole number from ${min} to ${max}${why ? `: ${why}` : ''}`,
      );
      return def;
    }
    return n;
  }

  port(name: string, def: number): number {
    return this.int(name, def, 0, 65535, '0 picks a free port');
  }

  /** A count where `0` or `off` means no limit at all. */
  limitOrOff(name: string, def: number, max: number, why: string): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (v.toLowerCase() === 'off') return 0;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > max) {
      this.problems.push(
        `${name}=${JSON.stringify(v)} must be a whole number from 0 to ${max}, or off: ${why}`,
      );
      return def;
    }
    return n;
  }

  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${name}=${JSON.stringify(v)} must be one of ${allowed.join(', ')}`);
      return def;
    }
    return v as T;
  }

  durationMs(name: string, def: number): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    const ms = parseDuration(v);
    if (ms === undefined) {
      this.problems.push(
        `${name}=${JSON.stringify(v)} is not a duration: use a number with a unit, such as 90s, 30m, 12h or 3d`,
      );
      return def;
    }
    return ms;
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = UNITS[m[2] ?? ''];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
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

function done<T>(r: Reader, value: T): T {
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return value;
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
  const verpSecret = r.raw('VOLLEY_VERP_SECRET');
  if (bounceDomain && !verpSecret) {
    r.problems.push(
      'VOLLEY_VERP_SECRET is not set: with VOLLEY_BOUNCE_DOMAIN, return paths carry a signed token and the bounce collector needs the same secret to trust them',
    );
  }
  if (verpSecret && verpSecret.length < 16) {
    r.problems.push('VOLLEY_VERP_SECRET must be at least 16 characters so tokens cannot be forged');
  }
  const unsubscribeUrl = r.raw('VOLLEY_UNSUBSCRIBE_URL');
  if (unsubscribeUrl) {
    let ok: boolean;
    try {
      ok = new URL(unsubscribeUrl).protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) {
      r.problems.push(
        `VOLLEY_UNSUBSCRIBE_URL=${JSON.stringify(unsubscribeUrl)} must be an https:// URL (RFC 8058 one-click needs https)`,
      );
    }
    if (!verpSecret) {
      r.problems.push(
        'VOLLEY_UNSUBSCRIBE_URL needs VOLLEY_VERP_SECRET: unsubscribe links carry a signed token',
      );
    }
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
