/**
 * The API process of `npm run bench:upload`: the real application (`buildApp` of services/api),
 * configured from the environment as services/api/src/main.ts configures it, plus two baseline
 * routes in the same process, so that a baseline and the upload it is compared with share the
 * process, the HTTP stack and the moment:
 *
 * - `POST /bench/discard` reads the body and throws it away: the cost of moving the bytes.
 * - `POST /bench/lines` splits the body into lines and runs JSON.parse (NDJSON) or split(',')
 *   (CSV) on each, nothing else: the least any reader of the format does per row. It is code
 *   the upload's optimizations do not touch, so ratios to it compare across versions.
 * - `POST /bench/parse` runs the upload's parser and address validation with a sink that stores
 *   nothing: the upload without Redis.
 *
 * Both take the upload's content types and refuse anything else. Started only by the benchmark,
 * on 127.0.0.1; it is not part of the deployed API.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildApp } from '@volley/api';
import { createQueues } from '@volley/campaigns';
import { loadApiConfig } from '@volley/config';
import { Keys } from '@volley/contracts';
import { ingestRecipients, type UploadFormat } from '@volley/ingest';
import { connectRedis } from '@volley/redis';
import { onShutdown, runService } from '@volley/runtime';

const FORMATS: Record<string, UploadFormat> = {
  'application/x-ndjson': 'ndjson',
  'text/csv': 'csv',
};

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = pino({ level: config.logLevel, base: { service: 'api' } });
  const keys = new Keys(config.redisPrefix);
  const redis = connectRedis(config.redisUrl, { name: 'volley-api' });
  const queues = createQueues(redis, keys);
  const app = await buildApp({
    config,
    redis,
    keys,
    queues,
    registry: new Registry(),
    logger,
  });
  await app.register(async (bench) => {
    bench.addContentTypeParser(Object.keys(FORMATS), (_req, payload, done) => done(null, payload));
    bench.post('/bench/discard', { bodyLimit: config.uploadLimit }, async (req) => {
      let bytes = 0;
      for await (const chunk of req.body as Readable) bytes += (chunk as Buffer).length;
      return { bytes };
    });
    bench.post('/bench/lines', { bodyLimit: config.uploadLimit }, async (req, reply) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      const format = FORMATS[type];
      if (!format) return reply.code(415).send({ error: 'send application/x-ndjson or text/csv' });
      const decoder = new StringDecoder('utf8');
      let carry = '';
      let lines = 0;
      const line = (text: string): void => {
        if (text === '') return;
        if (format === 'ndjson') JSON.parse(text);
        else text.split(',');
        lines++;
      };
      for await (const chunk of req.body as Readable) {
        const text = carry + decoder.write(chunk as Buffer);
        let start = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
          line(text.slice(start, nl));
          start = nl + 1;
        }
        carry = text.slice(start);
      }
      line(carry + decoder.end());
      // The CSV header is not a row.
      return { rows: format === 'csv' ? lines - 1 : lines };
    });
    bench.post('/bench/parse', { bodyLimit: config.uploadLimit }, async (req, reply) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      const format = FORMATS[type];
      if (!format) return reply.code(415).send({ error: 'send application/x-ndjson or text/csv' });
      const r = await ingestRecipients(
        req.body as Readable,
        { format, maxInvalid: config.uploadMaxInvalid },
        async (batch) => ({ added: batch.rows.length, duplicates: 0 }),
      );
      return { rows: r.rows, added: r.added, invalid: r.invalid, aborted: r.aborted };
    });
  });
  const address = await app.listen({ port: config.port, host: config.host });
  logger.info({ address, pid: process.pid }, 'api listening');
  onShutdown(logger, async () => {
    await app.close();
    await queues.close();
    redis.disconnect();
  });
}

runService('api', main);
