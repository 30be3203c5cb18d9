/** Flag parsing shared by the benchmark entry points; each wraps errors with its own usage text. */
import { parseArgs } from 'node:util';

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/** A whole-number flag (underscores allowed: 100_000), `def` when absent. */
export function wholeNumber(
  name: string,
  text: string | undefined,
  def: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (text === undefined) return def;
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new FlagError(`--${name}=${JSON.stringify(text)} must be a whole number ${range}`);
  }
  return n;
}

/** {@link wholeNumber} whose errors become the caller's usage error (which carries its usage text). */
export function wholeNumberFlags(
  toError: (message: string) => Error,
): (name: string, text: string | undefined, def: number, min: number, max?: number) => number {
  return (name, text, def, min, max) => {
    try {
      return wholeNumber(name, text, def, min, max);
    } catch (err) {
      if (err instanceof FlagError) throw toError(err.message);
      throw err;
    }
  };
}

type FlagOptions = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

/**
 * The flags of `argv` (strict: an unknown flag or a positional argument is refused), with
 * parse errors turned into the caller's usage error.
 */
export function parseFlags<const O extends FlagOptions>(
  argv: string[],
  options: O,
  toError: (message: string) => Error,
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw toError(err instanceof Error ? err.message : String(err));
  }
}
