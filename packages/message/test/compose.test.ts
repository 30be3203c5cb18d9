import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import {
  HeaderError,
  MessageComposer,
  compileCampaignTemplates,
  htmlToText,
  readMessageId,
  type CampaignTemplates,
  type ComposerOptions,
  type RenderedContent,
} from '@volley/message';
import { renderedPlain } from '../src/templates.ts';

const NOW = Date.UTC(2024, 4, 17, 9, 30, 15, 250);

function composer(opts: Partial<ComposerOptions> = {}): MessageComposer {
  return new MessageComposer({ campaignId: 'c0ffee01', from: 'News <news@example.com>', ...opts });
}

function render(t: CampaignTemplates, vars: Record<string, unknown> = {}): RenderedContent {
  return compileCampaignTemplates(t).render(vars);
}

/**
 * The wire-format rules every composed message must meet: CRLF only, header lines within 78
 * characters (RFC 5322 §2.1.1), quoted-printable lines within 76 (RFC 2045 §6.7) with no
 * trailing whitespace, and a blank line between head and body.
 */
function assertWellFormed(raw: string): void {
  assert.equal(raw.replace(/\r\n/g, '').search(/[\r\n]/), -1, 'a bare CR or LF in the message');
  assert.ok(raw.includes('\r\n\r\n'), 'no blank line between head and body');
  let state: 'head' | 'part-head' | 'qp' | 'other' = 'head';
  let qpPart = false;
  let boundary: string | undefined;
  for (const [i, line] of raw.split('\r\n').entries()) {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    if (boundary !== undefined && (line === `--${boundary}` || line === `--${boundary}--`)) {
      state = 'part-head';
      qpPart = false;
      continue;
    }
    if (state === 'head' || state === 'part-head') {
      assert.ok(line.length <= 78, `header ${where} is longer than 78`);
      const b = /boundary="([^"]+)"/.exec(line);
      if (b) boundary = b[1];
      if (/^Content-Transfer-Encoding: quoted-printable$/i.test(line)) qpPart = true;
      if (line === '') state = qpPart ? 'qp' : 'other';
    } else if (state === 'qp') {
      assert.ok(line.length <= 76, `quoted-printable ${where} is longer than 76`);
      assert.doesNotMatch(line, /[ \t]$/, `quoted-printable ${where} ends in whitespace`);
    }
  }
  assert.notEqual(state, 'head', 'the head never ended');
}

async function parse(raw: string): Promise<ParsedMail> {
  assertWellFormed(raw);
  return simpleParser(raw);
}

function firstAddress(a: AddressObject | AddressObject[] | undefined): {
  name: string;
  address?: string;
} {
  const obj = Array.isArray(a) ? a[0] : a;
  const v = obj?.value[0];
  assert.ok(v, 'address header missing');
  return v;
}

/**
 * mailparser decodes RFC 2047 words only in the fields it knows; for custom fields the test
 * decodes them itself: adjacent words are joined (the space between them is not content) and
 * their bytes decoded together.
 */
function decodeWords(value: unknown): string {
  assert.equal(typeof value, 'string');
  return String(value)
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/(?:=\?UTF-8\?B\?[A-Za-z0-9+/=]*\?=)+/gi, (run) =>
      Buffer.concat(
        [...run.matchAll(/=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=/gi)].map((m) =>
          Buffer.from(m[1] ?? '', 'base64'),
        ),
      ).toString('utf8'),
    );
}

/** The head alone, as lines with folding undone, for checks on what was written verbatim. */
function headLines(raw: string): string[] {
  return raw
    .slice(0, raw.indexOf('\r\n\r\n'))
    .replace(/\r\n[ \t]/g, ' ')
    .split('\r\n');
}

/** Bodies that stress quoted-printable: every line here has tripped an encoder somewhere. */
const TRICKY_TEXT = [
  'Hello Zoë, your order ships 🚚 today — ½ price, naïve café, 日本語のテキスト.',
  'trailing spaces   ',
  'trailing tab\t',
  'equals = signs == and =3D and =?UTF-8?B?SGk=?= and a=b',
  '.a line starting with a dot',
  '.',
  '..',
  'From the start of a line, as mbox readers fear',
  '--=_volley_lookalike boundary text',
  'x'.repeat(300),
  ('word '.repeat(40) + 'é').repeat(3),
  '=_',
  '',
  'last line without newline',
].join('\n');

