/**
 * The test files and the runner's arguments, shared by `npm test` and `npm run test:repeat`
 * so that both run exactly the same suite the same way.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TSX_NODE_ARGS } from '@volley/runtime';

export const ROOT = new URL('../..', import.meta.url).pathname;

function find(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(ROOT, p));
  }
  return out;
}

/**
 * Folders whose *.test.ts files make up the suite: the benchmarks' own logic is tested too, and
 * so are the deployment manifests and the repository's own checks.
 */
const TESTED = ['packages', 'services', 'benchmarks', 'deploy', 'scripts'];

/** Every *.test.ts under TESTED whose path contains one of `filter` (all when empty). */
export function testFiles(filter: string[]): string[] {
  const files = TESTED.flatMap((dir) => find(join(ROOT, dir), [])).sort();
  return filter.length ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
}

/**
 * Node's own test runner through tsx, two files at a time (the machine has two cores; the
 * integration tests each start their own redis-server and processes).
 */
export function runnerArgs(
  files: string[],
  reporters: string[] = ['--test-reporter=spec'],
): string[] {
  return [...TSX_NODE_ARGS, '--test', ...reporters, '--test-concurrency=2', ...files];
}
