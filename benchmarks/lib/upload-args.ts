/** Command-line flags of `npm run bench:upload`, validated once with messages that say what to do. */
import { defineCli, flag, FlagError } from './flags.ts';
import { OUT_FLAG, outOption } from './results.ts';

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

export const UPLOAD_CLI = defineCli(
  'npm run bench:upload',
  {
    quick: flag.switch('smoke-sized run: 200,000 rows; results go to benchmarks/results/tmp'),
    // The bodies are built in the harness's memory before the runs: 20 million rows is ~1.3 GB.
    rows: flag.int('N', 'rows per upload', 1000, 20_000_000).defaultIs('1000000; quick 200000'),
    reps: flag.int('N', 'repetitions of every run, interleaved', 1, 50).default(3),
    formats: flag
      .list('LIST', 'ndjson, csv or both, comma-separated', (text, name): UploadFormat => {
        const f = text.toLowerCase();
        if (f !== 'ndjson' && f !== 'csv') {
          throw new FlagError(`--${name}: ${JSON.stringify(f)} is neither ndjson nor csv`);
        }
        return f;
      })
      .default(['ndjson', 'csv'], 'ndjson,csv'),
    timeout: flag
      .int('SECONDS', 'longest one request may take', 10, 86_400)
      .defaultIs('60 + 1 s per 10,000 rows'),
    out: OUT_FLAG,
    profile: flag.switch(
      'V8 CPU profile of the API process, with a summary, in\n' +
        'benchmarks/results/tmp/profiles/<time>/ (profiling slows it)',
    ),
  },
  (v): UploadBenchOptions => {
    const rows = v.rows ?? (v.quick ? 200_000 : 1_000_000);
    return {
      quick: v.quick,
      rows,
      reps: v.reps,
      formats: [...new Set(v.formats)],
      // 10,000 rows/s is far below any healthy run; slower than that, something is stuck.
      timeoutS: v.timeout ?? 60 + Math.ceil(rows / 10_000),
      out: outOption(v.out, v.quick),
      profile: v.profile,
    };
  },
);
