import type Handlebars from 'handlebars';
import { DEFAULT_RENDER_LIMITS, meteredEnvironment, type RenderLimits } from './render-budget.ts';
import { TemplateCostError, checkTagCount, checkTemplateCost } from './template-cost.ts';
import { TemplateError } from './template-error.ts';

export { TemplateError } from './template-error.ts';

export interface CampaignTemplates {
  subject: string;
  html?: string | undefined;
  text?: string | undefined;
}

export interface RenderedContent {
  subject: string;
  html: string | undefined;
  text: string | undefined;
}

/**
 * The parts of the latest render that the renderer saw piece by piece and found plain
 * (printable ASCII, tab, CR and LF only). Only the latest: a sender composes each message right
 * after rendering it, and anything else finds its content is not this one and scans. Each part
 * is kept as the string it was, so a part replaced since is not taken for plain. Kept aside
 * rather than on the content, so what a render returns is the same for every other reader.
 */
const latest: {
  content: RenderedContent | undefined;
  html: string | undefined;
  text: string | undefined;
} = { content: undefined, html: undefined, text: undefined };

/** Whether the renderer found `content`'s part plain: then the composer need not scan it for 7bit. */
export function renderedPlain(content: RenderedContent, part: 'html' | 'text'): boolean {
  const s = content[part];
  return s !== undefined && latest.content === content && latest[part] === s;
}

export interface CompiledTemplates {
  /**
   * Renders one recipient within the budget the templates were compiled with; throws
   * TemplateBudgetError, naming the limit, when these variables make it cost more.
   */
  render(vars: Record<string, unknown>): RenderedContent;
}

/**
 * One isolated Handlebars environment: no helpers or partials registered by anything else
 * can leak into campaign templates. Handlebars >= 4.6 refuses prototype access by default,
 * which is what keeps `{{constructor.constructor}}` and friends inert. Its templates count
 * their own output (render-budget.ts).
 */
const { env, meter } = meteredEnvironment();
// `{{log ...}}` would let a template write to the sender's stdout (our structured log) once
// per recipient.
env.unregisterHelper('log');

/**
 * Deepest nesting of blocks, else-chains and subexpressions a template may have. The
 * Handlebars parser and compiler recurse per level and slow down faster than linearly: 1,000
 * levels take seconds and 2,000 overflow the stack, and 100,000 never finish. Real templates
 * nest a handful of levels.
 */
const MAX_NESTING = 100;

/** The helpers a template may call, with the number of arguments each needs. */
const HELPER_ARITY = new Map([
  ['if', 1],
  ['unless', 1],
  ['with', 1],
  ['each', 1],
  ['lookup', 2],
]);

const COMPILE_OPTIONS = {
  // Campaign variables are data: a missing one renders empty rather than failing the send.
  strict: false,
  // Unknown helpers fail when the template is compiled, not at every recipient's render.
  knownHelpersOnly: true,
  // Names that are not helpers here: `{{log}}` or `{{helperMissing}}` read a variable.
  knownHelpers: { log: false, helperMissing: false, blockHelperMissing: false },
};

/**
 * Prototype access stays refused (the Handlebars default), said explicitly: left implicit,
 * Handlebars logs a warning to the console for each property a template tries.
 */
const RENDER_OPTIONS = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };

interface JisonLexer {
  /** What lex() returns at the end of the input. */
  EOF: number;
  yy: unknown;
  setInput(src: string): unknown;
  lex(): number | string;
}

interface HandlebarsParser {
  lexer: JisonLexer;
  symbols_: Record<string, number>;
}

// The parser's own lexer (not in the type definitions) tells the nesting exactly: comments,
// raw blocks and escaped mustaches cannot fool it the way they would a regular expression.
const PARSER = (env as unknown as { Parser: HandlebarsParser }).Parser;

