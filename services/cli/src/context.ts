import type { Env } from './config.ts';
import type { Output, Streams } from './output.ts';

/** Ctrl-C held by a watch: `interrupted` resolves on the first Ctrl-C until `release`. */
export interface InterruptClaim {
  interrupted: Promise<void>;
  release(): void;
}

/**
 * Who answers Ctrl-C (SIGINT). Only a running watch claims it, so that Ctrl-C stops the watch
 * and not the campaign; everywhere else (an upload, a list, a hung request) it ends the process
 * at once with status 130.
 */
export interface Interrupts {
  claim(): InterruptClaim;
}

/** What every command gets: the environment, the output, and Ctrl-C for a watch to claim. */
export interface CommandContext {
  env: Env;
  streams: Streams;
  interrupts: Interrupts;
  output(json: boolean): Output;
}

/** Every action answers its exit status: 0 done, 1 failed (2, wrong usage, is thrown). */
export type Exit = 0 | 1 | 130;
