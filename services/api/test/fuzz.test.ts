// Malformed and hostile requests against the API built in process, over a real redis-server:
// broken JSON, wrong types, huge strings, CR/LF where headers are made, "__proto__" and
// friends at every level, hostile templates, invalid addresses, wrong content types, oversized
// bodies, bad ids and cursors, uploads of binary garbage. For every request: no 5xx; every 4xx
// is problem+json with a detail; a refused request changes nothing (no campaign, no job, no
// recipient); Object.prototype stays clean. Afterwards the process is healthy.
//
// The seed is fixed so that a failure reproduces; fast-check prints it, with the shrunk
// counterexample, when a property fails. FUZZ_SEED=<n> explores other inputs.
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { apiFixture, auth, KEY, type ApiFixture } from './fixture.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 0x566f6c6c);
/** Requests the whole file must make, at the least. */
const MIN_REQUESTS = 10_000;

const BODY_LIMIT = 64 * 1024;
const UPLOAD_LIMIT = 128 * 1024;
const MAX_INLINE = 20;

let fx: ApiFixture;
let draftId: string;
let cancelledId: string;
let completedId: string;
let requests = 0;
/** Creates answered 202 as running or scheduled: each queued one expansion job. */
let enqueuingCreates = 0;

const PROTOTYPE_NAMES = {
  object: Object.getOwnPropertyNames(Object.prototype).sort().join(),
  array: Object.getOwnPropertyNames(Array.prototype).sort().join(),
  function: Object.getOwnPropertyNames(Function.prototype).sort().join(),
};

function assertNoPollution(what: string): void {
  assert.equal(
    Object.getOwnPropertyNames(Object.prototype).sort().join(),
    PROTOTYPE_NAMES.object,
    what,
  );
  assert.equal(
    Object.getOwnPropertyNames(Array.prototype).sort().join(),
    PROTOTYPE_NAMES.array,
    what,
  );
  assert.equal(
    Object.getOwnPropertyNames(Function.prototype).sort().join(),
    PROTOTYPE_NAMES.function,
    what,
  );
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined, what);
  assert.equal(probe.x, undefined, what);
}

/** What a refused request must leave as it was: campaigns, queued jobs, the draft's recipients. */
async function state(): Promise<string> {
  const [control, send, counts] = await Promise.all([
    fx.queues.control.getJobCounts(),
    fx.queues.send.getJobCounts(),
    fx.redis
      .multi()
      .zcard(fx.keys.tenantCampaigns('default'))
      .llen(fx.keys.recipients(draftId))
      .scard(fx.keys.seen(draftId))
      .exec(),
  ]);
  return JSON.stringify({ control, send, redis: counts?.map(([, v]) => v) });
}

interface Req {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** Stream the payload in small chunks, as a client does, rather than in one piece. */
  chunked?: boolean;
}

function describeRequest(o: Req): string {
  const p = o.payload;
  const text =
    p === undefined
      ? ''
      : typeof p === 'string'
        ? `<${p.length} chars> ${JSON.stringify(p.slice(0, 300))}`
        : `<${p.length} bytes> ${JSON.stringify(p.subarray(0, 120).toString('latin1'))}`;
  return `${o.method} ${o.url} ${JSON.stringify(o.headers)}${o.chunked ? ' (chunked)' : ''} ${text}`;
}

/** 8 KiB at a time: an upload of a few thousand rows is then written in several batches. */
function* chunksOf(b: Buffer): Generator<Buffer> {
  for (let i = 0; i < b.length; i += 8192) yield b.subarray(i, i + 8192);
}

/** Answers by status code, per test: printed, so that a reader sees the fuzzing got past validation. */
let statuses = new Map<number, number>();
function tally(t: { diagnostic(message: string): void }): void {
  const parts = [...statuses].sort((a, b) => a[0] - b[0]).map(([code, n]) => `${code}: ${n}`);
  t.diagnostic(`answers by status: ${parts.join(', ')}`);
  statuses = new Map();
}

/** The state before the next request, when the previous request's checks all passed. */
let known: string | undefined;

