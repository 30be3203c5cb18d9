import { Type, type Static } from 'typebox';
import { SuppressionError, type SuppressionEntry } from '@volley/campaigns';
import { normalizeEmail } from '@volley/message';
import { tenantOf } from '../auth.ts';
import { iso, type ApiContext, type V1 } from '../context.ts';
import { ApiProblem, type FieldError } from '../problem.ts';
import { operation } from '../operation.ts';
import { LIMITS } from '../schemas.ts';
import { registerSuppressionCsv } from './suppressions-csv.ts';
import { EntrySchema, FilterQuery, ReasonSchema, SourceSchema } from './suppression-schemas.ts';

/** Addresses in one POST: a list larger than this is sent in parts, so one request stays short. */
const MAX_ADD = 10_000;

const ListQuery = Type.Object(
  {
    cursor: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,700}$',
        description: 'The `next` of the previous page; absent for the first page.',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        default: 100,
        description:
          'Most entries a page holds. With a filter a page may hold fewer (even none) while `next` is present: each page looks at a bounded number of entries.',
      }),
    ),
    ...FilterQuery,
  },
  { additionalProperties: false },
);

const ListResponse = Type.Object({
  entries: Type.Array(EntrySchema, { description: 'Entries, oldest first.' }),
  emails: Type.Array(Type.String(), {
    description: 'The addresses of `entries`, in the same order (kept for older clients).',
  }),
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
    reason: Type.Optional({
      ...ReasonSchema,
      description: 'Stored with each entry.',
      default: 'manual',
    }),
    source: Type.Optional({
      ...SourceSchema,
      description: 'Stored with each entry, e.g. `unsubscribe` for a list kept elsewhere.',
      default: 'manual',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      { emails: ['ada@example.org', 'alan@example.org'] },
      { emails: ['grace@example.net'], source: 'unsubscribe', reason: 'manual' },
    ],
  },
);

const AddResponse = Type.Object({
  added: Type.Integer({ description: 'Addresses that were not on the list before.' }),
  existing: Type.Integer({
    description:
      'Addresses that already were on it, whose entry stays as it was (an address given twice counts once).',
  }),
});

const EmailParams = Type.Object({
  email: Type.String({
    maxLength: LIMITS.email,
    description: 'The address (URL-encoded).',
  }),
});

const NOT_SUPPRESSED = 'The address is not on the suppression list.';

/**
 * Stored as the sender checks them (`CampaignStore.suppressedFlags` lower-cases the whole
 * address), so an entry added here always matches a recipient however its case was written.
 */
function stored(email: string): string | undefined {
  return normalizeEmail(email.trim())?.toLowerCase();
}

function entryJson(e: SuppressionEntry): Static<typeof EntrySchema> {
  const { at, ...rest } = e;
  return { ...rest, at: iso(at) };
}

/** A cursor the list did not give is the client's error, named like a validation error. */
function badCursor(err: unknown): never {
  if (err instanceof SuppressionError && err.code === 'SUPPRESSION_BAD_CURSOR') {
    throw new ApiProblem(400, 'Invalid request', `querystring.cursor: ${err.message}`, [
      { path: 'querystring.cursor', message: err.message },
    ]);
  }
  throw err;
}

function addressParam(raw: string): string {
  const email = stored(raw);
  if (!email) {
    throw new ApiProblem(
      400,
      'Invalid request',
      `${JSON.stringify(raw.slice(0, 100))} is not a valid address`,
    );
  }
  return email;
}

/** The tenant's suppression list. */
export function registerSuppressionRoutes(v1: V1, ctx: ApiContext): void {
  v1.get(
    '/suppressions',
    {
      schema: operation({
        operationId: 'listSuppressions',
        summary: 'List suppressed addresses',
        description:
          "Pages through the tenant's suppression list, oldest entry first, optionally only one reason and/or source: follow `next` until it is absent. Entries added during the walk come at its end; removals during it make no entry appear twice or go missing.",
        tag: 'suppressions',
        access: 'apiKey',
        querystring: ListQuery,
        response: { 200: ListResponse },
      }),
    },
    async (req) => {
      const tenant = tenantOf(req);
      const page = await ctx.suppressions
        .page(tenant, {
          cursor: req.query.cursor,
          limit: req.query.limit ?? 100,
          reason: req.query.reason,
          source: req.query.source,
        })
        .catch(badCursor);
      return {
        entries: page.entries.map(entryJson),
        emails: page.entries.map((e) => e.email),
        next: page.next,
      };
    },
  );

  v1.post(
    '/suppressions',
    {
      schema: operation({
        operationId: 'addSuppressions',
        summary: 'Suppress addresses',
        description:
          'Adds addresses to the suppression list; recipients at these addresses are skipped (counted as suppressed) by every campaign of the tenant. One invalid address refuses the request and adds nothing. Larger lists: POST /v1/suppressions/import.',
        tag: 'suppressions',
        access: 'apiKey',
        body: AddBody,
        response: { 200: AddResponse },
        problems: {
          400: 'Invalid request, or an address is not valid: `errors` lists each one, and nothing was added.',
        },
      }),
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
      const source = req.body.source ?? 'manual';
      const reason = req.body.reason ?? 'manual';
      return ctx.suppressions.add(
        tenant,
        [...emails].map((email) => ({ email, source, reason })),
      );
    },
  );

  v1.get(
    '/suppressions/:email',
    {
      schema: operation({
        operationId: 'getSuppression',
        summary: 'One suppressed address',
        description: 'The entry of an address: why and when it was suppressed; 404 when it is not.',
        tag: 'suppressions',
        access: 'apiKey',
        params: EmailParams,
        response: { 200: EntrySchema },
        problems: { 404: NOT_SUPPRESSED },
      }),
    },
    async (req) => {
      const email = addressParam(req.params.email);
      const entry = await ctx.suppressions.get(tenantOf(req), email);
      if (!entry) throw new ApiProblem(404, 'Not found', `${email} is not on the suppression list`);
      return entryJson(entry);
    },
  );

  v1.delete(
    '/suppressions/:email',
    {
      schema: operation({
        operationId: 'deleteSuppression',
        summary: 'Remove a suppressed address',
        description:
          'Removes the address from the suppression list (and forgets its soft bounces): the sender checks the list before each message, so campaigns send to it again from now on.',
        tag: 'suppressions',
        access: 'apiKey',
        params: EmailParams,
        response: { 204: Type.Null({ description: 'Removed.' }) },
        problems: { 404: NOT_SUPPRESSED },
      }),
    },
    async (req, reply) => {
      const tenant = tenantOf(req);
      const email = addressParam(req.params.email);
      if (!(await ctx.suppressions.remove(tenant, email))) {
        throw new ApiProblem(404, 'Not found', `${email} is not on the suppression list`);
      }
      return reply.code(204).send(null);
    },
  );

  registerSuppressionCsv(v1, ctx);
}
