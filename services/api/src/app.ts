import Fastify, { type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import type { ApiConfig } from '@volley/config';
import type { Keys } from '@volley/contracts';
import {
  CampaignStore,
  LIFECYCLE,
  applyLifecycle,
  enqueueExpand,
  type Queues,
} from '@volley/campaigns';
import {
  HeaderError,
  TemplateError,
  normalizeEmail,
  parseMailbox,
  validateCustomHeaders,
  validateTemplates,
} from '@volley/message';
import type { Shaper } from '@volley/shaping';
import { bearerAuth } from './auth.ts';
import { registerUpload } from './upload.ts';
import { ApiProblem, errorHandler, type FieldError } from './problem.ts';
import {
  CampaignIdParams,
  CampaignResponse,
  CreateCampaignBody,
  CreatedResponse,
  EventsQuery,
  EventsResponse,
  LIMITS,
  ProblemSchema,
} from './schemas.ts';

export interface AppDeps {
  config: Pick<ApiConfig, 'apiKey' | 'bodyLimit' | 'maxInlineRecipients'> &
    Partial<Pick<ApiConfig, 'uploadLimit' | 'uploadMaxInvalid'>>;
  redis: Redis;
  keys: Keys;
  queues: Queues;
  registry: Registry;
  logger: Logger | false;
  /** Reports the traffic-shaping state at GET /v1/shaping; absent when shaping is off. */
  shaper?: Shaper | undefined;
}

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

function validateCampaign(body: CreateCampaignBody, maxInline: number): FieldError[] {
  const errors: FieldError[] = [];
  if (!parseMailbox(body.from)) {
    errors.push({
      path: 'body.from',
      message: 'is not a valid address (use addr@example.com or Name <addr@example.com>)',
    });
  }
  if (body.replyTo !== undefined && !parseMailbox(body.replyTo)) {
    errors.push({ path: 'body.replyTo', message: 'is not a valid address' });
  }
  if (body.html === undefined && body.text === undefined) {
    errors.push({ path: 'body', message: 'give html, text or both' });
  }
  try {
    validateTemplates(body);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    errors.push({ path: `body.${err.field}`, message: `template syntax error: ${err.detail}` });
  }
  if (body.headers) {
    try {
      validateCustomHeaders(body.headers);
    } catch (err) {
      if (!(err instanceof HeaderError)) throw err;
      errors.push({ path: `body.headers`, message: err.message });
    }
  }
  if (body.sendAt !== undefined && Number.isNaN(Date.parse(body.sendAt))) {
    errors.push({ path: 'body.sendAt', message: 'is not an ISO 8601 date-time' });
  }
  const recipients = body.recipients ?? [];
  if (recipients.length > maxInline) {
    errors.push({
      path: 'body.recipients',
      message: `has ${recipients.length} entries; at most ${maxInline} inline, upload larger lists to /v1/campaigns/{id}/recipients`,
    });
    return errors;
  }
  recipients.forEach((r, i) => {
    if (errors.length >= 100) return;
    if (!normalizeEmail(r.email)) {
      errors.push({
        path: `body.recipients[${i}].email`,
        message: `${JSON.stringify(r.email.slice(0, 100))} is not a valid address`,
      });
    }
    if (r.vars !== undefined && JSON.stringify(r.vars).length > LIMITS.varsBytes) {
      errors.push({
        path: `body.recipients[${i}].vars`,
        message: `is larger than ${LIMITS.varsBytes} bytes`,
      });
    }
  });
  return errors;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger === false ? false : { level: deps.logger.level },
    bodyLimit: deps.config.bodyLimit,
    // Unknown properties are refused with a clear error rather than silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const store = new CampaignStore(deps.redis, deps.keys);
  const created = new Counter({
    name: 'volley_api_campaigns_created_total',
    help: 'Campaigns created through the API.',
    registers: [deps.registry],
  });
  const accepted = new Counter({
    name: 'volley_api_recipients_accepted_total',
    help: 'Recipients accepted into campaigns through the API.',
    registers: [deps.registry],
  });

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

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ok = deps.redis.status === 'ready';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'redis unavailable' });
  });

  await app.register(
    async (plain) => {
      const v1 = plain.withTypeProvider<TypeBoxTypeProvider>();
      v1.addHook('onRequest', bearerAuth(deps.config.apiKey));

      const loadOwned = async (id: string, tenant: string) => {
        const rec = await store.get(id);
        if (!rec || rec.tenant !== tenant)
          throw new ApiProblem(404, 'Not found', `campaign ${id} does not exist`);
        return rec;
      };

      v1.post(
        '/campaigns',
        {
          schema: {
            body: CreateCampaignBody,
            response: { 202: CreatedResponse, 400: ProblemSchema, 401: ProblemSchema },
          },
        },
        async (req, reply) => {
          const tenant = req.principal?.tenant ?? 'default';
          const body = req.body;
          const errors = validateCampaign(body, deps.config.maxInlineRecipients);
          if (errors.length > 0) {
            throw new ApiProblem(
              400,
              'Invalid campaign',
              `${errors[0]?.path} ${errors[0]?.message}`,
              errors,
            );
          }
          const id = store.newId();
          const idemKey = req.headers['idempotency-key'];
          if (typeof idemKey === 'string' && idemKey.length > 0) {
            if (idemKey.length > 200)
              throw new ApiProblem(
                400,
                'Invalid request',
                'Idempotency-Key is longer than 200 characters',
              );
            const existing = await store.claimIdempotencyKey(tenant, idemKey, id);
            if (existing) {
              const status = (await store.status(existing)) ?? 'draft';
              return reply
                .code(202)
                .header('idempotent-replayed', 'true')
                .send({ id: existing, status });
            }
          }
          const sendAt = body.sendAt === undefined ? undefined : Date.parse(body.sendAt);
          await store.create(id, {
            tenant,
            from: body.from,
            subject: body.subject,
            html: body.html,
            text: body.text,
            replyTo: body.replyTo,
            headers: body.headers,
            sendAt,
            draft: body.draft,
          });
          created.inc();
          let recipients: { added: number; duplicates: number } | undefined;
          if (body.recipients?.length) {
            recipients = await store.addRecipients(
              id,
              body.recipients.map((r) => ({
                email: normalizeEmail(r.email) ?? r.email,
                vars: r.vars,
              })),
            );
            accepted.inc(recipients.added);
          }
          let status = (await store.status(id)) ?? 'draft';
          if (status === 'scheduled' && sendAt !== undefined) {
            await enqueueExpand(deps.queues.control, id, 0, sendAt - Date.now());
          } else if (!body.draft && body.recipients?.length) {
            const started = await store.start(id);
            status = started.status as typeof status;
            if (started.status === 'running') await enqueueExpand(deps.queues.control, id, 0);
          }
          return reply.code(202).send(recipients ? { id, status, recipients } : { id, status });
        },
      );

      v1.get(
        '/campaigns/:id',
        { schema: { params: CampaignIdParams, response: { 200: CampaignResponse } } },
        async (req) => {
          const rec = await loadOwned(req.params.id, req.principal?.tenant ?? 'default');
          return {
            id: rec.id,
            status: rec.status,
            from: rec.from,
            subject: rec.subject,
            createdAt: iso(rec.createdAt) ?? '',
            sendAt: iso(rec.sendAt),
            startedAt: iso(rec.startedAt),
            completedAt: iso(rec.completedAt),
            counts: rec.counts,
          };
        },
      );

      v1.post(
        '/campaigns/:id/start',
        { schema: { params: CampaignIdParams, response: { 202: CreatedResponse } } },
        async (req, reply) => {
          const rec = await loadOwned(req.params.id, req.principal?.tenant ?? 'default');
          const res = await store.start(rec.id);
          if (!res.started) {
            throw new ApiProblem(
              409,
              'Conflict',
              `campaign ${rec.id} is ${res.status}; only a draft or scheduled campaign can be started`,
            );
          }
          if (res.status === 'running') await enqueueExpand(deps.queues.control, rec.id, 0);
          return reply.code(202).send({ id: rec.id, status: res.status as 'running' });
        },
      );

      for (const action of ['pause', 'resume', 'cancel'] as const) {
        v1.post(
          `/campaigns/:id/${action}`,
          { schema: { params: CampaignIdParams, response: { 202: CreatedResponse } } },
          async (req, reply) => {
            const rec = await loadOwned(req.params.id, req.principal?.tenant ?? 'default');
            const res = await applyLifecycle(store, deps.queues, rec.id, action);
            if (!res.changed) {
              throw new ApiProblem(
                409,
                'Conflict',
                `campaign ${rec.id} is ${res.was}; ${action} applies to ${LIFECYCLE[action].from.join(' or ')} campaigns`,
              );
            }
            return reply.code(202).send({ id: rec.id, status: res.status });
          },
        );
      }

      registerUpload(v1, {
        store,
        loadOwned,
        accepted,
        uploadLimit: deps.config.uploadLimit ?? 2 * 1024 ** 3,
        maxInvalid: deps.config.uploadMaxInvalid ?? 1000,
      });

      v1.get('/shaping', async () => {
        if (!deps.shaper) return { enabled: false, destinations: [] };
        const snap = await deps.shaper.snapshot();
        return { enabled: true, ...snap, at: iso(snap.at) };
      });

      v1.get(
        '/campaigns/:id/events',
        {
          schema: {
            params: CampaignIdParams,
            querystring: EventsQuery,
            response: { 200: EventsResponse },
          },
        },
        async (req) => {
          const rec = await loadOwned(req.params.id, req.principal?.tenant ?? 'default');
          const page = await store.events(rec.id, req.query.cursor, req.query.limit ?? 100);
          return {
            events: page.events.map((e) => ({
              index: e.index,
              email: e.email,
              outcome: e.outcome,
              reason: e.reason,
              detail: e.detail,
              at: iso(e.at) ?? '',
            })),
            next: page.next,
          };
        },
      );
    },
    { prefix: '/v1' },
  );

  return app;
}