describe('MessageComposer', () => {
  test('a text-only message parses back to the rendered subject, text and headers', async () => {
    const c = composer({
      from: 'Zoë Ärger <News@Example.COM>',
      replyTo: 'Support Team <support@example.com>',
      headers: { 'X-Campaign': 'spring-sale', 'X-Note': 'prix spécial été' },
    });
    const content = render(
      { subject: 'Héllo {{name}}, ünïcödé 🎉', text: '{{greeting}}\n' + TRICKY_TEXT },
      { name: 'Zoë <b>&', greeting: 'Hi & welcome <friend>' },
    );
    const msg = c.compose(7, 'Recipient@Example.org', content, NOW);
    const p = await parse(msg.raw);

    assert.equal(p.subject, 'Héllo Zoë <b>&, ünïcödé 🎉');
    assert.equal(p.text, content.text);
    assert.equal(p.html, false);
    assert.deepEqual(firstAddress(p.from), { name: 'Zoë Ärger', address: 'News@example.com' });
    assert.deepEqual(firstAddress(p.replyTo), {
      name: 'Support Team',
      address: 'support@example.com',
    });
    assert.equal(firstAddress(p.to).address, 'Recipient@example.org');
    assert.equal(p.messageId, '<c0ffee01.7@example.com>');
    assert.equal(p.headers.get('x-campaign'), 'spring-sale');
    assert.equal(decodeWords(p.headers.get('x-note')), 'prix spécial été');
    assert.equal(p.date?.getTime(), Math.floor(NOW / 1000) * 1000);
    assert.match(msg.raw, /^Content-Type: text\/plain; charset=utf-8\r\n/m);
    assert.deepEqual(msg.envelope, { from: 'News@example.com', to: 'Recipient@example.org' });
  });

  test('an html-only message carries the html and a text part derived from it', async () => {
    const content = render(
      {
        subject: 'Weekly digest',
        html:
          '<h1>Hi {{name}}</h1>\n<p>Read <a href="https://example.com/a?x=1&amp;y=2">the post</a>.</p>\n' +
          TRICKY_TEXT,
      },
      { name: 'Zoë & <Co>' },
    );
    assert.ok(content.html?.includes('Zoë &amp; &lt;Co&gt;'), 'html escapes variables');
    const p = await parse(composer().compose(1, 'a@example.org', content, NOW).raw);
    assert.equal(p.html, content.html);
    assert.equal(p.text, htmlToText(content.html ?? ''));
    assert.match(
      p.text ?? '',
      /^Hi Zoë & <Co>\n\nRead the post \(https:\/\/example\.com\/a\?x=1&y=2\)\./,
    );
  });

  test('a message with both parts keeps each exactly', async () => {
    const content = render(
      {
        subject: 'Both {{n}}',
        html: '<p>{{n}}</p>\n' + TRICKY_TEXT,
        text: 'Plain {{n}}\n' + TRICKY_TEXT,
      },
      { n: 'naïve = café' },
    );
    const msg = composer().compose(2, 'a@example.org', content, NOW);
    const p = await parse(msg.raw);
    assert.equal(p.subject, 'Both naïve = café');
    assert.equal(p.html, content.html);
    assert.equal(p.text, content.text);
    assert.match(msg.raw, /^Content-Type: multipart\/alternative; boundary="=_volley_[\w-]+"\r\n/m);
  });

  test('long subjects of either kind are folded and read back whole', async () => {
    const subjects = [
      'An ASCII subject that goes on for quite a while, well past the seventy-eight character line limit of RFC 5322, with more words after that',
      'Un sujet accentué très long qui dépasse largement la limite de soixante-dix-huit caractères par ligne — et encore un peu plus loin 🚀',
      'spaces   kept    exactly  as   written even when the subject is long enough to need folding somewhere in the middle',
      'x'.repeat(120),
      '=?UTF-8?B?SGk=?= looks like an encoded word but is plain text the reader must show as typed',
    ];
    for (const subject of subjects) {
      const p = await parse(
        composer().compose(0, 'a@example.org', { subject, text: 'body', html: undefined }, NOW).raw,
      );
      assert.equal(p.subject, subject);
    }
  });

  test('a variable cannot add a header: CR/LF in the subject stays on the Subject line', async () => {
    const content = render(
      { subject: 'Hello {{name}}', text: 'body' },
      { name: 'x\r\nBcc: victim@example.net\nX-Evil: 1' },
    );
    const msg = composer().compose(0, 'a@example.org', content, NOW);
    const p = await parse(msg.raw);
    assert.equal(p.subject, 'Hello x Bcc: victim@example.net X-Evil: 1');
    assert.equal(p.bcc, undefined);
    assert.equal(p.headers.has('bcc'), false);
    assert.equal(p.headers.has('x-evil'), false);
    assert.deepEqual(
      headLines(msg.raw).map((l) => l.slice(0, l.indexOf(':'))),
      [
        'From',
        'MIME-Version',
        'To',
        'Subject',
        'Date',
        'Message-ID',
        'Content-Type',
        'Content-Transfer-Encoding',
      ],
    );
  });

  test('display names: quoted when plain, encoded when not, never mistaken for structure', async () => {
    const cases: [string, string][] = [
      ['"Doe, John" <john@example.com>', 'Doe, John'],
      ['Zoë Ärger <zoe@example.com>', 'Zoë Ärger'],
      ['=?UTF-8?B?SGk=?= <hi@example.com>', '=?UTF-8?B?SGk=?='],
      ['Back\\slash <bs@example.com>', 'Back\\slash'],
      [
        `${'A very long display name '.repeat(4).trim()} <long@example.com>`,
        'A very long display name '.repeat(4).trim(),
      ],
      [`${'Ünïcödé '.repeat(12).trim()} <u@example.com>`, 'Ünïcödé '.repeat(12).trim()],
    ];
    for (const [from, name] of cases) {
      const msg = composer({ from, replyTo: from }).compose(
        0,
        'a@example.org',
        { subject: 's', text: 't', html: undefined },
        NOW,
      );
      const p = await parse(msg.raw);
      assert.equal(firstAddress(p.from).name, name, from);
      assert.equal(firstAddress(p.replyTo).name, name, from);
    }
  });

  test('a long ASCII display name is folded as text, not base64-encoded (SpamAssassin FROM_EXCESS_BASE64)', async () => {
    const name = 'The Quarterly Newsletter of the Example Society for Long Display Names, Europe';
    const from = `"${name}" <news@example.com>`;
    const msg = composer({ from }).compose(
      0,
      'a@example.org',
      { subject: 's', text: 't', html: undefined },
      NOW,
    );
    const head = msg.raw.slice(0, msg.raw.indexOf('\r\n\r\n'));
    const fromField = /^From: .*(?:\r\n[ \t].*)*/m.exec(head)?.[0] ?? '';
    assert.doesNotMatch(fromField, /=\?/, 'no encoded word');
    assert.ok(
      fromField.split('\r\n').every((l) => l.length <= 78),
      `every line within 78: ${JSON.stringify(fromField)}`,
    );
    const p = await parse(msg.raw);
    assert.equal(firstAddress(p.from).name, name);
    assert.equal(firstAddress(p.from).address, 'news@example.com');
  });

  test('an IDN sender domain is written in punycode in the head and the envelope', async () => {
    const c = composer({ from: 'Büro <info@Bücher.example>' });
    const msg = c.compose(4, 'a@example.org', { subject: 's', text: 't', html: undefined }, NOW);
    assert.equal(msg.envelope.from, 'info@xn--bcher-kva.example');
    assert.match(msg.raw, /^From: =\?UTF-8\?B\?[^?]+\?= <info@xn--bcher-kva\.example>\r\n/m);
    assert.equal(msg.messageId, '<c0ffee01.4@xn--bcher-kva.example>');
    const p = await parse(msg.raw);
    assert.equal(firstAddress(p.from).name, 'Büro');
  });

  test('custom headers with long or non-ASCII values are folded and read back', async () => {
    const long = 'tag '.repeat(60).trim();
    const c = composer({
      headers: { 'X-Long': long, 'X-Utf': 'Grüße aus Köln, ' + 'ä'.repeat(80) },
    });
    const p = await parse(
      c.compose(0, 'a@example.org', { subject: 's', text: 't', html: undefined }, NOW).raw,
    );
    assert.equal(p.headers.get('x-long'), long);
    assert.equal(decodeWords(p.headers.get('x-utf')), 'Grüße aus Köln, ' + 'ä'.repeat(80));
  });

  test('custom headers are checked by the composer too', () => {
    assert.throws(() => composer({ headers: { 'Content-Type': 'text/html' } }), HeaderError);
    assert.throws(() => composer({ headers: { from: 'evil@example.net' } }), HeaderError);
    assert.throws(() => composer({ headers: { 'X-A': 'one\r\nBcc: x@y' } }), HeaderError);
    assert.throws(() => composer({ headers: { 'Bad Name': 'v' } }), HeaderError);
  });

  test('Message-ID is deterministic per campaign and recipient index', () => {
    const a = composer();
    const b = composer({ from: 'Other name <news@example.com>' });
    const content: RenderedContent = { subject: 's', text: 't', html: undefined };
    assert.equal(a.messageId(42), '<c0ffee01.42@example.com>');
    assert.equal(a.compose(42, 'x@example.org', content, NOW).messageId, a.messageId(42));
    assert.equal(b.compose(42, 'y@example.org', content, NOW + 5000).messageId, a.messageId(42));
    assert.notEqual(a.messageId(43), a.messageId(42));
    assert.notEqual(composer({ campaignId: 'c0ffee02' }).messageId(42), a.messageId(42));
    assert.match(
      a.compose(42, 'x@example.org', content, NOW).raw,
      /^Message-ID: <c0ffee01\.42@example\.com>\r\n/m,
    );
    assert.throws(() => a.messageId(-1));
    assert.throws(() => a.messageId(1.5));
  });

  test('refuses a From, campaign id or recipient that could not be written safely', () => {
    assert.throws(() => composer({ from: 'not an address' }), /invalid From/);
    assert.throws(() => composer({ replyTo: 'nope' }), /invalid Reply-To/);
    assert.throws(() => composer({ campaignId: 'c1>\r\nBcc: x@y' }), /invalid campaign id/);
    assert.throws(() => composer({ campaignId: 'has space' }), /invalid campaign id/);
    const content: RenderedContent = { subject: 's', text: 't', html: undefined };
    assert.throws(
      () => composer().compose(0, 'a@example.org\r\nBcc: x@example.net', content, NOW),
      /invalid recipient/,
    );
    assert.throws(() => composer().compose(0, 'not-an-address', content, NOW), /invalid recipient/);
  });

  test('the boundary is fresh per composer and never appears inside a body', () => {
    const content = render({
      subject: 's',
      html: '<p>--=_volley_ =_ =_volley_</p>',
      text: '--=_volley_',
    });
    const raw1 = composer().compose(0, 'a@example.org', content, NOW).raw;
    const raw2 = composer().compose(0, 'a@example.org', content, NOW).raw;
    const b1 = /boundary="([^"]+)"/.exec(raw1)?.[1];
    const b2 = /boundary="([^"]+)"/.exec(raw2)?.[1];
    assert.ok(b1 && b2);
    assert.notEqual(b1, b2);
    const body = raw1.slice(raw1.indexOf('\r\n\r\n'));
    // Three delimiter lines (two parts and the close) and nothing else with the boundary.
    assert.equal(body.split(b1).length - 1, 3);
  });
});

