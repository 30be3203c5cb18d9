import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { Type } from 'typebox';
import { SUPPRESSION_SOURCES, type SuppressionSource } from '@volley/contracts';
import {
  SUPPRESSION_REASON,
  type SuppressionEntry,
  type SuppressionInput,
} from '@volley/campaigns';
import { normalizeEmail } from '@volley/message';
import { CsvReader, noEmailColumn, type CsvRecordHandler, type RowError } from '@volley/ingest';
import { tenantOf } from '../auth.ts';
import type { ApiContext, V1 } from '../context.ts';
import { lineErrors, refusedFile, unsupportedMediaType } from '../problem.ts';
import { operation } from '../operation.ts';
import { FieldErrorSchema } from '../schemas.ts';
import { limited, streamBodies, streamedUpload } from '../upload.ts';
import { FilterQuery, ReasonSchema, SourceSchema } from './suppression-schemas.ts';

/** Valid rows staged per round trip: the same chunk the recipient upload writes. */
const CHUNK = 1000;
/** Invalid rows listed in the answer (all are counted). */
const MAX_REPORTED = 100;
/** Columns of the export, in order; an import reads the same names. */
const COLUMNS = ['email', 'reason', 'source', 'date', 'campaign', 'detail'] as const;

const ImportQuery = Type.Object(
  {
    maxInvalid: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Invalid rows tolerated before the whole file is refused.',
      }),
    ),
    reason: Type.Optional({
      ...ReasonSchema,
      description: 'Reason of rows without a `reason` column or value.',
      default: 'manual',
    }),
    source: Type.Optional({
      ...SourceSchema,
      description: 'Source of rows without a `source` column or value.',
      default: 'manual',
    }),
  },
  { additionalProperties: false },
);

const ImportResult = Type.Object({
  rows: Type.Integer({ description: 'Rows read (blank lines and the header not counted).' }),
  added: Type.Integer({ description: 'Addresses that were not on the list before.' }),
  existing: Type.Integer({
    description: 'Rows whose address was on the list already, or earlier in the file.',
  }),
  invalid: Type.Integer({ description: 'Rows skipped as invalid.' }),
  errors: Type.Array(FieldErrorSchema, {
    description: 'The first invalid rows, with their line number (the header is line 1).',
  }),
});

class Refused extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

