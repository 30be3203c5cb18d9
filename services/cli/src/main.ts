#!/usr/bin/env node
/** `volley` (`npm run volley -- …`): see program.ts, and `volley --help`. */
import type { Interrupts } from './context.ts';
import { runCli } from './program.ts';

/** Set while a watch holds Ctrl-C (see Interrupts); called once, on the first Ctrl-C. */
let claimant: (() => void) | undefined;

process.on('SIGINT', () => {
  const stopWatching = claimant;
  claimant = undefined;
  if (stopWatching) return stopWatching();
  // A bar may have hidden the cursor: give it back before leaving the terminal to the shell.
  if (process.stderr.isTTY) process.stderr.write('\u001b[?25h\n');
  process.exit(130);
});

const interrupts: Interrupts = {
  claim() {
    let resolve!: () => void;
    const interrupted = new Promise<void>((r) => (resolve = r));
    claimant = resolve;
    return {
      interrupted,
      release: () => {
        if (claimant === resolve) claimant = undefined;
      },
    };
  },
};

process.exitCode = await runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr },
  process.env,
  interrupts,
);
// Nothing is left to wait for (a pending poll timer or an open keep-alive socket may linger).
process.exit();
