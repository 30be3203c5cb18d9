import { CaptureStore } from './store.ts';
import type { Server as NetServer, Socket } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

export interface CapturedMessage {
  from: string;
  to: string[];
  raw: Buffer;
  receivedAt: number;
  /** Which connection carried it, so tests can count connections. */
  sessionId: string;
}

export interface RejectRule {
  code: number;
  message: string;
}

export interface CaptureOptions {
  port?: number;
  host?: string;
  /** Folder to store each message in (see store.ts); none keeps messages in memory only. */
  dir?: string;
  /** Messages kept in `dir`; the oldest are removed beyond it. @defaultValue 10000 */
  retain?: number;
  /** Called for every accepted message. */
  onMessage?: (m: CapturedMessage) => void;
  /** Decides a reply per recipient; undefined accepts. Lets tests inject 4xx and 5xx. */
  onRecipient?: (address: string) => RejectRule | undefined;
  /** Keep accepted messages in `messages` (tests); off for long local runs. @defaultValue true */
  keep?: boolean;
  /** Holds each 250 after the data this long: a slow receiver, so senders keep connections busy. @defaultValue 0 */
  replyDelayMs?: number;
}

/**
 * Client connections as the server saw them: open from the TCP accept (so sessions that never
 * get past the greeting count too) until the server ends them or the socket closes.
 */
export interface ConnectionStats {
  /** Open now. */
  open: number;
  /** The most open at once since start. */
  max: number;
  /** Accepted since start. */
  total: number;
}

/**
 * Counts `server`'s connections into `stats`. A connection stops counting as open when the
 * server closes its side (after QUIT's 221, say), not only once its socket has closed: the
 * socket lasts until the server has also read the client's end, which can come in the same
 * poll as a new connection that the client opened after seeing the server's close, so a
 * socket count showed a client one connection above a cap it kept. Receivers count sessions
 * the same way: one the server has ended is over.
 */
export function countConnections(server: NetServer, stats: ConnectionStats): void {
  server.on('connection', (socket: Socket) => {
    stats.open++;
    stats.total++;
    stats.max = Math.max(stats.max, stats.open);
    let counted = true;
    const over = (): void => {
      if (!counted) return;
      counted = false;
      stats.open--;
    };
    // The server's own end() happens before its FIN leaves, so before any client can react.
    const end = socket.end.bind(socket);
    socket.end = ((...args: Parameters<typeof end>) => {
      over();
      return end(...args);
    }) as Socket['end'];
    socket.once('close', over);
  });
}

export interface CaptureServer {
  port: number;
  messages: CapturedMessage[];
  connections: ConnectionStats;
  /** Resolves once `count` messages have been accepted in total. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback that accepts mail and stores it: the local "inbox" of
 * `npm start`, and the receiving side of the tests.
 */
export async function startCaptureServer(opts: CaptureOptions = {}): Promise<CaptureServer> {
  // The demo ten times over: about 40 MB of 4 KB messages.
  const store = opts.dir ? new CaptureStore(opts.dir, opts.retain ?? 10_000) : undefined;
  const messages: CapturedMessage[] = [];
  let total = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const keep = opts.keep ?? true;
  const connections: ConnectionStats = { open: 0, max: 0, total: 0 };

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    banner: 'Volley mail capture',
    // 50 MB: far above any campaign message; a message over it is refused, not truncated.
    size: 50 * 1024 * 1024,
    maxClients: 1000,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const rule = opts.onRecipient?.(address.address);
      if (rule) {
        const err = new Error(rule.message) as Error & { responseCode: number };
        err.responseCode = rule.code;
        callback(err);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const m: CapturedMessage = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          receivedAt: Date.now(),
          sessionId: session.id,
        };
        const finish = (): void => {
          if (keep) messages.push(m);
          total++;
          opts.onMessage?.(m);
          for (let i = waiters.length - 1; i >= 0; i--) {
            const w = waiters[i];
            if (w && total >= w.count) {
              waiters.splice(i, 1);
              w.resolve();
            }
          }
          if (opts.replyDelayMs) setTimeout(callback, opts.replyDelayMs);
          else callback();
        };
        if (store) {
          // The 250 is sent only after the file is written: accepted means stored.
          store
            .store(m.from, m.to, raw, m.receivedAt)
            .then(finish, (err: unknown) =>
              callback(err instanceof Error ? err : new Error(String(err))),
            );
        } else {
          finish();
        }
      });
    },
  });
  countConnections(server.server, connections);
  server.on('error', () => {
    // Client-side protocol errors are per connection; the server keeps running.
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      const addr = server.server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
  return {
    port,
    messages,
    connections,
    waitFor(count, timeoutMs = 60_000) {
      if (total >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${count} messages; ${total} arrived`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store?.idle();
    },
  };
}

export { cleanCaptureDir, readIndex, readMessage, type StoredMessage } from './store.ts';
