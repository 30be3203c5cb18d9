/** A file streamed to an upload endpoint as it is read, with progress. */
import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Output } from './output.ts';
import { CliError } from './output.ts';
import { Meter, showUpload } from './progress.ts';

export interface Streamed {
  body: ReadableStream<Uint8Array>;
  meter: Meter;
  /** Stops the progress display and the reading; throws if reading the file failed. */
  finish(): Promise<void>;
}

function fileSize(file: string): number {
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new CliError(`${file} is not a file`, 'CLI_BAD_FILE');
    return st.size;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'CLI_BAD_FILE',
    );
  }
}

/**
 * Reads `file` in large chunks: fewer, bigger writes to the socket, as the API's own upload
 * benchmark sends them.
 */
const CHUNK = 1024 * 1024;

export function streamFile(out: Output, file: string, label: string): Streamed {
  const size = fileSize(file);
  const meter = new Meter();
  let readError: Error | undefined;
  const source = createReadStream(file, { highWaterMark: CHUNK });
  source.on('error', (err) => {
    readError = err;
  });
  // Not awaited: fetch pulls the meter's output. A refused upload stops reading early, which
  // ends this pipeline with an abort that is no error of the file's (those are kept above).
  pipeline(source, meter).catch(() => {});
  const bar = showUpload(out, meter, size, label);
  // One chunk queued ahead of fetch, no more. Left to its default, toWeb measures its queue in
  // chunks against the Node stream's highWaterMark in bytes (16,384 "chunks" of 1 MiB), so the
  // file could be read into memory ahead of the socket: bench:cli-upload put the CLI's peak RSS
  // for 1,000,000 rows 51 MiB over its peak for 100,000 before, 33 MiB after.
  const body = Readable.toWeb(meter, {
    strategy: new CountQueuingStrategy({ highWaterMark: 1 }),
  }) as ReadableStream<Uint8Array>;
  return {
    body,
    meter,
    finish: async () => {
      await bar.stop();
      if (!meter.destroyed) meter.destroy();
      if (readError !== undefined) {
        throw new CliError(`reading ${file} failed: ${readError.message}`, 'CLI_BAD_FILE');
      }
    },
  };
}
