/**
 * A `fetch` for requests whose body is a stream: the body goes out through `node:http` under
 * its backpressure, and what has been sent is let go.
 *
 * Node's own fetch (undici 6.24 in Node 20, and undici 7.25 too) keeps every chunk of a
 * streamed request body until the request ends (nodejs/undici#4058, open): a 144 MB upload
 * held 136 MiB of ArrayBuffers in the sender when measured here, against 11 MiB for the same
 * `Request` sent with this function. The CLI streams files of millions of rows, so its memory
 * would grow with the file. Everything else goes through the global fetch.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

function responseHeaders(res: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/** Statuses whose response has no body, by definition (a `Response` refuses one). */
const NO_BODY = new Set([101, 204, 205, 304]);

/**
 * Sends `req` as fetch would and answers its `Response`; a request that reaches no server
 * rejects with fetch's own shape (`TypeError('fetch failed')`, the reason as its `cause`).
 */
export function streamingFetch(req: Request): Promise<Response> {
  if (req.body === null) return fetch(req);
  const body = req.body;
  const url = new URL(req.url);
  const tls = url.protocol === 'https:';
  const send = tls ? httpsRequest : httpRequest;
  // A connection of its own: a body that cannot be sent again must not go out on a pooled
  // keep-alive connection that the server may be closing at that moment (seen as "socket hang
  // up" when an upload began 5 s, the servers' keep-alive, after the request before it on a
  // loaded machine). Kept alive all the same, so that a server answering before the body has
  // all arrived keeps the connection open for its answer to be read, rather than closing on
  // what is still coming (which resets the connection).
  const agent = tls ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  return new Promise<Response>((resolve, reject) => {
    let answered = false;
    const source = Readable.fromWeb(body as NodeReadableStream<Uint8Array>);
    const out = send(
      url,
      {
        method: req.method,
        headers: Object.fromEntries(req.headers),
        signal: req.signal,
        agent,
      },
      (res) => {
        answered = true;
        res.once('close', () => agent.destroy());
        // An answer before the whole body was sent (a refused upload) ends the sending: the
        // rest would only be read and thrown away. The connection cannot carry another
        // request then, so it closes once the answer has been read.
        if (!source.readableEnded) {
          source.unpipe(out);
          source.destroy();
          res.once('close', () => out.destroy());
        }
        const status = res.statusCode ?? 0;
        const noBody = NO_BODY.has(status) || req.method === 'HEAD';
        if (noBody) res.resume();
        resolve(
          new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
            status,
            statusText: res.statusMessage ?? '',
            headers: responseHeaders(res),
          }),
        );
      },
    );
    out.on('error', (err) => {
      agent.destroy();
      if (!answered) reject(new TypeError('fetch failed', { cause: err }));
    });
    // A body that cannot be read fails the request with the reason.
    source.on('error', (err) => {
      if (!answered) out.destroy(err);
    });
    source.pipe(out);
  });
}
