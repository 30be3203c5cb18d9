/**
 * What one recipient's render may cost, enforced while it runs. Handlebars renders
 * synchronously, so nothing outside the render can stop it: the checks live in the template's
 * own code. Every piece a template appends to its output goes through {@link RenderMeter.out}
 * (a compiler subclass emits the call), and the block helpers count loop iterations.
 */
import Handlebars from 'handlebars';
import { NOT_SEVEN_BIT } from './encoding.ts';

/** The budget of one recipient's render: subject, HTML and text together. */
export interface RenderLimits {
  /** Iterations of `{{#each}}` (and of sections over a list) across the whole render. */
  maxIterations: number;
  /** Characters the render produces. */
  maxOutput: number;
  /** Milliseconds the render may take. */
  timeBudgetMs: number;
  /**
   * Tags (`{{…}}`, block ends and `{{else}}` included) in the campaign's templates together.
   * Not a cost per recipient: it bounds compiling, which each sender does once per campaign,
   * synchronously, at up to 0.1 ms a tag (template-cost.ts).
   */
  maxTags: number;
}

/**
 * A normal newsletter uses a few hundred iterations, a few hundred kilobytes and well under a
 * millisecond; these leave room for ten times that and still stop a hostile render within
 * milliseconds. The output budget holds the largest templates the API accepts (1 MiB of HTML and
 * 1 MiB of text) twice over. A newsletter holds tens to a few hundred tags, repeated parts going
 * through `{{#each}}`; 2,000 tags compile in up to about 0.2 s per sender, while the 1 MiB the
 * API accepts could hold 200,000 (`{{a}}` repeated), 10 to 20 s of a sender doing nothing else.
 */
export const DEFAULT_RENDER_LIMITS: Readonly<RenderLimits> = {
  maxIterations: 10_000,
  maxOutput: 4 * 1024 * 1024,
  timeBudgetMs: 50,
  maxTags: 2_000,
};

export type BudgetLimit = 'iterations' | 'output' | 'time';

/** A render stopped because it went over its budget: this recipient's variables cost too much. */
export class TemplateBudgetError extends Error {
  readonly code = 'VOLLEY_TEMPLATE_BUDGET';
  /** What went over, such as "more than 10000 loop iterations". */
  readonly what: string;
  constructor(
    /** The limit that was hit. */
    readonly limit: BudgetLimit,
    /** Its value. */
    readonly max: number,
    /** The template being rendered when it was hit. */
    readonly field: 'subject' | 'html' | 'text',
    /** CPU time the render had taken, in ms (0 when it stopped before the clock was read). */
    readonly spentMs = 0,
  ) {
    const what = {
      iterations: `more than ${max} loop iterations`,
      output: `more than ${max} characters of output`,
      time: `more than ${max} ms of CPU time`,
    }[limit];
    super(`${field} template: rendering stopped: ${what}`);
    this.name = 'TemplateBudgetError';
    this.what = what;
  }
}

/**
 * Work between two looks at the clock: one unit per append or loop iteration (0.1 to a few
 * microseconds each), plus one per 64 characters appended (escaping and copying cost by the
 * character). The clock (process CPU time, about a microsecond a read) is read every 0.03 to
 * 1 ms of rendering: the budget is kept to within a millisecond at a cost below 1%, and a
 * normal render, a few dozen units, never reads it.
 */
const CLOCK_EVERY = 256;

/** CPU time of this process in milliseconds: a render is not charged for time the machine gave to others. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Counts the render in progress. Rendering is synchronous and never re-entered, so one meter
 * serves every render of the environment it belongs to, without allocating anything per render.
 */
export class RenderMeter {
  iterations = 0;
  output = 0;
  field: TemplateBudgetError['field'] = 'subject';
  private work = 0;
  /** CPU time of the first look at the clock, from which the budget is counted. */
  private startedAt: number | undefined;
  private limits: RenderLimits = DEFAULT_RENDER_LIMITS;

  constructor(private readonly clock: () => number = cpuMs) {}

  start(limits: RenderLimits): void {
    this.limits = limits;
    this.iterations = 0;
    this.output = 0;
    this.work = 0;
    this.startedAt = undefined;
  }

  /**
   * False once a piece of the field being rendered held a character other than printable
   * ASCII, tab, CR or LF (see beginField): a part rendered with it still true needs no scan for
   * 7bit (compose.ts).
   */
  plain = true;
  /** The latest block result (see returned): its pieces were checked as they were appended. */
  private lastBlock: string | undefined;

  /** A field's render starts: its pieces are checked from here. */
  beginField(field: TemplateBudgetError['field']): void {
    this.field = field;
    this.plain = true;
    this.lastBlock = undefined;
  }

  /**
   * Called by the compiled template with every piece it appends whose text is known only now
   * (a variable, a helper's result, a block's result); answers it as a string. A block's result
   * is made of pieces that went through here or `plainText` inside the block, so while the
   * field is plain it is plain too and is not scanned again.
   */
  out(value: unknown): string {
    const s = typeof value === 'string' ? value : String(value);
    if (this.plain && s !== this.lastBlock && NOT_SEVEN_BIT.test(s)) this.plain = false;
    return this.count(s);
  }

  /** A piece of the template's own text that the compiler found plain: counted, not scanned. */
  plainText(s: string): string {
    return this.count(s);
  }

  private count(s: string): string {
    this.output += s.length;
    if (this.output > this.limits.maxOutput) this.fail('output', this.limits.maxOutput);
    this.work += 1 + (s.length >> 6);
    if (this.work >= CLOCK_EVERY) this.checkClock();
    return s;
  }

