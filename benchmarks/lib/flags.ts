/**
 * The command-line flags of the benchmark entry points. Each command declares its flags once,
 * as a table (value syntax, help, check, default); the same table parses the command line and
 * writes the usage text, so the two cannot drift apart. Strict: an unknown flag, a flag without
 * its value, a value the flag does not take and a positional argument are all refused.
 */

/** A wrong command line; its message says which flag and what it takes. */
export class FlagError extends Error {
  readonly code = 'BENCH_FLAG';
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

interface SwitchFlag {
  kind: 'switch';
  help: string;
}

interface ValueFlag<T, HasDefault extends boolean> {
  kind: 'value';
  /** The value as the usage text shows it: N, DIR, off|on|FILE. */
  arg: string;
  /** Help text; a new line continues it under the first. */
  help: string;
  parse(text: string, flag: string): T;
  /** What the flag means given bare (`--dkim`); without it the flag needs a value. */
  bare: string | undefined;
  defaultValue: HasDefault extends true ? T : undefined;
  /** The default as the usage text shows it, when the command works it out itself. */
  defaultText: string | undefined;
}

/** A value flag whose builder can still add a default. */
interface ValueFlagBuilder<T> extends ValueFlag<T, false> {
  /** The value when the flag is absent, shown in the usage as `(default …)`. */
  default(value: T, shown?: string): ValueFlag<T, true>;
  /** A default the command works out from other flags, described for the usage text. */
  defaultIs(text: string): ValueFlag<T, false>;
  /** What the flag means given bare, with no value after it. */
  bareMeans(text: string): ValueFlagBuilder<T>;
}

type AnyFlag = SwitchFlag | ValueFlag<unknown, boolean>;
export type FlagTable = Record<string, AnyFlag>;

/** The parsed command line: switches as booleans, values parsed, absent ones their default. */
export type FlagValues<F extends FlagTable> = {
  [K in keyof F]: F[K] extends SwitchFlag
    ? boolean
    : F[K] extends ValueFlag<infer T, infer D>
      ? D extends true
        ? T
        : T | undefined
      : never;
};

function valueFlag<T>(
  arg: string,
  help: string,
  parse: (text: string, flag: string) => T,
  bare?: string,
): ValueFlagBuilder<T> {
  const base = {
    kind: 'value' as const,
    arg,
    help,
    parse,
    bare,
    defaultValue: undefined,
    defaultText: undefined,
  };
  return {
    ...base,
    default: (value: T, shown = String(value)) => ({
      ...base,
      defaultValue: value,
      defaultText: shown,
    }),
    defaultIs: (text: string) => ({ ...base, defaultText: text }),
    bareMeans: (text: string) => valueFlag(arg, help, parse, text),
  };
}

/** A whole number (underscores allowed: 100_000) from `min` to `max`. */
export function wholeNumber(text: string, flag: string, min: number, max?: number): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new FlagError(`--${flag}=${JSON.stringify(text)} must be a whole number ${range}`);
  }
  return n;
}

/** The flag kinds a command's table is made of. */
export const flag = {
  switch: (help: string): SwitchFlag => ({ kind: 'switch', help }),
  int: (arg: string, help: string, min: number, max?: number): ValueFlagBuilder<number> =>
    valueFlag(arg, help, (text, name) => wholeNumber(text, name, min, max)),
  text: (arg: string, help: string): ValueFlagBuilder<string> =>
    valueFlag(arg, help, (text) => text),
  /** Any other value: `parse` throws a FlagError naming what the flag takes. */
  custom: <T>(
    arg: string,
    help: string,
    parse: (text: string, flag: string) => T,
  ): ValueFlagBuilder<T> => valueFlag(arg, help, parse),
  /** A comma-separated list, each item checked by `item`. */
  list: <T>(
    arg: string,
    help: string,
    item: (text: string, flag: string) => T,
  ): ValueFlagBuilder<T[]> =>
    valueFlag(arg, help, (text, name) => text.split(',').map((x) => item(x.trim(), name))),
};

