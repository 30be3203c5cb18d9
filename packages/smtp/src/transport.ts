import type { Classification } from './classify.ts';

/** A message ready for the wire: envelope plus the complete RFC 5322 text. */
export interface OutgoingMessage {
  envelope: { from: string; to: string };
  raw: string;
}

/** The classified reply, and which relay or MX host gave it. */
export interface SendResult extends Classification {
  /** Relay label or MX host that answered (for logs and events; never a metric label). */
  relay: string;
}

/**
 * How the sender hands a message to the network: a pool of smart hosts (relay mode) or the
 * recipient domain's own MX hosts (mx mode). `send` never throws for SMTP or network failures:
 * it classifies them.
 */
export interface Transport {
  send(msg: OutgoingMessage, domain: string): Promise<SendResult>;
  close(): void;
}
