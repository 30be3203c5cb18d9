import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpuTimeMs } from '@volley/testkit';
import {
  DEFAULT_RENDER_LIMITS,
  TemplateError,
  compileCampaignTemplates,
  validateTemplates,
  type CampaignTemplates,
  type RenderLimits,
} from '@volley/message';

/**
 * No limit on tags: the nesting checks are tested on their own, as they guard a deployment
 * that raises VOLLEY_TEMPLATE_MAX_TAGS (the default refuses these templates by their tags).
 */
const ANY_TAGS: RenderLimits = { ...DEFAULT_RENDER_LIMITS, maxTags: Number.POSITIVE_INFINITY };

/** Asserts that both validation and compilation refuse the templates, naming the field. */
function assertRefused(
  t: CampaignTemplates,
  field: TemplateError['field'],
  detail?: RegExp,
  limits: RenderLimits = DEFAULT_RENDER_LIMITS,
): void {
  for (const run of [
    () => validateTemplates(t, limits),
    () => compileCampaignTemplates(t, limits),
  ]) {
    assert.throws(run, (err: unknown) => {
      assert.ok(err instanceof TemplateError, `expected TemplateError, got ${String(err)}`);
      assert.equal(err.field, field);
      assert.equal(err.code, 'VOLLEY_TEMPLATE_INVALID');
      assert.ok(err.message.startsWith(`${field} template: `), err.message);
      if (detail) assert.match(err.detail, detail);
      return true;
    });
  }
}

const nested = (open: string, close: string, depth: number, inner = 'x') =>
  open.repeat(depth) + inner + close.repeat(depth);

