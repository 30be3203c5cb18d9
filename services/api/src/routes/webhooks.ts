/**
 * The tenant's webhook endpoints and their dead-letter list. Deliveries are made by the
 * collector; the API only configures them and replays dead letters into the delivery queue.
 */
import { Type, type Static } from 'typebox';
import { WEBHOOK_EVENT_TYPES } from '@volley/contracts';
import { MAX_ENDPOINTS, WebhookError, type WebhookEndpoint } from '@volley/webhooks';
import { tenantOf } from '../auth.ts';
import { iso, type ApiContext, type V1 } from '../context.ts';
import { ApiProblem } from '../problem.ts';
import { operation } from '../operation.ts';

const EventType = Type.Union(
  [...WEBHOOK_EVENT_TYPES, '*'].map((t) => Type.Literal(t)),
  { description: 'An event type (a recipient outcome), or `*` for all.' },
);

const CreateBody = Type.Object(
  {
    url: Type.String({
      maxLength: 2000,
      description: 'Where events are POSTed (https; http for receivers on a private network).',
    }),
    events: Type.Array(EventType, { minItems: 1, maxItems: 8 }),
  },
  { additionalProperties: false },
);

const EndpointSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  createdAt: Type.String({ description: 'ISO 8601.' }),
});

const CreatedSchema = Type.Object({
  ...EndpointSchema.properties,
  secret: Type.String({
    description:
      'The HMAC-SHA256 secret of the `Volley-Signature` header; shown only in this answer.',
  }),
});

const DeadLetterSchema = Type.Object({
  id: Type.String({ description: 'The delivery: `<endpoint id>.<event id>`.' }),
  endpointId: Type.String(),
  url: Type.String(),
  attempts: Type.Integer(),
  lastError: Type.String(),
  failedAt: Type.String({ description: 'ISO 8601.' }),
  event: Type.Object({}, { additionalProperties: true, description: 'The undelivered body.' }),
});

const ReplayBody = Type.Object(
  {
    ids: Type.Optional(
      Type.Array(Type.String({ maxLength: 200 }), {
        minItems: 1,
        maxItems: 1000,
        description: 'Dead letters to replay; all of them (up to 1,000) when absent.',
      }),
    ),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ pattern: '^wh_[0-9a-f]{16}$' }) });

function endpointJson(e: WebhookEndpoint): Static<typeof EndpointSchema> {
  return { id: e.id, url: e.url, events: e.events, createdAt: iso(e.createdAt) ?? '' };
}

function problemOf(err: unknown): never {
  if (err instanceof WebhookError) {
    throw new ApiProblem(err.code === 'WEBHOOK_LIMIT' ? 409 : 422, 'Invalid webhook', err.message);
  }
  throw err;
}

export function registerWebhookRoutes(v1: V1, ctx: ApiContext): void {
  v1.post(
    '/webhooks',
    {
      schema: operation({
        operationId: 'createWebhook',
        summary: 'Add a webhook endpoint',
        description: `Events of the tenant's campaigns of the given types are POSTed to \`url\` as JSON, signed (\`Volley-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">\`), at least once, with \`Volley-Event-Id\` to deduplicate on. Failed deliveries retry with backoff, then go to the dead-letter list. At most ${MAX_ENDPOINTS} endpoints.`,
        tag: 'webhooks',
        access: 'apiKey',
        body: CreateBody,
        response: { 201: CreatedSchema },
        problems: {
          409: `The tenant already has ${MAX_ENDPOINTS} endpoints; nothing was added.`,
          422: 'The URL is not an http(s) URL without a fragment, or an event type is unknown: `detail` says which; nothing was added.',
        },
      }),
    },
    async (req, reply) => {
      const e = await ctx.webhooks.create(tenantOf(req), req.body).catch(problemOf);
      return reply.code(201).send({ ...endpointJson(e), secret: e.secret });
    },
  );

  v1.get(
    '/webhooks',
    {
      schema: operation({
        operationId: 'listWebhooks',
        summary: 'List webhook endpoints',
        description: "The tenant's endpoints, without their secrets.",
        tag: 'webhooks',
        access: 'apiKey',
        response: { 200: Type.Object({ endpoints: Type.Array(EndpointSchema) }) },
      }),
    },
    async (req) => ({ endpoints: (await ctx.webhooks.list(tenantOf(req))).map(endpointJson) }),
  );

  v1.delete(
    '/webhooks/:id',
    {
      schema: operation({
        operationId: 'deleteWebhook',
        summary: 'Delete a webhook endpoint',
        description: 'Its deliveries still queued are dropped.',
        tag: 'webhooks',
        access: 'apiKey',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted.' }) },
        problems: { 404: 'The tenant has no webhook endpoint with this id.' },
      }),
    },
    async (req, reply) => {
      if (!(await ctx.webhooks.remove(tenantOf(req), req.params.id))) {
        throw new ApiProblem(404, 'Not found', `webhook endpoint ${req.params.id} does not exist`);
      }
      return reply.code(204).send(null);
    },
  );

  v1.get(
    '/webhooks/dead-letters',
    {
      schema: operation({
        operationId: 'listWebhookDeadLetters',
        summary: 'List dead letters',
        description:
          'Deliveries that exhausted their retries, oldest first, with their last error.',
        tag: 'webhooks',
        access: 'apiKey',
        response: { 200: Type.Object({ deadLetters: Type.Array(DeadLetterSchema) }) },
      }),
    },
    async (req) => ({
      deadLetters: (await ctx.webhooks.deadLetters(tenantOf(req))).map((d) => ({
        ...d,
        event: d.event as unknown as Record<string, unknown>,
        failedAt: iso(d.failedAt) ?? '',
      })),
    }),
  );

  v1.post(
    '/webhooks/dead-letters/replay',
    {
      schema: operation({
        operationId: 'replayWebhookDeadLetters',
        summary: 'Replay dead letters',
        description:
          'Queues the given dead letters (all of them without `ids`) for delivery again with fresh retries, and takes them off the list. Those whose endpoint was deleted are dropped.',
        tag: 'webhooks',
        access: 'apiKey',
        body: ReplayBody,
        response: {
          200: Type.Object({
            replayed: Type.Array(Type.String()),
            dropped: Type.Array(Type.String()),
          }),
        },
      }),
    },
    async (req) => ctx.webhooks.replay(tenantOf(req), ctx.webhookQueue, req.body.ids),
  );
}
