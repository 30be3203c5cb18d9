/**
 * The client side of `npm run bench:upload`: the files it uploads, built once in memory so that
 * every run sends the same bytes and the client's own cost is a write of ready buffers, and a
 * streaming HTTP POST that respects backpressure.
 */
import { request } from 'node:http';
import type { UploadFormat } from './upload-args.ts';

export interface UploadBody {
  format: UploadFormat;
  contentType: string;
  rows: number;
  bytes: number;
  chunks: Buffer[];
}

/** Spread over this many domains, as a newsletter list is. */
const DOMAINS = 50;
/** Writes of this size, as a client streaming a file sends them. */
const CHUNK_BYTES = 64 * 1024;

/**
 * `rows` recipients: `user<i>@domain<k>.example` with a name and a plan as variables; one row
 * in 100 spells its domain in capitals (`Domain7.Example`), as exports from other tools do,
 * so the path that normalizes an address is exercised too.
 */
export function buildBody(format: UploadFormat, rows: number): UploadBody {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let buf = format === 'csv' ? 'email,name,plan\n' : '';
  for (let i = 0; i < rows; i++) {
    const k = i % DOMAINS;
    const domain = i % 100 === 99 ? `Domain${k}.Example` : `domain${k}.example`;
    const email = `user${i}@${domain}`;
    const plan = i % 3 === 0 ? 'pro' : 'free';
    buf +=
      format === 'csv'
        ? `${email},User ${i},${plan}\n`
        : `{"email":"${email}","vars":{"name":"User ${i}","plan":"${plan}"}}\n`;
    if (buf.length >= CHUNK_BYTES) {
      const b = Buffer.from(buf);
      chunks.push(b);
      bytes += b.length;
      buf = '';
    }
  }
  if (buf) {
    const b = Buffer.from(buf);
    chunks.push(b);
    bytes += b.length;
  }
  return {
    format,
    contentType: format === 'csv' ? 'text/csv' : 'application/x-ndjson',
    rows,
    bytes,
    chunks,
  };
}

export interface PostResult {
  status: number;
  body: string;
  seconds: number;
}

/**
 * POSTs the chunks to `url` (a new connection, so no run inherits another's socket state),
 * `repeat` times over in one body, writing the next chunk only when the socket takes it.
 * Timed from the first byte written to the last byte of the answer read.
 */
export function streamPost(
  url: string,
  headers: Record<string, string>,
  body: UploadBody,
  timeoutMs: number,
  repeat = 1,
): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          ...headers,
          'content-type': body.contentType,
          'content-length': String(body.bytes * repeat),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(parts).toString('utf8'),
            seconds: Number(process.hrtime.bigint() - started) / 1e9,
          }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`POST ${url} took longer than ${timeoutMs / 1000} s`)),
    );
    const total = body.chunks.length * repeat;
    let i = 0;
    const write = (): void => {
      while (i < total) {
        const chunk = body.chunks[i++ % body.chunks.length] as Buffer;
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}
