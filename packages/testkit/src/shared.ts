/**
 * The `shared` folder that sits next to the repository (CI lays it out as `../shared` from the
 * repository root): the bounce corpus and other data the tests and benchmarks read.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '@volley/runtime';

export class SharedDirError extends Error {
  readonly code = 'SHARED_DIR_NOT_FOUND';
  constructor(message: string) {
    super(message);
    this.name = 'SharedDirError';
  }
}

/** The origin's path when it is a folder on this machine (a clone of a local checkout). */
function localOrigin(root: string): string | undefined {
  let url: string;
  try {
    url = execFileSync('git', ['config', '--get', 'remote.origin.url'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined; // not a git checkout, or no origin
  }
  if (url.startsWith('file://')) return fileURLToPath(url);
  // "host:path" and "scheme://..." name another machine; anything else is a path.
  if (url === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/]+:/.test(url)) return undefined;
  return resolve(root, url);
}

/**
 * `../shared` from the repository root `root`; in a clone of a local checkout that has none
 * (`git clone . /tmp/x/v`), `../shared` from the origin's folder. Throws, naming every place
 * it looked, when neither exists: a test that needs the folder must fail, not skip.
 */
export function sharedDir(root: string = ROOT): string {
  const tried = [resolve(root, '../shared')];
  if (existsSync(tried[0] ?? '')) return tried[0] ?? '';
  const origin = localOrigin(root);
  if (origin) {
    const candidate = resolve(origin, '../shared');
    tried.push(candidate);
    if (existsSync(candidate)) return candidate;
  }
  throw new SharedDirError(
    `the shared folder was not found: looked in ${tried.join(' and ')}` +
      (origin ? '' : ' (the checkout has no local remote.origin.url to look beside)'),
  );
}
