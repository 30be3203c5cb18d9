/**
 * Called for each record: its fields, the line it starts on (1-based), and what is wrong with
 * it, if anything. A record with a problem was read to its end, so the records after it are
 * read as they were written; the caller reports it as an invalid row.
 */
export type CsvRecordHandler = (fields: string[], line: number, problem?: string) => void;

const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;
const BOM = '\uFEFF';

/**
 * A streaming CSV reader after RFC 4180: fields quoted or not, `""` for a quote inside a
 * quoted field, commas and line breaks inside quotes, CRLF, LF or CR line ends. The first
 * record is the header. Chunks go in as they arrive; complete records come out. Memory is one
 * record plus one partial field, whatever the file size.
 *
 * What RFC 4180 does not allow makes that record invalid (a problem given with it) rather
 * than being guessed at: a quote in a field that does not start with one (`5" tv`), text after
 * a field's closing quote, and (unless the caller allows them) more fields than the header.
 * Such a quote is read as a plain character, so the record still ends at its line break: a
 * reader that took it as the start of a quoted section would swallow the following lines into
 * one field, and their recipients would vanish without a word. Only what leaves the rest of
 * the file unreadable refuses it (a thrown error): a quoted field never closed, a field over
 * the length limit, a malformed header.
 *
 * Kept rather than the csv-parse package: read the same way (BOM, bad records skipped and
 * reported), csv-parse 7.0.3 took 4.5 to 6.6 times as long as this reader for the same rows
 * (`node --import tsx packages/ingest/bench/csv-reader.ts --csv-parse DIR`), far past the 20%
 * it was allowed.
 */
export class CsvReader {
  private field = '';
  private record: string[] = [];
  private inQuotes = false;
  /** The current field started with a quote. */
  private quoted = false;
  /** The previous character closed a quoted section: a quote now is an escaped quote. */
  private quoteClosed = false;
  /** The last chunk ended with the CR that ended a record: an LF starting the next is its pair. */
  private pendingCR = false;
  private started = false;
  /** What is wrong with the current record, if anything (the first problem found). */
  private problem: string | undefined;
  /** Fields of the header, once read. */
  private columns: number | undefined;
  /** Line number (1-based) of the next character, and where the current record started. */
  private line = 1;
  private recordLine = 1;

  private readonly maxFieldLength: number;
  private readonly extraFields: 'invalid' | 'allow';

  constructor(
    opts: {
      /** Longest field; a longer one refuses the file. @defaultValue 64 KiB */
      maxFieldLength?: number;
      /**
       * A record with more fields than the header: `invalid` (RFC 4180 wants every record as
       * long as the header, and a value with an unquoted comma is the usual cause) or `allow`,
       * for a reader that picks the columns it knows and ignores the rest.
       * @defaultValue 'invalid'
       */
      extraFields?: 'invalid' | 'allow';
    } = {},
  ) {
    this.maxFieldLength = opts.maxFieldLength ?? 64 * 1024;
    this.extraFields = opts.extraFields ?? 'invalid';
  }

