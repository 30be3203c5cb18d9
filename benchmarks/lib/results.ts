/** Where a benchmark's results go, and the `--out` flag that chooses it. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ROOT } from '@volley/runtime';
import { flag } from './flags.ts';
import { log } from './log.ts';
import { fileStamp } from './machine.ts';

/** Git ignores it: smoke runs, profiles and anything not meant as a reference. */
const TMP = 'benchmarks/results/tmp';

/** `--out DIR`, for every command that has --quick. */
export const OUT_FLAG = flag
  .text('DIR', 'where results go')
  .defaultIs(`benchmarks/results; quick: ${TMP}`);

/** What --out names, or its default: the committed results, or results/tmp for --quick. */
export function outOption(out: string | undefined, quick: boolean): string {
  return out ?? (quick ? TMP : 'benchmarks/results');
}

export interface ResultsPlace {
  /** The folder, created if missing. */
  dir: string;
  startedAt: string;
  /** The start time in file names: 20261128T042821Z. */
  stamp: string;
}

/** Creates the results folder (relative to the repository root) and stamps the run's start. */
export function openResults(out: string): ResultsPlace {
  const dir = resolve(ROOT, out);
  mkdirSync(dir, { recursive: true });
  const startedAt = new Date().toISOString();
  return { dir, startedAt, stamp: fileStamp(startedAt) };
}

/** A fresh folder under results/tmp for one run's scratch files (git ignores it); the caller deletes it. */
export function scratchDir(prefix: string): string {
  const parent = join(ROOT, TMP);
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(join(parent, `${prefix}-`));
}

/** A folder for V8 CPU profiles: large and machine-specific, so under results/tmp. */
export function profilesDir(name: string): string {
  return join(ROOT, TMP, 'profiles', name);
}

/** Writes `<base>.md` and `<base>.json`, prints the Markdown on stdout and logs where they went. */
export function writeReport(base: string, md: string, json: unknown): void {
  writeFileSync(`${base}.md`, `${md}\n`);
  writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`\n${md}\n`);
  log(
    `results: ${[`${base}.md`, `${base}.json`].map((f) => relative(process.cwd(), f)).join(', ')}`,
  );
}
