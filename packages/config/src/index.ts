/**
 * Configuration from environment variables, parsed and validated once at start.
 * Every problem is collected, so one failed start shows all of them.
 */
import { readFileSync } from 'node:fs';
import { loadBounceConfig } from './bounce.ts';
import {
  DEFAULT_METRICS_PORTS,
  common,
  feedbackSettings,
  mask,
  verpSecretSetting,
  type CommonConfig,
  type FeedbackConfig,
} from './common.ts';
import { ConfigError, Reader, done, type Env } from './reader.ts';
import { eventsMaxLen, retentionMs } from './retention.ts';
import { checkBudgetFitsLock, templateLimits, type TemplateLimits } from './templates.ts';
import { loadLocalConfig } from './local.ts';
import { domainSettings, type DomainConfig } from './domains.ts';
import { collectorSettings, type CollectorSettings } from './collector.ts';

export { ConfigError, parseDuration, type Env } from './reader.ts';
export { DEFAULT_RETENTION } from './retention.ts';
export { loadLocalConfig, type LocalConfig } from './local.ts';
export type { CollectorSettings } from './collector.ts';
export {
  DEFAULT_METRICS_PORTS,
  DEFAULT_SOFT_BOUNCE,
  loadFeedbackConfig,
  type CommonConfig,
  type FeedbackConfig,
} from './common.ts';
export { loadBounceConfig } from './bounce.ts';
export { redisSeeds, redisTargetProblems } from './redis.ts';
export { DKIM_SECRET_MIN, loadDomainConfig, type DomainConfig } from './domains.ts';
export {
  DEFAULT_TEMPLATE_LIMITS,
  OVER_BUDGET_PER_RUN_MS,
  TEMPLATE_LIMIT_SETTINGS,
  type TemplateLimits,
} from './templates.ts';

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
  /**
   * Check the relay's certificate (`?tlsVerify=false` turns it off: encrypted, but open to a
   * man in the middle; the sender warns at start). @defaultValue true
   */
  tlsVerify: boolean;
  /** PEM CA certificates to check the relay's certificate against, read from `?ca=FILE`, in place of the system's. */
  ca?: Buffer;
}

/** What a sender warns about at start: relays whose certificates are not verified. */
export function relayWarnings(relays: readonly RelayTarget[]): string[] {
  return relays
    .filter((r) => !r.tlsVerify)
    .map(
      (r) =>
        `VOLLEY_SMTP_RELAY: ${r.label} has tlsVerify=false: its certificate is not verified, so a man in the middle can read and change the mail; give its CA with ?ca=FILE instead`,
    );
}

export interface ApiConfig extends CommonConfig, FeedbackConfig, DomainConfig {
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
  /** The render budget, applied at submit and by preview. */
  templateLimits: TemplateLimits;
}

export interface SenderConfig extends CommonConfig, DomainConfig {
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
  /** The render budget of one recipient; one over it fails alone. */
  templateLimits: TemplateLimits;
  /**
   * How long a sender keeps a tenant's DKIM keys before reading them again: a rotation or a
   * removed domain takes effect within this. @defaultValue 10 s
   */
  dkimCacheMs: number;
  /**
   * How long a batch stays locked to a sender without renewal; also how often stalled batches
   * (of a sender that died) are looked for. A dead sender's batches resume after at most about
   * twice this. @defaultValue 30 s
   */
  jobLockMs: number;
  /**
   * Send-path metrics (messages, SMTP latency, shaping delays); off only to measure what they
   * cost (`npm run bench -- --metrics-cost`). @defaultValue true
   */
  sendMetrics: boolean;
}

/**
 * A true/false query parameter of the relay URL `part`: its text, null when absent, or
 * undefined when it is something else (the problem is recorded).
 */
function flagParam(
  url: URL,
  name: string,
  part: string,
  problems: string[],
): 'true' | 'false' | null | undefined {
  const text = url.searchParams.get(name);
  if (text === null || text === 'true' || text === 'false') return text;
  problems.push(
    `VOLLEY_SMTP_RELAY: ${name} must be true or false, not ${JSON.stringify(text)} (${JSON.stringify(mask(part))})`,
  );
  return undefined;
}

/**
 * Parses `VOLLEY_SMTP_RELAY`: comma-separated smtp:// or smtps:// URLs, optional `user:pass@`,
 * `?weight=N`, `?requireTLS=true|false`, `?tlsVerify=true|false` and `?ca=FILE`.
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
    const tlsText = flagParam(url, 'requireTLS', part, problems);
    if (tlsText === undefined) continue;
    if (tlsText === 'false' && url.username) {
      problems.push(
        `VOLLEY_SMTP_RELAY: ${JSON.stringify(mask(part))} has credentials and requireTLS=false: credentials are never sent without TLS; drop requireTLS=false (STARTTLS is then required) or use smtps://`,
      );
      continue;
    }
    const verifyText = flagParam(url, 'tlsVerify', part, problems);
    if (verifyText === undefined) continue;
    const caFile = url.searchParams.get('ca');
    if (caFile !== null && verifyText === 'false') {
      problems.push(
        `VOLLEY_SMTP_RELAY: ${JSON.stringify(mask(part))} has both ca and tlsVerify=false: a CA file is only used to verify; drop one`,
      );
      continue;
    }
    let ca: Buffer | undefined;
    if (caFile !== null) {
      try {
        ca = readFileSync(caFile);
      } catch (err) {
        problems.push(
          `VOLLEY_SMTP_RELAY: the ca file ${JSON.stringify(caFile)} of ${url.host} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); without it the relay's certificate could not be verified`,
        );
        continue;
      }
    }
    const target: RelayTarget = {
      label: `${url.protocol}//${url.username ? `${decodeURIComponent(url.username)}:***@` : ''}${url.host}`,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      secure,
      requireTLS: secure || tlsText === 'true' || url.username !== '',
      weight,
      tlsVerify: verifyText !== 'false',
    };
    if (ca) target.ca = ca;
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

/** Requests per minute one client address may make to the unsubscribe routes, by default. */
const DEFAULT_UNSUBSCRIBE_RATE_LIMIT = 600;

