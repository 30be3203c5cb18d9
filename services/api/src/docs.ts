import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifySchema } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { ApiContext } from './context.ts';
import { rateLimitOf, type RateLimit } from './ratelimit.ts';
import { SECURITY_SCHEMES, TAGS } from './operation.ts';
import { ProblemSchema } from './schemas.ts';

/** Where the document and its viewer are served; neither appears in the document. */
export const DOCS_PATHS = { json: '/openapi.json', ui: '/docs' } as const;

type Responses = Record<string, unknown>;

/** Every problem answer refers to one schema, listed once under components. */
const PROBLEM = 'Problem';

function looksLikeProblem(schema: unknown): schema is { description?: string } {
  const props = (schema as { properties?: Record<string, unknown> } | null)?.properties;
  return !!props && ['type', 'title', 'status', 'detail'].every((k) => k in props);
}

/** Root package.json's version: the version the document describes. */
async function volleyVersion(): Promise<string> {
  const text = await readFile(new URL('../../../package.json', import.meta.url), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === 'string' ? version : '0.0.0';
}

/**
 * What the document shows of a route beyond its Fastify schema (built by `operation()`, which
 * holds the conventions): a streamed body as its media types, each problem answer as a
 * reference to the one Problem schema, and the 429 of the per-key rate limit, which depends on
 * the configuration. Only the document sees the result; validation and serialization use the
 * route's own schema.
 */
function describeRoute(
  schema: FastifySchema | undefined,
  opts: { rateLimit: RateLimit | undefined },
): FastifySchema {
  const { streamBody, ...s } = schema ?? {};
  if (streamBody) {
    s.body = {
      content: Object.fromEntries(
        Object.entries(streamBody).map(([type, media]) => [
          type,
          { schema: { type: 'string', description: media.description, examples: [media.example] } },
        ]),
      ),
    };
  }
  const responses: Responses = { ...(s.response as Responses | undefined) };
  for (const [code, r] of Object.entries(responses)) {
    if (!looksLikeProblem(r)) continue;
    responses[code] = {
      description: r.description ?? STATUS_CODES[code] ?? 'Error',
      content: {
        'application/problem+json': { schema: { $ref: `#/components/schemas/${PROBLEM}` } },
      },
    };
  }
  if (opts.rateLimit) {
    const { max, windowSeconds } = opts.rateLimit;
    responses['429'] = {
      description: `More than ${max} requests in ${windowSeconds} s with this API key; retry after Retry-After seconds.`,
      content: {
        'application/problem+json': { schema: { $ref: `#/components/schemas/${PROBLEM}` } },
      },
      headers: {
        'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying.' },
        'RateLimit-Limit': { type: 'integer', description: 'Requests allowed per window.' },
        'RateLimit-Remaining': { type: 'integer', description: 'Requests left in the window.' },
        'RateLimit-Reset': { type: 'integer', description: 'Seconds until the window resets.' },
      },
    };
  }
  s.response = responses;
  return s;
}

/**
 * What stays the same within v1 and what would make a v2: the promise generated clients and
 * scripts rely on.
 */
const VERSION_POLICY = [
  '## Versions',
  'The major version is in the paths: `/v1`. `info.version` is the Volley release that serves this document; it changes with every release.',
  'Within v1, changes are additive only: new operations, new optional request fields, query parameters and headers, new fields in answers, new values where a field lists values (campaign status, event outcomes, reasons, sources), new problem types, and new status codes for new failures. Clients ignore fields they do not know and handle values they do not know.',
  'A v2 (paths under `/v2`) would be needed to remove or rename an operation, a path, a field or an `operationId` (generated clients name their methods after it), to make an optional request field required, to change what a field means or its type, to refuse input that v1 accepts, or to change what an operation needs to authenticate. What v2 will drop is first marked `deprecated` here.',
];

/** Where a client sends its requests; generated clients take the base URL as a setting. */
const SERVERS = [
  {
    url: '{baseUrl}',
    description: 'The Volley API.',
    variables: {
      baseUrl: {
        default: 'http://127.0.0.1:8080',
        description:
          'Scheme, host and port of the API: `npm start` and VOLLEY_API_PORT listen at http://127.0.0.1:8080; a deployment has its own URL.',
      },
    },
  },
];

/** Serves the OpenAPI document at /openapi.json and its viewer at /docs. */
export async function registerDocs(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const rateLimited = rateLimitOf(ctx.config) !== undefined;
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Volley',
        version: await volleyVersion(),
        // The repository states no license (no LICENSE file, none in package.json): the
        // document says so rather than naming one.
        license: { name: 'Proprietary' },
        description: [
          'Email campaign sending engine.',
          'Authenticate with `Authorization: Bearer <key>`: an API key for /v1 routes, the admin key for /v1/admin.',
          'Errors are RFC 9457 problem details (`application/problem+json`).',
          ...(rateLimited
            ? [
                'Requests are rate limited per API key: the answers of routes that list a 429 carry RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset, and a 429 carries Retry-After.',
              ]
            : []),
          ...VERSION_POLICY,
        ].join('\n\n'),
      },
      servers: SERVERS,
      tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
      components: {
        schemas: { [PROBLEM]: ProblemSchema },
        securitySchemes: SECURITY_SCHEMES,
      },
    },
    transform: ({ schema, url, route }) => ({
      schema: describeRoute(schema, { rateLimit: route.config?.perKeyRateLimit }),
      url,
    }),
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PATHS.ui });
  app.get(DOCS_PATHS.json, { schema: { hide: true } }, async () => app.swagger());
}
