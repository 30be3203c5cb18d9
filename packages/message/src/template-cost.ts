/**
 * The cost of a template before it runs. Loops are what make a render expensive, and a loop
 * costs little when it walks a part of the item its enclosing loop is on (`{{#each items}}`
 * inside `{{#each sections}}`: together they visit each item of the data once). It multiplies
 * the work when it walks data from outside that item again (`{{#each @root.list}}`,
 * `{{#each ../list}}`, `{{#each (lookup @root this)}}`, or a list reached through
 * `{{#with @root}}`): once per item of every such enclosing loop. The number of such passes
 * nested at a block is its degree: at degree k, lists of n items cost n^k iterations. A
 * template whose passes multiply (degree 2 or more) past the iteration budget with lists of an
 * ordinary size is refused, naming the block; anything cheaper is bounded by the budget while
 * it renders.
 */
import { TemplateError, type TemplateField } from './template-error.ts';

/** An ordinary list in a campaign: a digest's articles, an order's lines. */
const ORDINARY_LIST = 100;

/** A template refused for what it would cost, naming the block. */
export class TemplateCostError extends TemplateError {
  override readonly code = 'VOLLEY_TEMPLATE_TOO_COSTLY';
  constructor(
    field: TemplateField,
    detail: string,
    /** Where the block starts (1-based line and column), and its opening tag. */
    readonly at: { line: number; column: number; block: string } | undefined,
    /** The limit the template would go over: tags (compiling), or iterations and output (rendering). */
    readonly limit: 'tags' | 'iterations' | 'output' = 'iterations',
  ) {
    super(field, at ? `line ${at.line}, column ${at.column}: ${at.block} ${detail}` : detail);
    this.name = 'TemplateCostError';
  }
}

/**
 * Refuses templates that hold more than `maxTags` tags together, before they are parsed:
 * parsing and compiling cost by the tag (measured on the benchmarks' 2-core machine: about
 * 0.05 ms a plain tag, 0.09 ms each of a block's two tags, half of it garbage collection), and
 * each sender compiles a campaign once, synchronously. Counts every `{{` outside a tag, so an
 * escaped `\{{` counts too: the bound only errs towards refusing.
 */
export function checkTagCount(
  templates: readonly (readonly [TemplateField, string | undefined])[],
  maxTags: number,
): void {
  let tags = 0;
  for (const [field, src] of templates) {
    if (src === undefined) continue;
    for (let at = src.indexOf('{{'); at >= 0; at = src.indexOf('{{', at)) {
      if (++tags > maxTags) {
        const before = src.slice(0, at);
        const line = before.split('\n').length;
        const column = at - before.lastIndexOf('\n');
        const close = src.indexOf('}}', at);
        const tag = src.slice(at, Math.min(close < 0 ? src.length : close + 2, at + 120));
        throw new TemplateCostError(
          field,
          `is tag ${maxTags + 1}: the templates may hold ${maxTags} tags ({{…}}, block ends and {{else}} included) together, since every sender compiles them before its first message; repeat a part with {{#each}} over a list rather than copying it`,
          { line, column, block: tag },
          'tags',
        );
      }
      // Past this tag's opening braces (a triple or quadruple stash is one tag).
      at += 2;
      while (src.charCodeAt(at) === 123) at++;
    }
  }
}

/** A value that no loop can walk (`@index`, `@key`, a literal, a loop's index parameter). */
const SCALAR = -1;

interface Loop {
  node: hbs.AST.BlockStatement;
  /** Level of the item this loop is on: 1 for the outermost loop. */
  level: number;
  /** The loops that each multiply the work at this one, outermost first; its degree is their number. */
  passes: Loop[];
}

interface Context {
  /** 0: the recipient's variables; k: (a part of) the item of the k-th enclosing loop. */
  level: number;
  /**
   * Handlebars adds a level for `../` only when a block's context differs from its parent's:
   * `{{#with this}}` may add none, so `../` may reach one level further out.
   */
  maybeSame: boolean;
}

interface Scope {
  contexts: Context[];
  params: Map<string, number>;
  loops: Loop[];
}

function isScoped(p: hbs.AST.PathExpression): boolean {
  return /^\.|this\b/.test(p.original);
}

/** `this`, `../this`, `@root`: a block over one of these may keep its parent's context. */
function mayBeAContext(e: hbs.AST.Expression): boolean {
  if (e.type !== 'PathExpression') return false;
  const p = e as hbs.AST.PathExpression;
  return p.parts.length === 0 || (p.data && p.parts.length === 1 && p.parts[0] === 'root');
}

/** A block's opening tag and position, to show where a refused block is. */
function locate(src: string, node: hbs.AST.Node): TemplateCostError['at'] {
  const start = (node.loc as hbs.AST.SourceLocation | undefined)?.start;
  if (!start) return undefined;
  let offset = 0;
  for (let line = 1; line < start.line; line++) offset = src.indexOf('\n', offset) + 1;
  offset += start.column;
  const close = src.indexOf('}}', offset);
  // Long tags are cut: the position tells where the rest is.
  const end = Math.min(close < 0 ? src.length : close + 2, offset + 120);
  return { line: start.line, column: start.column + 1, block: src.slice(offset, end) };
}

class CostWalker {
  staticOutput = 0;

  constructor(
    private readonly field: TemplateField,
    private readonly src: string,
    private readonly maxIterations: number,
  ) {}

