/**
 * A streaming CSV reader (RFC 4180: quoted fields with "" escapes, commas and line breaks
 * inside quotes, CRLF or LF line ends). Chunks go in as they arrive; complete records come
 * out. Memory is one record plus one partial field, whatever the file size.
 */
export class CsvReader {
  private field = '';
  private record: string[] = [];
  private inQuotes = false;
  /** The previous character closed a quoted section: a quote now is an escaped quote. */
  private quoteClosed = false;
  private sawCR = false;
  /** Line number (1-based) where the current record started, for error messages. */
  private line = 1;
  private recordLine = 1;

  constructor(private readonly maxFieldLength = 64 * 1024) {}

  /** Feeds a chunk; calls `onRecord(fields, line)` for every record completed by it. */
  push(chunk: string, onRecord: (fields: string[], line: number) => void): void {
    const n = chunk.length;
    let i = 0;
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
            const line = this.recordLine;
            this.line++;
            this.recordLine = this.line;
            // Blank lines are not records.
            if (end > i) onRecord(chunk.slice(i, end).split(','), line);
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
  end(onRecord: (fields: string[], line: number) => void): void {
    if (this.inQuotes) throw new Error(`line ${this.recordLine}: a quoted field is not closed`);
    if (this.field !== '' || this.record.length > 0) this.endRecord(onRecord);
  }

  /** Nothing of the current record has been read yet. */
  private atRecordStart(): boolean {
    return (
      this.field === '' &&
      this.record.length === 0 &&
      !this.inQuotes &&
      !this.quoteClosed &&
      !this.sawCR
    );
  }

  /**
   * Reads one character at a time from `from` until a record ends (answers the index after
   * its terminator) or the chunk does (answers its length, the partial field kept).
   */
  private scan(
    chunk: string,
    from: number,
    onRecord: (fields: string[], line: number) => void,
  ): number {
    const n = chunk.length;
    let start = from;
    for (let i = from; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inQuotes) {
        if (c === 34 /* " */) {
          this.field += chunk.slice(start, i);
          start = i + 1;
          this.inQuotes = false;
          this.quoteClosed = true;
        } else if (c === 10) {
          this.line++;
        }
        continue;
      }
      if (c === 34) {
        this.field += chunk.slice(start, i);
        start = i + 1;
        // `"a""b"`: the second quote re-opens the section and keeps one literal quote.
        if (this.quoteClosed) this.field += '"';
        this.inQuotes = true;
        this.quoteClosed = false;
        continue;
      }
      this.quoteClosed = false;
      if (c === 44 /* , */) {
        this.field += chunk.slice(start, i);
        start = i + 1;
        this.record.push(this.take());
      } else if (c === 13 /* \r */) {
        this.field += chunk.slice(start, i);
        this.sawCR = true;
        this.endRecord(onRecord);
        return i + 1;
      } else if (c === 10 /* \n */) {
        this.field += chunk.slice(start, i);
        if (this.sawCR) {
          // The LF of a CRLF: the record already ended at the CR.
          this.sawCR = false;
          this.line++;
          this.recordLine = this.line;
          return i + 1;
        }
        this.endRecord(onRecord);
        return i + 1;
      } else {
        this.sawCR = false;
      }
    }
    this.field += chunk.slice(start);
    return n;
  }

  private take(): string {
    const f = this.field;
    this.field = '';
    return f;
  }

  private endRecord(onRecord: (fields: string[], line: number) => void): void {
    this.record.push(this.take());
    const rec = this.record;
    const line = this.recordLine;
    this.record = [];
    if (!this.sawCR) {
      this.line++;
      this.recordLine = this.line;
    }
    // Blank lines are not records.
    if (!(rec.length === 1 && rec[0] === '')) onRecord(rec, line);
  }
}
