import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import { DOCS_PATHS } from '../src/docs.ts';
import { SECURITY_SCHEMES, TAGS } from '../src/operation.ts';
import { apiFixture, auth, type ApiFixture } from './fixture.ts';

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema?: unknown }>; headers?: object }
  >;
}

interface Media {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}

interface Document {
  openapi: string;
  info: { title: string; version: string; description?: string; license?: { name: string } };
  servers?: { url: string; variables?: Record<string, { default: string }> }[];
  tags?: { name: string }[];
  security?: unknown;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { required?: string[] }>;
    securitySchemes: Record<string, { type: string; scheme?: string }>;
  };
}

const ADMIN_KEY = 'openapi-test-admin-key-0123';

let fx: ApiFixture;
let doc: Document;
/** `METHOD /path` of every route Fastify registered, seen by a hook of our own. */
const registered: string[] = [];
/** The same routes with their options, as the route modules gave them to Fastify. */
const routes: RouteOptions[] = [];

before(async () => {
  // Fastify announces each instance on this channel as it is created, before any plugin or route
  // is added: the hook below sees every route buildApp registers, independently of the docs
  // plugin, so routes other modules add later are checked without listing them here.
  const onInstance = (message: unknown): void => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) registered.push(`${method} ${route.url}`);
      routes.push(route);
    });
  };
  subscribe('fastify.initialization', onInstance);
  try {
    // With one-click unsubscribe configured, so its routes (outside /v1) are checked too.
    fx = await apiFixture({
      unsubscribeUrl: 'https://links.example.com/unsubscribe',
      verpSecret: 'openapi-test-secret-0123',
      // So that the admin routes answer a missing key with 401, as for every other key.
      adminKey: ADMIN_KEY,
    });
  } finally {
    unsubscribe('fastify.initialization', onInstance);
  }
  const res = await fx.app.inject({ url: DOCS_PATHS.json });
  assert.equal(res.statusCode, 200, res.body);
  doc = res.json<Document>();
});

after(() => fx.close());

const isDocsRoute = (url: string): boolean =>
  url === DOCS_PATHS.json || url === DOCS_PATHS.ui || url.startsWith(`${DOCS_PATHS.ui}/`);

/** Fastify's `/v1/campaigns/:id` as OpenAPI writes it, `/v1/campaigns/{id}`. */
const openapiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function operations(): [string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]): [string, Operation] => [
      `${method.toUpperCase()} ${path}`,
      op,
    ]),
  );
}

