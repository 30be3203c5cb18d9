/**
 * What the command prints. In a terminal: text, colours and live progress on stderr. Piped, or
 * with --json: one JSON object a line on stdout and no escape codes anywhere, so a script can
 * read it line by line.
 */
import type { Writable } from 'node:stream';

/** A failure to report with exit status 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'CLI_FAILED',
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Wrong usage: exit status 2, with the command's help hint. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Streams {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
}

const CODES = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export class Output {
  /** Text and colours for a person; otherwise JSON lines. */
  readonly human: boolean;
  /** Live progress is drawn (a terminal on stderr, not --json). */
  readonly live: boolean;
  private readonly colour: boolean;

  constructor(
    readonly streams: Streams,
    opts: { json: boolean; env: Record<string, string | undefined> },
  ) {
    this.human = !opts.json && streams.stdout.isTTY === true;
    this.live = !opts.json && streams.stderr.isTTY === true;
    // https://no-color.org: any non-empty NO_COLOR turns colours off.
    this.colour = this.human && !opts.env.NO_COLOR;
  }

  paint(colour: Colour, text: string): string {
    return this.colour ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
  }

  /** A line of text for a person (stdout). */
  line(text = ''): void {
    this.streams.stdout.write(`${text}\n`);
  }

  /** A diagnostic or a hint (stderr), in either mode. */
  note(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }

  /** One JSON line (stdout). */
  json(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** A record: JSON in machine mode, else `render`'s lines. */
  emit(value: unknown, render: () => string[]): void {
    if (this.human) for (const l of render()) this.line(l);
    else this.json(value);
  }

  /**
   * Records: a JSON line each in machine mode; for a person `render`'s lines, or the note
   * `empty` when there are none.
   */
  list<T>(items: T[], empty: string, render: (items: T[]) => string[]): void {
    if (!this.human) for (const item of items) this.json(item);
    else if (!items.length) this.note(empty);
    else for (const l of render(items)) this.line(l);
  }
}

/** Rows as aligned columns. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
