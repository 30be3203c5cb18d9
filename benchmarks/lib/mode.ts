/**
 * What the modes of `npm run bench` that run no baselines (`--metrics-ab`, `--workload
 * realistic`, `--tls`) share, and the runs every mode builds from the flags alike.
 */
import type { BenchOptions } from './args.ts';
import type { Machine } from './machine.ts';
import type { NaiveOptions, VolleyOptions } from './runs.ts';

export interface ModeSetup {
  o: BenchOptions;
  senderEnv: Record<string, string>;
  /** The create request, serialized once. */
  body: string;
  machine: Machine;
  flags: string;
  outDir: string;
  startedAt: string;
  stamp: string;
}

/** Repetition `rep` of the campaign, as the flags and the setup describe it. */
export function campaignRun(
  s: Pick<ModeSetup, 'o' | 'body' | 'senderEnv'>,
  rep: number,
): VolleyOptions {
  const { o } = s;
  return {
    rep,
    recipients: o.recipients,
    senders: o.senders,
    body: s.body,
    senderEnv: s.senderEnv,
    timeoutS: o.timeoutS,
  };
}

/** Repetition `rep` of the naive loop, as the flags describe it: a pool of 10, unsigned. */
export function naiveRun(o: BenchOptions, rep: number): NaiveOptions {
  return {
    rep,
    messages: o.naiveMessages,
    size: o.size,
    domains: o.domains,
    poolSize: 10,
    timeoutS: o.timeoutS,
  };
}

/** The first fields of such a mode's JSON: how and where it ran. */
export function jsonHead(s: ModeSetup): Record<string, unknown> {
  return {
    startedAt: s.startedAt,
    flags: s.flags,
    options: s.o,
    senderEnv: s.senderEnv,
    environment: s.machine,
  };
}
