/** What every DNS check answers: a verdict, a one-line reason and, when it does not pass, the fix. */

export type Status = 'pass' | 'warn' | 'fail';

/** A record to publish, as a zone file or a DNS provider's form asks for it. */
export interface Publish {
  type: 'TXT' | 'MX' | 'A' | 'AAAA' | 'PTR';
  /** Fully qualified, without the trailing dot. */
  name: string;
  value: string;
}

export interface CheckResult {
  /** Which check, such as `spf` or `dkim s1`. */
  check: string;
  status: Status;
  detail: string;
  publish?: Publish;
}

export function result(
  check: string,
  status: Status,
  detail: string,
  publish?: Publish,
): CheckResult {
  return publish && status !== 'pass'
    ? { check, status, detail, publish }
    : { check, status, detail };
}
