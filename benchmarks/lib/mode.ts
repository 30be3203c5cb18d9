/** What the modes of `npm run bench` that run no baselines (`--metrics-ab`, `--workload realistic`) share. */
import type { BenchOptions } from './args.ts';
import type { Machine } from './machine.ts';

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
