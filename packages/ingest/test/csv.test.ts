import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CsvReader, ingestRecipients } from '../src/index.ts';

interface Parsed {
  fields: string[];
  line: number;
  problem?: string;
}

function parseAll(chunks: string[]): Parsed[] {
  const out: Parsed[] = [];
  const r = new CsvReader();
  const on = (fields: string[], line: number, problem?: string): void => {
    out.push(problem === undefined ? { fields, line } : { fields, line, problem });
  };
  for (const c of chunks) r.push(c, on);
  r.end(on);
  return out;
}

describe('CSV reader', () => {
  const text =
    'email,name,note\r\na@x.example,"Smith, Ann","said ""hi""\nthen left"\r\n\r\nb@x.example,Bob,\nc@x.example,Cy,last';

  test('quotes, escaped quotes, commas and line breaks inside quotes, CRLF and LF, blank lines', () => {
    const rows = parseAll([text]);
    assert.deepEqual(
      rows.map((r) => r.fields),
      [
        ['email', 'name', 'note'],
        ['a@x.example', 'Smith, Ann', 'said "hi"\nthen left'],
        ['b@x.example', 'Bob', ''],
        ['c@x.example', 'Cy', 'last'],
      ],
    );
    assert.deepEqual(
      rows.map((r) => r.line),
      [1, 2, 5, 6],
    );
  });

  test('the same records whatever the chunk boundaries', () => {
    const whole = parseAll([text]);
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      assert.deepEqual(parseAll(chunks), whole, `chunks of ${size}`);
    }
  });

  test('a quote inside an unquoted field makes its record invalid and never swallows the next ones', () => {
    // RFC 4180 section 2.5: a field that is not quoted holds no quote.
    const rows = parseAll(['email,note\na@x.example,5" tv\nb@x.example,7" tv\nc@x.example,ok\n']);
    assert.deepEqual(
      rows.map((r) => [r.line, r.fields[0]]),
      [
        [1, 'email'],
        [2, 'a@x.example'],
        [3, 'b@x.example'],
        [4, 'c@x.example'],
      ],
    );
    assert.match(rows[1]?.problem ?? '', /field 2 has a quote but does not start with one/);
    assert.match(rows[2]?.problem ?? '', /field 2 has a quote but does not start with one/);
    assert.equal(rows[3]?.problem, undefined);
    // Whatever the chunk boundaries.
    const text = 'email,note\r\na@x.example,x"y\r\nb@x.example,ok\r\n';
    for (let size = 1; size <= text.length; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      assert.deepEqual(
        parseAll(chunks).map((r) => [r.line, r.fields[0], r.problem !== undefined]),
        [
          [1, 'email', false],
          [2, 'a@x.example', true],
          [3, 'b@x.example', false],
        ],
        `chunks of ${size}`,
      );
    }
  });

  test('text after the closing quote of a field makes its record invalid', () => {
    const rows = parseAll(['email,note\na@x.example,"5" tv\nb@x.example,"ok"\n']);
    assert.match(rows[1]?.problem ?? '', /field 2 goes on after its closing quote/);
    assert.equal(rows[1]?.line, 2);
    assert.deepEqual(rows[2], { fields: ['b@x.example', 'ok'], line: 3 });
  });

  test('a record with more fields than the header is invalid, naming both counts', () => {
    const rows = parseAll(['email,name\na@x.example,Ann,extra\nb@x.example\nc@x.example,Cy\n']);
    assert.match(rows[1]?.problem ?? '', /3 fields; the header has 2/);
    // Fewer fields than the header: the missing ones are empty.
    assert.equal(rows[2]?.problem, undefined);
    assert.equal(rows[3]?.problem, undefined);
  });

  test('a UTF-8 byte order mark starts the file and is not part of the first name', () => {
    assert.deepEqual(parseAll(['\uFEFFemail,name\na@x.example,Ann\n'])[0]?.fields, [
      'email',
      'name',
    ]);
    assert.deepEqual(parseAll(['\uFEFF', '"email",name\n'])[0]?.fields, ['email', 'name']);
    // Anywhere else it is a character of the field.
    assert.deepEqual(parseAll(['email\n\uFEFFa@x.example\n'])[1]?.fields, ['\uFEFFa@x.example']);
  });

  test('quoted fields keep CRLF, LF and doubled quotes, and line numbers count their lines', () => {
    const rows = parseAll([
      'email,note\r\n"a@x.example","one\r\ntwo ""2""\nthree"\r\n"b@x.example",""\r\n',
    ]);
    assert.deepEqual(rows, [
      { fields: ['email', 'note'], line: 1 },
      { fields: ['a@x.example', 'one\r\ntwo "2"\nthree'], line: 2 },
      { fields: ['b@x.example', ''], line: 5 },
    ]);
  });

  test('any records written as RFC 4180 says are read back as they were, in chunks of any size', () => {
    const field = fc.string({
      unit: fc.constantFrom('a', 'é', ' ', ',', '"', '\r', '\n', '\r\n', '😀'),
      maxLength: 8,
    });
    const file = fc.integer({ min: 1, max: 4 }).chain((width) =>
      fc.record({
        rows: fc.array(
          fc.array(fc.tuple(field, fc.boolean()), { minLength: width, maxLength: width }),
          { minLength: 1, maxLength: 6 },
        ),
        eol: fc.constantFrom('\r\n', '\n'),
        size: fc.integer({ min: 1, max: 12 }),
      }),
    );
    fc.assert(
      fc.property(file, ({ rows, eol, size }) => {
        // Quoted when it must be (or when the generator says so); a record of one empty
        // field is quoted too, since an empty line is no record.
        const text = rows
          .map((r) =>
            r
              .map(([f, q]) =>
                q || /[",\r\n]/.test(f) || (r.length === 1 && f === '')
                  ? `"${f.replace(/"/g, '""')}"`
                  : f,
              )
              .join(','),
          )
          .join(eol);
        const chunks: string[] = [];
        for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
        const got = parseAll(chunks);
        assert.deepEqual(
          got.map((g) => g.fields),
          rows.map((r) => r.map(([f]) => f)),
        );
        assert.ok(got.every((g) => g.problem === undefined));
      }),
      { seed: 20261206, numRuns: 2000 },
    );
  });

  test('an unclosed quote is an error naming the line', () => {
    assert.throws(
      () => parseAll(['email\n"a@x.example\n']),
      /line 2: a quoted field is not closed/,
    );
  });
});

