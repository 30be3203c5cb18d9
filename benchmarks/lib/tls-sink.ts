/**
 * The sink of `npm run bench -- --tls`: npm's smtp-server in a Node process of its own, which
 * accepts and discards every message, offering STARTTLS with the run's certificate or, without
 * one, plain SMTP only. Postfix's smtp-sink cannot do TLS; the plain and the STARTTLS runs both
 * use this program so that their ratio compares like with like.
 *
 * Protocol with the harness (benchmarks/lib/sink.ts): configuration as JSON in BENCH_TLS_SINK;
 * prints `listening <port>` once ready; on SIGUSR2 prints `stats <n> <json>` (a TlsSinkStats,
 * `n` counting the requests from 1) so that the harness can check that the mail went over TLS;
 * exits on SIGTERM. Nothing is printed per message: the sink's CPU is part of what is measured.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { SMTPServer } from 'smtp-server';

export interface TlsSinkConfig {
  /** PEM key and certificate that turn STARTTLS on; absent, the sink offers plain SMTP only. */
  tls?: { keyPath: string; certPath: string } | undefined;
}

export interface TlsSinkStats {
  /** SMTP sessions opened so far. */
  sessions: number;
  /** Sessions upgraded with STARTTLS. */
  tlsSessions: number;
  /** Messages accepted (250 after DATA), each counted once whatever its recipients. */
  messages: number;
  /** Of those, messages whose session was encrypted. */
  tlsMessages: number;
  /** Negotiated protocol and cipher of the TLS sessions: `TLSv1.3 TLS_AES_256_GCM_SHA384` → count. */
  ciphers: Record<string, number>;
}

/**
 * Holds the replies written to `socket` during one turn of the event loop and sends them in one
 * write, as Postfix's smtpd does: its replies go to a buffer that is flushed only once the
 * commands already read are all answered (vstream's delayed flush, made for pipelining), so the
 * replies to a pipelined MAIL, RCPT and DATA leave in one segment, and over TLS in one record.
 * smtp-server writes each reply on its own: one system call each, and over TLS one record each,
 * which no MTA a campaign relays through does and which both arms would pay for.
 */
function batchReplies(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let held = false;
  const flush = (): void => {
    held = false;
    socket.uncork();
  };
  socket.write = (...args: unknown[]): boolean => {
    if (!held) {
      held = true;
      socket.cork();
      // After the I/O callbacks of this turn: every command read so far has been answered.
      setImmediate(flush);
    }
    const ok = write(...args);
    // A 220 (the greeting, or the go-ahead for STARTTLS) leaves at once: the TLS handshake
    // takes the connection over right after the go-ahead, which must not still be held here.
    if (typeof args[0] === 'string' && args[0].startsWith('220')) socket.uncork();
    return ok;
  };
}

/** Far above the connections of any run (senders × VOLLEY_SMTP_POOL_SIZE, the naive loop's 10). */
const MAX_CLIENTS = 2000;

function startTlsSink(cfg: TlsSinkConfig, stats: TlsSinkStats): Promise<number> {
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: cfg.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideSTARTTLS: !cfg.tls,
    ...(cfg.tls
      ? { key: readFileSync(cfg.tls.keyPath), cert: readFileSync(cfg.tls.certPath) }
      : {}),
    banner: 'Volley TLS bench sink',
    maxClients: MAX_CLIENTS,
    onConnect(_session, callback) {
      stats.sessions++;
      callback();
    },
    // Every sender and recipient is accepted at once, as smtp-sink and an MTA without checks do;
    // smtp-server's own handlers answer a turn of the event loop later, each, so the replies to
    // a pipelined group could never leave together (see batchReplies).
    onMailFrom(_address, _session, callback) {
      callback();
    },
    onRcptTo(_address, _session, callback) {
      callback();
    },
    onSecure(socket, _session, callback) {
      stats.tlsSessions++;
      batchReplies(socket);
      if (socket instanceof TLSSocket) {
        const name = `${socket.getProtocol() ?? '?'} ${socket.getCipher().standardName}`;
        stats.ciphers[name] = (stats.ciphers[name] ?? 0) + 1;
      }
      callback();
    },
    onData(stream, session, callback) {
      // Read and dropped: the body is neither parsed nor kept.
      stream.resume();
      stream.once('error', (err) => callback(err));
      stream.once('end', () => {
        stats.messages++;
        if (session.secure) stats.tlsMessages++;
        callback();
      });
    },
  });
  // The plain socket of every session, before STARTTLS replaces it with a TLS one.
  server.server.on('connection', batchReplies);
  server.on('error', () => {
    // A client's protocol or TLS error ends its connection only; the sink keeps running.
  });
  return new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.BENCH_TLS_SINK ?? '') as TlsSinkConfig;
  const stats: TlsSinkStats = {
    sessions: 0,
    tlsSessions: 0,
    messages: 0,
    tlsMessages: 0,
    ciphers: {},
  };
  const port = await startTlsSink(cfg, stats);
  let asked = 0;
  process.on('SIGUSR2', () => {
    process.stdout.write(`stats ${++asked} ${JSON.stringify(stats)}\n`);
  });
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
  process.stdout.write(`listening ${port}\n`);
}

if (
  process.env.BENCH_TLS_SINK &&
  process.argv[1] &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  main().catch((err: unknown) => {
    process.stderr.write(`tls sink failed to start: ${String(err)}\n`);
    process.exit(1);
  });
}
