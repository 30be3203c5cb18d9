#!/usr/bin/env node
/** `volley` (`npm run volley -- …`): see program.ts, and `volley --help`. */
import { runCli } from './program.ts';

// The first Ctrl-C stops a watch (the campaign goes on); a second one ends the process as usual.
const interrupted = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));

process.exitCode = await runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr },
  process.env,
  interrupted,
);
// Nothing is left to wait for (a pending poll timer or an open keep-alive socket may linger).
process.exit();
