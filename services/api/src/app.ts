import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import type { Keys } from '@volley/contracts';
import {
  CampaignStore,
  Feedback,
  IdempotencyKeys,
  SuppressionList,
  type Queues,
} from '@volley/campaigns';
import { DEFAULT_SOFT_BOUNCE } from '@volley/config';
import type { Shaper } from '@volley/shaping';
import { authenticate } from './auth.ts';
import { registerDocs } from './docs.ts';
import { registerRateLimit } from './ratelimit.ts';
import { registerUpload } from './upload.ts';
import { ApiProblem, errorHandler, sendProblem } from './problem.ts';
import type { ApiContext, ApiContextConfig } from './context.ts';
import { HealthResponse } from './schemas.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerCampaignRoutes } from './routes/campaigns.ts';
import { registerPreviewRoutes } from './routes/preview.ts';
import { registerAdminShapingRoute, registerShapingRoute } from './routes/shaping.ts';
import { registerStatsRoutes } from './routes/stats.ts';
import { registerSuppressionRoutes } from './routes/suppressions.ts';
import { registerUnsubscribe } from './routes/unsubscribe.ts';

export interface AppDeps {
  config: ApiContextConfig;
  redis: Redis;
  keys: Keys;
  queues: Queues;
  registry: Registry;
  logger: Logger | false;
  /** Reports the traffic-shaping state at GET /v1/shaping and /v1/admin/shaping; absent when shaping is off. */
  shaper?: Shaper | undefined;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger === false ? false : { level: deps.logger.level },
    bodyLimit: deps.config.bodyLimit,
    // Unknown properties are refused with a clear error rather than silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    // Errors Fastify answers before routing (a URL that is not valid percent-encoding, a bad
    // content type) are problems too, like every other error.
    frameworkErrors: (error, _req, reply) => {
      void sendProblem(
        reply,
        new ApiProblem(400, 'Bad request', `${error.message}; check the URL and headers`),
      );
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const store = new CampaignStore(deps.redis, deps.keys, {
    eventsMaxLen: deps.config.eventsMaxLen,
  });
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
    shaper: deps.shaper,
    metrics: {
      created: new Counter({
        name: 'volley_api_campaigns_created_total',
        help: 'Campaigns created through the API.',
        registers: [deps.registry],
      }),
      accepted: new Counter({
        name: 'volley_api_recipients_accepted_total',
        help: 'Recipients accepted into campaigns through the API.',
        registers: [deps.registry],
      }),
    },
    async loadOwned(id, tenant) {
      const rec = await store.get(id);
      if (!rec || rec.tenant !== tenant)
        throw new ApiProblem(404, 'Not found', `campaign ${id} does not exist`);
      return rec;
    },
  };

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

  app.get('/healthz', { schema: { response: { 200: HealthResponse } } }, async () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    { schema: { response: { 200: HealthResponse, 503: HealthResponse } } },
    async (_req, reply) => {
      const ok = deps.redis.status === 'ready';
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'redis unavailable' });
    },
  );

  await app.register(
    async (admin) => {
      // After registerAdminRoutes, which adds the admin key check to this scope.
      registerAdminRoutes(admin, ctx);
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
      registerUpload(v1, ctx);
      registerPreviewRoutes(v1, ctx);
      registerStatsRoutes(v1, ctx);
      registerSuppressionRoutes(v1, ctx);

      registerShapingRoute(v1, ctx);
    },
    { prefix: '/v1' },
  );

  return app;
}
