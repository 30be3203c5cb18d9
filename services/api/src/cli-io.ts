/** What the admin CLI's commands share: where they write, and how usage errors and tables look. */

/** A command line that cannot be run as given: exit status 2, with the usage. */
export class UsageError extends Error {}

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** Columns padded to their widest cell, for a terminal. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_c, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}