  /** The level of the data an expression reads (the worst case where it is ambiguous). */
  private levelOf(e: hbs.AST.Expression, scope: Scope): number {
    if (e.type === 'SubExpression') {
      // `lookup` is the only subexpression there is: it reads a part of its first argument.
      const first = (e as hbs.AST.SubExpression).params[0];
      return first ? this.levelOf(first, scope) : SCALAR;
    }
    if (e.type !== 'PathExpression') return SCALAR;
    const p = e as hbs.AST.PathExpression;
    if (p.data) return p.parts[0] === 'root' ? 0 : SCALAR;
    const head = p.parts[0];
    if (p.depth === 0 && !isScoped(p) && head !== undefined) {
      const param = scope.params.get(head);
      if (param !== undefined) return param;
    }
    // `../` steps over the contexts that surely differ from their parent; the others may not
    // count, which reaches further out, to data at a lower (worse) level.
    let i = scope.contexts.length - 1;
    for (let up = p.depth; up > 0 && i >= 0; i--) {
      if (!scope.contexts[i]?.maybeSame) up--;
    }
    return scope.contexts[Math.max(0, i)]?.level ?? 0;
  }

  private inner(scope: Scope, context: Context, params: [string | undefined, number][]): Scope {
    const merged = new Map(scope.params);
    for (const [name, level] of params) if (name !== undefined) merged.set(name, level);
    return { contexts: [...scope.contexts, context], params: merged, loops: scope.loops };
  }

  walk(program: hbs.AST.Program | undefined, scope: Scope): void {
    for (const s of program?.body ?? []) {
      if (s.type === 'ContentStatement') {
        this.staticOutput += (s as hbs.AST.ContentStatement).value.length;
      } else if (s.type === 'BlockStatement') {
        this.block(s as hbs.AST.BlockStatement, scope);
      }
    }
  }

  private block(b: hbs.AST.BlockStatement, scope: Scope): void {
    const path = b.path;
    const helper =
      path.type === 'PathExpression' && !path.data && path.depth === 0 && !isScoped(path)
        ? path.parts.join('.')
        : undefined;
    const blockParams = b.program?.blockParams ?? [];
    const source = b.params[0];
    if (helper === 'if' || helper === 'unless') {
      this.walk(b.program, scope);
    } else if (helper === 'with' && source) {
      const level = this.levelOf(source, scope);
      const context = { level, maybeSame: mayBeAContext(source) };
      const body = this.inner(scope, context, [[blockParams[0], level]]);
      this.walk(b.program, body);
    } else if (helper === 'each' && source) {
      this.loop(b, this.levelOf(source, scope), scope, false);
    } else if (helper !== 'lookup' && b.params.length === 0 && b.program) {
      // A section, {{#list}}…{{/list}}: a loop when its value is a list, else a `with`.
      this.loop(b, this.levelOf(path, scope), scope, mayBeAContext(path));
    }
    // The inverse ({{else}}, {{^x}}) renders at most once, in the block's own context.
    this.walk(b.inverse, scope);
  }

  private loop(b: hbs.AST.BlockStatement, source: number, scope: Scope, maybeSame: boolean): void {
    const [item, index] = b.program?.blockParams ?? [];
    if (source === SCALAR) {
      // Nothing to walk: the body runs once at most.
      this.walk(b.program, this.inner(scope, { level: SCALAR, maybeSame }, [[item, SCALAR]]));
      return;
    }
    const outer = scope.loops[scope.loops.length - 1];
    const loop: Loop = { node: b, level: scope.loops.length + 1, passes: [] };
    // Walking a part of the enclosing loop's item adds nothing to that loop's passes.
    loop.passes = outer && source === outer.level ? outer.passes : [...(outer?.passes ?? []), loop];
    this.refuseIfCostly(loop);
    const body = this.inner(scope, { level: loop.level, maybeSame }, [
      [item, loop.level],
      [index, SCALAR],
    ]);
    body.loops = [...scope.loops, loop];
    this.walk(b.program, body);
  }

  private refuseIfCostly(loop: Loop): void {
    const degree = loop.passes.length;
    const runs = ORDINARY_LIST ** degree;
    // One pass costs in proportion to the data: only the budget can tell it is too much.
    if (degree < 2 || runs <= this.maxIterations) return;
    const others = loop.passes
      .filter((l) => l !== loop)
      .map((l) => {
        const at = locate(this.src, l.node);
        return at ? `${at.block} at line ${at.line}, column ${at.column}` : 'an enclosing loop';
      });
    throw new TemplateCostError(
      this.field,
      `walks data from outside the item its enclosing loop is on, once per iteration of that loop: ${degree} such passes nest here (with ${others.join(' and ')}). With lists of ${ORDINARY_LIST} items that is ${ORDINARY_LIST}^${degree} = ${runs} iterations, over the budget of ${this.maxIterations} a recipient. Loop over a part of the current item (as {{#each items}} inside {{#each sections}}) rather than over the same data again.`,
      locate(this.src, loop.node),
    );
  }
}

/**
 * Refuses a template whose loops multiply past the iteration budget, naming the block; answers
 * how many characters of text the template holds outside its expressions (counted once).
 */
export function checkTemplateCost(
  field: TemplateField,
  src: string,
  ast: hbs.AST.Program,
  maxIterations: number,
): number {
  const walker = new CostWalker(field, src, maxIterations);
  walker.walk(ast, {
    contexts: [{ level: 0, maybeSame: false }],
    params: new Map(),
    loops: [],
  });
  return walker.staticOutput;
}
