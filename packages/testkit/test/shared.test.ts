import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedDir, SharedDirError } from '@volley/testkit';

function git(cwd: string, args: string[]): void {
  execFileSync('git', args, { cwd, stdio: 'ignore' });
}

/** A repository with `../shared` beside it, as CI lays out the real one, in a fresh folder. */
async function layout(): Promise<{ base: string; repo: string; shared: string }> {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'shared-dir-')));
  const repo = join(base, 'work', 'repo');
  const shared = join(base, 'work', 'shared');
  await mkdir(repo, { recursive: true });
  await mkdir(shared);
  git(repo, ['init', '-q']);
  await writeFile(join(repo, 'README'), 'x\n');
  git(repo, ['add', 'README']);
  git(repo, ['-c', 'user.email=t@example.org', '-c', 'user.name=t', 'commit', '-q', '-m', 'x']);
  return { base, repo, shared };
}

/** `git clone REPO <base>/tmp/x/v`, as a fresh clone elsewhere is made. */
async function cloneOf(base: string, repo: string): Promise<string> {
  const clone = join(base, 'tmp', 'x', 'v');
  await mkdir(join(base, 'tmp', 'x'), { recursive: true });
  git(base, ['clone', '-q', repo, clone]);
  return clone;
}

test('sharedDir finds ../shared from the repository root', async () => {
  const { base, repo, shared } = await layout();
  try {
    assert.equal(sharedDir(repo), shared);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('sharedDir of a clone without ../shared looks beside its local origin', async () => {
  const { base, repo, shared } = await layout();
  try {
    const clone = await cloneOf(base, repo);
    assert.equal(sharedDir(clone), shared);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('sharedDir fails, naming where it looked, when neither place has it', async () => {
  const { base, repo, shared } = await layout();
  try {
    const clone = await cloneOf(base, repo);
    await rm(shared, { recursive: true });
    assert.throws(
      () => sharedDir(clone),
      (err: unknown) =>
        err instanceof SharedDirError &&
        err.message.includes(join(base, 'tmp', 'x', 'shared')) &&
        err.message.includes(join(base, 'work', 'shared')),
    );
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
