import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { Type, type Static } from 'typebox';
import { LIFECYCLE, applyLifecycle, enqueueExpand, type StoredAnswer } from '@volley/campaigns';
import {
  DEFAULT_TEMPLATE_LIMITS,
  TEMPLATE_LIMIT_SETTINGS,
  type TemplateLimits,
} from '@volley/config';
import {
  HeaderError,
  TemplateCostError,
  TemplateError,
  missingVariables,
  normalizeEmail,
  parseMailbox,
  validateCustomHeaders,
  validateTemplates,
} from '@volley/message';
import { nestingDepth } from '@volley/ingest';
import { tenantOf } from '../auth.ts';
import { iso, type ApiContext, type V1 } from '../context.ts';
import { ApiProblem, sendProblem, type FieldError } from '../problem.ts';
import { requireSendingDomain } from '../sending-domain.ts';
import {
  CampaignIdParams,
  CampaignResponse,
  CreateCampaignBody,
  CreatedResponse,
  EventsQuery,
  EventsResponse,
  LIMITS,
  NO_SUCH_CAMPAIGN,
} from '../schemas.ts';
import { operation } from '../operation.ts';
import { campaignJson } from './campaign-list.ts';

/**
 * How far in the past a `sendAt` may be and still mean "now": clients' clocks drift a few
 * seconds from the API's, and a time computed as "in 1 s" may arrive late.
 */
const SEND_AT_SKEW_MS = 60_000;

/** Deeper variables are no use to a template and would overflow the stack when serialized. */
const MAX_VARS_DEPTH = 32;

/** A template refused for its cost: a 422 naming the field, the block and why. */
export function templateCostProblem(err: TemplateCostError, path: string): ApiProblem {
  // The tag limit is a setting of its own; the others are told by the numbers in the detail.
  const message =
    err.limit === 'tags' ? `${err.detail} (${TEMPLATE_LIMIT_SETTINGS.tags})` : err.detail;
  return new ApiProblem(422, 'Template too costly', `${path} ${message}`, [{ path, message }]);
}

/**
 * The campaign's invalid fields (answered with a 400). Templates that are valid but would cost
 * more than the render budget allows are a 422 of their own, thrown once nothing else is wrong.
 */
function validateCampaign(
  body: CreateCampaignBody,
  maxInline: number,
  limits: TemplateLimits = DEFAULT_TEMPLATE_LIMITS,
): FieldError[] {
  const errors: FieldError[] = [];
  let costly: TemplateCostError | undefined;
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
    validateTemplates(body, limits);
  } catch (err) {
    if (err instanceof TemplateCostError) costly = err;
    else if (!(err instanceof TemplateError)) throw err;
    else
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
    if (r.vars !== undefined && nestingDepth(r.vars, MAX_VARS_DEPTH) > MAX_VARS_DEPTH) {
      errors.push({
        path: `body.recipients[${i}].vars`,
        message: `nests deeper than ${MAX_VARS_DEPTH} levels`,
      });
    } else if (r.vars !== undefined && JSON.stringify(r.vars).length > LIMITS.varsBytes) {
      errors.push({
        path: `body.recipients[${i}].vars`,
        message: `is larger than ${LIMITS.varsBytes} bytes`,
      });
    } else if (body.requiredVars?.length) {
      const lack = missingVariables(r.vars, body.requiredVars);
      if (lack.length > 0) {
        errors.push({
          path: `body.recipients[${i}].vars`,
          message: `lacks ${lack.join(', ')}, which the campaign requires`,
        });
      }
    }
  });
  if (errors.length === 0 && costly) throw templateCostProblem(costly, `body.${costly.field}`);
  return errors;
}

/**
 * What identifies a create request for its Idempotency-Key: a retry sends the same body, and
 * the same key with another body is a client error, not a replay.
 */
export function requestFingerprint(body: CreateCampaignBody): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('base64url');
}

function sendStored(reply: FastifyReply, answer: StoredAnswer, replayed: boolean): FastifyReply {
  if (replayed) reply.header('idempotent-replayed', 'true');
  // A string with a JSON type is sent as it is, not serialized again.
  return reply.code(answer.status).type('application/json; charset=utf-8').send(answer.body);
}

/**
 * Creates campaign `id` with its inline recipients and starts or schedules it. Each step may
 * run again under the same id (`resumed`: a retry of a create that failed or whose process
 * died): the campaign is created once, recipients already added are skipped, a campaign that
 * started is not started again, and the answer counts what the campaign holds.
 */