/** Sends one request and checks what every answer must satisfy. */
async function send(o: Req): Promise<LightMyRequestResponse> {
  const before = known ?? (await state());
  known = undefined;
  const { chunked, ...req } = o;
  const p = req.payload;
  const res = await fx.app.inject(
    chunked && p !== undefined ? { ...req, payload: Readable.from(chunksOf(Buffer.from(p))) } : req,
  );
  requests++;
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  const what = `${describeRequest(o)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
  assert.ok(res.statusCode < 500, `a server error: ${what}`);
  if (res.statusCode >= 400) {
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
    const p = JSON.parse(res.body) as { status?: unknown; detail?: unknown; title?: unknown };
    assert.equal(p.status, res.statusCode, what);
    assert.equal(typeof p.title, 'string', what);
    assert.ok(typeof p.detail === 'string' && p.detail.trim() !== '', `no detail: ${what}`);
  }
  const after = await state();
  if (res.statusCode >= 400)
    assert.equal(after, before, `a refused request changed state: ${what}`);
  assertNoPollution(what);
  known = after;
  return res;
}

// ---------------------------------------------------------------------------------------------
// JSON as written: objects are lists of entries, so keys may repeat or be "__proto__" (which a
// JavaScript object literal would turn into a prototype), and Raw text may be anything at all.

class Obj {
  constructor(readonly entries: [string, Json][]) {}
}
class Raw {
  constructor(readonly text: string) {}
}
type Json = null | boolean | number | string | Json[] | Obj | Raw | undefined;

function write(v: Json): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) {
    return `{${v.entries
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`)
      .join(',')}}`;
  }
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : write(x))).join(',')}]`;
  return JSON.stringify(v) ?? 'null';
}

const protoKey = fc.constantFrom('__proto__', 'constructor', 'prototype');
const anyKey = fc.oneof(
  protoKey,
  fc.constantFrom('toString', 'hasOwnProperty', '__defineGetter__', 'then', 'length', 'x', ''),
  fc.string({ maxLength: 8 }),
);
const lineBreak = fc.constantFrom(
  '\r',
  '\n',
  '\r\n',
  '\0',
  '\r\nBcc: victim@evil.example',
  '\nSubject: injected',
  '\r\n\r\n<html>',
  '\u2028',
  '\u0085',
);
const withLineBreak = fc
  .tuple(fc.string({ maxLength: 12 }), lineBreak, fc.string({ maxLength: 12 }))
  .map(([a, b, c]) => `${a}${b}${c}`);
/** Long strings: past every field's limit, sometimes past the body limit (413). */
const huge = fc
  .tuple(fc.integer({ min: 500, max: 24_000 }), fc.constantFrom('x', 'é', '{{', '\r\n', '😀', '"'))
  .map(([n, c]) => c.repeat(n));
const oddNumber = fc
  .constantFrom('1e999', '-0', '123456789012345678901234567890', '-1e-400', '9007199254740993')
  .map((t) => new Raw(t));
const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  withLineBreak,
  oddNumber,
);
const { value: anyJson } = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(anyKey, tie('value')), { maxLength: 4 }).map((e) => new Obj(e)),
  ),
}));
/** `{"a":{"a":...}}`: deep enough to hurt a recursive walk, shallow enough to stay in the body. */
const nested = (max: number): fc.Arbitrary<Json> =>
  fc
    .tuple(fc.integer({ min: 40, max }), fc.constantFrom('{"a":', '[', '{"__proto__":'))
    .map(([d, open]) => new Raw(`${open.repeat(d)}1${(open === '[' ? ']' : '}').repeat(d)}`));
const protoObject: fc.Arbitrary<Json> = fc
  .tuple(protoKey, fc.constantFrom<Json>(new Obj([['polluted', true]]), 'x', 1, null))
  .map(([k, v]) => new Obj([[k, v]]));

/** `arb` one time in `oneIn`, null otherwise (fc.option's `freq` is the odds of null instead). */
const sometimes = <T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

// Addresses ----------------------------------------------------------------------------------

const POOL = Array.from({ length: 40 }, (_, i) => `user${i}@d${i % 4}.example`);
const goodAddress = fc.oneof(
  fc.constantFrom(...POOL),
  fc.constantFrom('B@Two.Example', 'Name <n@sender.example>', 'c@bücher.example'),
);
const badAddress = fc.oneof(
  fc.constantFrom(
    'a@b',
    '@x.example',
    'a@',
    'a@-x.example',
    'a@x..example',
    'a@x.example\r\nBcc: v@evil.example',
    'Name <a@x.example>\r\nBcc: v@evil.example',
    '<a@x.example',
    '"q"@x.example',
    'a b@x.example',
    'a@[127.0.0.1]',
    'a@1.2.3.4',
    'a@x.example/x',
    'a%40b@x.example',
    'é@x.example',
    'a@xn--zz.example',
    'a@0x7f.1',
    '',
    ' ',
    `${'a'.repeat(70)}@x.example`,
    `a@${'b'.repeat(300)}.example`,
    'Name <>',
    'a@x.example, b@x.example',
    'a@x.example\u0000',
    '__proto__',
  ),
  fc.string({ maxLength: 30 }),
  withLineBreak,
);
const address: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: goodAddress },
  { weight: 3, arbitrary: badAddress },
  { weight: 1, arbitrary: huge },
  { weight: 1, arbitrary: anyJson },
);

// Templates ----------------------------------------------------------------------------------

const hostileTemplate = fc.constantFrom(
  '{{constructor.constructor "return process"}}',
  '{{constructor.constructor}}',
  '{{__proto__}}',
  '{{this.__proto__.polluted}}',
  '{{lookup this "constructor"}}',
  '{{#with __proto__}}{{polluted}}{{/with}}',
  '{{#each this}}{{@key}}{{/each}}',
  '{{> x}}',
  '{{#> layout}}x{{/layout}}',
  '{{#if a}}',
  '{{/if}}',
  '{{#if}}{{/if}}',
  '{{#each}}{{/each}}',
  '{{#each a b c}}{{/each}}',
  '{{{{raw}}}} {{x}} {{{{/raw}}}}',
  '{{* decorator}}',
  '{{#* inline "p"}}x{{/inline}}',
  '{{!-- never closed',
  '{{',
  '}}',
  '{{log "x"}}',
  '{{helperMissing}}',
  '{{blockHelperMissing "x"}}',
  '{{x.[constructor]}}',
  '{{@root.constructor.prototype}}',
  '{{#unless}}',
  '{{else}}',
  '{{#if a}}{{else if b}}{{else}}{{/if}}',
  '{{lookup}}',
  '{{(lookup)}}',
  '{{x (lookup . "__proto__")}}',
  '\u0000{{a}}',
  '{{a}}\r\nBcc: v@evil.example',
);
const template: fc.Arbitrary<string> = fc.oneof(
  hostileTemplate,
  // {{#each}} bombs, deep subexpressions and unbalanced blocks, around the nesting limit.
  fc
    .integer({ min: 2, max: 250 })
    .map((n) => `${'{{#each a}}'.repeat(n)}x${'{{/each}}'.repeat(n)}`),
  fc.integer({ min: 2, max: 250 }).map((n) => `{{lookup ${'('.repeat(n)}a${')'.repeat(n)} "b"}}`),
  fc.integer({ min: 1, max: 250 }).map((n) => '{{#if a}}'.repeat(n)),
  fc.integer({ min: 1, max: 250 }).map((n) => `${'{{#if a}}'.repeat(n)}${'{{/each}}'.repeat(n)}`),
  fc.string({ maxLength: 40 }),
  fc
    .array(fc.oneof(hostileTemplate, fc.string({ maxLength: 6 })), { maxLength: 5 })
    .map((a) => a.join('')),
);

// Create -------------------------------------------------------------------------------------

const headerName = fc.oneof(
  fc.constantFrom(
    'X-Campaign',
    'From',
    'To',
    'Subject',
    'Content-Type',
    'Bcc',
    'DKIM-Signature',
    'List-Unsubscribe',
    'Return-Path',
    'Message-ID',
    '',
    ' X',
    'X:Y',
    'X Y',
    'X\r\nBcc',
    'é',
  ),
  protoKey,
  fc.string({ maxLength: 10 }),
);
const headerValue: fc.Arbitrary<Json> = fc.oneof(
  fc.string({ maxLength: 20 }),
  withLineBreak,
  huge,
  anyJson,
);
const headers: fc.Arbitrary<Json> = fc.oneof(
  fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }).map((e) => new Obj(e)),
  // More headers than allowed.
  fc
    .integer({ min: 45, max: 60 })
    .map((n) => new Obj(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']))),
  protoObject,
  anyJson,
);

const vars: fc.Arbitrary<Json> = fc.oneof(
  fc.array(fc.tuple(anyKey, anyJson), { maxLength: 4 }).map((e) => new Obj(e)),
  protoObject,
  // Nesting in inline vars stays below the depth that overflows JSON.stringify: that case has a
  // test of its own below.
  nested(800),
  fc.integer({ min: 16_000, max: 20_000 }).map((n) => new Obj([['big', 'v'.repeat(n)]])),
  anyJson,
);
const recipient: fc.Arbitrary<Json> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(address, fc.option(vars)).map(
      ([e, v]) =>
        new Obj([
          ['email', e],
          ['vars', v ?? undefined],
        ]),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(goodAddress, anyKey, anyJson).map(
      ([e, k, v]) =>
        new Obj([
          ['email', e],
          [k, v],
        ]),
    ),
  },
  { weight: 1, arbitrary: anyJson },
);
const recipients: fc.Arbitrary<Json> = fc.oneof(
  fc.array(recipient, { maxLength: 4 }),
  fc
    .integer({ min: MAX_INLINE + 1, max: MAX_INLINE + 5 })
    .map((n) => POOL.slice(0, n).map((e) => new Obj([['email', e]]))),
  anyJson,
);
const sendAt: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(
    '2099-01-01T00:00:00Z',
    '1970-01-01T00:00:00Z',
    '2026-13-45T25:61:61Z',
    '275760-09-13T00:00:00.001Z',
    '+275760-09-13T00:00:00.000Z',
    'tomorrow',
    '',
    '2026-01-01',
    '2026-01-01T00:00:00\r\n',
  ),
  fc.integer(),
  anyJson,
);

/** A field: usually valid, sometimes hostile, sometimes absent. */
const field = (valid: fc.Arbitrary<Json>, hostile: fc.Arbitrary<Json>): fc.Arbitrary<Json> =>
  fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 2, arbitrary: hostile },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const createEntries = fc.record({
  from: field(goodAddress, fc.oneof(address, withLineBreak)),
  subject: field(
    fc.constantFrom('Hi {{name}}', 'News'),
    fc.oneof(template, withLineBreak, huge, anyJson),
  ),
  html: field(fc.constantFrom('<p>{{name}}</p>', undefined), fc.oneof(template, huge, anyJson)),
  text: field(fc.constantFrom('Hello {{name}}'), fc.oneof(template, huge, anyJson)),
  replyTo: field(fc.constant(undefined), fc.oneof(address, withLineBreak)),
  headers: field(fc.constant(undefined), headers),
  sendAt: field(fc.constant(undefined), sendAt),
  draft: field(
    fc.constant(true),
    fc.oneof(fc.constantFrom<Json>(false, 'true', 1, 'yes', null), anyJson),
  ),
  recipients: field(fc.constant(undefined), recipients),
  extra: sometimes(fc.tuple(anyKey, anyJson), 4),
});

/** What happens to the JSON text on its way: mostly nothing. */
const textMutation = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.nat().map((at) => ({ kind: 'truncate' as const, at })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.nat(), fc.string({ maxLength: 3 }))
      .map(([at, text]) => ({ kind: 'insert' as const, at, text })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '',
        'null',
        '"str"',
        '1e999',
        '{"a":1,}',
        '[]',
        '{',
        '\uFEFF{}',
        'NaN',
        '{"from":',
      )
      .map((text) => ({ kind: 'replace' as const, text })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'wrap' as const }) },
);
type TextMutation = typeof textMutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, m: TextMutation): string {
  switch (m.kind) {
    case 'none':
      return text;
    case 'truncate':
      return text.slice(0, m.at % (text.length + 1));
    case 'insert': {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case 'replace':
      return m.text;
    case 'wrap':
      return `[${text}]`;
  }
}

const jsonContentType = fc.oneof(
  { weight: 10, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json; charset=utf-16',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/x-ndjson',
      'text/csv',
      'application/json, text/html',
      'application/problem+json',
      'application/octet-stream',
      '',
      `application/json; x=${'y'.repeat(2000)}`,
    ),
  },
);

const authHeader = fc.oneof(
  { weight: 12, arbitrary: fc.constant(`Bearer ${KEY}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'Bearer',
      'Bearer wrong-key-0123456789',
      `Basic ${Buffer.from(`x:${KEY}`).toString('base64')}`,
      `bearer ${KEY}`,
      `Bearer ${KEY} extra`,
      `Bearer ${'k'.repeat(5000)}`,
      `Bearer ${KEY}x`,
    ),
  },
);