interface ReadResult {
  rows: number;
  invalid: number;
  errors: RowError[];
  refused?: { aborted: string; abortedLine?: number; errors: RowError[] };
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * A diagnostic comes from a remote server: one starting like a formula would run as one in a
 * spreadsheet, so it gets a leading apostrophe (OWASP's advice for CSV injection).
 */
function inert(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

function csvLine(e: SuppressionEntry): string {
  return `${[
    e.email,
    e.reason,
    e.source,
    e.at === undefined ? '' : new Date(e.at).toISOString(),
    e.campaignId ?? '',
    inert(e.detail ?? ''),
  ]
    .map(csvField)
    .join(',')}\r\n`;
}

/** Reads a suppression CSV and stages its valid rows; refuses the file past `maxInvalid`. */
async function readImport(
  body: AsyncIterable<Buffer>,
  opts: { maxInvalid: number; reason: string; source: SuppressionSource; now: number },
  stage: (rows: SuppressionInput[]) => Promise<void>,
): Promise<ReadResult> {
  const result = { rows: 0, invalid: 0, errors: [] as RowError[] };
  // Only the known columns are read: fields past the header's hold nothing it would use.
  const csv = new CsvReader({ extraFields: 'allow' });
  const decoder = new StringDecoder('utf8');
  type Columns = Partial<Record<(typeof COLUMNS)[number], number>>;
  let col: Columns | undefined;
  let batch: SuppressionInput[] = [];

  const invalid = (row: number, reason: string): void => {
    result.invalid++;
    if (result.errors.length < MAX_REPORTED) result.errors.push({ row, reason });
    if (result.invalid > opts.maxInvalid)
      throw new Refused(`more than ${opts.maxInvalid} invalid rows`);
  };
  const onRecord: CsvRecordHandler = (fields, line, problem) => {
    if (!col) {
      const names = fields.map((f) => f.trim().toLowerCase());
      const found: Columns = {};
      for (const c of COLUMNS) if (names.includes(c)) found[c] = names.indexOf(c);
      if (found.email === undefined) {
        throw new Refused(noEmailColumn(fields), 1);
      }
      col = found;
      return;
    }
    result.rows++;
    if (problem !== undefined) return invalid(line, problem);
    const cell = (name: (typeof COLUMNS)[number]): string => {
      const k = col?.[name];
      return k === undefined ? '' : (fields[k] ?? '').trim();
    };
    const raw = cell('email');
    const email = raw === '' ? undefined : normalizeEmail(raw)?.toLowerCase();
    if (!email) {
      return invalid(
        line,
        raw === ''
          ? 'email is missing'
          : `${JSON.stringify(raw.slice(0, 100))} is not a valid address`,
      );
    }
    const reason = cell('reason').toLowerCase() || opts.reason;
    if (!SUPPRESSION_REASON.test(reason)) {
      return invalid(
        line,
        `reason ${JSON.stringify(reason.slice(0, 60))} must be a lower-case token of at most 40 letters, digits, . _ -`,
      );
    }
    const source = (cell('source').toLowerCase() || opts.source) as SuppressionSource;
    if (!SUPPRESSION_SOURCES.includes(source)) {
      return invalid(
        line,
        `source ${JSON.stringify(source.slice(0, 60))} must be one of ${SUPPRESSION_SOURCES.join(', ')}`,
      );
    }
    const date = cell('date');
    const at = date === '' ? opts.now : Date.parse(date);
    // A date must be a real one, and not ahead of the clock (it orders the list).
    if (!(at > 0 && at <= opts.now + 86_400_000)) {
      return invalid(
        line,
        `date ${JSON.stringify(date.slice(0, 60))} is not an ISO 8601 date in the past`,
      );
    }
    batch.push({ email, reason, source, at });
  };

  const feed = async (text: string): Promise<void> => {
    try {
      csv.push(text, onRecord);
    } catch (err) {
      if (err instanceof Refused) throw err;
      throw new Refused((err as Error).message);
    }
    if (batch.length >= CHUNK) {
      const rows = batch;
      batch = [];
      await stage(rows);
    }
  };
  try {
    for await (const chunk of body) await feed(decoder.write(chunk));
    await feed(decoder.end());
    try {
      csv.end(onRecord);
    } catch (err) {
      if (err instanceof Refused) throw err;
      throw new Refused((err as Error).message);
    }
    if (!col) {
      throw new Refused(
        'the file is empty: the first line must be a header row with an "email" column',
      );
    }
    if (batch.length > 0) await stage(batch);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    const refused = { aborted: err.message, errors: result.errors };
    return {
      ...result,
      refused: err.line === undefined ? refused : { ...refused, abortedLine: err.line },
    };
  }
  return result;
}

/** CSV import and export of the suppression list, both streamed. */
export function registerSuppressionCsv(v1: V1, ctx: ApiContext): void {
  const uploadLimit = ctx.config.uploadLimit ?? 2 * 1024 ** 3;
  const maxInvalid = ctx.config.uploadMaxInvalid ?? 1000;
  streamBodies(v1, ['text/csv']);

  v1.post(
    '/suppressions/import',
    {
      ...streamedUpload(uploadLimit),
      schema: operation({
        operationId: 'importSuppressions',
        summary: 'Import suppressed addresses from CSV',
        description:
          'Streams a CSV file (`text/csv`) with a header row naming an `email` column and optionally `reason`, `source` and `date` (ISO 8601); other columns are ignored, so an export imports as it is. Rows are checked as they arrive and applied only once the whole file has been read: more than `maxInvalid` invalid rows refuses the file with a 422 listing them, and a refused file changes nothing. An address already on the list keeps its entry.',
        tag: 'suppressions',
        access: 'apiKey',
        querystring: ImportQuery,
        streamBody: {
          'text/csv': {
            description:
              'A header row naming an `email` column and optionally `reason`, `source` and `date`; other columns are ignored (an export imports as it is).',
            example:
              'email,reason,source,date\nada@example.org,userunknown,bounce,2026-01-05T10:00:00Z\nalan@example.org,,,\n',
          },
        },
        response: { 200: ImportResult },
        problems: {
          422: 'More invalid rows than `maxInvalid`: nothing was added, and `errors` lists the rows.',
        },
      }),
    },
    async (req) => {
      const tenant = tenantOf(req);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'text/csv') {
        throw unsupportedMediaType(type, ['text/csv']);
      }
      const id = ctx.suppressions.beginImport();
      try {
        const { refused, ...read } = await readImport(
          limited(req.body as Readable, uploadLimit),
          {
            maxInvalid: req.query.maxInvalid ?? maxInvalid,
            reason: req.query.reason ?? 'manual',
            source: req.query.source ?? 'manual',
            now: Date.now(),
          },
          (rows) => ctx.suppressions.stage(tenant, id, rows),
        );
        if (refused) throw refusedFile('Import refused', refused, 'import the file again');
        const applied = await ctx.suppressions.commitImport(tenant, id);
        return { ...read, errors: lineErrors(read.errors), ...applied };
      } finally {
        await ctx.suppressions.dropImport(tenant, id);
      }
    },
  );

  v1.get(
    '/suppressions/export',
    {
      schema: operation({
        operationId: 'exportSuppressions',
        summary: 'Export suppressed addresses as CSV',
        description: `Streams the whole list (or one reason and/or source of it), oldest first, as CSV with the columns ${COLUMNS.join(', ')}. A detail that would start a spreadsheet formula gets a leading apostrophe.`,
        tag: 'suppressions',
        access: 'apiKey',
        querystring: Type.Object(FilterQuery, { additionalProperties: false }),
        response: {
          200: {
            description: 'The list as CSV.',
            content: { 'text/csv': { schema: Type.String() } },
          },
        },
      }),
    },
    async (req, reply) => {
      const tenant = tenantOf(req);
      const filter = {
        reason: req.query.reason,
        source: req.query.source,
      };
      async function* lines(): AsyncGenerator<string> {
        yield `${COLUMNS.join(',')}\r\n`;
        for await (const page of ctx.suppressions.all(tenant, filter))
          yield page.map(csvLine).join('');
      }
      return (
        reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="suppressions.csv"')
          // A stream is sent as it is; the response schema only documents the body for clients.
          .send(Readable.from(lines()) as unknown as string)
      );
    },
  );
}
