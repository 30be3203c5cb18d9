import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { ingestRecipients, type UploadFormat } from '@volley/ingest';
import { tenantOf } from './auth.ts';
import type { ApiContext, V1 } from './context.ts';
import { ApiProblem, lineErrors, refusedFile, unsupportedMediaType } from './problem.ts';
import { operation } from './operation.ts';
import { CampaignIdParams, FieldErrorSchema, NO_SUCH_CAMPAIGN } from './schemas.ts';

const FORMATS: Record<string, UploadFormat> = {
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'text/csv': 'csv',
};

/** The recipient upload's media types as the document shows them, with what a user writes. */
const UPLOAD_MEDIA = {
  'application/x-ndjson': {
    description: 'One JSON object a line: `{"email": ..., "vars": {...}}`.',
    example:
      '{"email":"ada@example.org","vars":{"name":"Ada"}}\n{"email":"alan@example.org","vars":{"name":"Alan"}}\n',
  },
  'text/csv': {
    description: 'A header row naming the columns, one of them `email`; the others become vars.',
    example: 'email,name\nada@example.org,Ada\nalan@example.org,Alan\n',
  },
};

/** The types named in the document and in a 415; the aliases in FORMATS are read as well. */
const DOCUMENTED_TYPES = Object.keys(UPLOAD_MEDIA);

const UploadResult = Type.Object({
  rows: Type.Integer({ description: 'Rows read (blank lines and the CSV header not counted).' }),
  added: Type.Integer(),
  duplicates: Type.Integer({ description: 'Rows whose address was already in the campaign.' }),
  invalid: Type.Integer(),
  errors: Type.Array(FieldErrorSchema, {
    description: 'The first invalid rows, with their line number.',
  }),
  total: Type.Integer({ description: 'Recipients in the campaign after the upload.' }),
});

/**
 * Counts bytes as they stream in and stops past the limit (Fastify's bodyLimit does not see raw
 * streams). Stopping early, for this or because the file is refused, leaves the request stream
 * open: destroying it would reset the connection before the answer that says why is written.
 */
export async function* limited(stream: Readable, limit: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    const b = chunk as Buffer;
    seen += b.length;
    if (seen > limit) {
      throw new ApiProblem(
        413,
        'Body too large',
        `the upload is larger than ${limit} bytes; split the list into several uploads`,
      );
    }
    yield b;
  }
}

/**
 * Options of a route whose body is a file read as a stream, up to `limit` bytes. A refused
 * upload (bad key, wrong type, invalid rows, too large...) may still have gigabytes on the way:
 * the connection closes after the answer instead of reading them to keep it alive.
 */
export function streamedUpload(limit: number): {
  bodyLimit: number;
  onError: (req: unknown, reply: FastifyReply, err: unknown, done: () => void) => void;
} {
  return {
    bodyLimit: limit,
    onError: (_req, reply, _err, done) => {
      reply.header('connection', 'close');
      done();
    },
  };
}

/** Keeps bodies of these media types streams, for the handler to read with backpressure. */
export function streamBodies(app: V1, types: readonly string[]): void {
  for (const type of types) {
    if (!app.hasContentTypeParser(type)) {
      app.addContentTypeParser(type, (_req, payload, done) => done(null, payload));
    }
  }
}

/**
 * `POST /v1/campaigns/{id}/recipients`: NDJSON (`{"email":..,"vars":{..}}` a line) or CSV (a
 * header row naming the variables, one of them `email`), streamed into a draft with constant
 * memory. Invalid rows are reported with their line number; more than the allowed number of
 * them refuses the file, and a refused file changes nothing.
 */
export function registerUpload(v1: V1, ctx: ApiContext): void {
  const uploadLimit = ctx.config.uploadLimit ?? 2 * 1024 ** 3;
  const maxInvalid = ctx.config.uploadMaxInvalid ?? 1000;
  const app = v1.withTypeProvider<TypeBoxTypeProvider>();
  streamBodies(app, Object.keys(FORMATS));

  app.post(
    '/campaigns/:id/recipients',
    {
      ...streamedUpload(uploadLimit),
      schema: operation({
        operationId: 'uploadRecipients',
        summary: 'Upload recipients (NDJSON or CSV)',
        description:
          'Streams recipients into a draft or scheduled campaign with constant memory, for lists of millions. Addresses already in the campaign are skipped (compared case-insensitively); invalid rows are reported with their line number, and more than `maxInvalid` of them refuses the whole file and adds nothing. NDJSON is also accepted as application/ndjson or application/jsonl.',
        tag: 'recipients',
        access: 'apiKey',
        params: CampaignIdParams,
        querystring: Type.Object({
          maxInvalid: Type.Optional(
            Type.Integer({
              minimum: 0,
              description: 'Invalid rows tolerated before the upload is refused.',
            }),
          ),
        }),
        streamBody: UPLOAD_MEDIA,
        response: { 200: UploadResult },
        problems: {
          404: NO_SUCH_CAMPAIGN,
          409: 'The campaign is neither a draft nor scheduled, or another upload to it is in progress.',
          422: 'More invalid rows than `maxInvalid`: nothing was added, and `errors` lists the rows.',
        },
      }),
    },
    async (req, reply) => {
      const tenant = tenantOf(req);
      const rec = await ctx.loadOwned(req.params.id, tenant);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      const format = FORMATS[type];
      if (!format) throw unsupportedMediaType(type, DOCUMENTED_TYPES);
      if (rec.status !== 'draft' && rec.status !== 'scheduled') {
        throw new ApiProblem(
          409,
          'Conflict',
          `campaign ${rec.id} is ${rec.status}; recipients can only be added to a draft or scheduled campaign`,
        );
      }
      const upload = await ctx.store.beginUpload(rec.id);
      if (!upload)
        throw new ApiProblem(
          409,
          'Conflict',
          `another upload to campaign ${rec.id} is in progress; retry when it ends`,
        );
      let answer: Static<typeof UploadResult>;
      try {
        const result = await ingestRecipients(
          limited(req.body as Readable, uploadLimit),
          {
            format,
            maxInvalid: req.query.maxInvalid ?? maxInvalid,
            requiredVars: rec.requiredVars ?? [],
          },
          (batch) => ctx.store.addRecipients(rec.id, batch),
        ).catch(async (err: unknown) => {
          await ctx.store.rollbackUpload(rec.id, upload.startLength);
          throw err;
        });
        ctx.metrics.uploadRows.inc({ result: 'invalid' }, result.invalid);
        const { aborted, abortedLine, errors, ...counts } = result;
        if (aborted !== undefined) {
          await ctx.store.rollbackUpload(rec.id, upload.startLength);
          throw refusedFile(
            'Upload refused',
            abortedLine === undefined ? { aborted, errors } : { aborted, abortedLine, errors },
            'upload again',
          );
        }
        ctx.metrics.uploadRows.inc({ result: 'added' }, result.added);
        ctx.metrics.uploadRows.inc({ result: 'duplicate' }, result.duplicates);
        ctx.metrics.recipientsAccepted.inc(result.added);
        const total = (await ctx.store.get(rec.id))?.counts.total ?? 0;
        answer = { ...counts, errors: lineErrors(errors), total };
      } finally {
        // Before answering: a client that starts the campaign on the answer must find the
        // upload ended.
        await ctx.store.endUpload(rec.id, upload.token);
      }
      return reply.code(200).send(answer);
    },
  );
}
