/**
 * TOML policies: the same fields as YAML. The TOML is parsed (syntax errors keep their line
 * and column), turned into YAML and checked by the one validator, and each problem's position
 * is carried back to the key it names in the TOML text.
 */
import { TomlError, parse as parseToml } from 'smol-toml';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, stringify, type Node } from 'yaml';
import { PolicyError, type PolicyProblem } from './policy-error.ts';

export function tomlToYaml(text: string, sourceName: string): string {
  let value: unknown;
  try {
    value = parseToml(text);
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const msg = e.message.split('\n')[0] ?? 'invalid TOML';
    throw new PolicyError(sourceName, [
      { line: e.line, column: e.column, reason: `TOML syntax: ${msg}` },
    ]);
  }
  return stringify(value);
}

/** The key path of the deepest map entry whose key or value starts on `line` of `yamlText`. */
function pathAtLine(yamlText: string, line: number): string[] {
  const lines = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: lines });
  const lineOf = (n: Node | null | undefined): number =>
    n?.range ? lines.linePos(n.range[0]).line : -1;
  let best: string[] = [];
  const walk = (node: unknown, path: string[]): void => {
    if (isSeq(node)) {
      for (const item of node.items) walk(item, path);
      return;
    }
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) continue;
      const here = [...path, key];
      const value = pair.value as Node | null;
      if (lineOf(pair.key as Node) === line || (isScalar(value) && lineOf(value) === line)) {
        if (here.length > best.length) best = here;
      }
      walk(value, here);
    }
  };
  walk(doc.contents, []);
  return best;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Where a key path is written in TOML text: each segment is looked for after the previous
 * one, as a bare or quoted key (`rate =`, `"example.com" =`, `[domains."example.com"]`).
 */
function locateInToml(text: string, path: string[]): { line: number; column: number } {
  let from = 0;
  let found = -1;
  for (const seg of path) {
    const re = new RegExp(
      `(^|[\\s.{,\\[])("${escape(seg)}"|'${escape(seg)}'|${escape(seg)})\\s*(=|\\]|\\.)`,
      'mg',
    );
    re.lastIndex = from;
    const m = re.exec(text);
    if (!m) break;
    found = m.index + (m[1]?.length ?? 0);
    from = found + seg.length;
  }
  if (found < 0) return { line: 1, column: 1 };
  const before = text.slice(0, found);
  const line = before.split('\n').length;
  return { line, column: found - before.lastIndexOf('\n') };
}

/** Moves each problem found in the YAML form of a TOML policy to its place in the TOML text. */
export function relocate(
  err: PolicyError,
  yamlText: string,
  tomlText: string,
  sourceName: string,
): PolicyError {
  const problems: PolicyProblem[] = err.problems.map((p) => ({
    ...locateInToml(tomlText, pathAtLine(yamlText, p.line)),
    reason: p.reason,
  }));
  return new PolicyError(sourceName, problems);
}