describe('OpenAPI document', () => {
  test('GET /openapi.json needs no key and is a valid OpenAPI 3.1 document', async () => {
    const res = await fx.app.inject({ url: DOCS_PATHS.json });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const validator = new Validator();
    const result = await validator.validate(res.json<Record<string, unknown>>());
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
    // Every $ref points at something in the document.
    assert.doesNotThrow(() => validator.resolveRefs());
  });

  test('it lists every route the app registers, and nothing else', () => {
    const expected = registered
      .filter((r) => {
        const [method = '', url = ''] = r.split(' ');
        // Fastify adds a HEAD route to every GET; the GET documents both.
        return method !== 'HEAD' && !isDocsRoute(url);
      })
      .map((r) => {
        const [method = '', url = ''] = r.split(' ');
        return `${method} ${openapiPath(url)}`;
      });
    // The hook saw the routes at all: the ones that exist since the API's first version.
    for (const r of [
      'GET /healthz',
      'GET /readyz',
      'POST /v1/campaigns',
      'GET /v1/campaigns/{id}',
    ]) {
      assert.ok(expected.includes(r), `${r} was registered`);
    }
    const documented = operations().map(([key]) => key);
    assert.deepEqual([...documented].sort(), [...new Set(expected)].sort());
  });

  test('the document and its viewer are served but not listed in the document', () => {
    assert.ok(registered.includes(`GET ${DOCS_PATHS.json}`));
    assert.ok(registered.includes(`GET ${DOCS_PATHS.ui}`));
    const listed = Object.keys(doc.paths).filter(isDocsRoute);
    assert.deepEqual(listed, []);
  });

  test('info names Volley at the version of the root package.json', async () => {
    const pkg = JSON.parse(
      await readFile(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    assert.equal(doc.info.title, 'Volley');
    assert.equal(doc.info.version, pkg.version);
  });

  test('every operation carries one of the declared tags', () => {
    const tags = (doc.tags ?? []).map((t) => t.name);
    assert.deepEqual([...tags].sort(), [
      'admin',
      'campaigns',
      'health',
      'recipients',
      'shaping',
      'suppressions',
      'unsubscribe',
      'webhooks',
    ]);
    for (const [key, op] of operations()) {
      assert.ok(op.tags?.length, `${key} has a tag`);
      for (const t of op.tags) assert.ok(tags.includes(t), `${key}: tag ${t} is declared`);
    }
    assert.deepEqual(doc.paths['/healthz']?.get?.tags, ['health']);
    assert.deepEqual(doc.paths['/v1/campaigns']?.post?.tags, ['campaigns']);
    assert.deepEqual(doc.paths['/v1/campaigns/{id}/recipients']?.post?.tags, ['recipients']);
    assert.deepEqual(doc.paths['/unsubscribe/{token}']?.post?.tags, ['unsubscribe']);
    assert.deepEqual(doc.paths['/v1/webhooks']?.post?.tags, ['webhooks']);
  });

  test('the bearer scheme is declared; every /v1 operation requires a key, health probes none', () => {
    const bearer = Object.entries(doc.components.securitySchemes)
      .filter(([, s]) => s.type === 'http' && s.scheme?.toLowerCase() === 'bearer')
      .map(([name]) => name);
    assert.ok(bearer.includes('apiKey'), 'the API key is a bearer scheme');
    assert.equal(doc.security, undefined, 'no document-wide requirement: health needs no key');
    for (const [key, op] of operations()) {
      const schemes = (op.security ?? []).flatMap((req) => Object.keys(req));
      if (key.split(' ')[1]?.startsWith('/v1/')) {
        assert.ok(schemes.length > 0, `${key} requires a key`);
        for (const s of schemes) assert.ok(bearer.includes(s), `${key}: ${s} is a bearer scheme`);
        assert.ok(op.responses['401'], `${key} documents its 401`);
      } else {
        assert.deepEqual(schemes, [], `${key} needs no key`);
      }
    }
    assert.deepEqual(doc.paths['/v1/campaigns']?.post?.security, [{ apiKey: [] }]);
  });

  test('error answers of the API are RFC 9457 problems (application/problem+json)', () => {
    const problem = doc.components.schemas.Problem;
    assert.deepEqual(problem?.required, ['type', 'title', 'status', 'detail']);
    let errors = 0;
    for (const [key, op] of operations()) {
      // A probe's 503 is the plain `{status}` that orchestrators and load balancers read.
      if (op.tags?.includes('health')) continue;
      for (const [code, res] of Object.entries(op.responses)) {
        if (!/^[45]/.test(code) || !res.content) continue;
        errors++;
        assert.deepEqual(
          Object.keys(res.content),
          ['application/problem+json'],
          `${key} ${code} is a problem`,
        );
        assert.deepEqual(res.content['application/problem+json']?.schema, {
          $ref: '#/components/schemas/Problem',
        });
      }
    }
    assert.ok(errors > 0);
    assert.ok(doc.paths['/v1/campaigns']?.post?.responses['400']);
  });

  test('rate-limited operations document 429 with Retry-After and the rate-limit headers', () => {
    const limited = operations().filter(
      ([key]) => key.includes(' /v1/') && !key.includes(' /v1/admin'),
    );
    assert.ok(limited.length > 0);
    for (const [key, op] of limited) {
      const res = op.responses['429'];
      assert.ok(res, `${key} documents 429`);
      assert.deepEqual(Object.keys(res.headers ?? {}).sort(), [
        'RateLimit-Limit',
        'RateLimit-Remaining',
        'RateLimit-Reset',
        'Retry-After',
      ]);
    }
    assert.equal(doc.paths['/healthz']?.get?.responses['429'], undefined);
  });

  test('the suppression import takes CSV, the export answers CSV, one-click takes both form encodings', () => {
    const imp = doc.paths['/v1/suppressions/import']?.post?.requestBody;
    assert.deepEqual(Object.keys(imp?.content ?? {}), ['text/csv']);
    assert.match(JSON.stringify(imp?.content), /optionally `reason`, `source` and `date`/);
    const exp = doc.paths['/v1/suppressions/export']?.get?.responses['200'];
    assert.deepEqual(Object.keys(exp?.content ?? {}), ['text/csv']);
    const oneClick = doc.paths['/unsubscribe/{token}']?.post?.requestBody;
    assert.deepEqual(Object.keys(oneClick?.content ?? {}).sort(), [
      'application/x-www-form-urlencoded',
      'multipart/form-data',
    ]);
    const page = doc.paths['/unsubscribe/{token}']?.get?.responses['200'];
    assert.deepEqual(Object.keys(page?.content ?? {}), ['text/html']);
  });

  test('the recipient upload takes NDJSON and CSV bodies', () => {
    const body = doc.paths['/v1/campaigns/{id}/recipients']?.post?.requestBody;
    assert.ok(body);
    assert.deepEqual(Object.keys(body.content).sort(), ['application/x-ndjson', 'text/csv']);
  });

  test('GET /docs answers the HTML viewer without a key, reading the same document', async () => {
    const res = await fx.app.inject({ url: DOCS_PATHS.ui });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.body, /swagger-ui/i);
    const viewer = await fx.app.inject({ url: `${DOCS_PATHS.ui}/json` });
    assert.equal(viewer.statusCode, 200);
    assert.deepEqual(viewer.json(), doc);
  });
});

/**
 * What a route's definition lacks of the conventions `operation()` (src/operation.ts) builds;
 * empty when it has them all. Read from the options the route gave Fastify, so a route that
 * bypasses the helper is judged the same way.
 */
function conventionProblems(route: Pick<RouteOptions, 'method' | 'url' | 'schema'>): string[] {
  const name = `${[route.method].flat().join(',')} ${route.url}`;
  const s: FastifySchema = route.schema ?? {};
  const out: string[] = [];
  if (typeof s.operationId !== 'string' || !/^[a-z][A-Za-z0-9]*$/.test(s.operationId)) {
    out.push(`${name}: operationId ${JSON.stringify(s.operationId)} is not a camelCase name`);
  }
  const summary = s.summary?.trim() ?? '';
  if (summary === '' || summary.includes('\n') || summary.length > 80) {
    out.push(`${name}: no one-line summary`);
  }
  const tags = s.tags ?? [];
  if (tags.length !== 1 || !Object.keys(TAGS).includes(tags[0] ?? '')) {
    out.push(`${name}: tags ${JSON.stringify(tags)} is not exactly one of TAGS`);
  }
  if (!s.security) {
    out.push(`${name}: no security (an empty list for a route that needs no key)`);
  } else {
    for (const scheme of s.security.flatMap((req) => Object.keys(req))) {
      if (!(scheme in SECURITY_SCHEMES)) out.push(`${name}: security scheme ${scheme} undeclared`);
    }
  }
  const codes = Object.keys(s.response ?? {});
  if (tags[0] !== 'health' && !codes.some((c) => /^4(\d\d|xx)$/i.test(c))) {
    out.push(`${name}: no 4xx answer`);
  }
  return out;
}

/** The routes the document lists, as registered: without the HEAD twins and the docs. */
function documentedRoutes(): RouteOptions[] {
  return routes.filter((r) => [r.method].flat()[0] !== 'HEAD' && !isDocsRoute(r.url));
}

/** An operation's path with every parameter filled in, good enough to reach its hooks. */
const concrete = (path: string): string => path.replace(/\{[^}]+\}/g, 'x');

