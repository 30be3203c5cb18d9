/**
 * `npm run bench:bounces`: classifies every message of the bounce corpus (`../shared/bounce-corpus`
 * from the repository root) and writes how often the result agrees with the corpus's expected
 * results, overall and per reason, to `benchmarks/results/<time>-bounces.{json,md}`.
 */
import { writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { measureCorpus } from '@volley/bounce';
import { ROOT } from '@volley/runtime';
import { sharedDir } from '@volley/testkit';
import { defineCli, flag } from './lib/flags.ts';
import { commitLabel } from './lib/machine.ts';
import { openResults } from './lib/results.ts';
import { bounceMarkdown, meetsTargets, BOUNCE_TARGETS } from './lib/bounce-report.ts';

const CLI = defineCli(
  'npm run bench:bounces',
  {
    corpus: flag
      .text('DIR', 'the corpus: bounces/, not-bounces/ and expected.json')
      .defaultIs('bounce-corpus in ../shared from the repository root'),
    out: flag.text('DIR', 'where results go').default('benchmarks/results'),
  },
  (v) => v,
);

async function main(): Promise<void> {
  const options = CLI.parseOrExit(process.argv.slice(2));
  const corpus = options.corpus ? resolve(options.corpus) : join(sharedDir(), 'bounce-corpus');
  const place = openResults(options.out);

  const t0 = performance.now();
  const m = await measureCorpus(corpus);
  const elapsedMs = performance.now() - t0;

  const info = {
    startedAt: place.startedAt,
    commit: commitLabel(),
    corpus: relative(ROOT, corpus) || corpus,
    node: process.version,
    elapsedMs,
  };
  const md = bounceMarkdown(m, info);
  const name = `${place.stamp}-bounces`;
  writeFileSync(join(place.dir, `${name}.md`), md);
  writeFileSync(
    join(place.dir, `${name}.json`),
    `${JSON.stringify({ ...info, targets: BOUNCE_TARGETS, targetsMet: meetsTargets(m), measurement: m }, null, 2)}\n`,
  );
  process.stdout.write(`${md}\n`);
  process.stderr.write(
    `results: ${['json', 'md'].map((x) => relative(process.cwd(), join(place.dir, `${name}.${x}`))).join(', ')}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench:bounces: failed: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exitCode = 1;
});
