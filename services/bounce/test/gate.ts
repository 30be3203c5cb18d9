/**
 * A TCP relay on loopback that passes bytes both ways until told to stop at a chosen point of
 * one connection, for tests that must kill a process at an exact moment of a conversation: in
 * the middle of an SMTP message's body, or while the process waits for Redis. The bytes it
 * holds back are never passed on; they go with the connection, as they would if the process
 * had died before sending them or before reading the answer.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Where to stop; each rule stops one connection, the first on which it applies. */
export type HoldRule =
  /** Pass the requests up to and including `marker`, hold every request byte after it. */
  | { requestsAfter: string }
  /** Hold the next request bytes sent, and everything after them. */
  | { requests: 'next' }
  /** Pass requests; once one matching `request` has passed, hold every reply. */
  | { repliesAfter: RegExp };

export interface Conversation {
  /** What the client sent and the gate passed on (the first 256 KiB). */
  requests: string;
  /** What the server answered and the gate passed on (the first 256 KiB). */
  replies: string;
}

export interface Gate {
  port: number;
  /** Every connection so far, oldest first. */
  conversations: Conversation[];
  /**
   * Arms `rule` for the connections that send from now on; resolves, once it has stopped
   * one, with that connection's conversation up to the stop.
   */
  hold(rule: HoldRule): Promise<Conversation>;
  close(): Promise<void>;
}

/** Enough of a conversation to assert on; a test's own messages are a few KiB. */
const KEEP = 256 * 1024;

interface Armed {
  rule: HoldRule;
  done: (c: Conversation) => void;
}

export async function startGate(upstreamPort: number): Promise<Gate> {
  const conversations: Conversation[] = [];
  let armed: Armed | undefined;
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    const talk: Conversation = { requests: '', replies: '' };
    conversations.push(talk);
    let requestsHeld = false;
    let repliesHeld = false;
    let watching: Armed | undefined;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // Either side gone (a killed process, a refused connection): the other goes too.
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const stop = (a: Armed): void => {
      a.done({ ...talk });
    };

    client.on('data', (chunk: Buffer) => {
      if (requestsHeld) return;
      let pass = chunk;
      if (armed && !watching) {
        const a = armed;
        if ('requests' in a.rule) {
          armed = undefined;
          requestsHeld = true;
          stop(a);
          return;
        }
        if ('requestsAfter' in a.rule) {
          const text = talk.requests + chunk.toString('latin1');
          const at = text.indexOf(a.rule.requestsAfter);
          if (at >= 0) {
            armed = undefined;
            requestsHeld = true;
            const upTo = at + a.rule.requestsAfter.length - talk.requests.length;
            pass = chunk.subarray(0, Math.max(upTo, 0));
            talk.requests = (talk.requests + pass.toString('latin1')).slice(0, KEEP);
            upstream.write(pass);
            stop(a);
            return;
          }
        } else if (a.rule.repliesAfter.test(chunk.toString('latin1'))) {
          armed = undefined;
          watching = a;
        }
      }
      talk.requests = (talk.requests + pass.toString('latin1')).slice(0, KEEP);
      upstream.write(pass);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (repliesHeld) return;
      if (watching) {
        repliesHeld = true;
        stop(watching);
        return;
      }
      talk.replies = (talk.replies + chunk.toString('latin1')).slice(0, KEEP);
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('the gate has no port');
  return {
    port: address.port,
    conversations,
    hold: (rule) =>
      new Promise<Conversation>((resolve) => {
        armed = { rule, done: resolve };
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
