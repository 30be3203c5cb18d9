/**
 * The shaping policy: which limits apply to which destination, and how the limits react to
 * the replies of the receiving servers. Written by operators in YAML; every problem is reported
 * with the line and column of the offending node and what to write instead.
 *
 * ```yaml
 * version: 1
 * defaults:                    # every domain not matched below, each domain limited apart
 *   rate: 20/s                 # <number>/<unit>, unit s, min (or m) or h; or `unlimited`
 *   burst: 20                  # messages that may go at once; default one second's worth
 *   connections: 5             # concurrent connections across all workers
 *   messagesPerConnection: 100
 *   retry: [5m, 15m, 1h, 4h]   # delays between attempts, the last one repeats
 * providers:                   # domains grouped by their MX host, sharing one limit
 *   google:
 *     mx: [google.com, googlemail.com]   # MX host suffixes
 *     domains: [gmail.com]               # recipient domain suffixes
 *     rate: 6000/min
 * domains:                     # one domain, limited on its own
 *   example.org: { rate: 1/s, connections: 1 }
 * adaptive:                    # first matching rule counts a reply
 *   - name: try-later
 *     match: { code: 4xx, text: 'try (again )?later' }
 *     threshold: 5             # matching replies within `window` (default 1m)
 *     action: slow             # or suspend
 *     factor: 0.5
 *     duration: 10m
 *     recovery: { step: 0.1, every: 1m }
 * ```
 */
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import { PolicyError, type PolicyProblem } from './policy-error.ts';
import { relocate, tomlToYaml } from './toml.ts';

/** Limits of one destination, with every unit normalized. `undefined` means no limit. */
export interface Rule {
  /** Where the rule comes from: `defaults`, `providers.<name>` or `domains.<domain>`. */
  name: string;
  /** Messages per second across all workers. */
  ratePerSec: number | undefined;
  /** Messages that may start at once above the steady rate (the GCRA burst); at least 1. */
  burst: number;
  /** Concurrent SMTP connections across all workers. */
  connections: number | undefined;
  messagesPerConnection: number | undefined;
  /** Delays before attempt 2, 3, ...; the last one repeats. `undefined`: the sender's backoff. */
  retryMs: number[] | undefined;
}

export interface Provider {
  name: string;
  /** Suffixes of MX host names (`google.com` matches `aspmx.l.google.com`). */
  mx: string[];
  /** Suffixes of recipient domains (`yahoo.com` matches `yahoo.com` and `x.yahoo.com`). */
  domains: string[];
  rule: Rule;
}

export interface AdaptiveRule {
  name: string;
  /** Reply codes that match: exact (`421`) or a class (`4xx`). Empty: any code or none. */
  codes: string[];
  /** Pattern on the reply text, case-insensitive. */
  text: RegExp | undefined;
  /** Matching replies within `windowMs` that trigger the action. */
  threshold: number;
  windowMs: number;
  action: 'slow' | 'suspend';
  /** `campaign`: count and suspend each campaign apart (suspend only). */
  scope: 'destination' | 'campaign';
  /** Slow: the rate and connection cap are multiplied by this. */
  factor: number;
  /** Slow: how long the factor holds before recovery; suspend: how long sending stops. */
  durationMs: number;
  /** Slow: after the duration the factor rises by `step` every `everyMs` until it is 1. */
  recovery: { step: number; everyMs: number };
}

export interface Policy {
  /** File name or other label the policy was read from, for messages. */
  source: string;
  defaults: Rule;
  providers: Provider[];
  /** Lower-cased domain → its own rule. */
  domains: Map<string, Rule>;
  adaptive: AdaptiveRule[];
}

export { PolicyError, type PolicyProblem } from './policy-error.ts';