describe('parts the renderer found plain', () => {
  const NOT_PLAIN = /[^\t\n\r\x20-\x7e]/;
  const plainOf = (c: RenderedContent) => ({
    html: renderedPlain(c, 'html'),
    text: renderedPlain(c, 'text'),
  });
  const templates: CampaignTemplates[] = [
    {
      subject: 'Hi {{name}}',
      html: '<p class="x">Hello {{name}}, "quoted" \\ back\tslash</p>\n<p>{{{raw}}}</p>\r\n.dot',
      text: 'Hello {{name}}\n{{#if vip}}VIP {{code}}{{/if}}\n{{#each items}}- {{this}}\n{{/each}}',
    },
    { subject: 's', html: '<p>Grüße {{name}}</p>', text: 'Grüße {{name}}' },
    { subject: 's', html: '<p>line\u2028sep {{name}}</p>', text: 'bell\u0007 {{name}}' },
    { subject: 's', html: '<p>\\u2028 is text here {{name}}</p>', text: '{{"literal"}} {{name}}' },
    {
      subject: 's',
      html: '<p>{{lookup this "name"}} {{#with obj}}{{k}}{{/with}}</p>',
      text: undefined,
    },
    { subject: 's', html: undefined, text: `${'x'.repeat(1200)} {{name}}\n.{{name}}\r.` },
    {
      subject: 's',
      html: '{{#each items}}{{this}}{{else}}none{{/each}} {{n}} {{b}}',
      text: '{{n}}',
    },
  ];
  const varsList: Record<string, unknown>[] = [
    {
      name: 'Ada',
      vip: true,
      code: 'C1',
      items: ['a', 'b'],
      raw: '<b>x</b>',
      obj: { k: 'v' },
      n: 3,
      b: false,
    },
    { name: 'Zoë', vip: true, code: 'Ç', items: ['ü'], raw: '😀', obj: { k: '\u2029' }, n: 1.5 },
    { name: 'cr\rhere', vip: false, items: [], raw: 'tab\there', obj: { k: '\u0000' } },
    { name: 'a\r\nb', items: ['\u007f'], raw: '--=_volley_' },
    {},
  ];

  test('compose writes the same bytes with and without what the renderer knew', () => {
    const c = composer({ headers: { 'X-Test': 'yes' } });
    let plainParts = 0;
    for (const [k, t] of templates.entries()) {
      const compiled = compileCampaignTemplates(t);
      for (const [j, vars] of varsList.entries()) {
        const content = compiled.render(vars);
        const plain = plainOf(content);
        // Sound: a part said to be plain is.
        if (plain.html) assert.ok(!NOT_PLAIN.test(content.html ?? ''), `${k}/${j} html`);
        if (plain.text) assert.ok(!NOT_PLAIN.test(content.text ?? ''), `${k}/${j} text`);
        plainParts += Number(plain.html) + Number(plain.text);
        const known = c.compose(k * 10 + j, 'a@example.org', content, NOW).raw;
        // A copy is content the renderer knows nothing of: every part is scanned.
        const scanned = c.compose(k * 10 + j, 'a@example.org', { ...content }, NOW).raw;
        assert.equal(known, scanned, `template ${k} vars ${j}`);
        assertWellFormed(known);
      }
    }
    assert.ok(plainParts > 10, `the fast path was taken (${plainParts} plain parts)`);
  });

  test('plain ASCII templates and variables make plain parts; any other character does not', () => {
    const t = compileCampaignTemplates({
      subject: 's',
      html: '<p title="a\\b">{{x}}</p>\n{{#each xs}}{{this}}{{/each}}',
      text: 'Hi {{x}}\r\n\t{{{x}}}',
    });
    assert.deepEqual(plainOf(t.render({ x: 'Ada', xs: ['a', 1, true] })), {
      html: true,
      text: true,
    });
    assert.deepEqual(plainOf(t.render({ x: 'Zoë', xs: [] })), { html: false, text: false });
    assert.deepEqual(plainOf(t.render({ x: 'Ada', xs: ['\u0001'] })), {
      html: false,
      text: true,
    });
    const nonPlainText = compileCampaignTemplates({ subject: 's', html: 'é', text: '\u2028' });
    assert.deepEqual(plainOf(nonPlainText.render({})), { html: false, text: false });
    assert.deepEqual(plainOf(compileCampaignTemplates({ subject: 's' }).render({})), {
      html: false,
      text: false,
    });
    // A part replaced after rendering is not taken for plain.
    const replaced = t.render({ x: 'Ada', xs: [] });
    replaced.html = '<p>Ada</p>\n';
    assert.deepEqual(plainOf(replaced), { html: false, text: true });
    // A block's result is not scanned again, but each field's pieces are its own: a block of
    // one field never vouches for a variable of the next.
    const blocks = compileCampaignTemplates({
      subject: 's',
      html: '{{#each xs}}{{#if this}}<{{this}}>{{/if}}{{/each}}{{#if a}}{{x}}{{/if}}',
      text: '{{x}}',
    });
    assert.deepEqual(plainOf(blocks.render({ a: true, x: 'ok', xs: ['a', 'b'] })), {
      html: true,
      text: true,
    });
    assert.deepEqual(plainOf(blocks.render({ a: true, x: 'é', xs: [] })), {
      html: false,
      text: false,
    });
    assert.deepEqual(plainOf(blocks.render({ a: false, x: 'ok', xs: ['a', 'ü'] })), {
      html: false,
      text: true,
    });
    // Only the latest render is known: an earlier one is scanned like any other content.
    const earlier = t.render({ x: 'Ada', xs: [] });
    t.render({ x: 'Bob', xs: [] });
    assert.deepEqual(plainOf(earlier), { html: false, text: false });
  });
});

