// Second half of `npm run build`: tsc compiles each workspace's src/*.ts into dist/ and copies
// nothing else, so every other file under src/ (the default shaping policy's YAML, say) is
// copied here to the same place under dist/, where the compiled code looks for it next to
// itself. The workspaces are the ones tsconfig.build.json builds.
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/**
 * Files under `dir`, as paths relative to it.
 * @param {string} dir
 * @returns {string[]}
 */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** @type {unknown} */
const solution = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8'));
const references =
  solution instanceof Object && 'references' in solution && Array.isArray(solution.references)
    ? /** @type {unknown[]} */ (solution.references)
    : [];
for (const ref of references) {
  if (!(ref instanceof Object && 'path' in ref && typeof ref.path === 'string')) continue;
  const workspace = join(ROOT, dirname(ref.path));
  for (const file of filesUnder(join(workspace, 'src'))) {
    if (file.endsWith('.ts')) continue;
    const to = join(workspace, 'dist', file);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(workspace, 'src', file), to);
  }
}
