/**
 * Header-style field blocks ("Name: value", continuation lines indented), as used by message
 * headers, RFC 3464 delivery-status parts and RFC 5965 feedback reports.
 */
import { MAX_LINE_CHARS } from './limits.ts';

export interface Field {
  /** Lower-cased field name. */
  name: string;
  /** Unfolded value, trimmed. */
  value: string;
}

const FIELD_NAME = /^([A-Za-z0-9][A-Za-z0-9-]{0,75}):[ \t]?(.*)$/;

/** Splits text into lines (any line ending), each cut to a bounded length. */
export function splitLines(text: string): string[] {
  return text
    .split(/\r\n|\r|\n/)
    .map((l) => (l.length > MAX_LINE_CHARS ? l.slice(0, MAX_LINE_CHARS) : l));
}

/**
 * Groups of fields separated by blank lines. Lines that are neither a field nor a continuation
 * end the field before them and are skipped, so prose around the fields does no harm.
 */
export function fieldGroups(text: string): Field[][] {
  const groups: Field[][] = [];
  let group: Field[] = [];
  let last: Field | undefined;
  for (const line of splitLines(text)) {
    if (line.trim() === '') {
      if (group.length > 0) groups.push(group);
      group = [];
      last = undefined;
      continue;
    }
    if (/^[ \t]/.test(line) && last) {
      last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const m = FIELD_NAME.exec(line);
    if (m) {
      last = { name: (m[1] ?? '').toLowerCase(), value: (m[2] ?? '').trim() };
      group.push(last);
    } else {
      last = undefined;
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** The header block at the start of a message (up to the first blank line), as fields. */
export function headerFields(text: string): Field[] {
  const end = text.search(/\r?\n\r?\n/);
  return fieldGroups(end >= 0 ? text.slice(0, end) : text)[0] ?? [];
}

/** First value of a field, or undefined. */
export function fieldValue(fields: readonly Field[], name: string): string | undefined {
  return fields.find((f) => f.name === name)?.value;
}

/** Every value of a field, in order. */
export function fieldValues(fields: readonly Field[], name: string): string[] {
  return fields.filter((f) => f.name === name).map((f) => f.value);
}

/**
 * A typed value ("rfc822; a@b", "smtp; 550 ...", "dns; mx.example.org"): its type, lower-cased,
 * and the rest. A value without a type has an empty type.
 */
export function typedValue(value: string): { type: string; text: string } {
  const m = /^([A-Za-z0-9-]{1,32})\s*;\s*(.*)$/s.exec(value);
  if (!m) return { type: '', text: value.trim() };
  return { type: (m[1] ?? '').toLowerCase(), text: (m[2] ?? '').trim() };
}
