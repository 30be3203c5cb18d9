// `npm run build:refs`: the project references of the production build match the imports.
// `tsc -b` builds packages in reference order; a missing reference still compiles while the
// root list happens to build the imported package first, then breaks when that order changes.
// So for every workspace with a tsconfig.build.json: each @volley package its src imports is
// referenced, each reference is imported, the imported package is itself built, and the root
// tsconfig.build.json lists every built workspace.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ROOT } from './lib/test-files.ts';

const BUILD = 'tsconfig.build.json';

interface Workspace {
  name: string;
  dir: string;
  built: boolean;
}

function workspaces(): Workspace[] {
  const out: Workspace[] = [];
  for (const group of ['packages', 'services']) {
    for (const entry of readdirSync(join(ROOT, group))) {
      const dir = join(ROOT, group, entry);
      const manifest = join(dir, 'package.json');
      if (!existsSync(manifest)) continue;
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string };
      out.push({ name, dir, built: existsSync(join(dir, BUILD)) });
    }
  }
  return out;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** `from '@volley/x'`, `import '@volley/x'` and `import('@volley/x')`, subpaths included. */
const IMPORT = /(?:from\s+|import\s*\(?\s*)['"](@volley\/[a-z0-9-]+)(?:\/[^'"]*)?['"]/g;

function imports(dir: string): Set<string> {
  const found = new Set<string>();
  const src = join(dir, 'src');
  if (!existsSync(src)) return found;
  for (const file of sources(src)) {
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) found.add(m[1] as string);
  }
  return found;
}

function references(config: string): string[] {
  const { references: refs = [] } = JSON.parse(readFileSync(config, 'utf8')) as {
    references?: { path: string }[];
  };
  return refs.map((r) => resolve(join(config, '..'), r.path));
}

const all = workspaces();
const byName = new Map(all.map((w) => [w.name, w]));
const problems: string[] = [];

for (const ws of all.filter((w) => w.built)) {
  const config = join(ws.dir, BUILD);
  const refs = new Set(references(config));
  const here = relative(ROOT, config);
  for (const name of imports(ws.dir)) {
    if (name === ws.name) continue;
    const target = byName.get(name);
    if (!target) {
      problems.push(`${here}: src imports ${name}, which is no workspace`);
    } else if (!target.built) {
      problems.push(
        `${here}: src imports ${name}, which has no ${BUILD}; production code may only use built packages`,
      );
    } else if (!refs.delete(join(target.dir, BUILD))) {
      problems.push(
        `${here}: src imports ${name}; add { "path": "${relative(ws.dir, join(target.dir, BUILD))}" } to its references`,
      );
    }
  }
  for (const stale of refs) {
    problems.push(`${here}: references ${relative(ROOT, stale)}, which its src never imports`);
  }
}

const rootRefs = new Set(references(join(ROOT, BUILD)));
for (const ws of all.filter((w) => w.built)) {
  if (!rootRefs.has(join(ws.dir, BUILD))) {
    problems.push(`${BUILD}: add { "path": "./${relative(ROOT, join(ws.dir, BUILD))}" }`);
  }
}

if (problems.length > 0) {
  console.error(`build:refs: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `build:refs: ${all.filter((w) => w.built).length} built workspaces, references match imports`,
);
