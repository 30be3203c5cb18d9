/** Command-line flags of `npm run bench:upload`, validated once with messages that say what to do. */
import { UsageError } from './args.ts';
import { parseFlags, wholeNumberFlags } from './flags.ts';

export type UploadFormat = 'ndjson' | 'csv';

export interface UploadBenchOptions {
  quick: boolean;
  rows: number;
  reps: number;
  formats: UploadFormat[];
  /** Seconds one request may take before the run is abandoned as stuck. */
  timeoutS: number;
  out: string;
  /** Write a V8 CPU profile of the API process under results/tmp/profiles. */
  profile: boolean;
}

export const UPLOAD_USAGE = `Usage: npm run bench:upload -- [flags]

  --quick            smoke-sized run: 200,000 rows; results go to benchmarks/results/tmp
  --rows N           rows per upload (default 1000000; quick 200000)
  --reps N           repetitions of every run, interleaved (default 3)
  --formats LIST     ndjson, csv or both, comma-separated (default ndjson,csv)
  --timeout SECONDS  longest one request may take (default: 60 + 1 s per 10,000 rows)
  --out DIR          where results go (default benchmarks/results; quick: benchmarks/results/tmp)
  --profile          V8 CPU profile of the API process, with a summary, in
                     benchmarks/results/tmp/profiles/<time>/ (profiling slows it)
  --help             this text
`;

const int = wholeNumberFlags((message) => new UsageError(message));

export function parseUploadArgs(argv: string[]): UploadBenchOptions | 'help' {
  const values = parseFlags(
    argv,
    {
      quick: { type: 'boolean' },
      rows: { type: 'string' },
      reps: { type: 'string' },
      formats: { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    (message) => new UsageError(message),
  );
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  // The bodies are built in the harness's memory before the runs: 20 million rows is ~1.3 GB.
  const rows = int('rows', values.rows, quick ? 200_000 : 1_000_000, 1000, 20_000_000);
  const formats = (values.formats ?? 'ndjson,csv').split(',').map((f) => f.trim().toLowerCase());
  for (const f of formats) {
    if (f !== 'ndjson' && f !== 'csv') {
      throw new UsageError(`--formats: ${JSON.stringify(f)} is neither ndjson nor csv`);
    }
  }
  return {
    quick,
    rows,
    reps: int('reps', values.reps, 3, 1, 50),
    formats: [...new Set(formats)] as UploadFormat[],
    // 10,000 rows/s is far below any healthy run; slower than that, something is stuck.
    timeoutS: int('timeout', values.timeout, 60 + Math.ceil(rows / 10_000), 10, 86_400),
    out: values.out ?? (quick ? 'benchmarks/results/tmp' : 'benchmarks/results'),
    profile: values.profile ?? false,
  };
}
