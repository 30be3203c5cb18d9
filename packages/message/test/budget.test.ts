import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Handlebars from 'handlebars';
import { cpuTimeMs } from '@volley/testkit';
import type { TemplateError } from '@volley/message';
import {
  DEFAULT_RENDER_LIMITS,
  TemplateBudgetError,
  TemplateCostError,
  compileCampaignTemplates,
  validateTemplates,
  type CampaignTemplates,
  type RenderLimits,
} from '@volley/message';

/** Asserts that submit (validation) and the sender (compilation) both refuse it for its cost. */
function assertCostly(
  t: CampaignTemplates,
  field: TemplateError['field'],
  at: { line: number; column: number; block: string } | undefined,
  detail: RegExp,
  limits: RenderLimits = DEFAULT_RENDER_LIMITS,
): void {
  for (const run of [
    () => validateTemplates(t, limits),
    () => compileCampaignTemplates(t, limits),
  ]) {
    assert.throws(run, (err: unknown) => {
      assert.ok(err instanceof TemplateCostError, `expected TemplateCostError, got ${String(err)}`);
      assert.equal(err.code, 'VOLLEY_TEMPLATE_TOO_COSTLY');
      assert.equal(err.field, field);
      assert.deepEqual(err.at, at);
      assert.match(err.detail, detail);
      return true;
    });
  }
}

/** Asserts that rendering `vars` stops on `limit` in `field`, and that stopping took little work. */
function assertOverBudget(
  t: CampaignTemplates,
  vars: Record<string, unknown>,
  limit: TemplateBudgetError['limit'],
  field: TemplateError['field'],
  limits: RenderLimits = DEFAULT_RENDER_LIMITS,
): void {
  // The time budget is a wall clock: on a loaded machine it can run out before a count does,
  // which is right for the sender but not what a count's case tests. Out of the way for those,
  // so the count itself is seen to stop the render, within the CPU the budget allows.
  const compiled = compileCampaignTemplates(
    t,
    limit === 'time' ? limits : { ...limits, timeBudgetMs: 600_000 },
  );
  let caught: unknown;
  // Unbounded, each of these renders runs for minutes or exhausts memory; bounded, it stops
  // within the time budget (50 ms by default): the sender moves on within milliseconds. CPU
  // time, which load on the machine barely moves; measured for this render alone (compiled
  // above), so three times the budget leaves room for a collection, not for a runaway render.
  const ms = cpuTimeMs(() => {
    try {
      compiled.render(vars);
    } catch (err) {
      caught = err;
    }
  });
  assert.ok(
    caught instanceof TemplateBudgetError,
    `expected TemplateBudgetError, got ${String(caught)}`,
  );
  assert.equal(caught.code, 'VOLLEY_TEMPLATE_BUDGET');
  assert.equal(caught.limit, limit);
  assert.equal(caught.field, field);
  assert.match(caught.message, new RegExp(`^${field} template: rendering stopped: more than`));
  const bound = 3 * limits.timeBudgetMs;
  assert.ok(ms < bound, `stopping on ${limit} took ${ms} ms of CPU, over ${bound}`);
}

const list = (n: number) => Array.from({ length: n }, (_v, i) => i);