  /**
   * A block's body was counted as it was appended inside the block; its parent appends the
   * block's result again, so it is taken off here to count every character once.
   */
  returned(value: unknown): unknown {
    if (typeof value === 'string') {
      this.output -= value.length;
      this.lastBlock = value;
    }
    return value;
  }

  iterate(): void {
    if (++this.iterations > this.limits.maxIterations) {
      this.fail('iterations', this.limits.maxIterations);
    }
    if (++this.work >= CLOCK_EVERY) this.checkClock();
  }

  private checkClock(): void {
    this.work = 0;
    const now = this.clock();
    // Timed from the first look: what came before is at most CLOCK_EVERY units of work.
    this.startedAt ??= now;
    if (now - this.startedAt > this.limits.timeBudgetMs) {
      this.fail('time', this.limits.timeBudgetMs);
    }
  }

  private fail(limit: BudgetLimit, max: number): never {
    const spent = this.startedAt === undefined ? 0 : this.clock() - this.startedAt;
    throw new TemplateBudgetError(limit, max, this.field, spent);
  }
}

/** Where the compiled template finds its meter: a helper name no template can call. */
const METER = 'volley:meter';

interface CompilerPrototype {
  appendToBuffer(source: unknown, location: unknown, explicit: boolean): unknown;
  /** The class that compiles child programs (block bodies). */
  compiler: unknown;
}
/**
 * A piece of the template's own text as the compiler writes it (`quotedString`: a JavaScript
 * string literal in double quotes, escaping only backslash, quote, LF, CR, U+2028 and U+2029)
 * whose characters are all printable ASCII, tab, CR or LF. Anything else, including any other
 * source the compiler appends (a variable, an expression), is checked when it is rendered.
 */
const PLAIN_LITERAL = /^"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\nr])*"$/;

/** Handlebars' JavaScriptCompiler, which its type definitions leave out. */
type CompilerClass = (new () => object) & { prototype: CompilerPrototype };

/**
 * An isolated Handlebars environment whose compiled templates pass every appended piece
 * through its meter, and whose block helpers count loop iterations. `appendToBuffer` is the
 * compiler's documented override point for "buffering semantics"; every output path of a
 * template (text, `{{x}}`, `{{{x}}}`, blocks) goes through it.
 */
export function meteredEnvironment(): { env: typeof Handlebars; meter: RenderMeter } {
  const env = Handlebars.create();
  const holder = env as unknown as { JavaScriptCompiler: CompilerClass };
  const Base = holder.JavaScriptCompiler;
  class Metered extends (Base as new () => object) {}
  const proto = Metered.prototype as unknown as CompilerPrototype;
  proto.appendToBuffer = function (this: unknown, source, location, explicit) {
    const method = typeof source === 'string' && PLAIN_LITERAL.test(source) ? 'plainText' : 'out';
    return Base.prototype.appendToBuffer.call(
      this,
      [`helpers[${JSON.stringify(METER)}].${method}(`, source, ')'],
      location,
      explicit,
    );
  };
  // Block bodies are compiled by `compiler`: metered too.
  proto.compiler = Metered;
  holder.JavaScriptCompiler = Metered as unknown as CompilerClass;
  const meter = new RenderMeter();
  // Registered on the environment rather than passed per render: Handlebars wraps each
  // runtime helper in a new closure at every render.
  for (const [name, helper] of Object.entries(meteredHelpers(env, meter))) {
    env.registerHelper(name, helper as Handlebars.HelperDelegate);
  }
  return { env, meter };
}

type Helper = (this: unknown, ...args: unknown[]) => unknown;
type Program = (context: unknown, options?: unknown) => string;
interface BlockOptions {
  fn: Program;
  inverse: Program;
}

/**
 * The environment's block helpers, counting loop iterations and taking block results off the
 * output count, plus the meter itself, which Handlebars passes to templates untouched (it is
 * not a function) and no template can call.
 */
function meteredHelpers(env: typeof Handlebars, meter: RenderMeter): Record<string, unknown> {
  const original = (name: string): Helper => {
    const h = env.helpers[name] as Helper | undefined;
    if (!h) throw new Error(`Handlebars has no ${name} helper`);
    return h;
  };
  const counted = (options: BlockOptions): void => {
    const fn = options.fn;
    options.fn = (context, o) => {
      meter.iterate();
      return fn(context, o);
    };
  };
  const block = (name: string, iterates: boolean): Helper => {
    const helper = original(name);
    return function (this: unknown, ...args) {
      if (iterates) counted(args[args.length - 1] as BlockOptions);
      return meter.returned(helper.apply(this, args));
    };
  };
  const each = block('each', true);
  /**
   * Sections ({{#x}}…{{/x}}), as Handlebars' blockHelperMissing renders them, with lists
   * going through the metered `each`.
   */
  function section(this: unknown, context: unknown, options: BlockOptions): unknown {
    if (Array.isArray(context) && context.length > 0) return each.call(this, context, options);
    if (context === true) return meter.returned(options.fn(this));
    if (context === false || context == null || Array.isArray(context)) {
      return meter.returned(options.inverse(this));
    }
    return meter.returned(options.fn(context, options));
  }
  const ifHelper = block('if', false);
  /** As Handlebars' own `unless`: `if` with the branches swapped (so counted once, there). */
  function unless(this: unknown, conditional: unknown, options: BlockOptions & { hash: unknown }) {
    return ifHelper.call(this, conditional, {
      fn: options.inverse,
      inverse: options.fn,
      hash: options.hash,
    });
  }
  return {
    each,
    blockHelperMissing: section,
    if: ifHelper,
    unless,
    with: block('with', false),
    [METER]: meter,
  };
}
