import { StringDecoder } from 'node:string_decoder';
import type { Recipient } from '@volley/contracts';
import { normalizeEmail } from '@volley/message';
import { CsvReader } from './csv.ts';

export type UploadFormat = 'ndjson' | 'csv';

export interface IngestOptions {
  format: UploadFormat;
  /** More invalid rows than this aborts the upload. */
  maxInvalid: number;
  /** Invalid rows listed in the result (all are counted). @defaultValue 100 */
  maxReported?: number;
  /** Valid rows handed to the sink at a time. @defaultValue 1000 */
  chunkSize?: number;
  /** Largest JSON size of one recipient's variables. @defaultValue 16 KiB */
  maxVarsBytes?: number;
  /** Longest line (NDJSON) or field (CSV). @defaultValue 64 KiB */
  maxLineLength?: number;
}

export interface RowError {
  /** 1-based line number in the uploaded file (CSV: the header is line 1). */
  row: number;
  reason: string;
}

export interface IngestResult {
  rows: number;
  added: number;
  duplicates: number;
  invalid: number;
  errors: RowError[];
  /** Set when the upload stopped: too many invalid rows, or the file itself is malformed. */
  aborted?: string;
}

export type RecipientSink = (batch: Recipient[]) => Promise<{ added: number; duplicates: number }>;

class Abort extends Error {}

/**
 * Reads recipients from an NDJSON or CSV stream and hands them to `sink` in chunks, awaiting
 * each: while the sink writes, the stream is not read, so memory stays constant (backpressure)
 * whatever the file size. Invalid rows are counted and reported with their line number.
 */
export async function ingestRecipients(
  source: AsyncIterable<Buffer | string>,
  opts: IngestOptions,
  sink: RecipientSink,
): Promise<IngestResult> {
  const maxReported = opts.maxReported ?? 100;
  const chunkSize = opts.chunkSize ?? 1000;
  const maxVars = opts.maxVarsBytes ?? 16 * 1024;
  const maxLine = opts.maxLineLength ?? 64 * 1024;
  const result: IngestResult = { rows: 0, added: 0, duplicates: 0, invalid: 0, errors: [] };
  let pending: Recipient[] = [];

  const invalid = (row: number, reason: string): void => {
    result.invalid++;
    if (result.errors.length < maxReported) result.errors.push({ row, reason });
    if (result.invalid > opts.maxInvalid) {
      throw new Abort(`more than ${opts.maxInvalid} invalid rows`);
    }
  };

  const accept = (row: number, email: unknown, vars: unknown): void => {
    result.rows++;
    if (typeof email !== 'string' || email === '') return invalid(row, 'email is missing');
    const normalized = normalizeEmail(email);
    if (!normalized)
      return invalid(row, `${JSON.stringify(email.slice(0, 100))} is not a valid address`);
    if (vars !== undefined) {
      if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) {
        return invalid(row, 'vars must be an object');
      }
      if (JSON.stringify(vars).length > maxVars)
        return invalid(row, `vars are larger than ${maxVars} bytes`);
      pending.push({ email: normalized, vars: vars as Record<string, unknown> });
    } else {
      pending.push({ email: normalized });
    }
  };

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const r = await sink(batch);
    result.added += r.added;
    result.duplicates += r.duplicates;
  };

  const decoder = new StringDecoder('utf8');
  try {
    if (opts.format === 'ndjson') {
      let carry = '';
      let line = 0;
      const handle = (text: string): void => {
        line++;
        const t = text.trim();
        if (t === '') return;
        let obj: unknown;
        try {
          obj = JSON.parse(t);
        } catch {
          result.rows++;
          return invalid(line, 'not valid JSON');
        }
        if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
          result.rows++;
          return invalid(line, 'each line must be a JSON object {"email": ..., "vars": {...}}');
        }
        const o = obj as Record<string, unknown>;
        const extra = Object.keys(o).find((k) => k !== 'email' && k !== 'vars');
        if (extra !== undefined) {
          result.rows++;
          return invalid(
            line,
            `unknown property ${JSON.stringify(extra)} (put template variables in "vars")`,
          );
        }
        accept(line, o.email, o.vars);
      };
      for await (const chunk of source) {
        const text = carry + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
        let start = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
          handle(text.slice(start, nl));
          start = nl + 1;
        }
        carry = text.slice(start);
        if (carry.length > maxLine)
          throw new Abort(`line ${line + 1} is longer than ${maxLine} characters`);
        if (pending.length >= chunkSize) await flush();
      }
      carry += decoder.end();
      if (carry.trim() !== '') handle(carry);
    } else {
      const csv = new CsvReader(maxLine);
      let emailCol = -1;
      let columns: string[] | undefined;
      const onRecord = (fields: string[], line: number): void => {
        if (!columns) {
          columns = fields.map((f) => f.trim());
          emailCol = columns.findIndex((c) => c.toLowerCase() === 'email');
          if (emailCol < 0) throw new Abort('the header row (line 1) has no "email" column');
          return;
        }
        const vars: Record<string, string> = {};
        let any = false;
        columns.forEach((c, k) => {
          if (k === emailCol || c === '') return;
          // Own properties only: a column named "__proto__" becomes a plain key, never a prototype.
          Object.defineProperty(vars, c, {
            value: fields[k] ?? '',
            enumerable: true,
            writable: true,
            configurable: true,
          });
          any = true;
        });
        accept(line, (fields[emailCol] ?? '').trim(), any ? vars : undefined);
      };
      for await (const chunk of source) {
        try {
          csv.push(typeof chunk === 'string' ? chunk : decoder.write(chunk), onRecord);
        } catch (err) {
          if (err instanceof Abort) throw err;
          throw new Abort((err as Error).message);
        }
        if (pending.length >= chunkSize) await flush();
      }
      try {
        csv.push(decoder.end(), onRecord);
        csv.end(onRecord);
      } catch (err) {
        if (err instanceof Abort) throw err;
        throw new Abort((err as Error).message);
      }
      if (!columns)
        throw new Abort(
          'the file is empty: the first line must be a header row with an "email" column',
        );
    }
    await flush();
  } catch (err) {
    if (!(err instanceof Abort)) throw err;
    result.aborted = err.message;
  }
  return result;
}
