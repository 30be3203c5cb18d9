import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import type { RelayTarget } from '@volley/config';
import { classifyReply } from './classify.ts';
import type { OutgoingMessage, SendResult, Transport } from './transport.ts';

export interface RelayPoolOptions {
  /** Connections per relay held by this process. */
  poolSize: number;
  /** EHLO name. */
  heloName?: string | undefined;
  /** How long a relay that failed to connect is left out before it is tried again. @defaultValue 5 s, doubling to 60 s */
  downBaseMs?: number;
}

interface Relay {
  target: RelayTarget;
  transport: Transporter<SMTPPool.SentMessageInfo, SMTPPool.Options>;
  current: number;
  downUntil: number;
  failures: number;
}

interface SmtpErrorShape {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

function isConnectionLevel(err: SmtpErrorShape): boolean {
  return err.responseCode === undefined;
}

/**
 * Pooled SMTP connections to one or more smart hosts. Traffic is spread by smooth weighted
 * round robin; a relay that cannot be reached is left out with a growing pause, so its
 * messages go to the others instead of hammering it (Haraka #3100).
 */
export class RelayPool implements Transport {
  private readonly relays: Relay[];
  private readonly downBaseMs: number;

  constructor(targets: RelayTarget[], opts: RelayPoolOptions) {
    if (targets.length === 0) throw new Error('RelayPool needs at least one relay');
    this.downBaseMs = opts.downBaseMs ?? 5000;
    this.relays = targets.map((target) => ({
      target,
      current: 0,
      downUntil: 0,
      failures: 0,
      transport: nodemailer.createTransport({
        pool: true,
        host: target.host,
        port: target.port,
        secure: target.secure,
        auth: target.auth,
        maxConnections: opts.poolSize,
        // Keep connections for as long as the server allows: reconnecting costs a round trip of
        // greeting, EHLO and possibly TLS for every 100 messages otherwise.
        maxMessages: Infinity,
        name: opts.heloName,
        connectionTimeout: 30_000,
        greetingTimeout: 30_000,
        socketTimeout: 120_000,
        disableFileAccess: true,
        disableUrlAccess: true,
      }),
    }));
  }

  /** Smooth weighted round robin over the relays that are not resting. */
  private pick(exclude: Set<Relay>): Relay | undefined {
    const now = Date.now();
    let up = this.relays.filter((r) => !exclude.has(r) && r.downUntil <= now);
    if (up.length === 0) up = this.relays.filter((r) => !exclude.has(r));
    let total = 0;
    let best: Relay | undefined;
    for (const r of up) {
      r.current += r.target.weight;
      total += r.target.weight;
      if (!best || r.current > best.current) best = r;
    }
    if (best) best.current -= total;
    return best;
  }

  /** Sends one message; never throws for an SMTP or network failure, it classifies it. */
  async send(msg: OutgoingMessage, _domain?: string): Promise<SendResult> {
    const tried = new Set<Relay>();
    let last: SendResult | undefined;
    for (let i = 0; i < this.relays.length; i++) {
      const relay = this.pick(tried);
      if (!relay) break;
      tried.add(relay);
      try {
        const info = await relay.transport.sendMail({ envelope: msg.envelope, raw: msg.raw });
        relay.failures = 0;
        const text = String(info.response ?? '250 OK');
        const code = Number(/^(\d{3})/.exec(text)?.[1] ?? 250);
        return { ...classifyReply({ code, text }), relay: relay.target.label };
      } catch (e) {
        const err = e as SmtpErrorShape;
        last = {
          ...classifyReply({
            code: err.responseCode,
            text: err.response ?? err.message ?? String(e),
            errorCode: err.code,
          }),
          relay: relay.target.label,
        };
        if (!isConnectionLevel(err)) return last;
        relay.failures++;
        relay.downUntil =
          Date.now() + Math.min(this.downBaseMs * 2 ** (relay.failures - 1), 60_000);
      }
    }
    return last ?? { ...classifyReply({ text: 'no relay available' }), relay: 'none' };
  }

  /** Relays currently left out after connection failures, for health reporting. */
  resting(): string[] {
    const now = Date.now();
    return this.relays.filter((r) => r.downUntil > now).map((r) => r.target.label);
  }

  close(): void {
    for (const r of this.relays) r.transport.close();
  }
}