describe('body part encoding', () => {
  const cases: [string, string, '7bit' | 'quoted-printable'][] = [
    ['LF line ends', 'one\ntwo\n', '7bit'],
    ['CRLF line ends', 'one\r\ntwo\r\n', '7bit'],
    ['tabs and printable ASCII', 'a\tb ~ !\n', '7bit'],
    ['a bare CR', 'one\rtwo\n', 'quoted-printable'],
    ['a CR before CRLF', 'one\r\r\ntwo', 'quoted-printable'],
    ['a control character', 'bell\u0007\n', 'quoted-printable'],
    ['DEL', 'x\u007f\n', 'quoted-printable'],
    ['non-ASCII', 'café\n', 'quoted-printable'],
    ['a line over 998 characters', `${'x'.repeat(999)}\n`, 'quoted-printable'],
  ];
  for (const [name, text, cte] of cases) {
    test(`${name}: ${cte}`, async () => {
      const raw = composer().compose(0, 'a@example.org', {
        subject: 's',
        text,
        html: undefined,
      }).raw;
      assertWellFormed(raw);
      assert.match(raw, new RegExp(`^Content-Transfer-Encoding: ${cte}$`, 'm'));
      if (cte === '7bit') {
        // Sent as it is, line ends made CRLF (mailparser reads them back as LF).
        assert.ok(raw.endsWith(`\r\n\r\n${text.replace(/\r?\n/g, '\r\n')}`), raw);
        assert.equal((await parse(raw)).text, text.replace(/\r\n/g, '\n'));
      }
    });
  }
});

describe('Message-ID', () => {
  test('readMessageId names the campaign and recipient of the ids the composer writes, and nothing else', () => {
    const id = '0123456789abcdef0123';
    const c = composer({ campaignId: id });
    assert.deepEqual(readMessageId(c.messageId(42)), { campaignId: id, index: 42 });
    assert.deepEqual(readMessageId(` ${c.messageId(0).toUpperCase()} `), {
      campaignId: id,
      index: 0,
    });
    for (const other of [
      '<c0ffee01.7@example.com>', // not a campaign id of the store
      `<${id}.7>`,
      `${id}.7@example.com`,
      `<${id}.4294967296@example.com>`, // past a 32-bit index
      `<${id}.-1@example.com>`,
      `<${id}.7@example.com><x@y>`,
      '',
    ]) {
      assert.equal(readMessageId(other), undefined, other);
    }
  });
});