const RATE_HELP = 'write messages per time unit, such as 100/s, 6000/min or 20000/h, or unlimited';
const DURATION_HELP = 'write a number with a unit, such as 500ms, 90s, 30m, 12h or 3d';
const RATE_UNITS: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600 };
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const HOST =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/;
/** Provider names that would collide with the `default:` keys or the `other` metric label. */
const RESERVED_NAMES = new Set(['other', 'default', 'defaults']);
/** Below this the slowed rate is no longer useful; a suspension says it more clearly. */
const MIN_FACTOR = 0.01;

const RULE_FIELDS = ['rate', 'burst', 'connections', 'messagesPerConnection', 'retry'] as const;
const TOP_FIELDS = ['version', 'defaults', 'providers', 'domains', 'adaptive'];
const ADAPTIVE_FIELDS = [
  'name',
  'match',
  'threshold',
  'window',
  'action',
  'factor',
  'duration',
  'recovery',
  'scope',
];

/** Parses `100/s`, `6000/min` (or `/m`) and `20000/h` to messages per second. */
export function parseRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*\/\s*(s|m|min|h)$/.exec(text.trim());
  const per = RATE_UNITS[m?.[2] ?? ''];
  if (!m || per === undefined) return undefined;
  return Number(m[1]) / per;
}

/** Parses `500ms`, `90s`, `30m`, `12h`, `3d` (the same syntax as Volley's environment). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  const unit = DURATION_UNITS[m?.[2] ?? ''];
  if (!m || unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

/** One second's worth of messages, at least 1: smooth, yet a batch is not split to crumbs. */
export function defaultBurst(ratePerSec: number): number {
  return Math.max(1, Math.ceil(ratePerSec));
}

type OwnLimits = Omit<{ [K in keyof Rule]?: Rule[K] }, 'name'>;

