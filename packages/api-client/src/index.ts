/**
 * A typed client of Volley's REST API. Its types are generated from the OpenAPI document the
 * API serves (`npm run api-client` writes ../generated/schema.ts, and `npm run check` fails when
 * that file is stale), so every path, parameter, body and answer is checked by the compiler:
 * a change to the API that breaks a client fails type checking where the client uses it.
 *
 *   const volley = createVolleyClient({ baseUrl: 'http://127.0.0.1:8080', apiKey });
 *   const { data, error } = await volley.POST('/v1/campaigns', { body: { ... } });
 *
 * Calls answer `{ data }` on success and `{ error }` (an RFC 9457 problem) otherwise, with the
 * `response` either way; only a request that reaches no server throws.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../generated/schema.ts';
import { streamingFetch } from './stream-fetch.ts';

export { streamingFetch };

export type VolleyClient = Client<paths>;

export interface VolleyClientOptions {
  /**
   * Scheme, host and port of the API (the document's `baseUrl` server variable), such as
   * `http://127.0.0.1:8080` for `npm start`.
   */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`: a tenant's API key, or the admin key for /v1/admin. */
  apiKey: string;
}

/** A client of the API at `baseUrl` that authenticates every request with `apiKey`. */
export function createVolleyClient(opts: VolleyClientOptions): VolleyClient {
  let url: URL;
  try {
    url = new URL(opts.baseUrl);
  } catch {
    throw new Error(
      `baseUrl ${JSON.stringify(opts.baseUrl)} is not a URL: give scheme, host and port, such as http://127.0.0.1:8080`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`baseUrl ${opts.baseUrl} must be an http:// or https:// URL`);
  }
  if (!opts.apiKey) throw new Error('apiKey is empty: every /v1 request needs a key');
  return createClient<paths>({
    baseUrl: url.href.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${opts.apiKey}` },
  });
}

/** Media types of a recipient upload, by format. */
const UPLOAD_MEDIA = { ndjson: 'application/x-ndjson', csv: 'text/csv' } as const;
export type RecipientFormat = keyof typeof UPLOAD_MEDIA;

/**
 * `POST /v1/campaigns/{id}/recipients`: NDJSON (`{"email":...,"vars":{...}}` a line) or CSV (a
 * header row naming the columns, one of them `email`), as text or as a stream, which is sent
 * as it is read so a file of millions of rows need not be held in memory.
 */
export function uploadRecipients(
  client: VolleyClient,
  id: string,
  format: RecipientFormat,
  rows: string | ReadableStream<Uint8Array>,
  query: { maxInvalid?: number } = {},
) {
  return client.POST('/v1/campaigns/{id}/recipients', {
    params: { path: { id }, query },
    // The document types the body as text; the serializer below hands either form on
    // unchanged. A stream is sent chunk by chunk (`duplex: 'half'`, as a Request requires) by
    // streamingFetch, which lets go of what it has sent (Node's fetch does not).
    body: rows as string,
    bodySerializer: (body: unknown) => body,
    headers: { 'content-type': UPLOAD_MEDIA[format] },
    ...(typeof rows === 'string' ? {} : { duplex: 'half' as const, fetch: streamingFetch }),
  });
}
