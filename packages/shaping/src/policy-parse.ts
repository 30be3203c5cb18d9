/**
 * Reading a policy file (YAML, or TOML turned into YAML) into a {@link Policy}: every problem
 * in the file is reported at once, each with its line and column.
 */
import { LineCounter, isMap, isSeq, parseDocument } from 'yaml';
import { parseAdaptive } from './policy-adaptive.ts';
import { Checker, HOST, NAME, type OwnLimits } from './policy-checker.ts';
import { PolicyError } from './policy-error.ts';
import {
  normalizeHost,
  type AdaptiveRule,
  type Policy,
  type Provider,
  type Rule,
} from './policy.ts';
import { relocate, tomlToYaml } from './toml.ts';

/** Provider names that would collide with the `default:` keys or the `other` metric label. */
const RESERVED_NAMES = new Set(['other', 'default', 'defaults']);
const TOP_FIELDS = ['version', 'defaults', 'providers', 'domains', 'adaptive'];

/** One second's worth of messages, at least 1: smooth, yet a batch is not split to crumbs. */
function defaultBurst(ratePerSec: number): number {
  return Math.max(1, Math.ceil(ratePerSec));
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
