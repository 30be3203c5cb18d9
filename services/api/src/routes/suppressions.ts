import { Type } from 'typebox';
import { normalizeEmail } from '@volley/message';
import { tenantOf } from '../auth.ts';
import type { ApiContext, V1 } from '../context.ts';
import { ApiProblem, type FieldError } from '../problem.ts';
import { LIMITS, ProblemSchema } from '../schemas.ts';

/** Addresses in one POST: a list larger than this is sent in parts, so one request stays short. */
const MAX_ADD = 10_000;

const ListQuery = Type.Object(
  {
    cursor: Type.Optional(
      Type.String({
        pattern: '^[0-9]{1,20}$',
        description: 'The `next` of the previous page; absent for the first page.',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        default: 100,
        description:
          'About how many addresses a page holds: Redis treats it as a hint, so a page may hold somewhat more or fewer (even none while `next` is present).',
      }),
    ),
  },
  { additionalProperties: false },
);

const ListResponse = Type.Object({
  emails: Type.Array(Type.String(), { description: 'Suppressed addresses, lower-cased.' }),
  next: Type.Optional(
    Type.String({ description: 'Cursor of the next page; absent on the last page.' }),
  ),
});

const AddBody = Type.Object(
  {
    emails: Type.Array(Type.String({ maxLength: LIMITS.email }), {
      minItems: 1,
      maxItems: MAX_ADD,
      description: 'Addresses to suppress: campaigns of this tenant will not send to them.',
    }),
  },
  { additionalProperties: false },
);

const AddResponse = Type.Object({
  added: Type.Integer({ description: 'Addresses that were not on the list before.' }),
  existing: Type.Integer({
    description: 'Addresses that already were on it (an address given twice counts once).',
  }),
});

const EmailParams = Type.Object({
  email: Type.String({
    maxLength: LIMITS.email,
    description: 'The address to remove (URL-encoded).',
  }),
});

/**
 * Stored as the sender checks them (`CampaignStore.suppressedFlags` lower-cases the whole
 * address), so an entry added here always matches a recipient however its case was written.
 */
function stored(email: string): string | undefined {
  return normalizeEmail(email.trim())?.toLowerCase();
}

/** The tenant's suppression list. */
export function registerSuppressionRoutes(v1: V1, ctx: ApiContext): void {
  v1.get(
    '/suppressions',
    {
      schema: {
        tags: ['suppressions'],
        summary: 'List suppressed addresses',
        description:
          "Pages through the tenant's suppression list, in no particular order: follow `next` until it is absent. An address may appear on two pages if the list grows during the walk.",
        querystring: ListQuery,
        response: { 200: ListResponse, 400: ProblemSchema, 401: ProblemSchema },
      },
    },
    async (req) => {
      const tenant = tenantOf(req);
      const [next, emails] = await ctx.redis.sscan(
        ctx.keys.suppression(tenant),
        req.query.cursor ?? '0',
        'COUNT',
        req.query.limit ?? 100,
      );
      return { emails: emails.sort(), next: next === '0' ? undefined : next };
    },
  );

  v1.post(
    '/suppressions',
    {
      schema: {
        tags: ['suppressions'],
        summary: 'Suppress addresses',
        description:
          'Adds addresses to the suppression list; recipients at these addresses are skipped (counted as suppressed) by every campaign of the tenant. One invalid address refuses the request and adds nothing.',
        body: AddBody,
        response: { 200: AddResponse, 400: ProblemSchema, 401: ProblemSchema },
      },
    },
    async (req) => {
      const tenant = tenantOf(req);
      const errors: FieldError[] = [];
      const emails = new Set<string>();
      req.body.emails.forEach((raw, i) => {
        const email = stored(raw);
        if (email) emails.add(email);
        else if (errors.length < 100) {
          errors.push({
            path: `body.emails[${i}]`,
            message: `${JSON.stringify(raw.slice(0, 100))} is not a valid address`,
          });
        }
      });
      const first = errors[0];
      if (first) {
        throw new ApiProblem(400, 'Invalid request', `${first.path} ${first.message}`, errors);
      }
      const added = await ctx.redis.sadd(ctx.keys.suppression(tenant), ...emails);
      return { added, existing: emails.size - added };
    },
  );

  v1.delete(
    '/suppressions/:email',
    {
      schema: {
        tags: ['suppressions'],
        summary: 'Remove a suppressed address',
        description:
          'Removes the address from the suppression list: the sender checks the list before each message, so campaigns send to it again from now on.',
        params: EmailParams,
        response: {
          204: Type.Null({ description: 'Removed.' }),
          400: ProblemSchema,
          401: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (req, reply) => {
      const tenant = tenantOf(req);
      const email = stored(req.params.email);
      if (!email) {
        throw new ApiProblem(
          400,
          'Invalid request',
          `${JSON.stringify(req.params.email.slice(0, 100))} is not a valid address`,
        );
      }
      const removed = await ctx.redis.srem(ctx.keys.suppression(tenant), email);
      if (removed === 0) {
        throw new ApiProblem(404, 'Not found', `${email} is not on the suppression list`);
      }
      return reply.code(204).send(null);
    },
  );
}
