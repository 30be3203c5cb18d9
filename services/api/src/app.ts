import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { RedisClient } from '@volley/redis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { apiMetrics } from '@volley/metrics';
import { WebhookStore, webhookQueue } from '@volley/webhooks';
import type { Queue } from 'bullmq';
import type { Keys, WebhookJob } from '@volley/contracts';
import {
  CampaignStore,
  Feedback,
  IdempotencyKeys,
  SuppressionList,
  type Queues,
} from '@volley/campaigns';
import { DEFAULT_SOFT_BOUNCE } from '@volley/config';
import { SendingDomains } from '@volley/domains';
import type { Shaper } from '@volley/shaping';
import { authenticate } from './auth.ts';
import { registerDocs } from './docs.ts';
import { registerRequestMetrics } from './request-metrics.ts';
import { operation } from './operation.ts';
import { registerRateLimit } from './ratelimit.ts';
import { registerUpload } from './upload.ts';
import { ApiProblem, errorHandler, sendProblem } from './problem.ts';
import type { ApiContext, ApiContextConfig } from './context.ts';
import { HealthResponse } from './schemas.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerDomainRoutes } from './routes/domains.ts';
import { registerCampaignListRoute } from './routes/campaign-list.ts';
import { registerCampaignRoutes } from './routes/campaigns.ts';
import { registerPreviewRoutes } from './routes/preview.ts';
import { registerAdminShapingRoute, registerShapingRoute } from './routes/shaping.ts';
import { registerStatsRoutes } from './routes/stats.ts';
import { registerSuppressionRoutes } from './routes/suppressions.ts';
import { registerUnsubscribe } from './routes/unsubscribe.ts';
import { registerWebhookRoutes } from './routes/webhooks.ts';

export interface AppDeps {
  config: ApiContextConfig;
  redis: RedisClient;
  keys: Keys;
  queues: Queues;
  registry: Registry;
  logger: Logger | false;
  /** Reports the traffic-shaping state at GET /v1/shaping and /v1/admin/shaping; absent when shaping is off. */
  shaper?: Shaper | undefined;
  /** Where replayed webhook dead letters are queued; one on `redis` when absent. */
  webhookQueue?: Queue<WebhookJob> | undefined;
}

/**
 * Query strings, path parameters and headers arrive as text, so their schemas type them
 * (`limit=2` is the number 2). A JSON body already carries its types: coercing it would mail
 * `"subject": 1` as "1" and `"text": null` as an empty part to a whole list, so bodies are
 * validated as they are.
 */
function literalBodies(): ReturnType<typeof AjvCompiler> {
  const fromPool = AjvCompiler();
  // Unknown properties are refused with a clear error rather than silently dropped; one error
  // at a time, because collecting all of them lets a crafted body cost unbounded work.
  const shared = { removeAdditional: false, allErrors: false } as const;
  return (externalSchemas) => {
    const typed = fromPool(externalSchemas, {
      customOptions: { ...shared, coerceTypes: 'array' },
    });
    const literal = fromPool(externalSchemas, { customOptions: { ...shared, coerceTypes: false } });
    return (route) => (route.httpPart === 'body' ? literal(route) : typed(route));
  };
}

/**
 * `?cursor=&limit=` is how a form or a script with unset variables says "no cursor, the default
 * limit": an empty value is the parameter left out, not a value its schema has to refuse.
 */
function withoutEmptyValues(query: string): ParsedUrlQuery {
  const parsed = parseQuery(query);
  for (const [name, value] of Object.entries(parsed)) {
    if (Array.isArray(value)) {
      const given = value.filter((v) => v !== '');
      if (given.length === 0) delete parsed[name];
      else parsed[name] = given.length === 1 ? given[0] : given;
    } else if (value === '') {
      delete parsed[name];
    }
  }
  return parsed;
}