function headersWith(authorization: string, contentType?: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (authorization !== '') h.authorization = authorization;
  if (contentType) h['content-type'] = contentType;
  return h;
}

const createRequest = fc.record({
  entries: createEntries,
  mutation: textMutation,
  contentType: jsonContentType,
  authorization: authHeader,
  idempotencyKey: sometimes(
    fc.oneof(
      fc.string({ unit: fc.constantFrom(...'abcXYZ-_:/ =09'.split('')), maxLength: 30 }),
      fc.integer({ min: 195, max: 260 }).map((n) => 'k'.repeat(n)),
    ),
    5,
  ),
  binary: sometimes(fc.uint8Array({ maxLength: 64 }), 30),
});

// Ids, cursors ---------------------------------------------------------------------------------

const badId = fc.oneof(
  fc.constantFrom(
    'x',
    'A'.repeat(20),
    'g'.repeat(20),
    '0'.repeat(19),
    '0'.repeat(21),
    '__proto__',
    'constructor',
    'prototype',
    '..',
    '%2e%2e',
    '%00',
    `${'0'.repeat(20)}%0a`,
    `${'0'.repeat(20)}%0d%0aX-Injected:%201`,
    encodeURIComponent('ｆ'.repeat(20)),
    encodeURIComponent('é'),
    `${'a'.repeat(20)}.json`,
  ),
  fc
    .string({ maxLength: 30 })
    .filter((s) => s !== '')
    .map(encodeURIComponent),
);
/** Well-formed ids of campaigns that do not exist. */
const missingId = fc.stringMatching(/^[a-f0-9]{20}$/);

