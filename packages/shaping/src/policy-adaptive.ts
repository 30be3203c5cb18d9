/** The `adaptive:` rules of a policy: which replies slow a destination down or suspend it. */
import type { Node } from 'yaml';
import { NAME, type Checker } from './policy-checker.ts';
import type { AdaptiveRule } from './policy.ts';

/** Below this the slowed rate is no longer useful; a suspension says it more clearly. */
const MIN_FACTOR = 0.01;
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

/** One rule, checked; undefined when it has problems (recorded in the checker). */
export function parseAdaptive(c: Checker, node: Node, index: number, seen: Set<string>) {
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