/** Walks the YAML nodes, so each problem can point at the node it is about. */
class Checker {
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

/**
 * Where the bracket or quote left open before `end` was opened: the parser notices a missing
 * `]` or quote only lines later, but the operator has to fix the line that opened it.
 */
function unclosedOpener(text: string, end: number): number | undefined {
  const open: number[] = [];
  let quote: number | undefined;
  for (let i = 0; i < end && i < text.length; i++) {
    const ch = text[i];
    if (quote !== undefined) {
      if (ch === text[quote] && (ch === "'" || text[i - 1] !== '\\')) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      // A quote opens a scalar only at its start, not inside a plain word (it's).
      if (i === 0 || /[\s[{,:]/.test(text[i - 1] ?? '')) quote = i;
    } else if (ch === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      while (i < end && text[i] !== '\n') i++;
    } else if (ch === '[' || ch === '{') open.push(i);
    else if (ch === ']' || ch === '}') open.pop();
  }
  return quote ?? open[0];
}

function normalizeHost(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '').replace(/^\./, '');
}

/** A rule written in the policy, filled from its parent where a field is not set. */
function merge(name: string, parent: Rule, own: OwnLimits): Rule {
  const rateSet = 'ratePerSec' in own;
  const ratePerSec = rateSet ? own.ratePerSec : parent.ratePerSec;
  // A burst belongs to its rate: a domain that sets only its rate must not inherit the burst
  // of a much faster default.
  const burst =
    own.burst ??
    (rateSet ? (ratePerSec === undefined ? 1 : defaultBurst(ratePerSec)) : parent.burst);
  return {
    name,
    ratePerSec,
    burst,
    connections: 'connections' in own ? own.connections : parent.connections,
    messagesPerConnection:
      'messagesPerConnection' in own ? own.messagesPerConnection : parent.messagesPerConnection,
    retryMs: own.retryMs ?? parent.retryMs,
  };
}

const UNLIMITED: Rule = {
  name: 'defaults',
  ratePerSec: undefined,
  burst: 1,
  connections: undefined,
  messagesPerConnection: undefined,
  retryMs: undefined,
};

function parseAdaptive(c: Checker, node: Node, index: number, seen: Set<string>) {
  const what = `adaptive[${index}]`;
  const fields = new Map(c.pairs(node, what, ADAPTIVE_FIELDS).map(([k, kn, v]) => [k, [kn, v]]));
  const get = (k: string): Node | undefined => fields.get(k)?.[1];
  const before = c.problems.length;

  const nameNode = get('name');
  const name = nameNode ? c.scalar(nameNode) : undefined;
  if (typeof name !== 'string' || !NAME.test(name)) {
    c.at(nameNode ?? node, `${what}.name must be a short lower-case name such as try-later`);
  } else if (seen.has(name)) {
    c.at(nameNode, `adaptive rule name "${name}" is used twice; names must be unique`);
  } else seen.add(name);
  const label = typeof name === 'string' ? `adaptive rule ${name}` : what;

  const codes: string[] = [];
  let text: RegExp | undefined;
  const matchNode = get('match');
  if (!matchNode) c.at(node, `${label} needs match: { code: 4xx, text: 'try again later' }`);
  else {
    for (const [k, , v] of c.pairs(matchNode, `${label} match`, ['code', 'text'])) {
      if (k === 'code') {
        for (const [code, item] of c.strings(v, `${label} match.code`)) {
          if (/^[2-5](\d\d|xx)$/i.test(code)) codes.push(code.toLowerCase());
          else
            c.at(item, `${label} match.code "${code}" must be a reply code (421) or class (4xx)`);
        }
      } else {
        const src = c.scalar(v);
        if (typeof src !== 'string' || src === '') {
          c.at(v, `${label} match.text must be a regular expression in quotes`);
        } else {
          try {
            text = new RegExp(src, 'i');
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            c.at(v, `${label} match.text is not a valid regular expression (${msg})`);
          }
        }
      }
    }
    if (codes.length === 0 && text === undefined && c.problems.length === before) {
      c.at(matchNode, `${label} match needs code, text or both`);
    }
  }

  const thresholdNode = get('threshold');
  const threshold = thresholdNode
    ? c.count(thresholdNode, `${label} threshold`, false)
    : c.at(node, `${label} needs threshold: matching replies per window, e.g. threshold: 5`);
  const windowNode = get('window');
  const windowMs = windowNode ? c.duration(windowNode, `${label} window`) : 60_000;

  const actionNode = get('action');
  const action = actionNode ? c.scalar(actionNode) : undefined;
  if (action !== 'slow' && action !== 'suspend') {
    c.at(actionNode ?? node, `${label} action must be slow or suspend`);
  }
  const durationNode = get('duration');
  const durationMs = durationNode
    ? c.duration(durationNode, `${label} duration`)
    : c.at(node, `${label} needs duration, e.g. duration: 10m`);

  const scopeNode = get('scope');
  const scope = scopeNode ? c.scalar(scopeNode) : 'destination';
  if (scope !== 'destination' && scope !== 'campaign') {
    c.at(scopeNode, `${label} scope must be destination or campaign`);
  } else if (scope === 'campaign' && action === 'slow') {
    c.at(scopeNode, `${label}: scope campaign works with action suspend only (a rate is shared)`);
  }

  let factor = 0.5;
  let recovery = { step: 0.1, everyMs: 60_000 };
  const factorNode = get('factor');
  const recoveryNode = get('recovery');
  if (action === 'slow') {
    if (factorNode) factor = c.number(factorNode, `${label} factor`, MIN_FACTOR, 0.99) ?? factor;
    if (recoveryNode) {
      const r = new Map(
        c.pairs(recoveryNode, `${label} recovery`, ['step', 'every']).map(([k, , v]) => [k, v]),
      );
      const step = r.get('step');
      const every = r.get('every');
      recovery = {
        step: step ? (c.number(step, `${label} recovery.step`, 0, 1) ?? 0.1) : 0.1,
        everyMs: every ? (c.duration(every, `${label} recovery.every`) ?? 60_000) : 60_000,
      };
    }
  } else {
    for (const n of [factorNode, recoveryNode]) {
      if (n) c.at(n, `${label}: factor and recovery apply to action slow only`);
    }
  }
  if (c.problems.length > before) return undefined;
  return {
    name: name as string,
    codes,
    text,
    threshold: threshold as number,
    windowMs: windowMs as number,
    action: action as 'slow' | 'suspend',
    scope: scope as 'destination' | 'campaign',
    factor,
    durationMs: durationMs as number,
    recovery,
  } satisfies AdaptiveRule;
}

/**
 * Parses and validates a policy. Throws {@link PolicyError} with every problem found, each
 * with its line, column and what to write instead.
 */
export function parsePolicy(text: string, sourceName: string): Policy {
  if (/\.toml$/i.test(sourceName)) {
    const yamlText = tomlToYaml(text, sourceName);
    try {
      return parseYamlPolicy(yamlText, sourceName);
    } catch (e) {
      if (e instanceof PolicyError) throw relocate(e, yamlText, text, sourceName);
      throw e;
    }
  }
  return parseYamlPolicy(text, sourceName);
}

function parseYamlPolicy(text: string, sourceName: string): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      sourceName,
      doc.errors.map((e) => {
        const msg = e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? '';
        const opener = /flow (sequence|mapping)|missing closing/i.test(msg)
          ? unclosedOpener(text, e.pos[0])
          : undefined;
        const pos = lines.linePos(opener ?? e.pos[0]);
        const hint =
          opener !== undefined
            ? `the ${text[opener]} here is not closed`
            : e.code === 'DUPLICATE_KEY'
              ? 'a field is written twice in the same map; keep one'
              : e.code === 'TAB_AS_INDENT'
                ? 'indent with spaces, not tabs'
                : 'check indentation, quotes and brackets';
        return { line: pos.line, column: pos.col, reason: `YAML syntax: ${msg} (${hint})` };
      }),
    );
  }
  const c = new Checker(doc, lines);
  const root = c.deref(doc.contents);
  if (!root) {
    throw new PolicyError(sourceName, [
      { line: 1, column: 1, reason: 'the policy is empty; it needs at least a defaults section' },
    ]);
  }
  const sections = new Map(c.pairs(root, 'the policy', TOP_FIELDS).map(([k, , v]) => [k, v]));

  const version = sections.get('version');
  if (version && c.scalar(version) !== 1) c.at(version, 'version must be 1 (or left out)');

  const defaultsNode = sections.get('defaults');
  const defaults = merge(
    'defaults',
    UNLIMITED,
    defaultsNode ? c.rule(defaultsNode, 'defaults', undefined) : {},
  );

  const providers: Provider[] = [];
  const owners = new Map<string, string>();
  const providersNode = sections.get('providers');
  if (providersNode) {
    for (const [name, keyNode, value] of c.pairs(providersNode, 'providers')) {
      if (!NAME.test(name) || RESERVED_NAMES.has(name)) {
        c.at(
          keyNode,
          `provider name "${name}" must be lower-case letters, digits, - or _ and not other or default (it becomes a metric label)`,
        );
        continue;
      }
      const what = `providers.${name}`;
      if (!isMap(value)) {
        c.at(value, `${what} must be a map with mx and/or domains and limits`);
        continue;
      }
      const matchers: Record<'mx' | 'domains', string[]> = { mx: [], domains: [] };
      for (const k of ['mx', 'domains'] as const) {
        const v = c.field(value, k);
        if (!v) continue;
        matchers[k] = c.hosts(v, `${what}.${k}`);
        for (const h of matchers[k]) {
          const owner = owners.get(`${k}:${h}`);
          if (owner) c.at(v, `${what}.${k}: ${h} is already matched by providers.${owner}`);
          owners.set(`${k}:${h}`, name);
        }
      }
      if (!c.field(value, 'mx') && !c.field(value, 'domains')) {
        c.at(keyNode, `${what} matches nothing: add mx: [host suffix] and/or domains: [suffix]`);
      }
      const own = c.rule(value, what, defaults, ['mx', 'domains']);
      const { mx, domains } = matchers;
      providers.push({ name, mx, domains, rule: merge(what, defaults, own) });
    }
  }

  const domains = new Map<string, Rule>();
  const domainsNode = sections.get('domains');
  if (domainsNode) {
    for (const [raw, keyNode, value] of c.pairs(domainsNode, 'domains')) {
      const d = normalizeHost(raw);
      if (!HOST.test(d)) {
        c.at(
          keyNode,
          `"${raw}" is not a domain name; write the recipient domain, e.g. example.org`,
        );
        continue;
      }
      if (domains.has(d)) {
        c.at(keyNode, `domain ${d} is listed twice (names are compared in lower case)`);
        continue;
      }
      const what = `domains.${d}`;
      domains.set(d, merge(what, defaults, c.rule(value, what, defaults)));
    }
  }

  const adaptive: AdaptiveRule[] = [];
  const adaptiveNode = sections.get('adaptive');
  if (adaptiveNode) {
    if (!isSeq(adaptiveNode)) {
      c.at(adaptiveNode, 'adaptive must be a list of rules, each starting with "- name: ..."');
    } else {
      const seen = new Set<string>();
      adaptiveNode.items.forEach((item, i) => {
        const n = c.deref(item);
        const rule = n ? parseAdaptive(c, n, i, seen) : c.at(adaptiveNode, 'empty adaptive rule');
        if (rule) adaptive.push(rule);
      });
    }
  }

  if (c.problems.length > 0) throw new PolicyError(sourceName, c.problems);
  return { source: sourceName, defaults, providers, domains, adaptive };
}