/** Every command has it; it is not part of a table. */
const HELP_FLAG: SwitchFlag = { kind: 'switch', help: 'this text' };

/**
 * Parses `argv` against `table`: 'help' for --help or -h (wherever it stands), else every flag
 * of the table, absent ones at their default. Throws FlagError for a wrong command line.
 */
export function parseFlags<F extends FlagTable>(table: F, argv: string[]): FlagValues<F> | 'help' {
  if (argv.some((a) => a === '--help' || a === '-h')) return 'help';
  const given = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--') || a === '--') {
      throw new FlagError(`unexpected argument ${JSON.stringify(a)}: every setting is a --flag`);
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const spec = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!spec) throw new FlagError(`unknown flag --${name}`);
    if (spec.kind === 'switch') {
      if (eq >= 0) throw new FlagError(`--${name} takes no value`);
      given.set(name, true);
      continue;
    }
    if (eq >= 0) {
      given.set(name, a.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    // A bare flag ends where the next flag starts; a required value may be a negative number,
    // which the flag's own check then refuses with its range.
    if (spec.bare !== undefined && (next === undefined || next.startsWith('-'))) {
      given.set(name, spec.bare);
    } else if (next === undefined || next.startsWith('--')) {
      throw new FlagError(`--${name} needs a value (${spec.arg})`);
    } else {
      given.set(name, next);
      i++;
    }
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const text = given.get(name);
    if (spec.kind === 'switch') values[name] = text === true;
    else values[name] = typeof text === 'string' ? spec.parse(text, name) : spec.defaultValue;
  }
  return values as FlagValues<F>;
}

/** Column of the help texts; a longer flag puts its help on the next line. */
const HELP_COLUMN = 26;

/** The usage text: `command` and one entry per flag of the table, then --help. */
export function usageText(command: string, table: FlagTable): string {
  const lines = [`Usage: ${command} -- [flags]`, ''];
  for (const [name, spec] of [...Object.entries(table), ['help', HELP_FLAG] as const]) {
    const left = `  --${name}${spec.kind === 'value' ? ` ${spec.arg}` : ''}`;
    const help = spec.help.split('\n');
    if (spec.kind === 'value' && spec.defaultText !== undefined) {
      help[help.length - 1] += ` (default ${spec.defaultText})`;
    }
    const fits = left.length + 2 <= HELP_COLUMN;
    if (!fits) lines.push(left);
    for (const [k, h] of help.entries()) {
      lines.push(`${k === 0 && fits ? left.padEnd(HELP_COLUMN) : ' '.repeat(HELP_COLUMN)}${h}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A benchmark command: its flag table and how the parsed flags become its options. */
export interface Cli<O> {
  usage: string;
  /** The options, or 'help'; throws FlagError for a wrong command line. */
  parse(argv: string[]): O | 'help';
  /**
   * The options; on --help prints the usage and exits 0, on a wrong command line prints what
   * is wrong and the usage on stderr and exits 2.
   */
  parseOrExit(argv: string[]): O;
}

export function defineCli<F extends FlagTable, O>(
  command: string,
  table: F,
  options: (values: FlagValues<F>) => O,
): Cli<O> {
  const usage = usageText(command, table);
  const parse = (argv: string[]): O | 'help' => {
    const values = parseFlags(table, argv);
    return values === 'help' ? 'help' : options(values);
  };
  return {
    usage,
    parse,
    parseOrExit(argv) {
      let parsed: O | 'help';
      try {
        parsed = parse(argv);
      } catch (err) {
        if (!(err instanceof FlagError)) throw err;
        process.stderr.write(`${err.message}\n\n${usage}`);
        process.exit(2);
      }
      if (parsed === 'help') {
        process.stdout.write(usage);
        process.exit(0);
      }
      return parsed;
    },
  };
}
