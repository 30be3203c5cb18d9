import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brokenRefs, docRefs, type Tree } from '../lib/doc-refs.ts';

/** A repository of a few files and the folders they are in. */
function tree(files: string[]): Tree {
  const all = new Set<string>(['']);
  for (const f of files) {
    const parts = f.split('/');
    for (let i = 1; i <= parts.length; i++) all.add(parts.slice(0, i).join('/'));
  }
  return {
    exists: (p) => all.has(p),
    hasFileNamed: (name) => files.some((f) => f.split('/').pop() === name),
  };
}

const TREE = tree([
  'README.md',
  'docs/runbook.md',
  'docs/shaping.md',
  'deploy/README.md',
  'deploy/redis-keys.md',
  'benchmarks/README.md',
  'benchmarks/results/20261207T072019Z-full.md',
  'packages/smtp/src/client.ts',
]);

test('a Markdown file the README names but the repository lacks is reported with its line', () => {
  const text = 'Intro.\n\nThe budget is in DESIGN.md, and the runbook in docs/runbook.md.\n';
  assert.deepEqual(brokenRefs('README.md', text, TREE), [
    { line: 3, target: 'DESIGN.md', kind: 'named' },
  ]);
});

test('a relative link resolves from the document folder; a broken one is reported, URLs and anchors are not files', () => {
  const text = [
    'See [shaping](shaping.md#limits), [the keys](../deploy/redis-keys.md) and',
    '[the client](/packages/smtp/src/client.ts), [home](https://example.org/x.md),',
    '[mail](mailto:a@b.example), [above](#top) and [gone](./runbook-old.md "old").',
    '![chart](../benchmarks/missing.png)',
    '[ref]: ../deploy/README.md',
    '[bad]: ../deploy/gone.md',
  ].join('\n');
  assert.deepEqual(brokenRefs('docs/runbook.md', text, TREE), [
    { line: 3, target: './runbook-old.md', kind: 'link' },
    { line: 4, target: '../benchmarks/missing.png', kind: 'link' },
    { line: 6, target: '../deploy/gone.md', kind: 'link' },
  ]);
});

test('a link leaving the repository is broken even if the path exists beyond it', () => {
  const outside: Tree = { exists: () => true, hasFileNamed: () => true };
  assert.deepEqual(brokenRefs('README.md', '[up](../other/README.md)', outside), [
    { line: 1, target: '../other/README.md', kind: 'link' },
  ]);
});

test('a named path may be written from the root or the document folder; a bare name may be a file elsewhere', () => {
  const text = [
    'Keys: `deploy/redis-keys.md`, `redis-keys.md`; the report `20261207T072019Z-full.md`.',
    'Not there: `results/20261207T000000Z-full.md` and `deploy/other.md`.',
  ].join('\n');
  assert.deepEqual(brokenRefs('deploy/README.md', text, TREE), [
    { line: 2, target: 'results/20261207T000000Z-full.md', kind: 'named' },
    { line: 2, target: 'deploy/other.md', kind: 'named' },
  ]);
});

test('placeholders, globs and names inside URLs are not paths', () => {
  const text =
    'Each run writes `<time>-full.md`, docs are `docs/*.md`, `{a,b}.md` and see https://github.com/o/r/blob/main/CHANGES.md or a.md.bak.';
  assert.deepEqual(docRefs(text), []);
});

test("a link's text naming a file is checked once, as the link", () => {
  assert.deepEqual(docRefs('[docs/runbook.md](docs/runbook.md)'), [
    { line: 1, target: 'docs/runbook.md', kind: 'link' },
    { line: 1, target: 'docs/runbook.md', kind: 'named' },
  ]);
});
