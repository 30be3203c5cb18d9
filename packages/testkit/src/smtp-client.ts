/**
 * An SMTP client for tests that play the sending MTA (nodemailer's SMTPConnection): one
 * session, several transactions, and every server reply handed back as an answer with the
 * stage it came at, so a test can assert a refusal as plainly as an acceptance. Volley's own
 * client stays inside @volley/smtp, behind its transport.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SmtpAnswer {
  code: number;
  /** Enhanced status code (RFC 3463) of the reply, when it has one. */
  enhanced: string | undefined;
  /**
   * The reply's place in the session: the greeting (or EHLO), MAIL FROM, RCPT TO, the DATA
   * command, or the end of the message (where an accepted message's 250 comes too).
   */
  stage: 'greeting' | 'mail' | 'rcpt' | 'data' | 'message';
  /** The whole reply line(s). */
  text: string;
}

export interface SmtpTestClientOptions {
  host?: string;
  port: number;
  /** Never upgrade with STARTTLS, even when offered. */
  ignoreTLS?: boolean;
  /** TLS options for the STARTTLS upgrade (a self-signed test certificate, say). */
  tls?: { rejectUnauthorized?: boolean };
}

const STAGES: Record<string, SmtpAnswer['stage']> = {
  'MAIL FROM': 'mail',
  'RCPT TO': 'rcpt',
  DATA: 'data',
};

function answer(text: string, stage: SmtpAnswer['stage']): SmtpAnswer {
  const m = /^(\d{3})(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?/.exec(text);
  return { code: Number(m?.[1] ?? 0), enhanced: m?.[2], stage, text };
}

export class SmtpTestClient {
  private readonly conn: SMTPConnection;
  private failed: Error | undefined;

  constructor(opts: SmtpTestClientOptions) {
    this.conn = new SMTPConnection({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      ignoreTLS: opts.ignoreTLS ?? false,
      tls: opts.tls,
    });
    // A dropped session is reported by the next call (and `usable`), not as an uncaught event.
    this.conn.on('error', (err: Error) => {
      this.failed = err;
    });
    this.conn.on('end', () => {
      this.failed ??= new Error('the server closed the session');
    });
  }

  /**
   * Connects, greets and negotiates (EHLO, STARTTLS unless `ignoreTLS`). Resolves with the
   * server's refusal when it turns the session away (a 421 greeting, say); rejects only when
   * the session fails without a reply.
   */
  connect(): Promise<SmtpAnswer | undefined> {
    return new Promise((resolve, reject) => {
      // Failures during the handshake come as 'error' events, not through connect's callback.
      const onError = (err: Error & { response?: unknown }): void => {
        if (typeof err.response === 'string') resolve(answer(err.response, 'greeting'));
        else reject(err);
      };
      this.conn.once('error', onError);
      this.conn.connect((err) => {
        this.conn.off('error', onError);
        if (err) onError(err);
        else resolve(undefined);
      });
    });
  }

  /** Whether the session was upgraded with STARTTLS. */
  get secure(): boolean {
    return this.conn.secure;
  }

  /** Whether another transaction can go over this session. */
  get usable(): boolean {
    return !this.conn.destroyed && this.failed === undefined;
  }

  /**
   * One transaction; resolves with the server's answer, a refusal included. Rejects only when
   * the session itself fails (no reply at all); after a refusal the transaction is reset, so
   * the session can carry the next one.
   */
  async send(envelope: { from: string; to: string }, raw: string | Buffer): Promise<SmtpAnswer> {
    const result = await new Promise<SmtpAnswer | Error>((resolve) => {
      this.conn.send(envelope, raw, (err, info) => {
        if (!err) return resolve(answer(info.response, 'message'));
        if (typeof err.response !== 'string') return resolve(err);
        // EMESSAGE: refused at the end of the data; the DATA command itself is EENVELOPE.
        const stage = err.code === 'EMESSAGE' ? 'message' : STAGES[err.command ?? ''];
        resolve(answer(err.response, stage ?? 'message'));
      });
    });
    if (result instanceof Error) throw result;
    if (result.code !== 250 && this.usable) {
      await new Promise<void>((resolve) => {
        this.conn.reset((err) => {
          if (err) this.failed = err;
          resolve();
        });
      });
    }
    return result;
  }

  /** Ends the session (QUIT) and waits for the socket to close. */
  async quit(): Promise<void> {
    if (this.conn.destroyed) return;
    if (this.failed) {
      this.conn.close();
      return;
    }
    await new Promise<void>((resolve) => {
      this.conn.once('end', resolve);
      this.conn.once('error', () => resolve());
      this.conn.quit();
    });
  }
}
