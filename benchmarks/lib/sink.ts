/**
 * The receivers of the benchmark, each on a free loopback port: Postfix's smtp-sink, a
 * single-threaded SMTP server that accepts and discards every message, the same receiver for
 * Volley and for both baselines; and for `--tls`, npm's smtp-server doing the same in a Node
 * process of its own (tls-sink.ts), plain or offering STARTTLS with a certificate of the run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@volley/redis';
import { launch, launchTs, tail, type ChildHandle } from '@volley/runtime';
import { cpuSeconds, readBytes } from './proc-stats.ts';
import type { TlsSinkConfig, TlsSinkStats } from './tls-sink.ts';

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

/** A sink's process with what the harness reads of it from /proc. */
function meters(proc: ChildHandle): Omit<Sink, 'port'> {
  return {
    proc,
    bytesRead() {
      const n = readBytes(proc.pid);
      if (n === undefined)
        throw new Error(`${proc.name} (pid ${proc.pid}) is gone; output:\n${tail(proc.lines)}`);
      return n;
    },
    cpu() {
      return cpuSeconds(proc.pid) ?? Number.NaN;
    },
  };
}

/** Which receiver a run sends to: smtp-sink, or the smtp-server sink (TLS when given files). */
export type SinkChoice =
  | { kind: 'smtp-sink' }
  | {
      kind: 'smtp-server';
      tls?: SinkTls | undefined;
      /** Folder for a V8 CPU profile of the sink (`--tls --profile`); none means no profiling. */
      profileDir?: string | undefined;
    };

/** The run's certificate: `certPath` is self-signed, so it is also the CA clients verify with. */
export interface SinkTls {
  keyPath: string;
  certPath: string;
}

export interface NodeSink extends Sink {
  /** What the sink has counted so far: sessions, TLS sessions, messages and their encryption. */
  stats(): Promise<TlsSinkStats>;
}

/** Starts the receiver a run asked for; smtp-sink when it asked for none. */
export function openSink(choice: SinkChoice | undefined): Promise<Sink | NodeSink> {
  return choice?.kind === 'smtp-server'
    ? startNodeSink(choice.tls, choice.profileDir)
    : startSink();
}

/**
 * What the senders' relay URL adds for this sink: the run's certificate as the CA to verify it
 * with. The senders use STARTTLS whenever it is offered, so nothing else asks for TLS.
 */
export function relayQuery(choice: SinkChoice | undefined): string {
  return choice?.kind === 'smtp-server' && choice.tls
    ? `?ca=${encodeURIComponent(choice.tls.certPath)}`
    : '';
}

/** The sink's counters when it keeps them (the smtp-server sink), or undefined (smtp-sink). */
export function sinkStats(sink: Sink | NodeSink): Promise<TlsSinkStats> | undefined {
  return 'stats' in sink ? sink.stats() : undefined;
}

/**
 * A key and a self-signed certificate for 127.0.0.1, made with openssl in `dir` for one run
 * (as packages/smtp/test/relay-tls.test.ts does). P-256: the key type a relay is most likely
 * to have today, and one whose handshake is cheap next to the messages a pooled session carries.
 */
export function makeSinkCertificate(dir: string): SinkTls {
  const keyPath = join(dir, 'sink.key');
  const certPath = join(dir, 'sink.crt');
  // A day is more than any run lasts; the files are deleted at its end anyway.
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  args.push('-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1');
  args.push('-subj', '/CN=sink.bench.example', '-addext', 'subjectAltName=IP:127.0.0.1');
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(
      `openssl could not make the sink's certificate (Debian/Ubuntu: \`sudo apt-get install -y openssl\`): ${String(err)}`,
      { cause: err },
    );
  }
  return { keyPath, certPath };
}

/** The smtp-server sink (tls-sink.ts): STARTTLS with `tls`, plain SMTP without. */
export async function startNodeSink(tls?: SinkTls, profileDir?: string): Promise<NodeSink> {
  const cfg: TlsSinkConfig = { tls };
  const proc = launchTs('tls-sink', 'benchmarks/lib/tls-sink.ts', {
    env: { BENCH_TLS_SINK: JSON.stringify(cfg) },
    ...(profileDir ? { cpuProfileDir: profileDir } : {}),
  });
  try {
    const port = Number((await proc.waitForLine(/^listening \d+$/, 60_000)).split(' ')[1]);
    let asked = 0;
    return {
      ...meters(proc),
      port,
      async stats() {
        const n = ++asked;
        proc.child.kill('SIGUSR2');
        const line = await proc.waitForLine(new RegExp(`^stats ${n} `), 30_000);
        return JSON.parse(line.slice(`stats ${n} `.length)) as TlsSinkStats;
      },
    };
  } catch (err) {
    await proc.stop('SIGTERM', 1000);
    throw err;
  }
}

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
    return { ...meters(proc), port };
  }
}
