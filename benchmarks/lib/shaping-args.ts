/** Command-line flags of `npm run bench:shaping`, validated once. */
import { parseFlags, wholeNumberFlags } from './flags.ts';

export interface ShapingBenchOptions {
  quick: boolean;
  senders: number;
  /** Seconds every limited destination stays limited (its backlog is its limit times this). */
  durationS: number;
  /** Recipients of the unlimited background campaign submitted every second. */
  bulkPerSecond: number;
  /** Longest wait for every campaign to complete once the submissions are done. */
  timeoutS: number;
  out: string;
}

export const SHAPING_USAGE = `Usage: npm run bench:shaping -- [flags]

  --quick           smoke-sized run: 40 s of backlog, results in benchmarks/results/tmp
  --senders N       sender processes (default 4, as the performance bar says)
  --duration S      seconds each limited destination stays limited (default 75; quick 40; 30-600)
  --bulk-rate N     recipients/s of unlimited background load (default 150; quick 100)
  --timeout S       longest wait for completion after the last submission (default 120 + duration)
  --out DIR         where results go (default benchmarks/results; quick: benchmarks/results/tmp)
  --help            this text
`;

export class ShapingUsageError extends Error {
  constructor(message: string) {
    super(`${message}\n\n${SHAPING_USAGE}`);
    this.name = 'ShapingUsageError';
  }
}

const int = wholeNumberFlags((message) => new ShapingUsageError(message));

export function parseShapingArgs(argv: string[]): ShapingBenchOptions | 'help' {
  const values = parseFlags(
    argv,
    {
      quick: { type: 'boolean' },
      senders: { type: 'string' },
      duration: { type: 'string' },
      'bulk-rate': { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    (message) => new ShapingUsageError(message),
  );
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  // Below 30 s there are too few 10-s windows after the first to say anything.
  const durationS = int('duration', values.duration, quick ? 40 : 75, 30, 600);
  return {
    quick,
    senders: int('senders', values.senders, 4, 1, 32),
    durationS,
    // At most 2,000/s: the background load must not saturate the machine the limits run on.
    bulkPerSecond: int('bulk-rate', values['bulk-rate'], quick ? 100 : 150, 1, 2000),
    timeoutS: int('timeout', values.timeout, 120 + durationS, 10, 7200),
    out: values.out ?? (quick ? 'benchmarks/results/tmp' : 'benchmarks/results'),
  };
}
