import type { Env } from './config.ts';
import type { Output, Streams } from './output.ts';

/** What every command gets: the environment, the output, and Ctrl-C as a promise. */
export interface CommandContext {
  env: Env;
  streams: Streams;
  /** Resolves on the first Ctrl-C (SIGINT). */
  interrupted: Promise<void>;
  output(json: boolean): Output;
}

/** Every action answers its exit status: 0 done, 1 failed (2, wrong usage, is thrown). */
export type Exit = 0 | 1 | 130;
