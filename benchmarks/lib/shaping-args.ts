/** Command-line flags of `npm run bench:shaping`, validated once. */
import { defineCli, flag } from './flags.ts';
import { OUT_FLAG, outOption } from './results.ts';

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

export const SHAPING_CLI = defineCli(
  'npm run bench:shaping',
  {
    quick: flag.switch('smoke-sized run: 40 s of backlog, results in benchmarks/results/tmp'),
    senders: flag.int('N', 'sender processes, as the performance bar says', 1, 32).default(4),
    // Below 30 s there are too few 10-s windows after the first to say anything.
    duration: flag
      .int('S', 'seconds each limited destination stays limited (30-600)', 30, 600)
      .defaultIs('75; quick 40'),
    // At most 2,000/s: the background load must not saturate the machine the limits run on.
    'bulk-rate': flag
      .int('N', 'recipients/s of unlimited background load', 1, 2000)
      .defaultIs('150; quick 100'),
    timeout: flag
      .int('S', 'longest wait for completion after the last submission', 10, 7200)
      .defaultIs('120 + duration'),
    out: OUT_FLAG,
  },
  (v): ShapingBenchOptions => {
    const durationS = v.duration ?? (v.quick ? 40 : 75);
    return {
      quick: v.quick,
      senders: v.senders,
      durationS,
      bulkPerSecond: v['bulk-rate'] ?? (v.quick ? 100 : 150),
      timeoutS: v.timeout ?? 120 + durationS,
      out: outOption(v.out, v.quick),
    };
  },
);