describe('the hostile-template set, refused at submit', () => {
  test("the issue's five nested loops over @root.list are refused at the third, naming it", () => {
    const src = [
      '<ul>',
      '{{#each @root.list}}',
      '  {{#each @root.list}}',
      '    {{#each @root.list}}{{#each @root.list}}{{#each @root.list}}x{{/each}}{{/each}}{{/each}}',
      '  {{/each}}',
      '{{/each}}',
    ].join('\n');
    assertCostly(
      { subject: 's', html: src },
      'html',
      { line: 4, column: 5, block: '{{#each @root.list}}' },
      /3 such passes nest here \(with \{\{#each @root\.list\}\} at line 2, column 1 and \{\{#each @root\.list\}\} at line 3, column 3\)\. With lists of 100 items that is 100\^3 = 1000000 iterations, over the budget of 10000/,
    );
  });

  test('loops over the same data reached through ../, block parameters or {{#with}} count as passes', () => {
    assertCostly(
      { subject: '{{#each a}}{{#each ../a}}{{#each ../../a}}x{{/each}}{{/each}}{{/each}}' },
      'subject',
      { line: 1, column: 26, block: '{{#each ../../a}}' },
      /100\^3/,
    );
    assertCostly(
      {
        subject: 's',
        text: '{{#each a as |x|}}{{#each b}}{{#each x.c}}{{#each @root.d}}.{{/each}}{{/each}}{{/each}}{{/each}}',
      },
      'text',
      { line: 1, column: 43, block: '{{#each @root.d}}' },
      /100\^3/,
    );
    assertCostly(
      {
        subject: 's',
        html: '{{#each a}}{{#with @root}}{{#each a}}{{#with @root}}{{#each a}}.{{/each}}{{/with}}{{/each}}{{/with}}{{/each}}',
      },
      'html',
      { line: 1, column: 53, block: '{{#each a}}' },
      /100\^3/,
    );
    // `{{#with this}}` may not add a context level, so `../` can reach past the loop's item.
    assertCostly(
      {
        subject: 's',
        html: '{{#each a}}{{#with this}}{{#each ../a}}{{#with this}}{{#each ../a}}.{{/each}}{{/with}}{{/each}}{{/with}}{{/each}}',
      },
      'html',
      { line: 1, column: 54, block: '{{#each ../a}}' },
      /100\^3/,
    );
  });

  test('partial-like recursion through lookup is refused', () => {
    // Each level looks the next list up from the root by the current item's value: a recursion
    // over the data that Handlebars without partials can only write out level by level.
    const level = '{{#each (lookup @root this)}}';
    assertCostly(
      {
        subject: 's',
        html: `{{#each (lookup @root "start")}}${level}${level}.{{/each}}{{/each}}{{/each}}`,
      },
      'html',
      { line: 1, column: 62, block: level },
      /100\^3/,
    );
  });

  test('sections over a list are loops too', () => {
    assertCostly(
      {
        subject: 's',
        text: '{{#list}}{{#@root.list}}{{#@root.list}}.{{/@root.list}}{{/@root.list}}{{/list}}',
      },
      'text',
      { line: 1, column: 25, block: '{{#@root.list}}' },
      /100\^3/,
    );
  });

  test('text alone larger than the output budget cannot fit', () => {
    const limits = { ...DEFAULT_RENDER_LIMITS, maxOutput: 5_000 };
    assertCostly(
      { subject: 's', html: 'h'.repeat(3_000), text: `{{#each a}}${'t'.repeat(2_100)}{{/each}}` },
      'html',
      undefined,
      /the templates hold 5101 characters of text \(3000 here\), more than the output budget of 5000/,
      limits,
    );
  });

  test('more tags than the limit are refused at the first one past it, before parsing', () => {
    const limits = { ...DEFAULT_RENDER_LIMITS, maxTags: 10 };
    // 10 tags across the three parts: a triple stash is one tag, a block two, {{else}} one.
    const fits = {
      subject: 'Hi {{name}}',
      html: '<p>{{{body}}}</p>\n{{#if vip}}VIP{{else}}{{name}}{{/if}}',
      text: '{{name}} {{#each a}}{{this}}{{/each}}',
    };
    validateTemplates(fits, limits);
    compileCampaignTemplates(fits, limits);
    // One more, after which the text would not even parse: the count comes first.
    assertCostly(
      { ...fits, text: `${fits.text}\n {{more}} {{#if}` },
      'text',
      { line: 2, column: 2, block: '{{more}}' },
      /^line 2, column 2: \{\{more\}\} is tag 11: the templates may hold 10 tags \(\{\{…\}\}, block ends and \{\{else\}\} included\) together, since every sender compiles them/,
      limits,
    );
    // The default: 2,000, about 0.2 s of compiling per sender at most.
    const blocks = (n: number) => '{{#if a}}{{/if}}'.repeat(n);
    validateTemplates({ subject: '{{a}}{{b}}', html: blocks(999) });
    assertCostly(
      { subject: '{{a}}{{b}}', html: blocks(999), text: '{{c}}' },
      'text',
      { line: 1, column: 1, block: '{{c}}' },
      /^line 1, column 1: \{\{c\}\} is tag 2001:/,
    );
  });

  test('the degree that is refused follows the iteration budget', () => {
    const twice = { subject: 's', html: '{{#each a}}{{#each ../a}}.{{/each}}{{/each}}' };
    validateTemplates(twice);
    assertCostly(
      twice,
      'html',
      { line: 1, column: 12, block: '{{#each ../a}}' },
      /100\^2 = 10000 iterations, over the budget of 9999/,
      { ...DEFAULT_RENDER_LIMITS, maxIterations: 9_999 },
    );
    validateTemplates(
      { subject: '{{#each a}}{{#each ../a}}{{#each ../../a}}.{{/each}}{{/each}}{{/each}}' },
      { ...DEFAULT_RENDER_LIMITS, maxIterations: 1_000_000 },
    );
  });

  test('loops over parts of the current item nest freely, and a cross product of two lists fits', () => {
    const accepted = [
      '{{#each a}}{{#each b}}{{#each c}}{{#each d}}{{#each e}}{{#each f}}.{{/each}}{{/each}}{{/each}}{{/each}}{{/each}}{{/each}}',
      '{{#each sections as |s|}}{{#each s.items as |item i|}}{{#each item.tags}}{{this}}{{/each}}{{/each}}{{/each}}',
      '{{#each a}}{{#with this.b}}{{#each c}}{{#each ../d}}.{{/each}}{{/each}}{{/with}}{{/each}}',
      '{{#each products}}{{#each @root.sizes}}{{../name}} {{this}}{{/each}}{{/each}}',
      '{{#each a}}{{#if @root.flag}}{{#each b}}{{#unless @first}},{{/unless}}{{lookup @root.names this}}{{/each}}{{/if}}{{/each}}',
      '{{#each a}}{{#each @index}}{{#each @root.a}}.{{/each}}{{/each}}{{/each}}',
      '{{#each a}}{{^@root.b}}{{#each @root.b}}.{{/each}}{{/@root.b}}{{else}}{{#each @root.c}}.{{/each}}{{/each}}',
    ];
    for (const html of accepted) validateTemplates({ subject: 's', html });
  });
});

describe('the render budget, for variables that come later', () => {
  const nested = {
    subject: 'Hi {{name}}',
    html: '{{#each list}}{{#each @root.list}}<i>{{this}}</i>{{/each}}{{/each}}',
  };

  test('nested loops over a large list stop at the iteration budget', () => {
    // 5,000 items: 25 million iterations unbounded.
    assertOverBudget(nested, { name: 'n', list: list(5_000) }, 'iterations', 'html');
  });

  test('huge string repetition through variables stops at the output budget', () => {
    const s = 'xyz'.repeat(5_000);
    assertOverBudget(
      { subject: 's', html: '{{#each list}}{{@root.s}}{{@root.s}}{{/each}}' },
      { s, list: list(5_000) },
      'output',
      'html',
    );
    assertOverBudget(
      { subject: `{{s}}`.repeat(300) },
      { s: '<&>'.repeat(5_000) },
      'output',
      'subject',
    );
  });

  test('1 MB variables stop at the output or iteration budget', () => {
    const big = 'y'.repeat(1024 * 1024);
    assertOverBudget(
      { subject: 's', text: 'a{{big}}b{{big}}c{{big}}d{{big}}e{{big}}' },
      { big },
      'output',
      'text',
    );
    assertOverBudget(
      { subject: 's', text: '{{#each list}}{{this}}{{/each}}' },
      { list: list(400_000) },
      'iterations',
      'text',
    );
  });

  test('work that neither loops nor writes much stops at the time budget', () => {
    // 5,000 iterations of 990 empty blocks: within the other limits (1,982 tags), 5 million
    // blocks of work, several seconds unbounded.
    const html = `{{#each list}}${'{{#if @root.no}}{{/if}}'.repeat(990)}{{/each}}`;
    assertOverBudget({ subject: 's', html }, { list: list(5_000) }, 'time', 'html');
  });

  test('a recipient over the budget fails alone: the next render has its whole budget', () => {
    const compiled = compileCampaignTemplates(nested);
    assert.throws(() => compiled.render({ name: 'a', list: list(200) }), TemplateBudgetError);
    // 99 + 99 × 99 iterations: just within the 10,000.
    const r = compiled.render({ name: 'b', list: list(99) });
    assert.equal(r.subject, 'Hi b');
    const row = list(99)
      .map((n) => `<i>${n}</i>`)
      .join('');
    assert.equal(r.html, row.repeat(99));
  });

  test('iterations and characters are counted exactly, across every kind of block', () => {
    const t = {
      subject: '{{#if a}}{{#each a}}{{this}}{{/each}}{{/if}}!',
      html: '{{#sec}}[{{#each this}}<{{.}}>{{else}}none{{/each}}]{{/sec}}{{#with o}}{{x}}{{#unless y}}-{{/unless}}{{/with}}{{#obj}}{{k}}{{/obj}}{{^empty}}E{{/empty}}{{#t}}T{{/t}}',
      text: '{{#each o}}{{@key}}={{this}};{{/each}}{{#each empty}}x{{else}}0{{/each}}',
    };
    const vars = {
      a: [1, 2, 3],
      sec: [['p', 'q'], [], ['r']],
      o: { x: 'X&', y: false },
      obj: { k: 'K' },
      empty: [],
      t: true,
    };
    const r = compileCampaignTemplates(t).render(vars);
    const out = r.subject.length + (r.html ?? '').length + (r.text ?? '').length;
    // each a: 3; sec: 3 items, each this: 2 + 0 + 1; each o: 2 keys.
    const iterations = 3 + 3 + 3 + 2;
    const fits = { ...DEFAULT_RENDER_LIMITS, maxOutput: out, maxIterations: iterations };
    assert.deepEqual(compileCampaignTemplates(t, fits).render(vars), r);
    assertOverBudget(t, vars, 'output', 'text', { ...fits, maxOutput: out - 1 });
    assertOverBudget(t, vars, 'iterations', 'text', { ...fits, maxIterations: iterations - 1 });
  });

  test('metering changes nothing in what a template renders', () => {
    const plain = Handlebars.create();
    const options = {
      knownHelpersOnly: true,
      knownHelpers: { log: false, helperMissing: false, blockHelperMissing: false },
    };
    const templates = [
      'Hi {{name}}, {{#if vip}}VIP{{else}}member{{/if}} {{#unless vip}}join{{/unless}}',
      '{{#each items}}{{@index}}/{{@key}}:{{name}}{{#if @first}}^{{/if}}{{#if @last}}${{/if}} {{/each}}',
      '{{#each items as |it i|}}{{i}}={{it.name}}({{../name}}) {{/each}}{{#each none}}x{{else}}none{{/each}}',
      '{{#with user}}{{first}} {{last}} {{@root.name}}{{/with}}{{#with missing}}x{{else}}no user{{/with}}',
      '{{#items}}<{{name}}>{{/items}}{{#user}}[{{first}}]{{/user}}{{^none}}empty{{/none}}{{#vip}}v{{/vip}}',
      '{{lookup codes "b"}} {{lookup items 1}} {{lookup (lookup items 0) "name"}} {{{raw}}} {{raw}}',
      '{{#each codes}}{{@key}}={{this}},{{/each}} {{items}} {{n}} {{zero}} {{no}} {{nil}}',
      '{{! comment }}  {{~name~}}  \n{{#if vip}}\n  line\n{{/if}}\n',
    ];
    const vars = {
      name: 'Ann & <Bob>',
      vip: false,
      items: [{ name: 'a' }, { name: 'b"' }],
      none: [],
      user: { first: 'Ada', last: "O'Neil" },
      codes: { a: 1, b: 2 },
      raw: '<b>&</b>',
      n: 3.5,
      zero: 0,
      no: false,
      nil: null,
    };
    for (const src of templates) {
      const expected = {
        subject: plain.compile(src, { ...options, noEscape: true })(vars),
        html: plain.compile(src, options)(vars),
        text: plain.compile(src, { ...options, noEscape: true })(vars),
      };
      assert.deepEqual(
        compileCampaignTemplates({ subject: src, html: src, text: src }).render(vars),
        expected,
        src,
      );
    }
  });
});
