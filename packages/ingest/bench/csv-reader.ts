// CPU cost of reading an uploaded CSV, without the API and Redis around it: the CsvReader of
// this revision against other CsvReader revisions (--reader FILE) and the csv-parse package
// (--csv-parse DIR, a folder where `npm install csv-parse` was run). Each reader reads the
// same text, cut in 64 KiB chunks as a request body arrives, in interleaved runs; the median
// of the runs is reported, with each reader's ratio to this revision's.
//
//   node --import tsx packages/ingest/bench/csv-reader.ts [--rows N] [--runs N]
//        [--reader FILE]... [--csv-parse DIR]
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CsvReader } from '../src/csv.ts';

type OnRecord = (fields: string[], line: number, problem?: string) => void;
interface ReaderLike {
  push(chunk: string, onRecord: OnRecord): void;
  end(onRecord: OnRecord): void;
}
type Read = (chunks: readonly string[]) => Promise<number>;

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '500000' },
    runs: { type: 'string', default: '7' },
    reader: { type: 'string', multiple: true, default: [] },
    'csv-parse': { type: 'string' },
  },
});
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);
/** What an HTTP request body arrives in, about. */
const CHUNK = 64 * 1024;

function withReader(make: () => ReaderLike): Read {
  return async (chunks) => {
    const r = make();
    let n = 0;
    const on: OnRecord = () => {
      n++;
    };
    for (const c of chunks) r.push(c, on);
    r.end(on);
    return n;
  };
}

const readers: [string, Read][] = [['this revision', withReader(() => new CsvReader())]];
for (const file of values.reader) {
  const mod = (await import(pathToFileURL(resolve(file)).href)) as {
    CsvReader: new () => ReaderLike;
  };
  readers.push([file, withReader(() => new mod.CsvReader())]);
}
if (values['csv-parse']) {
  const dir = resolve(values['csv-parse'], 'node_modules/csv-parse/lib/index.js');
  const { parse } = (await import(pathToFileURL(dir).href)) as {
    parse: (opts: object) => NodeJS.ReadWriteStream;
  };
  readers.push([
    'csv-parse',
    (chunks) =>
      new Promise((done, fail) => {
        // The options that read as the upload does: BOM, blank lines skipped, short records
        // allowed; a bad record reported (on_skip) and the rest read.
        const p = parse({
          bom: true,
          skip_empty_lines: true,
          relax_column_count_less: true,
          skip_records_with_error: true,
        });
        let n = 0;
        p.on('data', () => {
          n++;
        });
        p.on('end', () => done(n));
        p.on('error', fail);
        for (const c of chunks) p.write(c);
        p.end();
      }),
  ]);
}

function chunked(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += CHUNK) out.push(text.slice(i, i + CHUNK));
  return out;
}

/** Plain rows (no quotes: the fast path), and rows each with one quoted field (the state machine). */
const inputs: [string, string[]][] = [
  [
    'plain',
    chunked(
      [
        'email,first,last,city',
        ...Array.from({ length: ROWS }, (_, i) => `user${i}@example${i % 50}.com,Ann,Smith,Paris`),
      ].join('\r\n'),
    ),
  ],
  [
    'quoted',
    chunked(
      [
        'email,name,city',
        ...Array.from(
          { length: ROWS },
          (_, i) => `user${i}@example${i % 50}.com,"Smith, Ann ""A.""",Paris`,
        ),
      ].join('\r\n'),
    ),
  ],
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

console.log(`${ROWS} rows per input, ${RUNS} interleaved runs, medians`);
for (const [kind, chunks] of inputs) {
  const times = new Map<string, number[]>(readers.map(([name]) => [name, []]));
  // One run of each first, not timed: compiled code, not the compiler, is what is measured.
  for (const [name, read] of readers) {
    const n = await read(chunks);
    if (n !== ROWS + 1) throw new Error(`${name} read ${n} records of ${kind}, not ${ROWS + 1}`);
  }
  for (let run = 0; run < RUNS; run++) {
    for (const [name, read] of readers) {
      const t0 = process.hrtime.bigint();
      await read(chunks);
      times.get(name)?.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const base = median(times.get('this revision') ?? []);
  for (const [name, ts] of times) {
    const ms = median(ts);
    console.log(
      `${kind.padEnd(7)} ${name.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms  ${Math.round(
        (ROWS / ms) * 1000,
      )
        .toLocaleString('en')
        .padStart(11)} rows/s  ${(ms / base).toFixed(2)}x`,
    );
  }
}
