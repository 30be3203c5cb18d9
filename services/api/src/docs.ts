import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifySchema } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { ApiContext } from './context.ts';
import { rateLimitOf, type RateLimit } from './ratelimit.ts';
import { HealthResponse, ProblemSchema } from './schemas.ts';

/** Where the document and its viewer are served; neither appears in the document. */
export const DOCS_PATHS = { json: '/openapi.json', ui: '/docs' } as const;

/** Security schemes of the document, by name. */
const SECURITY = { apiKey: 'apiKey', adminKey: 'adminKey' } as const;

const TAGS = [
  {
    name: 'campaigns',
    description:
      'Create campaigns, start, pause, resume or cancel them, and read their status, events, previews and statistics.',
  },
  {
    name: 'recipients',
    description: 'Stream recipient lists into a draft or scheduled campaign, as NDJSON or CSV.',
  },
  { name: 'suppressions', description: 'Addresses the tenant never sends to.' },
  {
    name: 'webhooks',
    description:
      'Signed outbound webhooks: endpoints that receive campaign events, and the dead-letter list of deliveries that exhausted their retries. See docs/observability.md for verifying signatures.',
  },
  {
    name: 'unsubscribe',
    description:
      'One-click unsubscribe (RFC 8058) at the path of VOLLEY_UNSUBSCRIBE_URL; no key, the signed token in the link is the credential.',
  },
  { name: 'admin', description: 'Tenants and API keys; authenticated with VOLLEY_ADMIN_KEY.' },
  { name: 'shaping', description: 'Traffic-shaping state: rates and limits per destination.' },
  { name: 'health', description: 'Liveness and readiness probes; no authentication.' },
];

/** The tag of a route that does not name its own: by its path, first match wins. */
const TAG_BY_PATH: ReadonlyArray<[RegExp, string]> = [
  [/^\/(healthz|readyz)$/, 'health'],
  [/^\/v1\/admin(\/|$)/, 'admin'],
  [/^\/v1\/campaigns\/[^/]+\/recipients$/, 'recipients'],
  [/^\/v1\/campaigns(\/|$)/, 'campaigns'],
  [/^\/v1\/suppressions(\/|$)/, 'suppressions'],
  [/^\/v1\/shaping(\/|$)/, 'shaping'],
];

const HEALTH: Record<string, FastifySchema> = {
  '/healthz': {
    summary: 'Liveness: the process answers',
    response: { 200: { ...HealthResponse, description: 'The process is alive.' } },
  },
  '/readyz': {
    summary: 'Readiness: Redis is connected',
    response: {
      200: { ...HealthResponse, description: 'Ready to serve requests.' },
      503: { ...HealthResponse, description: 'Redis is not connected; take out of rotation.' },
    },
  },
};

const NDJSON_EXAMPLE =
  '{"email":"ada@example.org","vars":{"name":"Ada"}}\n{"email":"alan@example.org","vars":{"name":"Alan"}}\n';
const CSV_EXAMPLE = 'email,name\nada@example.org,Ada\nalan@example.org,Alan\n';

/** Media types of request bodies read as streams, which have no body schema to document them. */
const STREAM_MEDIA: Record<string, { description: string; example: string }> = {
  'application/x-ndjson': {
    description: 'One JSON object a line: `{"email": ..., "vars": {...}}`.',
    example: NDJSON_EXAMPLE,
  },
  'text/csv': {
    description: 'A header row naming the columns, one of them `email`; the others become vars.',
    example: CSV_EXAMPLE,
  },
};

/** Media of a route whose stream means something else than the recipient upload's. */
const ROUTE_MEDIA: Record<string, Record<string, { description: string; example: string }>> = {
  'POST /v1/suppressions/import': {
    'text/csv': {
      description:
        'A header row naming an `email` column and optionally `reason`, `source` and `date`; other columns are ignored (an export imports as it is).',
      example:
        'email,reason,source,date\nada@example.org,userunknown,bounce,2026-01-05T10:00:00Z\nalan@example.org,,,\n',
    },
  },
};

/**
 * Stream bodies by route, for routes that do not declare `schema.consumes` themselves.
 * The upload route's parser takes these media types (and the NDJSON aliases
 * application/ndjson and application/jsonl).
 */
const STREAM_BODIES: Record<string, readonly string[]> = {
  'POST /v1/campaigns/:id/recipients': ['application/x-ndjson', 'text/csv'],
};

type Responses = Record<string, unknown>;

/** Every problem answer refers to one schema, listed once under components. */
const PROBLEM = 'Problem';

const problem = (description: string): { description: string; content: object } => ({
  description,
  content: {
    'application/problem+json': { schema: { $ref: `#/components/schemas/${PROBLEM}` } },
  },
});

