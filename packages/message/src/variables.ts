import Handlebars from 'handlebars';
import type { CampaignTemplates } from './templates.ts';

/**
 * Variables a campaign's templates read from the recipient's vars, as dotted paths in order of
 * first use (`name`, `user.city`). Only names read at the root context count: inside
 * `{{#each}}` or `{{#with}}` a name belongs to the item, not to the recipient. `email` is left
 * out: the sender always sets it. Templates must already be valid (validateTemplates).
 */
export function templateVariables(t: CampaignTemplates): string[] {
  const found = new Set<string>();
  for (const src of [t.subject, t.html, t.text]) {
    if (src !== undefined) visit(Handlebars.parse(src), 0, found);
  }
  found.delete('email');
  return [...found];
}

/**
 * Which of `paths` a recipient's vars lack: absent, null or empty text all render as nothing,
 * which is the mistake this catches.
 */
export function missingVariables(
  vars: Record<string, unknown> | undefined,
  paths: readonly string[],
): string[] {
  return paths.filter((p) => {
    let v: unknown = vars;
    for (const part of p.split('.')) {
      if (typeof v !== 'object' || v === null || !Object.hasOwn(v, part)) return true;
      v = (v as Record<string, unknown>)[part];
    }
    return v === undefined || v === null || v === '';
  });
}

/** Helpers whose block keeps the context it was called in. */
const SAME_CONTEXT = new Set(['if', 'unless']);

type Node = hbs.AST.Node;

function visit(node: Node | undefined, depth: number, found: Set<string>): void {
  if (!node) return;
  switch (node.type) {
    case 'Program':
      for (const s of (node as hbs.AST.Program).body) visit(s, depth, found);
      return;
    case 'MustacheStatement':
    case 'SubExpression': {
      const call = node as hbs.AST.MustacheStatement | hbs.AST.SubExpression;
      const isCall = call.params.length > 0 || call.hash !== undefined;
      // `{{lookup a b}}` calls a helper; `{{name}}` reads a variable.
      if (!isCall) visit(call.path, depth, found);
      for (const p of call.params) visit(p, depth, found);
      for (const pair of call.hash?.pairs ?? []) visit(pair.value, depth, found);
      return;
    }
    case 'BlockStatement': {
      const block = node as hbs.AST.BlockStatement;
      const helper = block.path.type === 'PathExpression' ? block.path.original : '';
      // `{{#vip}}…{{/vip}}` without a helper reads `vip`, then enters it like `with`.
      if (block.params.length === 0) visit(block.path, depth, found);
      for (const p of block.params) visit(p, depth, found);
      for (const pair of block.hash?.pairs ?? []) visit(pair.value, depth, found);
      visit(block.program, SAME_CONTEXT.has(helper) ? depth : depth + 1, found);
      visit(block.inverse, depth, found);
      return;
    }
    case 'PathExpression': {
      const path = node as hbs.AST.PathExpression;
      const first = path.parts[0];
      // `this`, `.`, `@index` and names of an inner context are not the recipient's.
      if (path.data || first === undefined || depth - path.depth !== 0) return;
      if (/^this\b/.test(path.original)) return;
      found.add(path.parts.join('.'));
      return;
    }
    default:
      return;
  }
}