export interface Resolution {
  /**
   * Names the limit the message counts against: `domain:<d>` for a domain named in the
   * policy, `provider:<name>` for a provider match, `default:<d>` for any other domain (the
   * default rule limits each domain apart). Used in Redis keys, never as a metric label.
   */
  key: string;
  /** The provider's name or `other`: bounded, safe as a metric label. */
  metricLabel: string;
  rule: Rule;
}

function hasSuffix(host: string, suffix: string): boolean {
  return host === suffix || host.endsWith(`.${suffix}`);
}

function providerOf(policy: Policy, domain: string, mx: string | undefined): Provider | undefined {
  for (const p of policy.providers) if (p.domains.some((s) => hasSuffix(domain, s))) return p;
  if (mx === undefined) return undefined;
  for (const p of policy.providers) if (p.mx.some((s) => hasSuffix(mx, s))) return p;
  return undefined;
}

/**
 * Which rule limits mail to `domain`. Order: a domain named under `domains`; then a provider
 * whose domain suffixes match; then a provider matching the most preferred MX host
 * (`mxHosts[0]`, where the mail goes); otherwise the defaults, for this domain alone.
 */
export function resolveRule(
  policy: Policy,
  domain: string,
  mxHosts: readonly string[] = [],
): Resolution {
  const d = normalizeHost(domain);
  const mx = mxHosts[0] === undefined ? undefined : normalizeHost(mxHosts[0]);
  const provider = providerOf(policy, d, mx);
  const metricLabel = provider?.name ?? 'other';
  const own = policy.domains.get(d);
  if (own) return { key: `domain:${d}`, metricLabel, rule: own };
  if (provider) return { key: `provider:${provider.name}`, metricLabel, rule: provider.rule };
  return { key: `default:${d}`, metricLabel, rule: policy.defaults };
}

/** The first adaptive rule that matches a reply, in policy order. */
export function matchAdaptive(
  policy: Policy,
  reply: { code?: number | undefined; text: string },
): AdaptiveRule | undefined {
  const code = reply.code === undefined ? undefined : String(reply.code);
  return policy.adaptive.find((r) => {
    if (r.codes.length > 0) {
      if (code === undefined) return false;
      if (!r.codes.some((c) => (c.endsWith('xx') ? code[0] === c[0] : code === c))) return false;
    }
    return r.text === undefined || r.text.test(reply.text);
  });
}
