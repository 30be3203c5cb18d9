// The upload's fast paths (CSV lines split with indexOf, NDJSON
// lines kept as written, the vars size check skipped on short lines, batches written while
// the next are parsed) must answer exactly what the plain definitions answer.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CsvReader, ingestRecipients, nestingDepth, type RecipientBatch } from '../src/index.ts';

/** Fixed, so that a failure reproduces; printed by fast-check with the counterexample. */
const SEED = 20261128;

async function* chunks(text: string, size: number): AsyncGenerator<Buffer> {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect(
  text: string,
  opts: Parameters<typeof ingestRecipients>[1],
  size = 7,
): Promise<{
  rows: string[];
  emails: string[];
  res: Awaited<ReturnType<typeof ingestRecipients>>;
}> {
  const rows: string[] = [];
  const emails: string[] = [];
  const res = await ingestRecipients(chunks(text, size), opts, async (b) => {
    rows.push(...b.rows);
    emails.push(...b.emails);
    return { added: b.rows.length, duplicates: 0 };
  });
  return { rows, emails, res };
}

describe('CSV reader fast path', () => {
  function records(text: string, size: number): unknown {
    const out: { fields: string[]; line: number; problem?: string }[] = [];
    const r = new CsvReader();
    const on = (fields: string[], line: number, problem?: string): void => {
      out.push(problem === undefined ? { fields, line } : { fields, line, problem });
    };
    try {
      for (let i = 0; i < text.length; i += size) r.push(text.slice(i, i + size), on);
      r.end(on);
    } catch (err) {
      return { out, error: (err as Error).message };
    }
    return { out };
  }

  test('whole lines split with indexOf give the records (and their problems) of the character-by-character reader', () => {
    // One-character chunks never hold a whole line, so they take the state machine only.
    const unit = fc.constantFrom('a', 'bc', ',', ',', '"', '""', '\n', '\r\n', '\r', ' ');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), fc.integer({ min: 2, max: 9 }), (t, size) => {
        const slow = records(t, 1);
        assert.deepEqual(records(t, t.length || 1), slow, JSON.stringify(t));
        assert.deepEqual(records(t, size), slow, JSON.stringify(t));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

describe('ingestRecipients fast paths', () => {
  test('NDJSON: a plain line with a canonical address is kept as written, others are rewritten; both parse to the recipient', async () => {
    const lines = [
      '{"email":"a@x.example","vars":{"name":"Ann"}}',
      '  { "vars" : {"n": 1}, "email" : "b@x.example" }  ',
      '{"email":"C@X.Example","vars":{"__proto__":{"polluted":true}}}',
      '{"email":"d@bücher.example"}',
      // Escapes, or "email" more than once: rewritten, so that every parser reads one address.
      '{"email":"e@x.example", "vars":{"q":"\\u0041"}}',
      '{"email":"f@x.example","\\u0065mail":"g@x.example"}',
      '{"email":"h@x.example", "vars":{"k":"email"}}',
    ];
    const { rows, emails } = await collect(lines.join('\n'), { format: 'ndjson', maxInvalid: 0 });
    assert.deepEqual(emails, [
      'a@x.example',
      'b@x.example',
      'C@x.example',
      'd@xn--bcher-kva.example',
      'e@x.example',
      'g@x.example',
      'h@x.example',
    ]);
    assert.deepEqual(rows, [
      lines[0],
      lines[1]?.trim(),
      '{"email":"C@x.example","vars":{"__proto__":{"polluted":true}}}',
      '{"email":"d@xn--bcher-kva.example"}',
      '{"email":"e@x.example","vars":{"q":"A"}}',
      '{"email":"g@x.example"}',
      '{"email":"h@x.example","vars":{"k":"email"}}',
    ]);
    const parsed = rows.map((r) => JSON.parse(r) as { email: string; vars?: object });
    assert.deepEqual(
      parsed.map((p) => p.email),
      emails,
    );
    assert.deepEqual(parsed[1]?.vars, { n: 1 });
    // "__proto__" stays a plain key, read back as one.
    assert.equal(Object.getPrototypeOf(parsed[2]?.vars), Object.prototype);
    assert.ok(Object.hasOwn(parsed[2]?.vars ?? {}, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('CSV: rows are serialized as JSON of {email, vars}; a repeated column keeps its last value', async () => {
    const { rows } = await collect(
      'name,Email,note,name,,"q""x"\nAnn,a@x.example,"a, ""b""",Bee,skip,\\\n,b@X.example,,,,\n',
      { format: 'csv', maxInvalid: 0 },
    );
    assert.deepEqual(
      rows.map((r) => JSON.parse(r) as unknown),
      [
        { email: 'a@x.example', vars: { name: 'Bee', note: 'a, "b"', 'q"x': '\\' } },
        { email: 'b@x.example', vars: { name: '', note: '', 'q"x': '' } },
      ],
    );
  });

  test('vars over the limit are refused exactly when their JSON is longer than the limit, short lines included', async () => {
    // Numbers with exponents serialize longer than written (1e20 is 21 characters).
    const token = fc.constantFrom(
      '1e20',
      '1E5',
      '-1e20',
      '1e-7',
      '0.5e1',
      '1e400',
      '"s"',
      'true',
      '7',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(token, { maxLength: 12 }),
        fc.integer({ min: 2, max: 200 }),
        async (tokens, maxVarsBytes) => {
          const varsText = `{"v":[${tokens.join(',')}]}`;
          const line = `{"email":"a@x.example","vars":${varsText}}`;
          const { res } = await collect(line, { format: 'ndjson', maxInvalid: 1, maxVarsBytes });
          const tooLarge = JSON.stringify(JSON.parse(varsText)).length > maxVarsBytes;
          assert.equal(res.invalid, tooLarge ? 1 : 0, `${line} with ${maxVarsBytes}`);
          assert.equal(res.added, tooLarge ? 0 : 1);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  test('vars nested deeper than the limit are refused with a row error, however deep (no stack overflow)', async () => {
    const nest = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const lines = [
      `{"email":"a@x.example","vars":${nest(32)}}`,
      `{"email":"b@x.example","vars":${nest(33)}}`,
      `{"email":"c@x.example","vars":{"l":${'['.repeat(40)}${']'.repeat(40)}}}`,
      `{"email":"d@x.example","vars":${nest(50_000)}}`,
      // Brackets inside strings are not nesting.
      `{"email":"e@x.example","vars":{"s":"${'{['.repeat(100)}"}}`,
    ];
    const { res, emails } = await collect(lines.join('\n'), {
      format: 'ndjson',
      maxInvalid: 10,
      maxLineLength: 1024 * 1024,
    });
    assert.deepEqual(emails, ['a@x.example', 'e@x.example']);
    assert.deepEqual(
      res.errors.map((e) => [e.row, e.reason]),
      [
        [2, 'vars nest more than 32 levels deep'],
        [3, 'vars nest more than 32 levels deep'],
        [4, 'vars nest more than 32 levels deep'],
      ],
    );
    assert.equal(nestingDepth(JSON.parse(nest(200_000)), 1000), 1001);
    assert.equal(nestingDepth({ a: [1, { b: [] }], c: {} }, 10), 4);
    assert.equal(nestingDepth('x', 10), 0);
  });

  test('a line split over many chunks is read whole, and one longer than the limit aborts naming its line', async () => {
    const long = `{"email":"a@x.example","vars":{"s":"${'x'.repeat(3000)}"}}`;
    const ok = await collect(`{"email":"z@x.example"}\n${long}\n`, {
      format: 'ndjson',
      maxInvalid: 0,
      maxLineLength: 4000,
    });
    assert.deepEqual(ok.rows, ['{"email":"z@x.example"}', long]);
    const tooLong = await collect(`{"email":"z@x.example"}\n${long}${long}\n`, {
      format: 'ndjson',
      maxInvalid: 0,
      maxLineLength: 4000,
    });
    assert.equal(tooLong.res.aborted, 'line 2 is longer than 4000 characters');
  });

  test('at most inFlight batches are written at once, the stream is not read past them, and all have settled when it returns or throws', async () => {
    const inFlight = 3;
    let active = 0;
    let most = 0;
    let calls = 0;
    let readWhileFull = 0;
    async function* source(): AsyncGenerator<string> {
      for (let i = 0; i < 40; i++) {
        if (active >= inFlight) readWhileFull++;
        yield `{"email":"u${i}@x.example"}\n{"email":"v${i}@x.example"}\n`;
      }
    }
    const sink = async (b: RecipientBatch, fail: boolean) => {
      calls++;
      active++;
      most = Math.max(most, active);
      // Each write takes a few turns of the event loop, so later batches overlap it.
      for (let k = 0; k < 3; k++) await new Promise((r) => setImmediate(r));
      active--;
      if (fail && calls === 5) throw new Error('redis went away');
      return { added: b.rows.length, duplicates: 0 };
    };
    const ok = await ingestRecipients(
      source(),
      { format: 'ndjson', maxInvalid: 0, chunkSize: 2, inFlight },
      (b) => sink(b, false),
    );
    assert.equal(ok.added, 80);
    assert.equal(active, 0);
    assert.equal(most, inFlight);
    assert.equal(readWhileFull, 0);

    calls = 0;
    await assert.rejects(
      ingestRecipients(source(), { format: 'ndjson', maxInvalid: 0, chunkSize: 2, inFlight }, (b) =>
        sink(b, true),
      ),
      /redis went away/,
    );
    assert.equal(active, 0, 'a batch was still being written when the upload failed');
  });
});
