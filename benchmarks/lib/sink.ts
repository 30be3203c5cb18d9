/**
 * Postfix's smtp-sink on a free loopback port: a single-threaded SMTP server that accepts and
 * discards every message, the same receiver for Volley and for both baselines.
 */
import { existsSync } from 'node:fs';
import { freePort } from '@volley/redis';
import { launch, tail, type ChildHandle } from '@volley/runtime';
import { cpuSeconds, readBytes } from './proc-stats.ts';

const SMTP_SINK = '/usr/sbin/smtp-sink';
export const SMTP_SOURCE = '/usr/sbin/smtp-source';

export interface Sink {
  proc: ChildHandle;
  port: number;
  /** Bytes the sink has read from its sockets so far (see README: how acceptance is counted). */
  bytesRead(): number;
  cpu(): number;
}

export function checkPostfixTools(): void {
  for (const bin of [SMTP_SINK, SMTP_SOURCE]) {
    if (!existsSync(bin)) {
      throw new Error(
        `${bin} was not found. Install Postfix's test tools (Debian/Ubuntu: \`sudo apt-get install -y postfix\`; ` +
          'the benchmark only runs the smtp-sink and smtp-source programs, never the postfix daemon).',
      );
    }
  }
}

/** Listen backlog and connection cap: well above the 10 connections per sender of any run. */
const BACKLOG = 1024;

export async function startSink(): Promise<Sink> {
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const args: string[] = [];
    // As root, smtp-sink insists on dropping privileges after binding.
    if (process.getuid?.() === 0) args.push('-u', 'nobody');
    args.push('-m', String(BACKLOG), `127.0.0.1:${port}`, String(BACKLOG));
    const proc = launch('smtp-sink', SMTP_SINK, args, { env: { PATH: process.env.PATH ?? '' } });
    try {
      await proc.waitForPort(port, 10_000);
    } catch (err) {
      await proc.stop('SIGTERM', 1000);
      // Another process may have taken the port between freePort() and the bind.
      if (tries < 3) continue;
      throw err;
    }
    return {
      proc,
      port,
      bytesRead() {
        const n = readBytes(proc.pid);
        if (n === undefined)
          throw new Error(`smtp-sink (pid ${proc.pid}) is gone; output:\n${tail(proc.lines)}`);
        return n;
      },
      cpu() {
        return cpuSeconds(proc.pid) ?? Number.NaN;
      },
    };
  }
}