/** The examples of one media type of a request body. */
function examplesOf(media: Media | undefined): unknown[] {
  if (!media) return [];
  if (media.example !== undefined) return [media.example];
  return Object.values(media.examples ?? {}).map((e) => e.value);
}

describe('operation conventions', () => {
  test('every route the app registers has an operationId, a summary, a tag, its security and a 4xx answer', () => {
    const checked = documentedRoutes();
    // One registered route for each operation of the document.
    assert.equal(checked.length, operations().length);
    assert.deepEqual(checked.flatMap(conventionProblems), []);
    const ids = checked.map((r) => r.schema?.operationId);
    assert.deepEqual(
      ids.filter((id, i) => ids.indexOf(id) !== i),
      [],
      'operationIds are unique',
    );
    // The names generated clients call, for the operations that exist since the first version.
    assert.equal(doc.paths['/v1/campaigns']?.post?.operationId, 'createCampaign');
    assert.equal(doc.paths['/v1/campaigns/{id}/pause']?.post?.operationId, 'pauseCampaign');
    assert.equal(doc.paths['/v1/suppressions']?.get?.operationId, 'listSuppressions');
    for (const [key, op] of operations()) assert.ok(op.summary, `${key} has a summary`);
  });

  test('the convention check fails for a route registered without them', () => {
    const bare = { method: 'GET', url: '/v1/things', schema: { response: { 200: {} } } } as const;
    const missing = conventionProblems(bare);
    for (const part of ['operationId', 'summary', 'tags', 'security', '4xx']) {
      assert.ok(
        missing.some((p) => p.includes(part)),
        `${part} is missed: ${missing.join('; ')}`,
      );
    }
    const wrong = conventionProblems({
      ...bare,
      schema: {
        operationId: 'Get things',
        summary: 'Things\nand more',
        tags: ['things'],
        security: [{ bearer: [] }],
        response: { 200: {}, 503: {} },
      },
    });
    assert.equal(wrong.length, 5, wrong.join('\n'));
  });

  test('each operation enforces the security it documents', async () => {
    const keyOf: Record<string, string> = {
      apiKey: auth.authorization,
      adminKey: `Bearer ${ADMIN_KEY}`,
    };
    for (const [key, op] of operations()) {
      const [method = '', path = ''] = key.split(' ');
      const url = concrete(path);
      const schemes = (op.security ?? []).flatMap((req) => Object.keys(req));
      const anonymous = await fx.app.inject({ method: method as 'GET', url });
      if (schemes.length === 0) {
        assert.notEqual(anonymous.statusCode, 401, `${key} needs no key`);
        continue;
      }
      assert.equal(anonymous.statusCode, 401, `${key} refuses a request without a key`);
      for (const scheme of schemes) {
        const keyed = await fx.app.inject({
          method: method as 'GET',
          url,
          headers: { authorization: keyOf[scheme] ?? '' },
        });
        assert.notEqual(keyed.statusCode, 401, `${key} opens with the ${scheme}`);
      }
    }
  });

  test('servers name the base URL as a variable; info has a license and the version policy', () => {
    const [server, ...others] = doc.servers ?? [];
    assert.equal(others.length, 0);
    assert.equal(server?.url, '{baseUrl}');
    assert.equal(server.variables?.baseUrl?.default, 'http://127.0.0.1:8080');
    assert.ok(doc.info.license?.name, 'info names a license');
    const policy = doc.info.description ?? '';
    assert.match(policy, /## Versions/);
    assert.match(policy, /Within v1, changes are additive only/);
    assert.match(policy, /A v2 .* `operationId`/);
  });

  test('the bodies users write by hand have examples, and each example is accepted as it is', async () => {
    const json = (path: string): unknown[] =>
      examplesOf(doc.paths[path]?.post?.requestBody?.content['application/json']);
    const accepted: [path: string, what: string, status: number][] = [
      ['/v1/campaigns', 'campaign create', 202],
      ['/v1/suppressions', 'suppression add', 200],
    ];
    for (const [path, what, status] of accepted) {
      const examples = json(path);
      assert.ok(examples.length > 0, `${what} has an example`);
      for (const example of examples) {
        const res = await fx.app.inject({
          method: 'POST',
          url: path,
          headers: auth,
          payload: example as object,
        });
        assert.equal(res.statusCode, status, `${what} example: ${res.body}`);
      }
    }

    const upload = doc.paths['/v1/campaigns/{id}/recipients']?.post?.requestBody?.content ?? {};
    for (const type of ['application/x-ndjson', 'text/csv']) {
      const [example, ...more] = examplesOf(upload[type]);
      assert.equal(typeof example, 'string', `the ${type} upload has an example`);
      assert.equal(more.length, 0);
      const draft = await fx.app.inject({
        method: 'POST',
        url: '/v1/campaigns',
        headers: auth,
        payload: { from: 'news@example.com', subject: 'Hi', text: 'Hello', draft: true },
      });
      const id = draft.json<{ id: string }>().id;
      const res = await fx.app.inject({
        method: 'POST',
        url: `/v1/campaigns/${id}/recipients`,
        headers: { ...auth, 'content-type': type },
        payload: example as string,
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json<{ added: number; invalid: number }>(), {
        ...res.json<object>(),
        added: 2,
        invalid: 0,
      });
    }

    const [csv] = examplesOf(
      doc.paths['/v1/suppressions/import']?.post?.requestBody?.content['text/csv'],
    );
    const imported = await fx.app.inject({
      method: 'POST',
      url: '/v1/suppressions/import',
      headers: { ...auth, 'content-type': 'text/csv' },
      payload: csv as string,
    });
    assert.equal(imported.statusCode, 200, imported.body);
    assert.equal(imported.json<{ invalid: number }>().invalid, 0);
  });
});
