/**
 * The inbound SMTP server of the bounce domain. RCPT is accepted only for addresses whose token
 * verifies (and `fbl@`); a message is parsed and its effects stored before the 250, so a
 * crash before the answer loses nothing (the sending MTA still holds the message and retries),
 * and a Redis outage answers 451 for the same reason.
 */
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Feedback } from '@volley/campaigns';
import type { BounceMetrics } from '@volley/metrics';
import { fieldValues, headerFields } from '../fields.ts';
import { MAX_MESSAGE_BYTES } from '../limits.ts';
import { parseBounce } from '../parse.ts';
import { routeAddress, type InboundAddress } from './addresses.ts';
import { applyReport, type EffectRecord, type Sender } from './effects.ts';
import { ClientRateLimit } from './rate-limit.ts';

export interface BounceServerOptions {
  /** Address to listen on. */
  host: string;
  /** Port to listen on; 0 picks a free one (see `BounceServer.port`). */
  port: number;
  /** The bounce domain (lower case). */
  domain: string;
  /** VOLLEY_VERP_SECRET: verifies the tokens in the addresses. */
  secret: string;
  feedback: Feedback;
  metrics: BounceMetrics;
  logger: Logger;
  /** Largest message accepted; larger ones get 552. */
  maxMessageBytes: number;
  /** Connections served at once; more get 421. */
  maxClients: number;
  /** Connections plus messages one client network may open and send per minute; 0: no limit. */
  rateLimit: number;
  /** PEM certificate and key: STARTTLS is offered with them and not at all without. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** Host name in the greeting. @defaultValue the machine's host name */
  name?: string | undefined;
  /** Clock of the rate limit (tests). */
  now?: () => number;
}

export interface BounceServer {
  port: number;
  /** Stops accepting; open sessions get 421 after a short grace (their mail is retried). */
  close(): Promise<void>;
}

/**
 * Recipients of one transaction. A DSN or a complaint goes to one address; the cap keeps a
 * single message from fanning out into many effects.
 */
const MAX_RECIPIENTS = 50;
/** Grace for sessions in progress on close: a message not answered by then is retried by its MTA. */
const CLOSE_GRACE_MS = 5_000;

/** How much of a message's start its own header block is looked for in (a From is near the top). */
const HEAD_BYTES = 64 * 1024;

/** Who sent a message: what a mailto unsubscribe is matched against once retention passed. */
function senderOf(raw: Buffer, session: SMTPServerSession): Sender {
  const mailFrom = session.envelope.mailFrom;
  const head = headerFields(raw.subarray(0, HEAD_BYTES).toString('utf8'));
  return {
    mailFrom: mailFrom ? mailFrom.address : undefined,
    from: [...fieldValues(head, 'from'), ...fieldValues(head, 'sender')],
  };
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startBounceServer(opts: BounceServerOptions): Promise<BounceServer> {
  const { metrics, logger } = opts;
  const limiter = new ClientRateLimit(opts.rateLimit, opts.now);
  const ctx = { feedback: opts.feedback, secret: opts.secret };
  const route = (address: string) => routeAddress(address, opts.domain, opts.secret);

  const limited = (session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    if (limiter.take(session.remoteAddress)) return callback();
    metrics.refused.inc({ reason: 'rate_limited' });
    callback(smtpError(421, 'too much mail from your address; try again later'));
  };

  /**
   * Parses the message and applies it for every accepted recipient; throws only to retry.
   * `arrived` (hrtime) is when its data began: a mailto unsubscribe's latency runs from there.
   */
  async function handle(
    raw: Buffer,
    session: SMTPServerSession,
    arrived: bigint,
  ): Promise<EffectRecord[]> {
    const targets = session.envelope.rcptTo
      .map((r) => route(r.address))
      .filter((d): d is InboundAddress => d.kind !== 'refused');
    const report = await parseBounce(raw);
    const results: EffectRecord[] = [];
    const sender = senderOf(raw, session);
    for (const to of targets) results.push(await applyReport(report, to, ctx, sender));
    // Counted once everything is stored: a message answered 451 comes again and counts then.
    for (const to of targets) metrics.messages.inc({ address: to.kind, kind: report.kind });
    for (const [k, r] of results.entries()) {
      metrics.effects.inc({ effect: r.effect, reason: r.reason });
      if (r.afterRetention) metrics.afterRetention.inc({ effect: r.effect });
      // The address is on the suppression list now (or was already), as after a one-click POST.
      if (
        targets[k]?.kind === 'unsubscribe' &&
        (r.effect === 'unsubscribe' || r.effect === 'repeated')
      ) {
        metrics.unsubscribeLatency.observe(
          { source: 'mailto' },
          Number(process.hrtime.bigint() - arrived) / 1e9,
        );
      }
    }
    logger.debug(
      { session: session.id, kind: report.kind, format: report.format, results },
      'report processed',
    );
    return results;
  }

  function onData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): void {
    const arrived = process.hrtime.bigint();
    // Only the head of a message is parsed (the report comes before the returned message), so
    // only that much is kept: a connection holds at most MAX_MESSAGE_BYTES whatever it sends.
    const chunks: Buffer[] = [];
    let kept = 0;
    stream.on('data', (chunk: Buffer) => {
      if (kept >= MAX_MESSAGE_BYTES) return;
      const part =
        kept + chunk.length > MAX_MESSAGE_BYTES
          ? chunk.subarray(0, MAX_MESSAGE_BYTES - kept)
          : chunk;
      chunks.push(part);
      kept += part.length;
    });
    stream.once('end', () => {
      if (stream.sizeExceeded) {
        metrics.refused.inc({ reason: 'too_large' });
        callback(smtpError(552, `message exceeds ${opts.maxMessageBytes} bytes`));
        return;
      }
      const stop = metrics.processing.startTimer();
      handle(Buffer.concat(chunks, kept), session, arrived).then(
        (results) => {
          stop();
          callback(null, `report processed (${results.map((r) => r.effect).join(', ')})`);
        },
        (err: unknown) => {
          stop();
          metrics.temporaryFailures.inc();
          logger.error({ err, session: session.id }, 'could not store a report; answered 451');
          callback(smtpError(451, 'the report could not be recorded now; try again later'));
        },
      );
    });
  }

  const server = new SMTPServer({
    name: opts.name,
    banner: 'Volley bounce service',
    logger: false,
    authOptional: true,
    disabledCommands: opts.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
    // A reverse lookup per connection would put DNS on the path of every report for a name
    // nothing here uses.
    disableReverseLookup: true,
    // Off by default in smtp-server; with them a refusal reads "550 5.1.1", which sending MTAs
    // put in their own reports and logs.
    hideENHANCEDSTATUSCODES: false,
    size: opts.maxMessageBytes,
    rejectOversized: true,
    maxClients: opts.maxClients,
    maxRecipients: MAX_RECIPIENTS,
    closeTimeout: CLOSE_GRACE_MS,
    onConnect: limited,
    onMailFrom(_address, session, callback) {
      // Any sender, the null one (`<>`) of DSNs included: the recipient decides.
      limited(session, callback);
    },
    onRcptTo(address, _session, callback) {
      const d = route(address.address);
      if (d.kind !== 'refused') return callback();
      metrics.refused.inc({ reason: d.reason });
      callback(smtpError(550, 'no such mailbox here'));
    },
    onData,
  });
  server.on('error', (err) => {
    // A client's broken session (a reset socket, a failed handshake) ends only that session.
    logger.debug({ err }, 'smtp session error');
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.server.removeListener('error', reject);
      const addr = server.server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : opts.port);
    });
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
