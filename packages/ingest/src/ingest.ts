import { StringDecoder } from 'node:string_decoder';
import { missingVariables, normalizeEmail } from '@volley/message';
import { CsvReader, type CsvRecordHandler } from './csv.ts';

export type UploadFormat = 'ndjson' | 'csv';

export interface IngestOptions {
  format: UploadFormat;
  /** More invalid rows than this aborts the upload. */
  maxInvalid: number;
  /** Invalid rows listed in the result (all are counted). @defaultValue 100 */
  maxReported?: number;
  /** Valid rows handed to the sink at a time (at least; a batch ends with an input chunk). @defaultValue 1000 */
  chunkSize?: number;
  /**
   * Batches handed to the sink and not yet written. Above one, the next rows are parsed while
   * the previous ones are written; once this many are pending, the stream is not read until
   * the oldest is done, so memory stays bounded. @defaultValue 4
   */
  inFlight?: number;
  /** Largest JSON size of one recipient's variables. @defaultValue 16 KiB */
  maxVarsBytes?: number;
  /** Variables (dotted paths) every row must have, not empty: rows without them are invalid. */
  requiredVars?: readonly string[];
  /** Deepest nesting of objects and arrays in one recipient's variables. @defaultValue 32 */
  maxVarsDepth?: number;
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
  /** The line that stopped the upload, when one line did (a header without email, say). */
  abortedLine?: number;
}

/**
 * Valid rows, in file order, as the campaign store keeps them: each row's canonical address
 * (domain lower-cased, IDN in punycode) and the row serialized as JSON `{"email", "vars"}`,
 * which parses to the recipient with that address.
 */
export interface RecipientBatch {
  emails: string[];
  rows: string[];
}

export type RecipientSink = (
  batch: RecipientBatch,
) => Promise<{ added: number; duplicates: number }>;

class Abort extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/**
 * Why a CSV header has no email column, with the likely cause when there is one: a file saved
 * by a spreadsheet set to a locale that separates fields with ";" reads as a single column.
 */
export function noEmailColumn(header: readonly string[]): string {
  const message = 'the header row (line 1) has no "email" column';
  const only = header.length === 1 ? (header[0] ?? '') : '';
  const delimiter = [';', '\t', '|'].find((d) => only.includes(d));
  if (delimiter === undefined) return message;
  const name = delimiter === '\t' ? 'tabs' : JSON.stringify(delimiter);
  return `${message}: it looks separated by ${name}; Volley reads comma-separated CSV (RFC 4180), so save or export the file with commas as the delimiter`;
}

/**
 * JSON.stringify never writes a parsed value more than 5.25 times longer than its source text
 * (the worst case is a number: `1e20` becomes `100000000000000000000`; strings and structure
 * never grow). A line up to maxVars / 6 long therefore cannot hold variables over the limit,
 * and only longer lines pay for serializing them to measure.
 */
const MAX_GROWTH = 6;

/**
 * How deeply `value` nests objects and arrays (a primitive is 0, `{}` is 1), counted up to
 * `limit + 1` and no further. Iterative: the values it guards against are the ones that would
 * overflow the stack of a recursive walk.
 */
export function nestingDepth(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  const stack: [object, number][] = [[value, 1]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child as object, depth + 1]);
    }
  }
  return deepest;
}

/** Nesting needs an opening bracket per level: a line with few cannot nest deeply. */
function fewBrackets(line: string, limit: number): boolean {
  let n = 0;
  for (const c of ['{', '[']) {
    for (let i = line.indexOf(c); i >= 0; i = line.indexOf(c, i + 1)) {
      if (++n > limit) return false;
    }
  }
  return true;
}

/**
 * Reads recipients from an NDJSON or CSV stream and hands them to `sink` in batches. At most
 * `inFlight` batches are being written at a time: past that the stream is not read until the
 * oldest is done, so memory stays constant (backpressure) whatever the file size. Invalid rows
 * are counted and reported with their line number. Every batch has been written (or has
 * failed) when this returns or throws, so a caller may roll back safely.
 */
