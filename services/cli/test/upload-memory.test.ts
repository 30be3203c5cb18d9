import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createVolleyClient, streamingFetch, uploadRecipients } from '@volley/api-client';
import { Output } from '../src/output.ts';
import { streamFile } from '../src/upload.ts';

/**
 * The CLI's upload (streamFile into the typed client's uploadRecipients, which sends through
 * streamingFetch) reads the file under the socket's backpressure and lets go of what it has
 * sent, so its memory does not grow with the file (issue 16). The bound is judged by what is
 * still referenced, not by a measurement of RSS: when the server has received 96 of a file's
 * 128 MiB, a full garbage collection leaves only the chunks in flight (1.1 to 5.1 MiB in 22
 * runs here). With Node's fetch in place of streamingFetch, which keeps every chunk of a
 * streamed body until the request ends (nodejs/undici#4058), it left 98.1 MiB; a file read
 * ahead of the socket would show the same way.
 */

setFlagsFromString('--expose-gc');
// ArrayBuffers freed by gc() are released at once rather than by a background sweep, so the
// figure read right after it counts only what is referenced.
setFlagsFromString('--no-concurrent-array-buffer-sweeping');
const gc = runInNewContext('gc') as () => void;

const MiB = 2 ** 20;
const FILE_MIB = 128;
/** When the server has this much, the sender's retained buffers are read. */
const PROBE_AT = 96 * MiB;
/**
 * In flight at most: the file stream's 1 MiB chunk, the progress meter's, the one the web
 * stream queues ahead, the socket's queue and the server's current chunk. 32 MiB is four
 * times that and a quarter of what keeping the sent chunks would hold.
 */
const IN_FLIGHT_MIB = 32;

interface Received {
  headers: IncomingMessage['headers'];
  bytes: number;
  sha256: string;
  /** ArrayBuffer bytes alive after a full collection when PROBE_AT bytes had arrived. */
  retainedAtProbe?: number;
}

let server: Server;
let base: string;
let dir: string;
const received: Received[] = [];
/**
 * The server answers 413 after this many bytes of a request, when set, and reads no further
 * while keeping the connection open. (Closing it with the rest unread, as the API does, resets
 * the connection, and the client may see the reset before the answer: Node's fetch then fails
 * the same way, one run in twelve here.)
 */
let refuseAfter: number | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'volley-stream-fetch-'));
  server = createServer((req, res) => {
    const got: Received = { headers: req.headers, bytes: 0, sha256: '' };
    received.push(got);
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      const before = got.bytes;
      got.bytes += chunk.length;
      if (before < PROBE_AT && got.bytes >= PROBE_AT) {
        gc();
        got.retainedAtProbe = process.memoryUsage().arrayBuffers;
      }
      if (refuseAfter !== undefined && got.bytes >= refuseAfter && !res.headersSent) {
        req.pause();
        res.writeHead(413, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ status: 413, title: 'Payload Too Large', detail: 'too big' }));
      }
    });
    req.on('end', () => {
      got.sha256 = hash.digest('hex');
      res.writeHead(200, { 'content-type': 'application/json', 'x-seen': 'yes' });
      res.end(
        JSON.stringify({
          rows: 0,
          added: got.bytes,
          duplicates: 0,
          invalid: 0,
          errors: [],
          total: 0,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** A CSV file of about `mib` MiB and its SHA-256. */
function csvFile(name: string, mib: number): { path: string; size: number; sha256: string } {
  const path = join(dir, name);
  const header = 'email,name\n';
  const parts: string[] = [header];
  let size = header.length;
  for (let i = 0; size < mib * MiB; i++) {
    const line = `user${i}@d${i % 20}.example,Name ${i}\n`;
    parts.push(line);
    size += line.length;
  }
  const text = parts.join('');
  writeFileSync(path, text);
  return {
    path,
    size: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}

const quiet = new Output(
  { stdout: process.stdout, stderr: process.stderr },
  { json: true, env: {} },
);

describe('streamingFetch', () => {
  test(`a ${FILE_MIB} MiB upload holds only the chunks in flight, not what it has sent`, async (t) => {
    const file = csvFile('big.csv', FILE_MIB);
    const client = createVolleyClient({ baseUrl: base, apiKey: 'k-test' });
    const streamed = streamFile(quiet, file.path, 'upload');
    let answer;
    try {
      answer = await uploadRecipients(client, 'c1', 'csv', streamed.body);
    } finally {
      await streamed.finish();
    }
    assert.equal(answer.response.status, 200);
    const got = received.at(-1) as Received;
    assert.equal(got.bytes, file.size, 'every byte of the file arrived');
    assert.equal(got.sha256, file.sha256, 'the bytes arrived unchanged and in order');
    assert.equal(answer.data?.added, file.size, 'the answer is the server’s');
    assert.ok(got.retainedAtProbe !== undefined, 'the probe ran');
    const retainedMiB = got.retainedAtProbe / MiB;
    t.diagnostic(`${retainedMiB.toFixed(1)} MiB of ArrayBuffers alive at the probe`);
    assert.ok(
      retainedMiB < IN_FLIGHT_MIB,
      `${retainedMiB.toFixed(1)} MiB of buffers alive after ${PROBE_AT / MiB} MiB were sent (at most ${IN_FLIGHT_MIB})`,
    );
  });

  test('sends the request’s method, headers and body as fetch would, and answers its status and headers', async () => {
    const res = await streamingFetch(
      new Request(`${base}/v1/x?y=1`, {
        method: 'POST',
        headers: { authorization: 'Bearer k-test', 'content-type': 'text/csv' },
        body: new Blob(['email\na@example.com\n']).stream(),
        duplex: 'half',
      }),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-seen'), 'yes');
    assert.equal(((await res.json()) as { added: number }).added, 20);
    const got = received.at(-1) as Received;
    assert.equal(got.headers.authorization, 'Bearer k-test');
    assert.equal(got.headers['content-type'], 'text/csv');
    assert.equal(got.headers['transfer-encoding'], 'chunked');
  });

  test('an answer before the whole body was sent is the answer, and the sending stops', async (t) => {
    const file = csvFile('refused.csv', 64);
    refuseAfter = MiB;
    try {
      const streamed = streamFile(quiet, file.path, 'upload');
      try {
        const res = await streamingFetch(
          new Request(`${base}/refuse`, {
            method: 'POST',
            body: streamed.body,
            duplex: 'half',
          }),
        );
        assert.equal(res.status, 413);
        assert.equal(((await res.json()) as { detail: string }).detail, 'too big');
      } finally {
        await streamed.finish();
      }
      t.diagnostic(`read ${streamed.meter.bytes} of ${file.size} bytes`);
      assert.ok(
        streamed.meter.bytes < file.size,
        `read ${streamed.meter.bytes} of ${file.size} bytes after the refusal`,
      );
    } finally {
      refuseAfter = undefined;
    }
  });

  test('a server that is not there rejects as fetch does: TypeError "fetch failed" with the reason', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      streamingFetch(
        new Request(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          body: new Blob(['x']).stream(),
          duplex: 'half',
        }),
      ),
      (err: unknown) =>
        err instanceof TypeError &&
        err.message === 'fetch failed' &&
        /ECONNREFUSED/.test(String((err.cause as Error).message)),
    );
  });

  test('a request without a body goes through the global fetch', async () => {
    const res = await streamingFetch(new Request(`${base}/nobody`, { method: 'POST' }));
    assert.equal(res.status, 200);
    assert.equal(received.at(-1)?.bytes, 0);
  });
});
