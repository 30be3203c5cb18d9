/**
 * Reading raw variables: each reader method checks one variable and records what is wrong with
 * it, so one failed start reports every problem at once.
 */

export class ConfigError extends Error {
  readonly code = 'VOLLEY_CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  required(name: string, why: string): string {
    const v = this.raw(name);
    if (v === undefined) {
      this.problems.push(`${name} is not set: ${why}`);
      return '';
    }
    return v;
  }

  int(name: string, def: number, min: number, max: number, why = ''): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(
        `${name}=${JSON.stringify(v)} must be a whole number from ${min} to ${max}${why ? `: ${why}` : ''}`,
      );
      return def;
    }
    return n;
  }

  port(name: string, def: number): number {
    return this.int(name, def, 0, 65535, '0 picks a free port');
  }

  /** A count where `0` or `off` means no limit at all. */
  limitOrOff(name: string, def: number, max: number, why: string): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (v.toLowerCase() === 'off') return 0;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > max) {
      this.problems.push(
        `${name}=${JSON.stringify(v)} must be a whole number from 0 to ${max}, or off: ${why}`,
      );
      return def;
    }
    return n;
  }

  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${name}=${JSON.stringify(v)} must be one of ${allowed.join(', ')}`);
      return def;
    }
    return v as T;
  }

  durationMs(name: string, def: number): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    const ms = parseDuration(v);
    if (ms === undefined) {
      this.problems.push(
        `${name}=${JSON.stringify(v)} is not a duration: use a number with a unit, such as 90s, 30m, 12h or 3d`,
      );
      return def;
    }
    return ms;
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = UNITS[m[2] ?? ''];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

/** The value, or a ConfigError listing every problem the reader recorded. */
export function done<T>(r: Reader, value: T): T {
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return value;
}
