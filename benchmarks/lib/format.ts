/** Number formatting shared by the benchmark reports. */
import type { Spread } from './stats.ts';

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The median in bold, with the range when there is more than one value. */
export function cell(s: Spread, digits = 0, unit = ''): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  const range = s.values.length > 1 ? ` (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : '';
  return `**${fmt(s.median, digits)}${unit}**${range}`;
}

/** One cell per repetition. */
export function repCells(s: Spread, reps: number, digits = 0, unit = ''): string[] {
  const out: string[] = [];
  for (let i = 0; i < reps; i++) out.push(`${fmt(s.values[i] ?? Number.NaN, digits)}${unit}`);
  return out;
}
