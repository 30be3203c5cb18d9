/** What run.ts hands the naive loop (in `BENCH_NAIVE`, as JSON). */
export interface NaiveConfig {
  port: number;
  /** The sink's certificate, trusted for STARTTLS (nodemailer uses it whenever it is offered). */
  caPath?: string | undefined;
  messages: number;
  size: number;
  domains: number;
  poolSize: number;
  /** sendMail calls in flight: enough to keep every pooled connection busy. */
  inFlight: number;
  timeoutMs: number;
  /** nodemailer's DKIM options (RSA only); none sends unsigned messages. */
  dkim?: { domainName: string; keySelector: string; privateKey: string } | undefined;
}