// Anything that can open a nesting level contains one of these; counting them overestimates
// the nesting, so templates with fewer are certainly shallow and skip the exact scan.
const MAYBE_NESTING = /\{\{~?(?:[#^]|\s*else\b)|\(/;

/** Throws TemplateError when the template nests deeper than MAX_NESTING. Linear time. */
function checkNesting(field: TemplateError['field'], src: string): void {
  const maybe = new RegExp(MAYBE_NESTING.source, 'g');
  let candidates = 0;
  while (candidates <= MAX_NESTING && maybe.exec(src) !== null) candidates++;
  if (candidates <= MAX_NESTING) return;

  const sym = PARSER.symbols_;
  const opens = new Set([sym.OPEN_BLOCK, sym.OPEN_INVERSE, sym.OPEN_PARTIAL_BLOCK]);
  const lexer = PARSER.lexer;
  lexer.yy = {};
  lexer.setInput(src);
  // Each open block counts one level plus one per `{{else if ...}}` chained onto it, since
  // every chained branch is a level deeper in the tree.
  const blocks: number[] = [];
  let inBlocks = 0;
  let subexpressions = 0;
  for (;;) {
    let tok: number | string;
    try {
      tok = lexer.lex();
    } catch {
      return; // a lexical error: the parser reports it with its position
    }
    if (typeof tok === 'string') tok = sym[tok] ?? -1;
    if (tok === lexer.EOF || tok === sym.EOF) return;
    if (opens.has(tok)) {
      blocks.push(1);
      inBlocks++;
    } else if (tok === sym.OPEN_INVERSE_CHAIN && blocks.length > 0) {
      blocks[blocks.length - 1]! += 1;
      inBlocks++;
    } else if (tok === sym.OPEN_ENDBLOCK) {
      inBlocks -= blocks.pop() ?? 0;
    } else if (tok === sym.OPEN_SEXPR) {
      subexpressions++;
    } else if (tok === sym.CLOSE_SEXPR) {
      subexpressions = Math.max(0, subexpressions - 1);
    }
    if (inBlocks + subexpressions > MAX_NESTING) {
      throw new TemplateError(
        field,
        `blocks and subexpressions nest more than ${MAX_NESTING} levels deep`,
      );
    }
  }
}

/** Helpers that only work with a block body. */
const BLOCK_ONLY = new Set(['if', 'unless', 'with', 'each']);

// `hbs.AST` is the namespace of the Handlebars type definitions.
type Node = hbs.AST.Node;
type CallNode = hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression;

/** A bare name such as `if`, not `this.if`, `./if`, `../if` or `@if`: what Handlebars may call as a helper. */
function simpleName(path: Node): string | undefined {
  if (path.type !== 'PathExpression') return undefined;
  const p = path as hbs.AST.PathExpression;
  if (p.data || p.depth > 0 || p.parts.length !== 1 || /^\.|this\b/.test(p.original)) {
    return undefined;
  }
  return p.parts[0];
}

/**
 * Refuses what would compile but fail at every render (unknown helpers, wrong argument counts,
 * partials and decorators, which have no registry here), so a campaign is rejected when it is
 * created rather than failing recipient by recipient.
 */
function checkCalls(field: TemplateError['field'], node: Node): void {
  const fail = (what: string): never => {
    const line = (node.loc as hbs.AST.SourceLocation | undefined)?.start.line;
    throw new TemplateError(field, line === undefined ? what : `${what} (line ${line})`);
  };
  switch (node.type) {
    case 'Program':
      for (const s of (node as hbs.AST.Program).body) checkCalls(field, s);
      return;
    case 'PartialStatement':
    case 'PartialBlockStatement':
      return fail('partials are not supported');
    case 'Decorator':
    case 'DecoratorBlock':
      return fail('decorators are not supported');
    case 'MustacheStatement':
    case 'BlockStatement':
    case 'SubExpression': {
      const call = node as CallNode;
      const name = simpleName(call.path);
      const args = call.params.length;
      const isCall = node.type === 'SubExpression' || args > 0 || call.hash !== undefined;
      const arity = name === undefined ? undefined : HELPER_ARITY.get(name);
      if (isCall || arity !== undefined) {
        if (arity === undefined) {
          const shown = name ?? (call.path as { original?: unknown }).original;
          fail(
            `unknown helper ${JSON.stringify(String(shown))} (available: ${[...HELPER_ARITY.keys()].join(', ')})`,
          );
        } else if (args !== arity) {
          fail(`${name} takes ${arity} argument${arity === 1 ? '' : 's'}, got ${args}`);
        } else if (name && BLOCK_ONLY.has(name) && node.type !== 'BlockStatement') {
          // Compiles, then fails at every render ("options.fn is not a function").
          fail(`${name} needs a block: write {{#${name} …}}…{{/${name}}}`);
        }
      }
      for (const p of call.params) checkCalls(field, p);
      for (const pair of call.hash?.pairs ?? []) checkCalls(field, pair.value);
      if (node.type === 'BlockStatement') {
        const block = node as hbs.AST.BlockStatement;
        if (block.program) checkCalls(field, block.program);
        if (block.inverse) checkCalls(field, block.inverse);
      }
      return;
    }
    default:
      return;
  }
}

function parse(field: TemplateError['field'], src: string): hbs.AST.Program {
  checkNesting(field, src);
  let ast: hbs.AST.Program;
  try {
    ast = env.parse(src);
  } catch (err) {
    // A stack overflow the nesting limit did not foresee is reported like any syntax error.
    const msg = err instanceof Error ? err.message : String(err);
    throw new TemplateError(field, msg.split('\n').slice(0, 4).join(' ').slice(0, 500));
  }
  checkCalls(field, ast);
  return ast;
}

interface ParsedTemplates {
  subject: hbs.AST.Program;
  html: hbs.AST.Program | undefined;
  text: hbs.AST.Program | undefined;
}

const FIELDS = ['subject', 'html', 'text'] as const;

/**
 * Parses and checks every template: syntax and helpers first (TemplateError), then what they
 * would cost (TemplateCostError): loops that multiply past the iteration budget, or more text
 * than the output budget holds.
 */
function parseAll(t: CampaignTemplates, limits: RenderLimits): ParsedTemplates {
  // Before parsing, which costs by the tag as compiling does.
  checkTagCount(
    FIELDS.map((f) => [f, t[f]] as const),
    limits.maxTags,
  );
  const ast: ParsedTemplates = {
    subject: parse('subject', t.subject),
    html: t.html === undefined ? undefined : parse('html', t.html),
    text: t.text === undefined ? undefined : parse('text', t.text),
  };
  let text = 0;
  let largest: { field: TemplateError['field']; chars: number } = { field: 'subject', chars: 0 };
  for (const field of FIELDS) {
    const src = t[field];
    const tree = ast[field];
    if (src === undefined || tree === undefined) continue;
    const chars = checkTemplateCost(field, src, tree, limits.maxIterations);
    text += chars;
    if (chars > largest.chars) largest = { field, chars };
  }
  if (text > limits.maxOutput) {
    throw new TemplateCostError(
      largest.field,
      `the templates hold ${text} characters of text (${largest.chars} here), more than the output budget of ${limits.maxOutput} a recipient`,
      undefined,
      'output',
    );
  }
  return ast;
}

/**
 * Checks every template against the render budget; throws TemplateError (or its
 * TemplateCostError) naming the field.
 */
export function validateTemplates(
  t: CampaignTemplates,
  limits: RenderLimits = DEFAULT_RENDER_LIMITS,
): void {
  parseAll(t, limits);
}

type Compiled = Handlebars.TemplateDelegate<Record<string, unknown>> & {
  /** Runs at the start of every render (Handlebars' runtime, `template` in runtime.js). */
  _setup(options: unknown): void;
};

/** What Handlebars' `compile` does on first use, minus its lazy wrapper (see templateOf). */
interface TemplateCompilers {
  Compiler: new () => { compile(ast: hbs.AST.Program, options: object): unknown };
  JavaScriptCompiler: new () => {
    compile(environment: unknown, options: object, context: undefined, asObject: true): unknown;
  };
  template(spec: unknown): Compiled;
}

/**
 * The template function of `tree`, compiled now. Handlebars' own `compile` returns a wrapper
 * that compiles on first use and hides the runtime template, whose `_setup` runs at every
 * render: it rebuilds the helper table (a new closure around each of the environment's
 * helpers) and the prototype-access rules from the render options. Both depend only on this
 * environment and RENDER_OPTIONS, which never change, so the caller keeps what the first render
 * set up and replaces `_setup` by `setUp`: about a third of a render's cost (bench:build).
 */
function templateOf(tree: hbs.AST.Program, options: object): Compiled {
  const hb = env as unknown as TemplateCompilers;
  // As `compile` does: data (`@root`, `@index`) is on unless said otherwise.
  const opts = { data: true, ...options };
  const environment = new hb.Compiler().compile(tree, opts);
  return hb.template(new hb.JavaScriptCompiler().compile(environment, opts, undefined, true));
}

/** Renders after the first: the helpers, hooks and access rules it set up stay as they are. */
function setUp(): void {}

/** Compiles a campaign's templates once; the result renders per recipient within `limits`. */
export function compileCampaignTemplates(
  t: CampaignTemplates,
  limits: RenderLimits = DEFAULT_RENDER_LIMITS,
): CompiledTemplates {
  const ast = parseAll(t, limits);
  const compile = (field: TemplateError['field'], tree: hbs.AST.Program): Compiled => {
    // Subject and text are not HTML: escaping would put "&amp;" into them.
    const noEscape = field !== 'html';
    try {
      const fn = templateOf(tree, { ...COMPILE_OPTIONS, noEscape });
      // The first render, on empty variables, sets the template up for good (templateOf). Not
      // timed: compiling is not rendering, and happens once per campaign.
      meter.start({ ...limits, timeBudgetMs: Number.POSITIVE_INFINITY });
      meter.beginField(field);
      fn({}, RENDER_OPTIONS);
      fn._setup = setUp;
      return fn;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new TemplateError(field, msg.slice(0, 500));
    }
  };
  const subject = compile('subject', ast.subject);
  const html = ast.html && compile('html', ast.html);
  const text = ast.text && compile('text', ast.text);
  const run = (field: TemplateError['field'], fn: Compiled, vars: Record<string, unknown>) => {
    meter.beginField(field);
    return fn(vars, RENDER_OPTIONS);
  };
  return {
    render(vars) {
      meter.start(limits);
      const subjectOut = run('subject', subject, vars);
      const htmlOut = html && run('html', html, vars);
      const htmlPlain = meter.plain;
      const textOut = text && run('text', text, vars);
      const content = { subject: subjectOut, html: htmlOut, text: textOut };
      latest.content = content;
      latest.html = htmlPlain ? htmlOut : undefined;
      latest.text = meter.plain ? textOut : undefined;
      return content;
    },
  };
}
