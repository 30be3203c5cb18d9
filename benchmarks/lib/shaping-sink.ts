/**
 * The SMTP sink of `npm run bench:shaping`: accepts and discards mail like smtp-sink, but logs
 * what the shaping bars are measured from, one JSON object a line:
 *
 * - `{"e":"open","c":7,"t":...}` and `{"e":"close","c":7,"t":...}`: a connection's life;
 * - `{"e":"msg","c":7,"t":...,"r":"u1@a.example"}`: a message accepted (time of its 250);
 * - `{"e":"rej","c":7,"t":...,"r":"u1@a.example","code":421}`: a recipient refused on purpose.
 *
 * The domain is the recipient's; a connection's domains are those of its `msg` and `rej` lines.
 * Refusals follow a schedule per domain, in seconds after that domain's first recipient here
 * (so the benchmark needs no control channel), and a domain may get a slow 250 (a slow
 * receiver keeps its connections busy). Run as its own process by the benchmark, with its
 * configuration in BENCH_SHAPING_SINK.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { domainOf } from '@volley/message';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';

/**
 * Refuse `share` of a domain's recipients with `code message` for `forS` seconds, starting at
 * the domain's `afterRecipients`-th recipient here. Counted in recipients, not seconds, so that
 * a slow start of the senders does not make the period pass before the domain sends anything.
 */
export interface FaultRule {
  domain: string;
  afterRecipients: number;
  forS: number;
  /** 0..1, spread evenly (every 1/share-th recipient), not at random: runs are repeatable. */
  share: number;
  code: number;
  message: string;
}

export interface ShapingSinkConfig {
  /** 0: a free port. Always on 127.0.0.1. */
  port: number;
  /** Where the NDJSON log goes. */
  logPath: string;
  faults: FaultRule[];
  /** Milliseconds the 250 after DATA waits, per recipient domain. */
  replyDelayMs: Record<string, number>;
}

export type SinkEvent =
  | { e: 'open'; c: number; t: number }
  | { e: 'close'; c: number; t: number }
  | { e: 'msg'; c: number; t: number; r: string }
  | { e: 'rej'; c: number; t: number; r: string; code: number }
  /** A refusal period starts (it lasts the rule's `forS`). */
  | { e: 'fault'; t: number; d: string; code: number; forS: number };

export interface ShapingSink {
  port: number;
  /** Messages accepted so far. */
  accepted(): number;
  /** Stops listening, closes what is open (logging it) and flushes the log. */
  close(): Promise<void>;
}

/** Connections the sink takes at once: far above 4 senders × (10 shared + capped) connections. */
const MAX_CLIENTS = 2000;

async function startShapingSink(cfg: ShapingSinkConfig): Promise<ShapingSink> {
  const log: WriteStream = createWriteStream(cfg.logPath);
  const write = (ev: SinkEvent): void => {
    log.write(`${JSON.stringify(ev)}\n`);
  };
  /** Connection numbers by remote address and port: unique among the connections open at once. */
  const byPeer = new Map<string, { c: number; closedAt: number | undefined }>();
  const open = new Map<number, { closedAt: number | undefined }>();
  let nextConn = 1;
  let accepted = 0;
  const recipientsSeen = new Map<string, number>();
  /** When each rule's period started, and how many recipients it has looked at since. */
  const started = new Map<FaultRule, { at: number; seen: number }>();

  const connOf = (session: SMTPServerSession): number =>
    byPeer.get(`${session.remoteAddress}:${session.remotePort}`)?.c ?? 0;

  /**
   * The connection's end as the client saw it first: the earliest of the client's FIN, the
   * server closing it (after a 421) and the socket's close. A connection lease is given back
   * only after the client's socket closed, so a new connection that took its place can never
   * open before this time; the socket's own `close` event may be run later than a new
   * connection's accept when the event loop is busy.
   */
  const ended = (c: number): void => {
    const conn = open.get(c);
    if (conn && conn.closedAt === undefined) conn.closedAt = Date.now();
  };

  const fault = (address: string): FaultRule | undefined => {
    const domain = domainOf(address);
    const now = Date.now();
    const n = recipientsSeen.get(domain) ?? 0;
    recipientsSeen.set(domain, n + 1);
    for (const f of cfg.faults) {
      if (f.domain !== domain || n < f.afterRecipients) continue;
      let st = started.get(f);
      if (!st) {
        started.set(f, (st = { at: now, seen: 0 }));
        write({ e: 'fault', t: now, d: domain, code: f.code, forS: f.forS });
      }
      if (now - st.at >= f.forS * 1000) continue;
      const k = st.seen++;
      if (Math.floor((k + 1) * f.share) > Math.floor(k * f.share)) return f;
    }
    return undefined;
  };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    banner: 'Volley shaping sink',
    size: 50 * 1024 * 1024,
    maxClients: MAX_CLIENTS,
    onRcptTo(address: SMTPServerAddress, session, callback) {
      const f = fault(address.address);
      if (f) {
        const c = connOf(session);
        write({ e: 'rej', c, t: Date.now(), r: address.address, code: f.code });
        // smtp-server closes the connection after a 421, as a real server does.
        if (f.code === 421) ended(c);
        const err = new Error(f.message) as Error & { responseCode: number };
        err.responseCode = f.code;
        callback(err);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      stream.on('data', () => undefined);
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        const rcpts = session.envelope.rcptTo.map((r) => r.address);
        const delay = Math.max(0, ...rcpts.map((r) => cfg.replyDelayMs[domainOf(r)] ?? 0));
        const finish = (): void => {
          const c = connOf(session);
          const t = Date.now();
          for (const r of rcpts) write({ e: 'msg', c, t, r });
          accepted += rcpts.length;
          callback();
        };
        if (delay > 0) setTimeout(finish, delay);
        else finish();
      });
    },
  });
  server.server.on('connection', (socket: Socket) => {
    const c = nextConn++;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const entry = { c, closedAt: undefined };
    byPeer.set(peer, entry);
    open.set(c, entry);
    write({ e: 'open', c, t: Date.now() });
    socket.once('end', () => ended(c));
    socket.once('close', () => {
      ended(c);
      write({ e: 'close', c, t: open.get(c)?.closedAt ?? Date.now() });
      open.delete(c);
      if (byPeer.get(peer) === entry) byPeer.delete(peer);
    });
  });
  server.on('error', () => {
    // Client-side protocol errors are per connection; the sink keeps running.
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(cfg.port, '127.0.0.1', () => {
      const addr = server.server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
  return {
    port,
    accepted: () => accepted,
    async close() {
      await new Promise<void>((resolve) => {
        // smtp-server waits for open connections to end; the benchmark stops the senders first.
        const timer = setTimeout(resolve, 3000);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      const t = Date.now();
      for (const [c, conn] of open) write({ e: 'close', c, t: conn.closedAt ?? t });
      open.clear();
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
}

/** As its own process: `listening <port>` on stdout once ready; SIGTERM flushes and exits. */
async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.BENCH_SHAPING_SINK ?? '') as ShapingSinkConfig;
  const sink = await startShapingSink(cfg);
  process.stdout.write(`listening ${sink.port}\n`);
  const stop = (): void => {
    sink.close().then(
      () => {
        process.stdout.write(`closed ${sink.accepted()}\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`shaping sink: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (
  process.env.BENCH_SHAPING_SINK &&
  process.argv[1] &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  main().catch((err: unknown) => {
    process.stderr.write(`shaping sink failed to start: ${String(err)}\n`);
    process.exit(1);
  });
}
