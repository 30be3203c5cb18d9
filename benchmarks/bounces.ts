/**
 * `npm run bench:bounces`: classifies every message of the bounce corpus (`../shared/bounce-corpus`
 * from the repository root) and writes how often the result agrees with the corpus's expected
 * results, overall and per reason, to `benchmarks/results/<time>-bounces.{json,md}`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { measureCorpus } from '@volley/bounce';
import { sharedDir } from '@volley/testkit';
import { parseFlags } from './lib/flags.ts';
import { bounceMarkdown, meetsTargets, BOUNCE_TARGETS } from './lib/bounce-report.ts';

const ROOT = resolve(import.meta.dirname, '..');

const USAGE = `Usage: npm run bench:bounces -- [flags]

  --corpus DIR   the corpus (default: bounce-corpus in ../shared from the repository root)
  --out DIR      where results go (default benchmarks/results)
  --help         this text
`;

class UsageError extends Error {}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function commitLabel(): string {
  const commit = git(['rev-parse', '--short=12', 'HEAD']);
  const dirty = git(['status', '--porcelain']);
  if (!commit) return 'unknown';
  return `${commit}${dirty ? ` (with uncommitted changes in ${dirty.split('\n').length} paths)` : ''}`;
}

async function main(): Promise<number> {
  let values: { corpus?: string; out?: string; help?: boolean };
  try {
    values = parseFlags(
      process.argv.slice(2),
      {
        corpus: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      (message) => new UsageError(message),
    );
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench:bounces: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const corpus = values.corpus ? resolve(values.corpus) : join(sharedDir(ROOT), 'bounce-corpus');
  const outDir = resolve(ROOT, values.out ?? 'benchmarks/results');
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

  const t0 = performance.now();
  const m = await measureCorpus(corpus);
  const elapsedMs = performance.now() - t0;

  const info = {
    startedAt,
    commit: commitLabel(),
    corpus: relative(ROOT, corpus) || corpus,
    node: process.version,
    elapsedMs,
  };
  const md = bounceMarkdown(m, info);
  mkdirSync(outDir, { recursive: true });
  const name = `${stamp}-bounces`;
  writeFileSync(join(outDir, `${name}.md`), md);
  writeFileSync(
    join(outDir, `${name}.json`),
    `${JSON.stringify({ ...info, targets: BOUNCE_TARGETS, targetsMet: meetsTargets(m), measurement: m }, null, 2)}\n`,
  );
  process.stdout.write(`${md}\n`);
  process.stderr.write(
    `results: ${['json', 'md'].map((x) => relative(process.cwd(), join(outDir, `${name}.${x}`))).join(', ')}\n`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench:bounces: failed: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
