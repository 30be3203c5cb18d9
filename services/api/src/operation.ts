/**
 * How a route of the API describes itself. Every route builds its Fastify `schema` with
 * `operation()`, which holds the conventions that the OpenAPI document, its lint and the clients
 * generated from it rely on:
 *
 * - `operationId`: stable and camelCase, a verb and a noun (`createCampaign`, `listSuppressions`).
 *   Generated clients name their methods after it, so renaming one breaks them: within v1 an
 *   operationId never changes (see the version policy in docs.ts).
 * - `summary`: one short line; `description` for the rest.
 * - one tag, from TAGS below.
 * - `access`: which key the route needs (it becomes the operation's `security`). The route's
 *   scope enforces it (app.ts); services/api/test/openapi.test.ts checks that the two agree.
 * - its client errors, each as an RFC 9457 problem (application/problem+json) with when it
 *   happens. The ones every route of a kind can answer are added here: 400 for a route with
 *   input, 401 (and the admin API's 403) for one that needs a key, 413 and 415 for one with a
 *   body, 5XX for all but the health probes. A route lists the others in `problems`.
 *
 * openapi.test.ts fails for a registered route without an operationId, a summary, a declared
 * tag, its security or a 4xx answer, so a new route cannot leave them out.
 */
import type { TSchema } from 'typebox';
import { ProblemSchema } from './schemas.ts';

/** Tags of the document and what each groups; every operation has exactly one. */
export const TAGS = {
  campaigns:
    'Create campaigns, start, pause, resume or cancel them, and read their status, events, previews and statistics.',
  recipients: 'Stream recipient lists into a draft or scheduled campaign, as NDJSON or CSV.',
  suppressions: 'Addresses the tenant never sends to.',
  webhooks:
    'Signed outbound webhooks: endpoints that receive campaign events, and the dead-letter list of deliveries that exhausted their retries. See docs/observability.md for verifying signatures.',
  unsubscribe:
    'One-click unsubscribe (RFC 8058) at the path of VOLLEY_UNSUBSCRIBE_URL; no key, the signed token in the link is the credential.',
  admin: 'Tenants and API keys; authenticated with VOLLEY_ADMIN_KEY.',
  shaping: 'Traffic-shaping state: rates and limits per destination.',
  health:
    'Liveness and readiness probes for orchestrators: no key, no input and so no client error to report.',
} as const;
export type Tag = keyof typeof TAGS;

/** Security schemes of the document, by name (`components.securitySchemes`). */
export const SECURITY_SCHEMES = {
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description:
      "A tenant's API key: `Authorization: Bearer <key>` (VOLLEY_API_KEY, or a stored key).",
  },
  adminKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'The admin key: `Authorization: Bearer <VOLLEY_ADMIN_KEY>`.',
  },
} as const;

/**
 * What a caller needs: one of the security schemes, or nothing (`none`: a health probe, or a
 * route whose URL carries its own credential; its description says which).
 */
export type Access = keyof typeof SECURITY_SCHEMES | 'none';

/** Client errors an operation can list, each with when it happens. */
export type ClientError = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429;

/** A success answer: a JSON body's schema, or bodies of other media types. */
type Answer = TSchema | { description: string; content: Record<string, { schema: TSchema }> };

/** One media type of a body the handler reads as a stream, as the document shows it. */
export interface StreamMedia {
  description: string;
  /** What a user would write by hand; shown as the example of this media type. */
  example: string;
}

export interface OperationSpec {
  operationId: string;
  summary: string;
  description?: string;
  tag: Tag;
  access: Access;
  params?: TSchema;
  querystring?: TSchema;
  headers?: TSchema;
  /** A body parsed before the handler runs (JSON, or the media types of `consumes`). */
  body?: TSchema;
  /** Media types of `body` other than application/json. */
  consumes?: readonly string[];
  /**
   * A body the handler reads as a stream (a content-type parser hands it over unparsed), by
   * media type; there is no `body` schema to validate it against, so only the document sees it.
   */
  streamBody?: Readonly<Record<string, StreamMedia>>;
  response: Readonly<Record<number, Answer>>;
  /** Client errors of this route beyond the standard ones, each with when it happens. */
  problems?: Readonly<Partial<Record<ClientError, string>>>;
}

declare module 'fastify' {
  interface FastifySchema {
    /** See OperationSpec.streamBody; docs.ts turns it into the operation's requestBody. */
    streamBody?: Readonly<Record<string, StreamMedia>>;
  }
}

type ProblemAnswer = typeof ProblemSchema & { description: string };

/** The Fastify schema `operation(spec)` builds. */
export type OperationSchema<S extends OperationSpec> = Pick<
  S,
  Extract<keyof S, 'params' | 'querystring' | 'headers' | 'body'>
> & {
  operationId: string;
  summary: string;
  description?: string;
  tags: readonly [Tag];
  security: ReadonlyArray<Record<string, readonly string[]>>;
  consumes?: readonly string[];
  streamBody?: Readonly<Record<string, StreamMedia>>;
  response: S['response'] & Record<ClientError | '5xx', ProblemAnswer>;
};

/** A problem answer: the Problem schema, with when this route answers it. */
function problem(description: string): ProblemAnswer {
  return { ...ProblemSchema, description };
}

/** The client errors every route of this kind can answer, with when. */
function standardProblems(spec: OperationSpec): Partial<Record<ClientError, string>> {
  const out: Partial<Record<ClientError, string>> = {};
  const input = spec.params ?? spec.querystring ?? spec.headers ?? spec.body ?? spec.streamBody;
  if (input) {
    out[400] =
      'Invalid request: `detail` names the first invalid field and `errors` lists each one.';
  }
  if (spec.access === 'apiKey') {
    out[401] = 'No API key, or not a valid one: send `Authorization: Bearer <key>`.';
  }
  if (spec.access === 'adminKey') {
    out[401] = 'No admin key, or not the admin key (API keys do not open the admin API).';
    out[403] = 'The admin API is off: VOLLEY_ADMIN_KEY is not set.';
  }
  const media = spec.streamBody
    ? Object.keys(spec.streamBody)
    : spec.body
      ? (spec.consumes ?? ['application/json'])
      : [];
  if (media.length > 0) {
    out[413] = 'The body is larger than the API accepts.';
    out[415] = `The body is not ${media.join(' or ')}.`;
  }
  return out;
}

/** The Fastify `schema` of a route: see the conventions at the top of this file. */
export function operation<S extends OperationSpec>(spec: S): OperationSchema<S> {
  const { operationId, summary, description, tag, access, problems, response } = spec;
  const answers: Record<string, unknown> = { ...response };
  for (const [code, when] of Object.entries({ ...standardProblems(spec), ...problems })) {
    answers[code] = problem(when);
  }
  // A probe's 503 is the plain `{status}` that load balancers read, not a problem.
  if (tag !== 'health') answers['5xx'] = problem('Server error; it was logged: retry later.');
  const schema: Record<string, unknown> = {
    operationId,
    summary,
    ...(description === undefined ? {} : { description }),
    tags: [tag],
    security: access === 'none' ? [] : [{ [access]: [] }],
    response: answers,
  };
  for (const key of ['params', 'querystring', 'headers', 'body', 'consumes', 'streamBody']) {
    const value = spec[key as keyof OperationSpec];
    if (value !== undefined) schema[key] = value;
  }
  return schema as OperationSchema<S>;
}