// Uploads --------------------------------------------------------------------------------------

const ndjsonLine: fc.Arbitrary<string | Buffer> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(goodAddress, fc.option(vars)).map(([e, v]) =>
      write(
        new Obj([
          ['email', e],
          ['vars', v ?? undefined],
        ]),
      ),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(address, fc.option(vars)).map(([e, v]) =>
      write(
        new Obj([
          ['email', e],
          ['vars', v ?? undefined],
        ]),
      ),
    ),
  },
  // Any depth here: the upload refuses deep variables row by row.
  {
    weight: 1,
    arbitrary: fc.tuple(goodAddress, nested(6000)).map(([e, v]) =>
      write(
        new Obj([
          ['email', e],
          ['vars', v],
        ]),
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(goodAddress, anyKey, anyJson).map(([e, k, v]) =>
      write(
        new Obj([
          ['email', e],
          [k, v],
        ]),
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(goodAddress, protoObject).map(([e, v]) =>
      write(
        new Obj([
          ['email', e],
          ['vars', v],
        ]),
      ),
    ),
  },
  { weight: 1, arbitrary: anyJson.map(write) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'not json',
      '{"email":',
      '{"email":"a@x.example"',
      '[]',
      '1',
      '"s"',
      'null',
      '',
      '   ',
      '{"email":"a@x.example"}\r',
      '{"email":"a\\r\\nb@x.example"}',
      '{"vars":{}}',
      '{"__proto__":{"polluted":true},"email":"p@x.example"}',
      '{"constructor":{"prototype":{"polluted":true}},"email":"p@x.example"}',
    ),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    arbitrary: huge.map((h) =>
      write(
        new Obj([
          ['email', 'h@x.example'],
          ['vars', new Obj([['h', h]])],
        ]),
      ),
    ),
  },
);

const csvCell = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.string({ unit: fc.constantFrom(...'ab ,"\r\n\'é'.split('')), maxLength: 8 }),
  },
  { weight: 2, arbitrary: goodAddress },
  { weight: 1, arbitrary: badAddress },
  { weight: 1, arbitrary: protoKey },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }).map((n) => `"${'q'.repeat(n)}`) },
);
const csvHeader = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('email,name', 'Email,name', ' EMAIL ,__proto__') },
  fc.constantFrom(
    'email',
    'email,name',
    'Email,__proto__,constructor,prototype',
    'email,email,name,name',
    '"email"',
    '"em""ail",name',
    'name',
    '',
    'email,"unclosed',
    ' email ,,x',
  ),
  fc.array(csvCell, { maxLength: 4 }).map((c) => c.join(',')),
);
const csvRow = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(goodAddress, fc.string({ maxLength: 6 })).map(([e, n]) => `${e},${n}`),
  },
  { weight: 2, arbitrary: fc.array(csvCell, { maxLength: 5 }).map((c) => c.join(',')) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(goodAddress, fc.string({ maxLength: 20 }))
      .map(([e, n]) => `"${e}","${n.replace(/"/g, '""')}\n${n}"`),
  },
);

