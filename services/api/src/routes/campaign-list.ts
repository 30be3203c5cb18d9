import { Type, type Static } from 'typebox';
import { CampaignListError, listCampaigns, type CampaignRecord } from '@volley/campaigns';
import { tenantOf } from '../auth.ts';
import { iso, type ApiContext, type V1 } from '../context.ts';
import { ApiProblem } from '../problem.ts';
import { operation } from '../operation.ts';
import { CampaignResponse, StatusSchema } from '../schemas.ts';

/** A campaign as GET /v1/campaigns/{id} and each item of the list show it. */
export function campaignJson(rec: CampaignRecord): Static<typeof CampaignResponse> {
  return {
    id: rec.id,
    status: rec.status,
    from: rec.from,
    subject: rec.subject,
    createdAt: iso(rec.createdAt) ?? '',
    sendAt: iso(rec.sendAt),
    startedAt: iso(rec.startedAt),
    completedAt: iso(rec.completedAt),
    requiredVars: rec.requiredVars,
    cancelledAt: iso(rec.cancelledAt),
    counts: rec.counts,
  };
}

const ListQuery = Type.Object(
  {
    cursor: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{0,200}$',
        description: 'The `next` of the previous page; absent or empty for the first page.',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 500,
        default: 50,
        description:
          'Most campaigns a page holds. With a status filter a page may hold fewer (even none) while `next` is present: each page looks at a bounded number of campaigns.',
      }),
    ),
    status: Type.Optional(
      Type.Array(StatusSchema, {
        minItems: 1,
        maxItems: 6,
        uniqueItems: true,
        description: 'Only campaigns in one of these states (repeat the parameter for several).',
      }),
    ),
    createdAfter: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Only campaigns created after this time (ISO 8601, exclusive).',
      }),
    ),
    createdBefore: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Only campaigns created before this time (ISO 8601, exclusive).',
      }),
    ),
  },
  { additionalProperties: false },
);

const ListResponse = Type.Object(
  {
    campaigns: Type.Array(CampaignResponse, { description: 'Newest first.' }),
    next: Type.Optional(
      Type.String({ description: 'Cursor of the next page; absent on the last page.' }),
    ),
  },
  { description: "A page of the tenant's campaigns." },
);

function invalid(path: string, message: string): ApiProblem {
  return new ApiProblem(400, 'Invalid request', `${path} ${message}`, [{ path, message }]);
}

/** GET /v1/campaigns: the caller's campaigns, newest first. */
export function registerCampaignListRoute(v1: V1, ctx: ApiContext): void {
  v1.get(
    '/campaigns',
    {
      schema: operation({
        operationId: 'listCampaigns',
        summary: "List the tenant's campaigns, newest first",
        description:
          'Each with its status and counts (not its templates). Follow `next` until it is absent. Campaigns created while a client pages come before its first page, so later pages neither repeat nor skip one.',
        tag: 'campaigns',
        access: 'apiKey',
        querystring: ListQuery,
        response: { 200: ListResponse },
      }),
    },
    async (req) => {
      const q = req.query;
      const after = q.createdAfter === undefined ? undefined : Date.parse(q.createdAfter);
      const before = q.createdBefore === undefined ? undefined : Date.parse(q.createdBefore);
      if (after !== undefined && before !== undefined && after >= before) {
        throw invalid(
          'querystring.createdAfter',
          `(${q.createdAfter}) is not before createdBefore (${q.createdBefore}): no campaign can match`,
        );
      }
      try {
        const page = await listCampaigns(ctx.store, tenantOf(req), {
          cursor: q.cursor,
          limit: q.limit ?? 50,
          statuses: q.status,
          createdAfter: after,
          createdBefore: before,
        });
        return { campaigns: page.campaigns.map(campaignJson), next: page.next };
      } catch (err) {
        if (err instanceof CampaignListError) throw invalid('querystring.cursor', err.message);
        throw err;
      }
    },
  );
}