export async function ingestRecipients(
  source: AsyncIterable<Buffer | string>,
  opts: IngestOptions,
  sink: RecipientSink,
): Promise<IngestResult> {
  const maxReported = opts.maxReported ?? 100;
  const chunkSize = opts.chunkSize ?? 1000;
  const inFlight = Math.max(1, opts.inFlight ?? 4);
  const maxVars = opts.maxVarsBytes ?? 16 * 1024;
  // JSON.stringify and template rendering recurse per level: a few thousand levels overflow
  // the stack of whichever process touches the row (this one, then every sender). Template
  // variables nest a few levels.
  const maxDepth = opts.maxVarsDepth ?? 32;
  const maxLine = opts.maxLineLength ?? 64 * 1024;
  const result: IngestResult = { rows: 0, added: 0, duplicates: 0, invalid: 0, errors: [] };
  let emails: string[] = [];
  let rows: string[] = [];

  const invalid = (row: number, reason: string): void => {
    result.invalid++;
    if (result.errors.length < maxReported) result.errors.push({ row, reason });
    if (result.invalid > opts.maxInvalid) {
      throw new Abort(`more than ${opts.maxInvalid} invalid rows`);
    }
  };

  const required = opts.requiredVars ?? [];
  const lacking = (row: number, names: readonly string[]): void =>
    invalid(row, `vars lack ${names.join(', ')}, which the campaign requires`);

  const badAddress = (row: number, email: unknown): void => {
    if (typeof email !== 'string' || email === '') return invalid(row, 'email is missing');
    invalid(row, `${JSON.stringify(email.slice(0, 100))} is not a valid address`);
  };

  // Batches handed to the sink, oldest first; each settles without rejecting (a failure is
  // kept in `failed`), so waiting for them never throws out of order.
  const writing: Promise<void>[] = [];
  let failed: { err: unknown } | undefined;
  const flush = async (): Promise<void> => {
    if (emails.length > 0) {
      const batch = { emails, rows };
      emails = [];
      rows = [];
      writing.push(
        sink(batch).then(
          (r) => {
            result.added += r.added;
            result.duplicates += r.duplicates;
          },
          (err: unknown) => {
            failed ??= { err };
          },
        ),
      );
    }
    while (writing.length >= inFlight) await writing.shift();
    if (failed) throw failed.err;
  };

  const decoder = new StringDecoder('utf8');
  try {
    if (opts.format === 'ndjson') {
      // The unfinished last line, kept in pieces: joined once its end arrives, so a long line
      // sent in many small chunks costs its length, not its length times the chunk count.
      let carry: string[] = [];
      let carryLength = 0;
      let line = 0;
      const handle = (text: string): void => {
        line++;
        const t = text.trim();
        if (t === '') return;
        result.rows++;
        let obj: unknown;
        try {
          obj = JSON.parse(t);
        } catch {
          return invalid(line, 'not valid JSON');
        }
        if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
          return invalid(line, 'each line must be a JSON object {"email": ..., "vars": {...}}');
        }
        const o = obj as Record<string, unknown>;
        let hasVars = false;
        for (const k of Object.keys(o)) {
          if (k === 'vars') hasVars = true;
          else if (k !== 'email') {
            return invalid(
              line,
              `unknown property ${JSON.stringify(k)} (put template variables in "vars")`,
            );
          }
        }
        const email = o.email;
        const normalized = typeof email === 'string' ? normalizeEmail(email) : undefined;
        if (normalized === undefined) return badAddress(line, email);
        const vars = o.vars;
        if (hasVars) {
          if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) {
            return invalid(line, 'vars must be an object');
          }
          // The line's own braces are one level more than its variables.
          if (!fewBrackets(t, maxDepth + 1) && nestingDepth(vars, maxDepth) > maxDepth) {
            return invalid(line, `vars nest more than ${maxDepth} levels deep`);
          }
          if (t.length * MAX_GROWTH > maxVars && JSON.stringify(vars).length > maxVars) {
            return invalid(line, `vars are larger than ${maxVars} bytes`);
          }
        }
        if (required.length > 0) {
          const lack = missingVariables(
            hasVars ? (vars as Record<string, unknown>) : undefined,
            required,
          );
          if (lack.length > 0) return lacking(line, lack);
        }
        emails.push(normalized);
        // A line whose address is already canonical is kept as written: it parses to the same
        // recipient, and a parse-serialize round trip per row would cost more than the rest.
        // Only a plain one, though: without escapes, and with "email" once, so that no parser
        // (first key wins or last key wins) can read another address from it than this one.
        rows.push(
          normalized === email &&
            t.indexOf('\\') < 0 &&
            t.indexOf('"email"') === t.lastIndexOf('"email"')
            ? t
            : JSON.stringify(hasVars ? { email: normalized, vars } : { email: normalized }),
        );
      };
      for await (const chunk of source) {
        const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
        let nl = text.indexOf('\n');
        let start = 0;
        if (nl >= 0 && carry.length > 0) {
          handle(carry.join('') + text.slice(0, nl));
          carry = [];
          carryLength = 0;
          start = nl + 1;
          nl = text.indexOf('\n', start);
        }
        for (; nl >= 0; nl = text.indexOf('\n', start)) {
          handle(text.slice(start, nl));
          start = nl + 1;
        }
        if (start < text.length) {
          carry.push(start === 0 ? text : text.slice(start));
          carryLength += text.length - start;
          if (carryLength > maxLine)
            throw new Abort(`line ${line + 1} is longer than ${maxLine} characters`, line + 1);
        }
        if (emails.length >= chunkSize) await flush();
      }
      const last = carry.join('') + decoder.end();
      if (last.trim() !== '') handle(last);
    } else {
      const csv = new CsvReader({ maxFieldLength: maxLine });
      let emailCol = -1;
      let columns: string[] | undefined;
      // Per variable: its column, and its JSON key text (`"name":`), built once from the header.
      let varCols: number[] = [];
      let varKeys: string[] = [];
      let requiredCols: number[] = [];
      const onRecord: CsvRecordHandler = (fields, line, problem) => {
        if (!columns) {
          columns = fields.map((f) => f.trim());
          emailCol = columns.findIndex((c) => c.toLowerCase() === 'email');
          if (emailCol < 0) throw new Abort(noEmailColumn(columns), 1);
          // A name given twice keeps its last column, as assigning each column in turn would.
          const last = new Map<string, number>();
          columns.forEach((c, k) => {
            if (k !== emailCol && c !== '') last.set(c, k);
          });
          varCols = [...last.values()];
          // A column named "__proto__" is a key in the JSON text, never a prototype.
          varKeys = [...last.keys()].map((c) => `${JSON.stringify(c)}:`);
          // A CSV row's variables are flat: a required name is a column of its own.
          const absent = required.filter((r) => !last.has(r));
          if (absent.length > 0) {
            throw new Abort(
              `the header row (line 1) has no column for ${absent.map((a) => JSON.stringify(a)).join(', ')}, which the campaign requires`,
              1,
            );
          }
          requiredCols = required.map((r) => last.get(r) as number);
          return;
        }
        result.rows++;
        if (problem !== undefined) return invalid(line, problem);
        const email = (fields[emailCol] ?? '').trim();
        const normalized = email === '' ? undefined : normalizeEmail(email);
        if (normalized === undefined) return badAddress(line, email);
        const lack = required.filter(
          (_r, k) => (fields[requiredCols[k] as number] ?? '').trim() === '',
        );
        if (lack.length > 0) return lacking(line, lack);
        // normalizeEmail's alphabet needs no escaping in JSON (no quote, backslash or control).
        let json = `{"email":"${normalized}"`;
        if (varCols.length > 0) {
          let vars = '{';
          for (let v = 0; v < varCols.length; v++) {
            if (v > 0) vars += ',';
            vars += varKeys[v] + JSON.stringify(fields[varCols[v] as number] ?? '');
          }
          vars += '}';
          if (vars.length > maxVars) return invalid(line, `vars are larger than ${maxVars} bytes`);
          json += `,"vars":${vars}`;
        }
        emails.push(normalized);
        rows.push(`${json}}`);
      };
      for await (const chunk of source) {
        try {
          csv.push(typeof chunk === 'string' ? chunk : decoder.write(chunk), onRecord);
        } catch (err) {
          if (err instanceof Abort) throw err;
          throw new Abort((err as Error).message);
        }
        if (emails.length >= chunkSize) await flush();
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
    if (err.line !== undefined) result.abortedLine = err.line;
  } finally {
    // Nothing may still be writing once the caller sees the outcome: it may roll back.
    await Promise.all(writing);
  }
  if (failed) throw failed.err;
  return result;
}