const uploadTarget = fc.oneof(
  { weight: 8, arbitrary: fc.constant('draft') },
  { weight: 1, arbitrary: fc.constantFrom('cancelled', 'completed') },
  { weight: 1, arbitrary: missingId },
  { weight: 1, arbitrary: badId },
);
const uploadQuery = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '?maxInvalid=0',
      '?maxInvalid=-1',
      '?maxInvalid=abc',
      '?maxInvalid=1e300',
      '?maxInvalid=2.5',
      '?maxInvalid=',
      '?maxInvalid=3&maxInvalid=4',
      '?__proto__[polluted]=1',
      '?constructor[prototype][polluted]=1',
      '?maxInvalid[__proto__]=1',
    ),
  },
);
const uploadContentType = (format: 'ndjson' | 'csv'): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.constant(format === 'csv' ? 'text/csv' : 'application/x-ndjson') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        format === 'csv' ? 'text/csv; charset=utf-8' : 'application/jsonl',
        format === 'csv' ? 'TEXT/CSV' : 'application/ndjson',
        'application/json',
        'text/plain',
        'application/xml',
        'multipart/form-data; boundary=x',
        '',
      ),
    },
  );

function uploadBody(parts: (string | Buffer)[], eol: string, raw: Uint8Array | null): Buffer {
  const bufs: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) bufs.push(Buffer.from(eol));
    bufs.push(typeof p === 'string' ? Buffer.from(p) : p);
  });
  if (raw) bufs.push(Buffer.from(raw));
  return Buffer.concat(bufs);
}