async function createCampaign(
  ctx: ApiContext,
  id: string,
  tenant: string,
  body: CreateCampaignBody,
  resumed = false,
): Promise<Static<typeof CreatedResponse>> {
  // Checked here, after any Idempotency-Key claim: a retry of a create that was answered gets
  // that answer again even if the domain was removed since, and a refused create leaves no
  // campaign, so its claim is dropped and a corrected retry runs afresh.
  await requireSendingDomain(ctx, tenant, body.from, 'body.from');
  const sendAt = body.sendAt === undefined ? undefined : Date.parse(body.sendAt);
  const now = Date.now();
  // Not on a resumed create: its first attempt was checked, and the time may have passed since.
  if (!resumed && sendAt !== undefined && sendAt < now - SEND_AT_SKEW_MS) {
    const message = `${body.sendAt} is in the past (now is ${new Date(now).toISOString()}); give a later time, or leave sendAt out to start at once`;
    throw new ApiProblem(400, 'Invalid campaign', `body.sendAt ${message}`, [
      { path: 'body.sendAt', message },
    ]);
  }
  const created = await ctx.store.create(id, {
    tenant,
    from: body.from,
    subject: body.subject,
    html: body.html,
    text: body.text,
    replyTo: body.replyTo,
    headers: body.headers,
    sendAt,
    draft: body.draft,
    requiredVars: body.requiredVars,
  });
  if (created) ctx.metrics.campaignsCreated.inc();
  let recipients: { added: number; duplicates: number } | undefined;
  const inline = body.recipients ?? [];
  if (inline.length > 0) {
    const status = await ctx.store.status(id);
    if (status === 'draft' || status === 'scheduled') {
      recipients = await ctx.store.addRecipients(
        id,
        inline.map((r) => ({ email: normalizeEmail(r.email) ?? r.email, vars: r.vars })),
      );
      ctx.metrics.recipientsAccepted.inc(recipients.added);
    }
    if (resumed) {
      // Part of the list may have been added by the failed attempt: count what is there.
      const total = (await ctx.store.get(id))?.counts.total ?? 0;
      recipients = { added: total, duplicates: Math.max(0, inline.length - total) };
    }
  }
  let status = (await ctx.store.status(id)) ?? 'draft';
  if (status === 'scheduled' && sendAt !== undefined) {
    await enqueueExpand(ctx.queues.control, id, 0, sendAt - Date.now());
  } else if (!body.draft && inline.length > 0) {
    const started = await ctx.store.start(id);
    status = started.status as typeof status;
    // Also when a failed attempt had started it: the expansion job id dedupes, and an expansion
    // of a window already expanded does nothing.
    if (started.status === 'running') await enqueueExpand(ctx.queues.control, id, 0);
  }
  return recipients ? { id, status, recipients } : { id, status };
}

