/**
 * Reads the YAML nodes of a policy field by field, recording each problem with the line and
 * column of the node it is about and what to write instead.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { parseDuration } from '@volley/config';
import type { PolicyProblem } from './policy-error.ts';
import { normalizeHost, type Rule } from './policy.ts';

const RATE_HELP = 'write messages per time unit, such as 100/s, 6000/min or 20000/h, or unlimited';
const DURATION_HELP = 'write a number with a unit, such as 500ms, 90s, 30m, 12h or 3d';
const RATE_UNITS: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600 };
/** Provider and adaptive rule names: they become metric labels and Redis key parts. */
export const NAME = /^[a-z][a-z0-9_-]{0,62}$/;
export const HOST =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/;
const RULE_FIELDS = ['rate', 'burst', 'connections', 'messagesPerConnection', 'retry'] as const;

/** Parses `100/s`, `6000/min` (or `/m`) and `20000/h` to messages per second. */
export function parseRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*\/\s*(s|m|min|h)$/.exec(text.trim());
  const per = RATE_UNITS[m?.[2] ?? ''];
  if (!m || per === undefined) return undefined;
  return Number(m[1]) / per;
}

/** The limits a section writes itself; the rest it takes from its parent. */
export type OwnLimits = Omit<{ [K in keyof Rule]?: Rule[K] }, 'name'>;

/** Walks the YAML nodes, so each problem can point at the node it is about. */
export class Checker {
  readonly problems: PolicyProblem[] = [];
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  at(node: Node | null | undefined, reason: string): undefined {
    const offset = node?.range?.[0] ?? 0;
    const pos = this.lines.linePos(offset);
    this.problems.push({ line: pos.line, column: pos.col, reason });
    return undefined;
  }

  /** The node itself, with aliases (`*name`) followed. */
  deref(node: unknown): Node | undefined {
    if (isAlias(node)) return this.deref(node.resolve(this.doc));
    return isMap(node) || isSeq(node) || isScalar(node) ? node : undefined;
  }

  /** Key/value pairs of a map, with unknown keys reported. */
  pairs(node: Node | undefined, what: string, known?: readonly string[]): [string, Node, Node][] {
    if (!isMap(node)) {
      this.at(node, `${what} must be a map of fields (key: value)`);
      return [];
    }
    const out: [string, Node, Node][] = [];
    for (const pair of node.items) {
      const keyNode = this.deref(pair.key);
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      if (key === undefined || !keyNode) {
        this.at(keyNode, `keys of ${what} must be plain names`);
        continue;
      }
      if (known && !known.includes(key)) {
        this.at(keyNode, `unknown field "${key}" in ${what}; known fields: ${known.join(', ')}`);
        continue;
      }
      const value = this.deref(pair.value) ?? keyNode;
      out.push([key, keyNode, value]);
    }
    return out;
  }

  scalar(node: Node): unknown {
    return isScalar(node) ? node.value : undefined;
  }

  rate(node: Node, field: string): number | null | undefined {
    const v = this.scalar(node);
    if (v === 'unlimited') return null;
    if (typeof v === 'number') {
      return this.at(node, `${field}: ${v} has no time unit; write ${v}/s, ${v}/min or ${v}/h`);
    }
    if (typeof v === 'string' && v.trim().startsWith('-')) {
      return this.at(node, `${field} cannot be negative: ${RATE_HELP}`);
    }
    const rate = typeof v === 'string' ? parseRate(v) : undefined;
    if (rate === undefined) return this.at(node, `${field} is not a rate: ${RATE_HELP}`);
    if (rate <= 0) {
      return this.at(
        node,
        `${field} must be above 0 (a rate of 0 sends nothing; to stop a domain use an adaptive suspend rule): ${RATE_HELP}`,
      );
    }
    return rate;
  }

  count(node: Node, field: string, allowUnlimited: boolean): number | null | undefined {
    const v = this.scalar(node);
    if (allowUnlimited && v === 'unlimited') return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      const alt = allowUnlimited ? ', or unlimited' : '';
      return this.at(node, `${field} must be a whole number of at least 1${alt}`);
    }
    return v;
  }

  number(node: Node, field: string, min: number, max: number): number | undefined {
    const v = this.scalar(node);
    if (typeof v !== 'number' || !(v > min && v <= max)) {
      return this.at(node, `${field} must be a number above ${min} and at most ${max}`);
    }
    return v;
  }

  duration(node: Node, field: string): number | undefined {
    const v = this.scalar(node);
    if (typeof v === 'number') {
      return this.at(node, `${field}: ${v} has no unit; ${DURATION_HELP}`);
    }
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) return this.at(node, `${field} is not a duration: ${DURATION_HELP}`);
    if (ms <= 0) return this.at(node, `${field} must be longer than 0`);
    return ms;
  }

  strings(node: Node, field: string): [string, Node][] {
    const items = isSeq(node) ? node.items.map((n) => this.deref(n)) : [node];
    const out: [string, Node][] = [];
    for (const item of items) {
      const v = item ? this.scalar(item) : undefined;
      if (typeof v === 'string' && v.trim() !== '') out.push([v.trim(), item ?? node]);
      else if (typeof v === 'number') out.push([String(v), item ?? node]);
      else this.at(item ?? node, `${field} must be a text or a list of texts`);
    }
    return out;
  }

  hosts(node: Node, field: string): string[] {
    const out: string[] = [];
    for (const [raw, item] of this.strings(node, field)) {
      const host = normalizeHost(raw);
      if (HOST.test(host)) out.push(host);
      else this.at(item, `${field}: "${raw}" is not a host name suffix such as google.com`);
    }
    return out;
  }

  /** The value of one field of a map, if written. */
  field(node: Node, key: string): Node | undefined {
    if (!isMap(node)) return undefined;
    for (const pair of node.items) {
      const k = this.deref(pair.key);
      if (isScalar(k) && k.value === key) return this.deref(pair.value) ?? k;
    }
    return undefined;
  }

  rule(
    node: Node | undefined,
    what: string,
    parent: Rule | undefined,
    others: readonly string[] = [],
  ): OwnLimits {
    const r: OwnLimits = {};
    let rateNode: Node | undefined;
    for (const [key, , value] of this.pairs(node, what, [...RULE_FIELDS, ...others])) {
      const field = `${what}.${key}`;
      switch (key) {
        case 'rate': {
          const rate = this.rate(value, field);
          if (rate !== undefined) r.ratePerSec = rate ?? undefined;
          rateNode = value;
          break;
        }
        case 'burst': {
          const burst = this.count(value, field, false);
          if (burst) r.burst = burst;
          break;
        }
        case 'connections': {
          const c = this.count(value, field, true);
          if (c !== undefined) r.connections = c ?? undefined;
          break;
        }
        case 'messagesPerConnection': {
          const c = this.count(value, field, true);
          if (c !== undefined) r.messagesPerConnection = c ?? undefined;
          break;
        }
        case 'retry': {
          const items = isSeq(value) ? value.items.map((n) => this.deref(n)) : [value];
          const delays = items.map((n) => (n ? this.duration(n, field) : undefined));
          if (items.length === 0)
            this.at(value, `${field} needs at least one delay, e.g. [5m, 1h]`);
          else if (delays.every((d) => d !== undefined)) r.retryMs = delays;
          break;
        }
      }
    }
    if (parent === undefined && rateNode === undefined && r.burst !== undefined) {
      this.at(node, `${what}.burst is set without a rate; add rate, e.g. rate: 10/s`);
    }
    return r;
  }
}