function looksLikeProblem(schema: unknown): boolean {
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
 * What the document says of one route, on top of its own schema: a tag from its path, the
 * key it needs, the media types of a streamed body, and the problem answers every route of its
 * kind can give (authentication, validation, rate limit), as application/problem+json.
 * Only the document sees the result; validation and serialization use the route's schema.
 */
function describeRoute(
  method: string,
  url: string,
  schema: FastifySchema | undefined,
  opts: { rateLimit: RateLimit | undefined },
): FastifySchema {
  const s: FastifySchema = { ...HEALTH[url], ...schema };
  if (!s.tags?.length) {
    const tag = TAG_BY_PATH.find(([re]) => re.test(url))?.[1];
    if (tag) s.tags = [tag];
  }
  // Every /v1 route authenticates (app.ts): /v1/admin with the admin key, the rest with API keys.
  const v1 = url.startsWith('/v1/');
  const admin = url.startsWith('/v1/admin/') || url === '/v1/admin';
  if (v1 && !s.security) s.security = [{ [admin ? SECURITY.adminKey : SECURITY.apiKey]: [] }];

  const streamTypes = s.body ? undefined : (s.consumes ?? STREAM_BODIES[`${method} ${url}`]);
  if (streamTypes?.length) {
    s.body = {
      content: Object.fromEntries(
        streamTypes.map((type) => {
          const media = ROUTE_MEDIA[`${method} ${url}`]?.[type] ?? STREAM_MEDIA[type];
          return [
            type,
            {
              schema: {
                type: 'string',
                description: media?.description ?? `A ${type} stream.`,
                ...(media ? { examples: [media.example] } : {}),
              },
            },
          ];
        }),
      ),
    };
  }

  const responses: Responses = { ...(s.response as Responses | undefined) };
  for (const [code, r] of Object.entries(responses)) {
    if (looksLikeProblem(r)) responses[code] = problem(STATUS_CODES[code] ?? 'Error');
  }
  // Without a declared success answer the document would show none at all.
  if (!Object.keys(responses).some((c) => /^2/.test(c))) {
    responses['2XX'] = { description: 'Success; the body is not described yet.' };
  }
  const add = (code: string, description: string): void => {
    responses[code] ??= problem(description);
  };
  if (s.body || s.querystring || s.params) {
    add('400', 'Invalid request: `errors` lists every invalid field.');
  }
  if (v1) add('401', `Missing or invalid ${admin ? 'admin' : 'API'} key.`);
  if (s.params) add('404', 'No such resource for this tenant.');
  if (s.body) add('413', 'Request body too large.');
  if (streamTypes?.length) add('415', `Send the body as ${streamTypes.join(' or ')}.`);
  if (opts.rateLimit) {
    responses['429'] ??= {
      ...problem(
        `More than ${opts.rateLimit.max} requests in ${opts.rateLimit.windowSeconds} s with this API key; retry after Retry-After seconds.`,
      ),
      headers: {
        'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying.' },
        'RateLimit-Limit': { type: 'integer', description: 'Requests allowed per window.' },
        'RateLimit-Remaining': { type: 'integer', description: 'Requests left in the window.' },
        'RateLimit-Reset': { type: 'integer', description: 'Seconds until the window resets.' },
      },
    };
  }
  if (url !== '/healthz' && url !== '/readyz') {
    add('5XX', 'Server error; it was logged, retry later.');
  }
  s.response = responses;
  return s;
}

/** Serves the OpenAPI document at /openapi.json and its viewer at /docs. */
export async function registerDocs(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const rateLimited = rateLimitOf(ctx.config) !== undefined;
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Volley',
        version: await volleyVersion(),
        description: [
          'Email campaign sending engine.',
          'Authenticate with `Authorization: Bearer <key>`: an API key for /v1 routes, the admin key for /v1/admin.',
          'Errors are RFC 9457 problem details (`application/problem+json`).',
          ...(rateLimited
            ? [
                'Requests are rate limited per API key: the answers of routes that list a 429 carry RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset, and a 429 carries Retry-After.',
              ]
            : []),
        ].join('\n\n'),
      },
      tags: TAGS,
      components: {
        schemas: { [PROBLEM]: ProblemSchema },
        securitySchemes: {
          [SECURITY.apiKey]: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API key: `Authorization: Bearer <key>` (VOLLEY_API_KEY, or a stored key).',
          },
          [SECURITY.adminKey]: {
            type: 'http',
            scheme: 'bearer',
            description: 'The admin key: `Authorization: Bearer <VOLLEY_ADMIN_KEY>`.',
          },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      return {
        schema: describeRoute(methods[0] ?? 'GET', url, schema, {
          rateLimit: route.config?.perKeyRateLimit,
        }),
        url,
      };
    },
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PATHS.ui });
  app.get(DOCS_PATHS.json, { schema: { hide: true } }, async () => app.swagger());
}