const uploadRequest = (format: 'ndjson' | 'csv') =>
  fc.record({
    target: uploadTarget,
    query: uploadQuery,
    contentType: uploadContentType(format),
    authorization: authHeader,
    header: format === 'csv' ? csvHeader : fc.constant(undefined),
    lines: fc.array(format === 'csv' ? csvRow : ndjsonLine, { maxLength: 8 }),
    eol: fc.constantFrom('\n', '\n', '\r\n', '\r'),
    garbage: sometimes(fc.uint8Array({ maxLength: 200 }), 6),
    oversized: sometimes(fc.integer({ min: UPLOAD_LIMIT + 1, max: UPLOAD_LIMIT + 4096 }), 40),
    // Enough valid rows ahead of the rest that some are written before anything is refused:
    // a refused file must then be rolled back.
    bulk: sometimes(fc.record({ rows: fc.integer({ min: 1000, max: 2500 }), tag: fc.nat() }), 12),
  });

function idOf(target: string): string {
  if (target === 'draft') return draftId;
  if (target === 'cancelled') return cancelledId;
  if (target === 'completed') return completedId;
  return target;
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  fx = await apiFixture({
    bodyLimit: BODY_LIMIT,
    maxInlineRecipients: MAX_INLINE,
    uploadLimit: UPLOAD_LIMIT,
    uploadMaxInvalid: 5,
    // The limiter stays in the path of every request, far above what the fuzzing sends.
    rateLimit: 1_000_000,
  });
  const create = async (draft: boolean): Promise<string> => {
    const res = await fx.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth,
      payload: { from: 'n@sender.example', subject: 'Hi {{name}}', text: 'Hello {{name}}', draft },
    });
    assert.equal(res.statusCode, 202, res.body);
    return res.json<{ id: string }>().id;
  };
  draftId = await create(true);
  // Targets on which every lifecycle action is refused (409): nothing may be enqueued.
  cancelledId = await create(true);
  const cancel = await fx.app.inject({
    method: 'POST',
    url: `/v1/campaigns/${cancelledId}/cancel`,
    headers: auth,
  });
  assert.equal(cancel.json<{ status: string }>().status, 'cancelled');
  completedId = await create(true);
  // Started with no recipients, a campaign completes at once and queues nothing.
  const start = await fx.app.inject({
    method: 'POST',
    url: `/v1/campaigns/${completedId}/start`,
    headers: auth,
  });
  assert.equal(start.json<{ status: string }>().status, 'completed');
  const counts = await state();
  assert.match(counts, /"waiting":0/);
});
after(() => fx.close());