/** Widened to Fastify's logger type: the app keeps Fastify's default types with it. */
function baseLogger(logger: Logger): FastifyBaseLogger {
  return logger;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // The service's own logger, so request logs have its time and format.
  const loggerInstance = deps.logger ? baseLogger(deps.logger) : undefined;
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    // One line per request, written below at a level that depends on what the request was.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.bodyLimit,
    schemaController: { compilersFactory: { buildValidator: literalBodies() } },
    routerOptions: { querystringParser: withoutEmptyValues },
    // Errors Fastify answers before routing (a URL that is not valid percent-encoding, a bad
    // content type) are problems too, like every other error.
    frameworkErrors: (error, _req, reply) => {
      void sendProblem(
        reply,
        new ApiProblem(400, 'Bad request', `${error.message}; check the URL and headers`),
      );
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Every body the API reads is JSON or a file route's own type: a text/plain body would reach
  // a JSON route's validation as a string ("body must be object") instead of a 415 that says
  // to send JSON.
  app.removeContentTypeParser('text/plain');

  const store = new CampaignStore(deps.redis, deps.keys, {
    eventsMaxLen: deps.config.eventsMaxLen,
  });
  const metrics = apiMetrics(deps.registry);
  registerRequestMetrics(app, metrics);
  const ctx: ApiContext = {
    config: deps.config,
    redis: deps.redis,
    keys: deps.keys,
    queues: deps.queues,
    store,
    idempotency: new IdempotencyKeys(deps.redis, deps.keys),
    feedback: new Feedback(deps.redis, deps.keys, {
      softBounceLimit: deps.config.softBounceLimit ?? DEFAULT_SOFT_BOUNCE.limit,
      softBounceWindowMs: deps.config.softBounceWindowMs ?? DEFAULT_SOFT_BOUNCE.windowMs,
      eventsMaxLen: deps.config.eventsMaxLen,
    }),
    suppressions: new SuppressionList(deps.redis, deps.keys),
    sendingDomains: new SendingDomains(
      deps.redis,
      deps.keys,
      (deps.config.dkimKeys ?? []).map((k) => k.domain),
    ),
    shaper: deps.shaper,
    metrics,
    webhooks: new WebhookStore(deps.redis, deps.keys),
    webhookQueue: deps.webhookQueue ?? webhookQueue(deps.redis, deps.keys),
    async loadOwned(id, tenant) {
      const rec = await store.get(id);
      if (!rec || rec.tenant !== tenant)
        throw new ApiProblem(404, 'Not found', `campaign ${id} does not exist`);
      return rec;
    },
  };

  // Reads (health checks, progress polls: a client polling every second would fill the log)
  // at debug; writes, which change something, at info.
  app.addHook('onResponse', async (req, reply) => {
    const read = req.method === 'GET' || req.method === 'HEAD';
    req.log[read ? 'debug' : 'info'](
      {
        method: req.method,
        url: req.url,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  // A queue made here is closed with the app; one passed in belongs to the caller.
  if (!deps.webhookQueue) app.addHook('onClose', async () => ctx.webhookQueue.close());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type('application/problem+json')
      .send({
        type: 'https://volley.dev/problems/not-found',
        title: 'Not found',
        status: 404,
        detail: `no route ${req.method} ${req.url.split('?')[0]}`,
      }),
  );

  // The OpenAPI document collects every route registered after it.
  await registerDocs(app, ctx);

  app.get(
    '/healthz',
    {
      schema: operation({
        operationId: 'getLiveness',
        summary: 'Liveness: the process answers',
        tag: 'health',
        access: 'none',
        response: { 200: { ...HealthResponse, description: 'The process is alive.' } },
      }),
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      schema: operation({
        operationId: 'getReadiness',
        summary: 'Readiness: Redis is connected',
        tag: 'health',
        access: 'none',
        response: {
          200: { ...HealthResponse, description: 'Ready to serve requests.' },
          503: { ...HealthResponse, description: 'Redis is not connected; take out of rotation.' },
        },
      }),
    },
    async (_req, reply) => {
      const ok = deps.redis.status === 'ready';
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'redis unavailable' });
    },
  );

  await app.register(
    async (admin) => {
      // After registerAdminRoutes, which adds the admin key check to this scope.
      registerAdminRoutes(admin, ctx);
      registerDomainRoutes(admin, ctx);
      registerAdminShapingRoute(admin, ctx);
    },
    { prefix: '/v1/admin' },
  );

  // One-click unsubscribe answers the path of the links the senders write, outside /v1 and
  // without a key, in a scope of its own (form parsers, per-address rate limit, HTML errors).
  const { unsubscribeUrl, verpSecret } = deps.config;
  if (unsubscribeUrl && verpSecret) {
    await app.register(async (plain) =>
      registerUnsubscribe(plain.withTypeProvider<TypeBoxTypeProvider>(), ctx, {
        url: unsubscribeUrl,
        secret: verpSecret,
      }),
    );
  }

  await app.register(
    async (plain) => {
      const v1 = plain.withTypeProvider<TypeBoxTypeProvider>();
      v1.addHook('onRequest', authenticate(ctx));
      await registerRateLimit(v1, ctx);

      registerCampaignRoutes(v1, ctx);
      registerCampaignListRoute(v1, ctx);
      registerUpload(v1, ctx);
      registerPreviewRoutes(v1, ctx);
      registerStatsRoutes(v1, ctx);
      registerSuppressionRoutes(v1, ctx);
      registerWebhookRoutes(v1, ctx);

      registerShapingRoute(v1, ctx);
    },
    { prefix: '/v1' },
  );

  return app;
}