/** Create, read, lifecycle actions and events of campaigns. */
export function registerCampaignRoutes(v1: V1, ctx: ApiContext): void {
  v1.post(
    '/campaigns',
    {
      schema: operation({
        operationId: 'createCampaign',
        summary: 'Create a campaign',
        description:
          'With inline recipients and neither `draft` nor `sendAt`, the campaign starts at once. Templates whose loops would multiply past the render budget (a loop over the same data nested in loops over it), or that hold more tags (`{{…}}`) together than `VOLLEY_TEMPLATE_MAX_TAGS` (2,000 by default), are refused with a 422 naming the field, the line and column of the block or tag, the tag and why. A retried request with the same `Idempotency-Key` gets the first answer again, byte for byte (header `idempotent-replayed: true`), and never makes a second campaign; a create that failed is run again by its retry. While the first request is still being answered, a retry gets a 409 with `Retry-After`; the same key with a different body is a 422.',
        tag: 'campaigns',
        access: 'apiKey',
        headers: Type.Object({
          'idempotency-key': Type.Optional(
            Type.String({
              maxLength: 200,
              description:
                'Makes retries safe: the same key within a day answers what the first request answered.',
            }),
          ),
        }),
        body: CreateCampaignBody,
        response: { 202: CreatedResponse },
        problems: {
          400: 'Invalid campaign: `detail` names the first invalid field (an address, a template syntax error, a header) and `errors` lists each one.',
          409: 'A request with this Idempotency-Key is still being answered: retry after Retry-After seconds to get its answer.',
          422: "The templates cost more than the render budget allows (title `Template too costly`), this Idempotency-Key was used with a different body, or the From domain is not one of the tenant's sending domains.",
        },
      }),
    },
    async (req, reply) => {
      const tenant = tenantOf(req);
      const body = req.body;
      const errors = validateCampaign(
        body,
        ctx.config.maxInlineRecipients,
        ctx.config.templateLimits,
      );
      if (errors.length > 0) {
        throw new ApiProblem(
          400,
          'Invalid campaign',
          `${errors[0]?.path} ${errors[0]?.message}`,
          errors,
        );
      }
      const idemKey = req.headers['idempotency-key'];
      if (typeof idemKey !== 'string' || idemKey.length === 0) {
        return reply.code(202).send(await createCampaign(ctx, ctx.store.newId(), tenant, body));
      }
      if (idemKey.length > 200)
        throw new ApiProblem(
          400,
          'Invalid request',
          'Idempotency-Key is longer than 200 characters',
        );
      const claim = await ctx.idempotency.claim(tenant, idemKey, {
        id: ctx.store.newId(),
        fingerprint: requestFingerprint(body),
      });
      if (claim.kind === 'done') return sendStored(reply, claim.answer, true);
      if (claim.kind === 'busy') {
        // A create takes milliseconds: by the time the client retries it is answered.
        return sendProblem(
          reply.header('retry-after', '1'),
          new ApiProblem(
            409,
            'Conflict',
            'a request with this Idempotency-Key is in progress; retry it in a second to get its answer',
          ),
        );
      }
      if (claim.kind === 'mismatch') {
        throw new ApiProblem(
          422,
          'Idempotency-Key reused',
          'this Idempotency-Key was used for a different request (another body); use a new key for a new campaign',
        );
      }
      try {
        const created = await createCampaign(ctx, claim.id, tenant, body, claim.resumed);
        // Serialized once, here: the bytes recorded are the bytes sent.
        const answer = { status: 202, body: JSON.stringify(created) };
        const recorded = await ctx.idempotency.complete(tenant, idemKey, claim.id, answer);
        return sendStored(reply, recorded, recorded.body !== answer.body);
      } catch (err) {
        const exists = (await ctx.store.status(claim.id).catch(() => 'unknown')) !== undefined;
        await ctx.idempotency
          .release(tenant, idemKey, claim.attempt, !exists)
          .catch((e: unknown) => req.log.warn({ err: e }, 'idempotency claim not released'));
        throw err;
      }
    },
  );

  v1.get(
    '/campaigns/:id',
    {
      schema: operation({
        operationId: 'getCampaign',
        summary: 'Status and counts of a campaign',
        tag: 'campaigns',
        access: 'apiKey',
        params: CampaignIdParams,
        response: { 200: CampaignResponse },
        problems: { 404: NO_SUCH_CAMPAIGN },
      }),
    },
    async (req) => {
      return campaignJson(await ctx.loadOwned(req.params.id, tenantOf(req)));
    },
  );

  v1.post(
    '/campaigns/:id/start',
    {
      schema: operation({
        operationId: 'startCampaign',
        summary: 'Start a draft or scheduled campaign now',
        tag: 'campaigns',
        access: 'apiKey',
        params: CampaignIdParams,
        response: { 202: CreatedResponse },
        problems: {
          404: NO_SUCH_CAMPAIGN,
          409: 'The campaign is neither a draft nor scheduled, or an upload of recipients to it is still in progress.',
          422: "The campaign's From domain is no longer one of the tenant's sending domains.",
        },
      }),
    },
    async (req, reply) => {
      const rec = await ctx.loadOwned(req.params.id, tenantOf(req));
      // The domain may have been removed from the tenant since the draft was made.
      await requireSendingDomain(ctx, rec.tenant, rec.from, 'from');
      const res = await ctx.store.start(rec.id);
      if (res.status === 'uploading') {
        throw new ApiProblem(
          409,
          'Conflict',
          `campaign ${rec.id} has an upload of recipients in progress; start it when the upload has answered`,
        );
      }
      if (!res.started) {
        throw new ApiProblem(
          409,
          'Conflict',
          `campaign ${rec.id} is ${res.status}; only a draft or scheduled campaign can be started`,
        );
      }
      if (res.status === 'running') await enqueueExpand(ctx.queues.control, rec.id, 0);
      return reply.code(202).send({ id: rec.id, status: res.status as 'running' });
    },
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    v1.post(
      `/campaigns/:id/${action}`,
      {
        schema: operation({
          operationId: `${action}Campaign`,
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} a campaign`,
          description: `Applies to ${LIFECYCLE[action].from.join(' or ')} campaigns, across all senders within about a second.`,
          tag: 'campaigns',
          access: 'apiKey',
          params: CampaignIdParams,
          response: { 202: CreatedResponse },
          problems: {
            404: NO_SUCH_CAMPAIGN,
            409: `The campaign is not ${LIFECYCLE[action].from.join(' or ')}.`,
            ...(action === 'resume'
              ? {
                  422: "The campaign's From domain is no longer one of the tenant's sending domains.",
                }
              : {}),
          },
        }),
      },
      async (req, reply) => {
        const rec = await ctx.loadOwned(req.params.id, tenantOf(req));
        // As at start: the domain may have been removed, or become another tenant's, while it
        // was paused (the senders would fail its recipients with reason sending-domain).
        if (action === 'resume') await requireSendingDomain(ctx, rec.tenant, rec.from, 'from');
        const res = await applyLifecycle(ctx.store, ctx.queues, rec.id, action);
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

  v1.get(
    '/campaigns/:id/events',
    {
      schema: operation({
        operationId: 'listCampaignEvents',
        summary: 'Per-recipient outcomes, oldest first',
        description: 'Pass the `next` of a page as `cursor` to get the following page.',
        tag: 'campaigns',
        access: 'apiKey',
        params: CampaignIdParams,
        querystring: EventsQuery,
        response: { 200: EventsResponse },
        problems: { 404: NO_SUCH_CAMPAIGN },
      }),
    },
    async (req) => {
      const rec = await ctx.loadOwned(req.params.id, tenantOf(req));
      const page = await ctx.store.events(rec.id, req.query.cursor, req.query.limit ?? 100);
      return {
        events: page.events.map(({ id: _id, campaignId: _c, at, ...e }) => ({
          ...e,
          at: iso(at) ?? '',
        })),
        next: page.next,
      };
    },
  );
}
