import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvReader, ingestRecipients } from '../src/index.ts';

function parseAll(chunks: string[]): { fields: string[]; line: number }[] {
  const out: { fields: string[]; line: number }[] = [];
  const r = new CsvReader();
  const on = (fields: string[], line: number): void => {
    out.push({ fields, line });
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
