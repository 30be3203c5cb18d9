import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CampaignError } from '@volley/campaigns';

export interface FieldError {
  path: string;
  message: string;
  /** 1-based line of an uploaded file the error is about. */
  line?: number;
}

/** Errors about lines of an uploaded file, in the shape of every other error. */
export function lineErrors(rows: readonly { row: number; reason: string }[]): FieldError[] {
  return rows.map((r) => ({ path: `line ${r.row}`, line: r.row, message: r.reason }));
}

/**
 * The 422 of a file refused whole. The line that stopped it (a header without an email
 * column) is listed first, so `errors` holds what the detail points to.
 */
export function refusedFile(
  title: string,
  read: { aborted: string; abortedLine?: number; errors: { row: number; reason: string }[] },
  again: string,
): ApiProblem {
  const errors = lineErrors(read.errors);
  if (read.abortedLine !== undefined && !errors.some((e) => e.line === read.abortedLine)) {
    errors.unshift(...lineErrors([{ row: read.abortedLine, reason: read.aborted }]));
  }
  const fix =
    errors.length > 0 ? ` Fix the lines listed in errors and ${again}` : ` Fix it and ${again}`;
  return new ApiProblem(422, title, `${read.aborted}; nothing was added.${fix}`, errors);
}

/** An error the client can act on, answered as RFC 9457 problem+json. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }
}

/**
 * Answers a store's own errors as problems, by their stable code (each code's status and
 * title in `status`); any other error passes on to the error handler.
 */
export function problemsByCode<C extends string>(
  isOwn: (err: unknown) => err is Error & { code: C },
  status: Record<C, [number, string]>,
): <T>(work: Promise<T>) => Promise<T> {
  return async (work) => {
    try {
      return await work;
    } catch (err) {
      if (!isOwn(err)) throw err;
      const [code, title] = status[err.code];
      throw new ApiProblem(code, title, err.message);
    }
  };
}

function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

export function sendProblem(reply: FastifyReply, p: ApiProblem): FastifyReply {
  const body: Record<string, unknown> = {
    type: `https://volley.dev/problems/${slug(p.title)}`,
    title: p.title,
    status: p.status,
    detail: p.detail,
  };
  if (p.errors?.length) body.errors = p.errors;
  return reply.code(p.status).type('application/problem+json').send(body);
}

/**
 * A body of a media type the route does not read: names what was sent and what to send, so
 * the client can fix its Content-Type header without reading the documentation.
 */
export function unsupportedMediaType(
  sent: string | undefined,
  accepted: readonly string[],
): ApiProblem {
  const what = sent ? `a body of type ${JSON.stringify(sent)}` : 'a body without a Content-Type';
  return new ApiProblem(
    415,
    'Unsupported media type',
    `got ${what}; send it as ${accepted.join(' or ')} (Content-Type: ${accepted[0] ?? 'application/json'})`,
  );
}

interface AjvError {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

function describe(e: AjvError, context: string | undefined): FieldError {
  const path = `${context ?? 'body'}${(e.instancePath ?? '').replace(/\//g, '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]')}`;
  if (e.keyword === 'additionalProperties' && e.params?.additionalProperty) {
    return { path, message: `unknown property ${JSON.stringify(e.params.additionalProperty)}` };
  }
  return { path, message: e.message ?? 'is invalid' };
}

/** One error handler: client errors explained, server errors logged and hidden. */
export function errorHandler(
  err: FastifyError,
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (err instanceof ApiProblem) return sendProblem(reply, err);
  if (err instanceof CampaignError) {
    const status = err.code === 'CAMPAIGN_NOT_FOUND' ? 404 : 409;
    return sendProblem(
      reply,
      new ApiProblem(status, status === 404 ? 'Not found' : 'Conflict', err.message),
    );
  }
  if (err.validation) {
    const errors = (err.validation as AjvError[]).map((e) => describe(e, err.validationContext));
    const first = errors[0];
    return sendProblem(
      reply,
      new ApiProblem(
        400,
        'Invalid request',
        first ? `${first.path} ${first.message}` : err.message,
        errors,
      ),
    );
  }
  const status = err.statusCode ?? 500;
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    // Routes that stream a file name their types (see operation.ts); every other body is JSON.
    const schema = req.routeOptions.schema as
      { consumes?: readonly string[]; streamBody?: Record<string, unknown> } | undefined;
    const consumes = schema?.streamBody
      ? Object.keys(schema.streamBody)
      : (schema?.consumes ?? ['application/json']);
    return sendProblem(reply, unsupportedMediaType(req.headers['content-type'], consumes));
  }
  if (status === 413) {
    return sendProblem(
      reply,
      new ApiProblem(
        413,
        'Body too large',
        `${err.message}; upload large recipient lists in parts`,
      ),
    );
  }
  if (status >= 400 && status < 500) {
    return sendProblem(reply, new ApiProblem(status, 'Bad request', err.message));
  }
  req.log.error({ err, url: req.url, method: req.method }, 'request failed');
  return sendProblem(
    reply,
    new ApiProblem(
      status === 503 ? 503 : 500,
      'Internal error',
      'the server failed to handle the request; it was logged, retry later',
    ),
  );
}