/** Paths the API answers itself: an unsubscribe URL there could never be answered. */
const API_PATHS = /^\/(v1|docs|openapi\.json|healthz|readyz)(\/|$)/;
/** Hosts that are this machine: a link to them is only followed here, where https has no use. */
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * VOLLEY_UNSUBSCRIBE_URL and the secret that signs its tokens, as the sender (which writes the
 * links) and the API (which answers them) both read them.
 */
/**
 * The longest VOLLEY_UNSUBSCRIBE_URL: the link's token carries the address encrypted (476
 * characters for a 254-octet address), and `List-Unsubscribe: <URL/token>,` must fit in a
 * header line's 998 octets (RFC 5322 §2.1.1).
 */
const MAX_UNSUBSCRIBE_URL = 500;

function unsubscribeSettings(r: Reader): { unsubscribeUrl?: string; verpSecret?: string } {
  const verpSecret = verpSecretSetting(r);
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
    if (unsubscribeUrl.length > MAX_UNSUBSCRIBE_URL) {
      r.problems.push(
        `${name} is ${unsubscribeUrl.length} characters; at most ${MAX_UNSUBSCRIBE_URL}, so that a link with its token stays within a header line`,
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
    templateLimits: templateLimits(r),
    ...domainSettings(r),
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
  const jobLockMs = r.durationMs('VOLLEY_JOB_LOCK', 30_000);
  const limits = templateLimits(r);
  checkBudgetFitsLock(r, limits, jobLockMs);
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
    jobLockMs,
    templateLimits: limits,
    sendMetrics: r.oneOf('VOLLEY_SEND_METRICS', 'on', ['on', 'off'] as const) === 'on',
    maxMessageBytes: r.int('VOLLEY_MAX_MESSAGE_SIZE', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    retentionMs: retentionMs(r),
    eventsMaxLen: eventsMaxLen(r),
    ...messageIdentity(r),
  });
}

/** VERP, unsubscribe and DKIM settings, checked together because they depend on each other. */
function messageIdentity(
  r: Reader,
): DomainConfig & Pick<SenderConfig, 'verpSecret' | 'unsubscribeUrl' | 'dkimCacheMs'> {
  const domains = domainSettings(r);
  const { unsubscribeUrl, verpSecret } = unsubscribeSettings(r);
  if (domains.bounceDomain && !verpSecret) {
    r.problems.push(
      'VOLLEY_VERP_SECRET is not set: with VOLLEY_BOUNCE_DOMAIN, return paths carry a signed token and the bounce collector needs the same secret to trust them',
    );
  }
  const dkimCacheMs = r.durationMs('VOLLEY_DKIM_CACHE_TTL', 10_000);
  // Below 100 ms every batch would read the keys again; past an hour a rotated-out or removed
  // key would keep signing for longer than an operator waiting on it expects.
  if (dkimCacheMs < 100 || dkimCacheMs > 3_600_000) {
    r.problems.push(
      `VOLLEY_DKIM_CACHE_TTL=${JSON.stringify(r.raw('VOLLEY_DKIM_CACHE_TTL'))} must be from 100ms to 1h: how long a sender signs with the DKIM keys it read before reading them again`,
    );
  }
  return { ...domains, verpSecret, unsubscribeUrl, dkimCacheMs };
}

/** Services that only need Redis and a metrics port (the collector, for now). */
export function loadCommonConfig(
  service: keyof typeof DEFAULT_METRICS_PORTS,
  env: Env = process.env,
): CommonConfig {
  const r = new Reader(env);
  return done(r, common(r, DEFAULT_METRICS_PORTS[service]));
}

export type CollectorConfig = CommonConfig & CollectorSettings;

/** The collector: Redis, its metrics port, and its own settings (collector.ts). */
export function loadCollectorConfig(env: Env = process.env): CollectorConfig {
  const r = new Reader(env);
  return done(r, { ...common(r, DEFAULT_METRICS_PORTS.collector), ...collectorSettings(r) });
}

/**
 * Variables read outside the service loaders: by `npm start` and `npm run demo`, and set by
 * the local supervisor for its children.
 */
const LOCAL_VARIABLES = [
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
    () => loadBounceConfig(recording),
    () => loadLocalConfig(recording),
    () => loadCollectorConfig(recording),
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
