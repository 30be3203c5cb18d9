/**
 * The bounce service's settings: the inbound SMTP server of the bounce domain, and what it
 * needs to verify the tokens in the addresses it accepts.
 */
import { existsSync } from 'node:fs';
import {
  DEFAULT_METRICS_PORTS,
  bounceDomainSetting,
  common,
  feedbackSettings,
  verpSecretSetting,
  type CommonConfig,
  type FeedbackConfig,
} from './common.ts';
import { Reader, done, type Env } from './reader.ts';

export interface BounceConfig extends CommonConfig, FeedbackConfig {
  /** The domain of `bounces+<token>@`, `unsubscribe+<token>@` and `fbl@`: the senders' own. */
  bounceDomain: string;
  /** HMAC secret of the tokens in those addresses, the senders' own. */
  verpSecret: string;
  /** Port of the inbound SMTP server. @defaultValue 2526 (25 in containers) */
  smtpPort: number;
  /** Address it listens on. @defaultValue `127.0.0.1` (`0.0.0.0` in containers) */
  smtpHost: string;
  /** PEM certificate and key files that turn STARTTLS on; neither, and it is not offered. */
  tls: { certPath: string; keyPath: string } | undefined;
  /** Largest message accepted, in bytes; larger ones are refused with 552. @defaultValue 25 MiB */
  maxMessageBytes: number;
  /** Connections served at once; more are answered 421 and retried by the sender. @defaultValue 100 */
  maxClients: number;
  /**
   * Connections and messages one client address may open and send per minute, per replica;
   * 0 turns the limit off. @defaultValue 600
   */
  rateLimit: number;
}

const DEFAULT_BOUNCE_SMTP = {
  /**
   * Not 25, which needs root and is the system MTA's, nor 2525, where `npm start`'s capture
   * server listens. Containers set 25.
   */
  port: 2526,
  host: '127.0.0.1',
  /**
   * 25 MiB, what the large mailbox providers accept: a DSN may return the whole original
   * message. Only the first few MiB are kept in memory and parsed (the report comes first);
   * the rest is counted and dropped.
   */
  maxMessageBytes: 25 * 1024 * 1024,
  /** Bounces trickle in from many MTAs, each with a few connections; 100 is ample. */
  maxClients: 100,
  /** 10 a second from one address; an MTA that is told to wait retries later, so nothing is lost. */
  rateLimit: 600,
} as const;

export function loadBounceConfig(env: Env = process.env): BounceConfig {
  const r = new Reader(env);
  const c = common(r, DEFAULT_METRICS_PORTS.bounce);
  const bounceDomain = bounceDomainSetting(r);
  if (!bounceDomain) {
    r.problems.push(
      'VOLLEY_BOUNCE_DOMAIN is not set: the bounce service accepts mail only for the bounce domain the senders put in return paths (bounces+<token>@, unsubscribe+<token>@, fbl@)',
    );
  }
  const verpSecret = verpSecretSetting(r);
  if (!verpSecret) {
    r.problems.push(
      "VOLLEY_VERP_SECRET is not set: the bounce service verifies the tokens of VERP and unsubscribe addresses with the senders' secret",
    );
  }
  const certPath = r.raw('VOLLEY_BOUNCE_TLS_CERT');
  const keyPath = r.raw('VOLLEY_BOUNCE_TLS_KEY');
  if ((certPath === undefined) !== (keyPath === undefined)) {
    r.problems.push(
      'VOLLEY_BOUNCE_TLS_CERT and VOLLEY_BOUNCE_TLS_KEY go together: STARTTLS needs both the certificate and its key (or neither, and it is not offered)',
    );
  }
  for (const [name, path] of [
    ['VOLLEY_BOUNCE_TLS_CERT', certPath],
    ['VOLLEY_BOUNCE_TLS_KEY', keyPath],
  ] as const) {
    if (path !== undefined && !existsSync(path)) {
      r.problems.push(`${name}=${JSON.stringify(path)}: no such file (a PEM file is expected)`);
    }
  }
  return done(r, {
    ...c,
    ...feedbackSettings(r),
    bounceDomain: bounceDomain ?? '',
    verpSecret: verpSecret ?? '',
    smtpPort: r.port('VOLLEY_BOUNCE_SMTP_PORT', DEFAULT_BOUNCE_SMTP.port),
    smtpHost: r.raw('VOLLEY_BOUNCE_SMTP_HOST') ?? DEFAULT_BOUNCE_SMTP.host,
    tls: certPath && keyPath ? { certPath, keyPath } : undefined,
    maxMessageBytes: r.int(
      'VOLLEY_BOUNCE_MAX_SIZE',
      DEFAULT_BOUNCE_SMTP.maxMessageBytes,
      64 * 1024,
      1024 * 1024 * 1024,
      'the largest message in bytes the bounce service accepts; a DSN carries a copy of the message that bounced',
    ),
    maxClients: r.int(
      'VOLLEY_BOUNCE_MAX_CLIENTS',
      DEFAULT_BOUNCE_SMTP.maxClients,
      1,
      10_000,
      'the SMTP connections served at once',
    ),
    rateLimit: r.limitOrOff(
      'VOLLEY_BOUNCE_RATE_LIMIT',
      DEFAULT_BOUNCE_SMTP.rateLimit,
      1_000_000,
      'the connections and messages one client address may open and send per minute; 0 or off turns the limit off',
    ),
  });
}
