/**
 * The OpenAPI document the API serves at /openapi.json, for the tools that check and use it.
 *
 *   node --import tsx scripts/openapi.ts                 prints it (JSON)
 *   node --import tsx scripts/openapi.ts --out FILE      writes it to FILE
 *   node --import tsx scripts/openapi.ts --client        regenerates the typed client's schema
 *   node --import tsx scripts/openapi.ts --client --check
 *                                                        fails if the committed schema differs
 *
 * The document is taken from the app itself (buildApp, then GET /openapi.json), so what is
 * linted and what clients are generated from is what a deployment serves, route for route.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import { format, resolveConfig } from 'prettier';
import { buildApp } from '@volley/api';
import { createQueues } from '@volley/campaigns';
import { loadApiConfig } from '@volley/config';
import { Keys } from '@volley/contracts';
import { connectRedis, startLocalRedis } from '@volley/redis';
import { ROOT } from '@volley/runtime';

/** The generated types of the client package; `npm run api-client` writes it. */
const CLIENT_SCHEMA = resolve(ROOT, 'packages/api-client/generated/schema.ts');

/**
 * The configuration of a default deployment, with the optional routes switched on so that the
 * document lists every route the API can serve. Built from these values only, never from the
 * caller's environment, so the document is the same on every machine.
 */
const DOCUMENT_ENV = {
  VOLLEY_API_KEY: 'openapi-document-api-key',
  VOLLEY_ADMIN_KEY: 'openapi-document-admin-key',
  // `npm start`'s unsubscribe URL: its path is where the one-click routes appear.
  VOLLEY_UNSUBSCRIBE_URL: 'http://127.0.0.1:8080/unsubscribe',
  VOLLEY_VERP_SECRET: 'openapi-document-verp-secret',
};

/** The document as the API answers GET /openapi.json. */
async function servedDocument(): Promise<unknown> {
  // The queues open their Redis connection as they are made: a real, private server answers.
  const server = await startLocalRedis();
  const redis = connectRedis(server.url, { name: 'openapi-document' });
  const keys = new Keys('openapi-document');
  const queues = createQueues(redis, keys);
  try {
    const app = await buildApp({
      config: loadApiConfig({ ...DOCUMENT_ENV, REDIS_URL: server.url }),
      redis,
      keys,
      queues,
      registry: new Registry(),
      logger: false,
    });
    try {
      const res = await app.inject({ url: '/openapi.json' });
      if (res.statusCode !== 200) {
        throw new Error(`GET /openapi.json answered ${res.statusCode}: ${res.body}`);
      }
      return res.json();
    } finally {
      await app.close();
    }
  } finally {
    await queues.close();
    redis.disconnect();
    await server.stop();
  }
}

/** The client's types for `doc`, formatted as the repository formats its code. */
async function clientSchema(doc: unknown): Promise<string> {
  const ast = await openapiTS(doc as OpenAPI3);
  const banner =
    "// Generated from the API's OpenAPI document by `npm run api-client` (scripts/openapi.ts).\n" +
    '// Do not edit: `npm run check` fails when this file differs from what the API serves.\n\n';
  const options = await resolveConfig(CLIENT_SCHEMA);
  return format(banner + astToString(ast), { ...options, filepath: CLIENT_SCHEMA });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      client: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
    },
  });
  const doc = await servedDocument();
  if (values.client) {
    const text = await clientSchema(doc);
    const shown = relative(ROOT, CLIENT_SCHEMA);
    if (values.check) {
      let committed = '';
      try {
        committed = readFileSync(CLIENT_SCHEMA, 'utf8');
      } catch {
        // Missing counts as different.
      }
      if (committed !== text) {
        process.stderr.write(
          `${shown} is not what the API's document generates: run \`npm run api-client\` and commit it (an API change that breaks clients shows up as type errors in its users)\n`,
        );
        process.exit(1);
      }
      process.stdout.write(`${shown} matches the served document\n`);
      return;
    }
    writeFileSync(CLIENT_SCHEMA, text);
    process.stdout.write(`wrote ${shown}\n`);
    return;
  }
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  if (values.out) {
    mkdirSync(dirname(resolve(values.out)), { recursive: true });
    writeFileSync(values.out, json);
  } else {
    process.stdout.write(json);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`openapi: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
