// `npm run docs:refs` (part of `npm run check`): every relative link and every `*.md` path that
// the README, docs/*.md, deploy/README.md and benchmarks/README.md name is a file or folder of
// the repository. Prints each broken one as file:line and exits 1.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { brokenRefs } from './lib/doc-refs.ts';
import { ROOT } from './lib/test-files.ts';

const docs = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
  'deploy/README.md',
  'benchmarks/README.md',
];

// Tracked files: a report in benchmarks/results/tmp (ignored) does not make a name valid.
const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean);
const names = new Set(files.map((f) => basename(f)));
const tree = {
  exists: (p: string) => existsSync(join(ROOT, p)),
  hasFileNamed: (name: string) => names.has(name),
};

let broken = 0;
for (const doc of docs) {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  for (const r of brokenRefs(doc, text, tree)) {
    broken++;
    const what = r.kind === 'link' ? 'links to' : 'names';
    console.error(`${doc}:${r.line}: ${what} ${r.target}, which is not in the repository`);
  }
}
if (broken > 0) process.exit(1);
console.log(`docs:refs: the links and Markdown paths of ${docs.length} documents are in the tree`);