describe('template validation', () => {
  test('a syntax error names the field it is in', () => {
    assertRefused({ subject: 'Hi {{name', text: 'ok' }, 'subject', /Parse error|Expecting/);
    assertRefused({ subject: 'ok', html: '<p>{{#if a}}open</p>' }, 'html');
    assertRefused({ subject: 'ok', html: '<p>fine</p>', text: '{{/each}}' }, 'text');
    assertRefused(
      { subject: 'ok', text: '{{#if a}}x{{/unless}}' },
      'text',
      /if doesn't match unless/,
    );
  });

  test('very deep nesting is refused quickly, without overflowing the stack', () => {
    // Unchecked, 100,000 levels never finish parsing and 2,000 overflow the stack. Bounded
    // in CPU time, which other load on the machine does not stretch.
    const ms = cpuTimeMs(() => {
      assertRefused(
        { subject: 's', html: nested('{{#if a}}', '{{/if}}', 100_000) },
        'html',
        /nest more than 100/,
        ANY_TAGS,
      );
      assertRefused(
        { subject: nested('{{#each a}}', '{{/each}}', 5_000) },
        'subject',
        /nest/,
        ANY_TAGS,
      );
      assertRefused(
        { subject: 's', text: nested('{{^a}}', '{{/a}}', 5_000) },
        'text',
        /nest/,
        ANY_TAGS,
      );
      assertRefused(
        { subject: 's', text: '{{#if a}}' + '{{else if b}}y'.repeat(5_000) + '{{/if}}' },
        'text',
        /nest/,
        ANY_TAGS,
      );
      assertRefused(
        {
          subject: 's',
          html: `{{lookup ${'(lookup '.repeat(5_000)}a "b"${')'.repeat(5_000)} "c"}}`,
        },
        'html',
        /nest/,
        ANY_TAGS,
      );
      // Unclosed blocks are as deep while the lexer reads them.
      assertRefused({ subject: 's', html: '{{#if a}}'.repeat(100_000) }, 'html', /nest/, ANY_TAGS);
      // By default their tags alone refuse most of them, before anything is lexed.
      assert.throws(
        () => validateTemplates({ subject: 's', html: '{{#if a}}'.repeat(100_000) }),
        /html template: line 1, column 18001: \{\{#if a\}\} is tag 2001/,
      );
    });
    assert.ok(ms < 5_000, `refusing took ${ms} ms of CPU`);
  });

  test('comments cannot hide nesting from the depth check', () => {
    const src = '{{#if a}}{{!-- {{/if}} --}}{{! {{/if}} }}'.repeat(2_000) + '{{/if}}'.repeat(2_000);
    assertRefused({ subject: 's', html: src }, 'html', /nest/, ANY_TAGS);
  });

  test('nesting up to the limit compiles and renders', () => {
    const t = compileCampaignTemplates({ subject: nested('{{#if a}}', '{{/if}}', 100, '{{a}}') });
    assert.equal(t.render({ a: 'deep' }).subject, 'deep');
    // Many blocks side by side are not deep, and parentheses in text are not subexpressions.
    const flat = compileCampaignTemplates({
      subject: 's',
      text: '(note) '.repeat(300) + '{{#if a}}y{{/if}}'.repeat(300),
    });
    assert.equal(flat.render({ a: true }).text, '(note) '.repeat(300) + 'y'.repeat(300));
  });

  test('helpers that do not exist here fail at validation, not at every render', () => {
    // Block helpers without a block compile, then fail at every render.
    assertRefused({ subject: '{{if name}}' }, 'subject', /if needs a block: write \{\{#if/);
    assertRefused({ subject: 's', html: '<p>{{each items}}</p>' }, 'html', /each needs a block/);
    assertRefused({ subject: 's', text: '{{lookup (with a) "b"}}' }, 'text', /with needs a block/);
    assertRefused({ subject: '{{uppercase name}}' }, 'subject', /unknown helper "uppercase"/);
    assertRefused(
      { subject: 's', html: '{{#list items}}x{{/list}}' },
      'html',
      /unknown helper "list"/,
    );
    assertRefused(
      { subject: 's', html: '{{lookup (format a) "b"}}' },
      'html',
      /unknown helper "format"/,
    );
    assertRefused(
      { subject: 's', html: '{{user.greet "x"}}' },
      'html',
      /unknown helper "user.greet"/,
    );
    assertRefused(
      { subject: 's', text: '{{log "written to the sender log"}}' },
      'text',
      /unknown helper "log"/,
    );
    assertRefused({ subject: 's', text: '{{helperMissing "x"}}' }, 'text', /unknown helper/);
  });

  test('built-in helpers with the wrong number of arguments are refused', () => {
    assertRefused({ subject: '{{#if}}x{{/if}}' }, 'subject', /if takes 1 argument, got 0/);
    assertRefused({ subject: '{{#unless a b}}x{{/unless}}' }, 'subject', /unless takes 1/);
    assertRefused({ subject: '{{#each}}x{{/each}}' }, 'subject', /each takes 1/);
    assertRefused({ subject: '{{#with}}x{{/with}}' }, 'subject', /with takes 1/);
    assertRefused({ subject: '{{lookup a}}' }, 'subject', /lookup takes 2 arguments, got 1/);
    assertRefused({ subject: '{{if}}' }, 'subject', /if takes 1/);
    assertRefused({ subject: 's', html: '{{#if a}}x{{else if}}y{{/if}}' }, 'html', /if takes 1/);
  });

  test('partials and decorators are refused: there is no registry for them', () => {
    assertRefused({ subject: 's', html: '{{> footer}}' }, 'html', /partials/);
    assertRefused({ subject: 's', html: '{{#> layout}}x{{/layout}}' }, 'html', /partials/);
    assertRefused({ subject: 's', html: '{{#*inline "p"}}x{{/inline}}' }, 'html', /decorators/);
    assertRefused({ subject: 's', html: '{{* deco}}' }, 'html', /decorators/);
  });
});

describe('template rendering', () => {
  test('missing variables render empty', () => {
    const t = compileCampaignTemplates({
      subject: 'Hi {{name}}!',
      html: '<p>{{user.address.city}}|{{#each items}}<i>{{this}}</i>{{/each}}|{{#if vip}}VIP{{/if}}</p>',
      text: '[{{nothing}}][{{../up}}][{{@root.gone}}]',
    });
    assert.deepEqual(t.render({}), { subject: 'Hi !', html: '<p>||</p>', text: '[][][]' });
  });

  test('HTML is escaped in the html part only', () => {
    const t = compileCampaignTemplates({
      subject: 'For {{who}}',
      html: '<p>{{who}}</p><p>{{{who}}}</p>',
      text: 'For {{who}}',
    });
    const who = `<script>alert("x")</script> & 'Tom' = \`1\``;
    const r = t.render({ who });
    assert.equal(r.subject, `For ${who}`);
    assert.equal(r.text, `For ${who}`);
    assert.equal(
      r.html,
      '<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;Tom&#x27; &#x3D; &#x60;1&#x60;</p>' +
        `<p>${who}</p>`,
    );
  });

  test('the built-in helpers work', () => {
    const t = compileCampaignTemplates({
      subject: '{{#if vip}}VIP {{/if}}{{#unless vip}}Hi {{/unless}}{{user.first}}',
      text: '{{#each items}}{{@index}}:{{name}} {{/each}}{{#with user}}{{first}} {{last}}{{/with}} {{lookup codes "b"}}{{#items}}.{{/items}}',
    });
    const r = t.render({
      vip: false,
      user: { first: 'Ada', last: 'L' },
      items: [{ name: 'a' }, { name: 'b' }],
      codes: { b: 42 },
    });
    assert.equal(r.subject, 'Hi Ada');
    assert.equal(r.text, '0:a 1:b Ada L 42..');
    assert.equal(r.html, undefined);
  });

  test('a template set up once renders every recipient as a freshly compiled one does', () => {
    // Renders after the first keep the first render's helpers and access rules (templateOf).
    const t = {
      subject: '{{#if vip}}VIP {{/if}}{{user.first}}{{constructor.name}}',
      html: '{{#each items}}<i>{{@index}}:{{name}}</i>{{else}}none{{/each}}{{{raw}}}{{@root.n}}',
      text: '{{#with user}}{{first}}{{/with}} {{lookup codes key}}{{lookup this "__proto__"}}{{#items}}.{{/items}}',
    };
    const varsList: Record<string, unknown>[] = [
      { vip: true, user: { first: 'Ada' }, items: [{ name: 'a' }], codes: { b: 1 }, key: 'b' },
      {},
      { items: [], raw: '<b>&</b>', n: 3, codes: { constructor: 'own' }, key: 'constructor' },
      { user: { first: 'Zoë' }, items: [{ name: '<x>' }, { name: 'y' }], key: 'toString' },
      { vip: false, codes: { b: 2 }, key: 'b', n: 0 },
    ];
    const kept = compileCampaignTemplates(t);
    for (let round = 0; round < 3; round++) {
      for (const [k, vars] of varsList.entries()) {
        assert.deepEqual(kept.render(vars), compileCampaignTemplates(t).render(vars), `${k}`);
      }
    }
  });

  test('hostile templates are inert: no prototype access, no code execution', () => {
    const marker = '__volleyTemplatePwned';
    const hostile = [
      '{{constructor.constructor}}',
      '{{__proto__}}',
      '{{#with this}}{{lookup this "constructor"}}{{/with}}',
      '{{this.constructor.name}}{{@root.constructor.name}}{{lookup this "__proto__"}}',
      '{{#with (lookup this "constructor")}}{{lookup this "constructor"}}{{name}}{{/with}}',
      '{{lookup (lookup this "constructor") "constructor"}}',
      `{{#with (lookup (lookup this "constructor") "constructor") as |F|}}{{F "globalThis.${marker}=1"}}{{/with}}`,
      '{{#each this}}{{@key}}{{/each}}',
    ];
    for (const src of hostile) {
      let out: string;
      try {
        out = compileCampaignTemplates({ subject: src, html: src, text: src }).render({}).subject;
      } catch (err) {
        // Refusing is as good as rendering nothing; crashing any other way is not.
        assert.ok(err instanceof TemplateError, `${src}: ${String(err)}`);
        continue;
      }
      assert.equal(out, '', src);
    }
    assert.equal(marker in globalThis, false);
  });

  test('the 2019 Handlebars RCE payload is refused', () => {
    const marker = '__volleyRcePwned';
    const payload = `{{#with "s" as |string|}}{{#with "e"}}{{#with split as |conslist|}}{{this.pop}}
{{this.push (lookup string.sub "constructor")}}{{this.pop}}{{#with string.split as |codelist|}}{{this.pop}}
{{this.push "globalThis.${marker} = 1"}}{{this.pop}}{{#each conslist}}{{#with (string.sub.apply 0 codelist)}}{{this}}
{{/with}}{{/each}}{{/with}}{{/with}}{{/with}}{{/with}}`;
    assertRefused({ subject: 's', html: payload }, 'html', /unknown helper/);
    assert.equal(marker in globalThis, false);
  });

  test('variables are data: object keys that shadow helpers or prototypes render as text', () => {
    const vars = JSON.parse(
      '{"__proto__": "p", "constructor": "c", "log": "l", "toString": "t"}',
    ) as Record<string, unknown>;
    const t = compileCampaignTemplates({
      subject: '{{__proto__}}|{{constructor}}|{{log}}|{{toString}}',
    });
    assert.equal(t.render(vars).subject, 'p|c|l|t');
  });
});