async function* chunks(text: string, size: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe('ingestRecipients', () => {
  test('NDJSON: valid rows in chunks, invalid rows reported by line, UTF-8 split across chunks', async () => {
    const lines = [
      '{"email":"a@x.example","vars":{"name":"Zoë"}}',
      '{"email":"not-an-address"}',
      '',
      '{"email":"b@X.Example"}',
      '{broken json',
      '{"email":"c@x.example","vars":[1]}',
      '{"email":"d@x.example","extra":1}',
      '{"email":"e@x.example"}',
    ];
    const batches: string[][] = [];
    const res = await ingestRecipients(
      chunks(lines.join('\n'), 3),
      { format: 'ndjson', maxInvalid: 10, chunkSize: 2 },
      async (b) => {
        batches.push(b.emails);
        return { added: b.rows.length, duplicates: 0 };
      },
    );
    assert.deepEqual(batches.flat(), ['a@x.example', 'b@x.example', 'e@x.example']);
    assert.equal(res.added, 3);
    assert.equal(res.invalid, 4);
    assert.deepEqual(
      res.errors.map((e) => e.row),
      [2, 5, 6, 7],
    );
    assert.match(res.errors[3]?.reason ?? '', /unknown property "extra"/);
    assert.equal(res.aborted, undefined);
  });

  test('CSV: header names the variables; "__proto__" is a plain column; missing email column aborts', async () => {
    const got: unknown[] = [];
    const res = await ingestRecipients(
      chunks('Email,first,__proto__\na@x.example,Ann,p\n', 4),
      { format: 'csv', maxInvalid: 0 },
      async (b) => {
        got.push(...b.rows.map((r) => JSON.parse(r) as unknown));
        return { added: b.rows.length, duplicates: 0 };
      },
    );
    assert.equal(res.added, 1);
    const vars = (got[0] as { vars: Record<string, string> }).vars;
    assert.equal(vars.first, 'Ann');
    assert.equal(Object.getOwnPropertyDescriptor(vars, '__proto__')?.value, 'p');
    assert.equal(Object.getPrototypeOf(vars), Object.prototype);
    const bad = await ingestRecipients(
      chunks('name\nAnn\n', 100),
      { format: 'csv', maxInvalid: 0 },
      () => {
        throw new Error('the sink must not be called');
      },
    );
    assert.match(bad.aborted ?? '', /no "email" column/);
  });

  test('CSV: a stray quote or an extra field is an invalid row with its line; the rows after it are read', async () => {
    const emails: string[] = [];
    const csv = [
      '\uFEFFemail,item',
      'a@x.example,5" tv',
      'b@x.example,7" tv',
      'c@x.example,lamp,extra',
      'd@x.example,"8"" tv"',
    ].join('\r\n');
    const res = await ingestRecipients(
      chunks(csv, 5),
      { format: 'csv', maxInvalid: 10 },
      async (b) => {
        emails.push(...b.rows);
        return { added: b.rows.length, duplicates: 0 };
      },
    );
    assert.equal(res.aborted, undefined);
    assert.deepEqual(emails, ['{"email":"d@x.example","vars":{"item":"8\\" tv"}}']);
    assert.deepEqual(
      res.errors.map((e) => e.row),
      [2, 3, 4],
    );
    assert.match(res.errors[0]?.reason ?? '', /quote/);
    assert.match(res.errors[2]?.reason ?? '', /3 fields; the header has 2/);
    // Within the limit of invalid rows only.
    const refused = await ingestRecipients(
      chunks(csv, 5),
      { format: 'csv', maxInvalid: 0 },
      async (b) => ({
        added: b.rows.length,
        duplicates: 0,
      }),
    );
    assert.match(refused.aborted ?? '', /more than 0 invalid rows/);
  });

  test('more invalid rows than allowed aborts', async () => {
    const res = await ingestRecipients(
      chunks('{"email":"x"}\n{"email":"y"}\n', 100),
      { format: 'ndjson', maxInvalid: 1 },
      async (b) => ({
        added: b.rows.length,
        duplicates: 0,
      }),
    );
    assert.match(res.aborted ?? '', /more than 1 invalid rows/);
  });
});