describe('fuzzing the API with malformed requests', () => {
  test('POST /v1/campaigns: broken JSON, wrong types, huge and CR/LF strings, prototype keys, hostile templates, bad addresses and content types', async (t) => {
    await fc.assert(
      fc.asyncProperty(createRequest, async (r) => {
        const text = mutate(
          write(
            new Obj([
              ...(Object.entries(r.entries).filter(([k]) => k !== 'extra') as [string, Json][]),
              ...(r.entries.extra ? [r.entries.extra] : []),
            ]),
          ),
          r.mutation,
        );
        const headers = headersWith(r.authorization, r.contentType);
        if (r.idempotencyKey) headers['idempotency-key'] = r.idempotencyKey;
        const res = await send({
          method: 'POST',
          url: '/v1/campaigns',
          headers,
          payload: r.binary ? Buffer.concat([Buffer.from(text), r.binary]) : text,
        });
        if (res.statusCode === 202) {
          const status = res.json<{ status: string }>().status;
          if (
            (status === 'running' || status === 'scheduled') &&
            res.headers['idempotent-replayed'] !== 'true'
          ) {
            enqueuingCreates++;
          }
        }
      }),
      { seed: SEED, numRuns: 4000 },
    );
    tally(t);
  });

  for (const format of ['ndjson', 'csv'] as const) {
    test(`POST /v1/campaigns/{id}/recipients (${format}): malformed rows, binary garbage, bad ids, queries and content types; a refused upload adds nothing`, async (t) => {
      await fc.assert(
        fc.asyncProperty(uploadRequest(format), async (r) => {
          const id = idOf(r.target);
          const bulk = Array.from({ length: r.bulk?.rows ?? 0 }, (_, i) =>
            format === 'csv'
              ? `b${r.bulk?.tag}-${i}@bulk.example,x`
              : `{"email":"b${r.bulk?.tag}-${i}@bulk.example"}`,
          );
          const parts: (string | Buffer)[] =
            r.header === undefined ? [...bulk, ...r.lines] : [r.header, ...bulk, ...r.lines];
          let body = uploadBody(parts, r.eol, r.garbage);
          if (r.oversized) body = Buffer.concat([body, Buffer.alloc(r.oversized, 0x0a)]);
          const res = await send({
            method: 'POST',
            url: `/v1/campaigns/${id}/recipients${r.query}`,
            headers: headersWith(r.authorization, r.contentType),
            payload: body,
            chunked: r.bulk !== null,
          });
          if (res.statusCode === 200) {
            const u = res.json<{
              rows: number;
              added: number;
              duplicates: number;
              invalid: number;
              total: number;
            }>();
            // Every row read is accounted for, and the total is the list's length.
            assert.equal(u.added + u.duplicates + u.invalid, u.rows, res.body);
            assert.equal(u.total, await fx.redis.llen(fx.keys.recipients(draftId)), res.body);
          }
        }),
        { seed: SEED, numRuns: 1500 },
      );
      tally(t);
    });
  }

  test('POST /v1/campaigns/{id}/start|pause|resume|cancel: bad ids, unknown actions, junk bodies, states that refuse the action', async (t) => {
    const target = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('cancelled', 'completed') },
      { weight: 2, arbitrary: missingId },
      { weight: 2, arbitrary: badId },
    );
    const action = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('start', 'pause', 'resume', 'cancel') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'Start',
          'stop',
          'delete',
          'start/',
          'start%00',
          '%2e%2e',
          '__proto__',
          '',
        ),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          // A draft refuses pause and resume; start and cancel would change it, so it is not a target for those.
          target: fc.oneof(
            { weight: 6, arbitrary: target },
            { weight: 1, arbitrary: fc.constant('draft') },
          ),
          action,
          method: fc.oneof(
            { weight: 8, arbitrary: fc.constant('POST' as const) },
            {
              weight: 1,
              arbitrary: fc.constantFrom(
                'GET' as const,
                'PUT' as const,
                'DELETE' as const,
                'PATCH' as const,
              ),
            },
          ),
          body: fc.option(
            fc.oneof(
              anyJson.map(write),
              fc.constantFrom('', '{', 'garbage', '{"__proto__":{"polluted":1}}'),
            ),
            { freq: 2 },
          ),
          contentType: jsonContentType,
          authorization: authHeader,
        }),
        async (r) => {
          const id = idOf(r.target);
          const act =
            r.target === 'draft' && (r.action === 'start' || r.action === 'cancel')
              ? 'pause'
              : r.action;
          await send({
            method: r.method,
            url: `/v1/campaigns/${id}/${act}`,
            headers: headersWith(r.authorization, r.body === null ? undefined : r.contentType),
            ...(r.body === null ? {} : { payload: r.body }),
          });
        },
      ),
      { seed: SEED, numRuns: 1500 },
    );
    tally(t);
  });

  test('GET /v1/campaigns/{id}/events: bad ids, cursors and limits', async (t) => {
    // Cursors of up to 19 digits a part: longer ones are a known 500 with a test of its own below.
    const cursor = fc.oneof(
      fc
        .tuple(fc.stringMatching(/^\d{1,19}$/), fc.stringMatching(/^\d{1,19}$/))
        .map(([a, b]) => `${a}-${b}`),
      fc.constantFrom(
        '',
        '-',
        '+',
        '0',
        '1-',
        '-1',
        '1-2-3',
        '(1-1',
        ' 1-1',
        '1-1 ',
        '1-1%0a',
        '%EF%BC%91-%EF%BC%91',
        '__proto__',
        '0-0',
        '1e3-1',
      ),
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
    );
    const limit = fc.oneof(
      fc.integer({ min: -5, max: 1005 }).map(String),
      fc.constantFrom('abc', '1.5', '1e2', '', '0x10', '100%00', ' 5'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          target: fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom('draft', 'cancelled', 'completed') },
            { weight: 1, arbitrary: missingId },
            { weight: 1, arbitrary: badId },
          ),
          cursor: fc.option(cursor),
          limit: fc.option(limit),
          repeat: fc.boolean(),
          authorization: authHeader,
        }),
        async (r) => {
          const id = idOf(r.target);
          const q: string[] = [];
          if (r.cursor !== null) q.push(`cursor=${r.cursor}`);
          if (r.limit !== null) q.push(`limit=${r.limit}`);
          if (r.repeat && q.length > 0) q.push(q[0] as string);
          await send({
            method: 'GET',
            url: `/v1/campaigns/${id}/events${q.length ? `?${q.join('&')}` : ''}`,
            headers: headersWith(r.authorization),
          });
        },
      ),
      { seed: SEED, numRuns: 1200 },
    );
    tally(t);
  });

  test('other routes: bad ids on GET, unknown paths and methods, missing or wrong keys', async (t) => {
    const path = fc.oneof(
      badId.map((id) => `/v1/campaigns/${id}`),
      missingId.map((id) => `/v1/campaigns/${id}`),
      fc.constantFrom(
        '/v1/campaign',
        '/v1/campaigns/',
        '/v1//campaigns',
        '/v1/campaigns/%00',
        '/v1/campaigns/../admin',
        '/v1/campaigns?__proto__[x]=1',
        '/v1/admin/tenants',
        '/v1/',
        '/v2/campaigns',
        '/healthz/../v1/campaigns',
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        path,
        fc.constantFrom(
          'GET' as const,
          'POST' as const,
          'PUT' as const,
          'DELETE' as const,
          'PATCH' as const,
          'OPTIONS' as const,
        ),
        authHeader,
        async (url, method, authorization) => {
          await send({ method, url, headers: headersWith(authorization) });
        },
      ),
      { seed: SEED, numRuns: 800 },
    );
    tally(t);
  });

  test('afterwards: the process is healthy, nothing refused was queued, Object.prototype is clean', async () => {
    assert.ok(requests >= MIN_REQUESTS, `only ${requests} requests were made`);
    const health = await fx.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'ok' });
    assert.equal((await fx.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    // The only jobs are the expansions of the creates that were accepted as running or scheduled.
    const counts = [await fx.queues.control.getJobCounts(), await fx.queues.send.getJobCounts()];
    const jobs = counts.flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0);
    assert.equal(jobs, enqueuingCreates);
    assertNoPollution('after every request');
    // And the API still does its job.
    const ok = await fx.app.inject({
      method: 'POST',
      url: `/v1/campaigns/${draftId}/recipients`,
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
      payload: '{"email":"after-fuzz@x.example"}\n',
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json<{ added: number }>().added, 1);
  });
});

// Found by the fuzzing above (they answered 500, or a 400 without problem+json), and kept as
// regression tests. The fuzzing leaves exactly these inputs to them.
describe('known server errors on hostile input', () => {
  test('GET /v1/campaigns/{id}/events: a cursor past the largest stream id is a 400, not a 500', async () => {
    for (const cursor of ['99999999999999999999-0', '18446744073709551615-18446744073709551615']) {
      const res = await fx.app.inject({
        method: 'GET',
        url: `/v1/campaigns/${draftId}/events?cursor=${cursor}`,
        headers: auth,
      });
      assert.equal(res.statusCode, 400, `${cursor}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
  });

  test('a path that is not valid percent-encoding is answered with problem+json', async () => {
    for (const url of ['/%', '/v1/campaigns/%zz/events']) {
      const res = await fx.app.inject({ method: 'GET', url, headers: auth });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, res.body);
    }
  });

  test('POST /v1/campaigns: inline vars nested thousands of levels deep are a 400, not a 500', async () => {
    const deep = `${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}`;
    const res = await fx.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: `{"from":"n@sender.example","subject":"s","text":"t","draft":true,"recipients":[{"email":"a@x.example","vars":${deep}}]}`,
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  });
});