  /** Feeds a chunk; calls `onRecord` for every record completed by it. */
  push(chunk: string, onRecord: CsvRecordHandler): void {
    const n = chunk.length;
    let i = 0;
    if (n === 0) return;
    // A UTF-8 byte order mark (a spreadsheet's export starts with one) is not text of the file.
    if (!this.started) {
      this.started = true;
      if (chunk.startsWith(BOM)) i = 1;
    }
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk.charCodeAt(i) === LF) i++;
    }
    // Where the next quote and CR are, found once per chunk rather than once per line
    // (-1: none left in the chunk; -2: not looked for yet).
    let quote = -2;
    let cr = -2;
    while (i < n) {
      // Most lines of a recipient list hold no quote and end in LF or CRLF: such a line,
      // starting where nothing is half read, is split with indexOf and split(',') instead
      // of one character at a time. Anything else goes through the full state machine.
      if (this.atRecordStart()) {
        const nl = chunk.indexOf('\n', i);
        if (nl >= 0) {
          if (quote !== -1 && quote < i) quote = chunk.indexOf('"', i);
          if (cr !== -1 && cr < i) cr = chunk.indexOf('\r', i);
          if ((quote === -1 || quote > nl) && (cr === -1 || cr >= nl - 1)) {
            const end = cr === nl - 1 ? cr : nl;
            const line = this.line++;
            this.recordLine = this.line;
            // Blank lines are not records.
            if (end > i) this.emit(chunk.slice(i, end).split(','), line, onRecord);
            i = nl + 1;
            continue;
          }
        }
      }
      i = this.scan(chunk, i, onRecord);
    }
    if (this.field.length > this.maxFieldLength) {
      throw new Error(
        `line ${this.recordLine}: a field is longer than ${this.maxFieldLength} characters (unbalanced quote?)`,
      );
    }
  }

  /** Ends the input; a last record without a line break is completed. */
  end(onRecord: CsvRecordHandler): void {
    if (this.inQuotes) throw new Error(`line ${this.recordLine}: a quoted field is not closed`);
    if (this.field !== '' || this.quoted || this.record.length > 0) this.endRecord(onRecord);
  }

  /** Nothing of the current record has been read yet. */
  private atRecordStart(): boolean {
    return this.field === '' && this.record.length === 0 && !this.inQuotes && !this.quoted;
  }

  private flag(problem: string): void {
    this.problem ??= problem;
  }

  /**
   * Reads one character at a time from `from` until a record ends (answers the index after
   * its terminator) or the chunk does (answers its length, the partial field kept).
   */
  private scan(chunk: string, from: number, onRecord: CsvRecordHandler): number {
    const n = chunk.length;
    let start = from;
    for (let i = from; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inQuotes) {
        if (c === QUOTE) {
          this.field += chunk.slice(start, i);
          start = i + 1;
          this.inQuotes = false;
          this.quoteClosed = true;
        } else if (c === LF) {
          this.line++;
        }
        continue;
      }
      if (c === QUOTE) {
        if (this.quoteClosed) {
          // `"a""b"`: the second quote of the pair is a literal one, and the section goes on.
          this.field += chunk.slice(start, i + 1);
          start = i + 1;
          this.inQuotes = true;
          this.quoteClosed = false;
        } else if (!this.quoted && i === start && this.field === '') {
          start = i + 1;
          this.inQuotes = true;
          this.quoted = true;
        } else {
          this.flag(
            `field ${this.record.length + 1} has a quote but does not start with one; quote the whole field and double the quotes in it ("5"" tv")`,
          );
        }
        continue;
      }
      if (c === COMMA) {
        this.field += chunk.slice(start, i);
        start = i + 1;
        this.record.push(this.take());
      } else if (c === CR || c === LF) {
        this.field += chunk.slice(start, i);
        this.line++;
        this.endRecord(onRecord);
        if (c === CR) {
          if (i + 1 === n) this.pendingCR = true;
          else if (chunk.charCodeAt(i + 1) === LF) return i + 2;
        }
        return i + 1;
      } else if (this.quoteClosed) {
        this.flag(
          `field ${this.record.length + 1} goes on after its closing quote; quote the whole field and double the quotes in it`,
        );
      }
      this.quoteClosed = false;
    }
    this.field += chunk.slice(start);
    return n;
  }

  private take(): string {
    const f = this.field;
    this.field = '';
    this.quoted = false;
    this.quoteClosed = false;
    return f;
  }

  private endRecord(onRecord: CsvRecordHandler): void {
    const blank = this.record.length === 0 && this.field === '' && !this.quoted;
    this.record.push(this.take());
    const rec = this.record;
    const line = this.recordLine;
    this.record = [];
    this.recordLine = this.line;
    // Blank lines are not records.
    if (!blank) this.emit(rec, line, onRecord);
    this.problem = undefined;
  }

  private emit(fields: string[], line: number, onRecord: CsvRecordHandler): void {
    let problem = this.problem;
    this.problem = undefined;
    if (this.columns === undefined) {
      // The header decides how every other record is read: a broken one is no basis.
      if (problem !== undefined) throw new Error(`line ${line}: the header row: ${problem}`);
      this.columns = fields.length;
    } else if (
      problem === undefined &&
      fields.length > this.columns &&
      this.extraFields === 'invalid'
    ) {
      problem = `${fields.length} fields; the header has ${this.columns} (is a value with a comma not quoted?)`;
    }
    onRecord(fields, line, problem);
  }
}
