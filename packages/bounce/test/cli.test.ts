import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { sharedDir } from '@volley/testkit';
import { POSTFIX_DSN, POSTFIX_DSN_RECIPIENTS } from './fixtures.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const CORPUS = join(sharedDir(), 'bounce-corpus');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command as a user does: `npm run -s bounce:classify -- ARGS`. */
function classify(args: string[], cwd = ROOT): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn('npm', ['run', '-s', 'bounce:classify', '--', ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('npm run -s bounce:classify', () => {
  test('prints the recipients of a DSN as JSON, in order, and exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bounce-cli-'));
    try {
      const file = join(dir, 'dsn.eml');
      await writeFile(file, POSTFIX_DSN);
      const run = await classify([file]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), POSTFIX_DSN_RECIPIENTS);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('prints a complaint from the corpus as feedback', async () => {
    const run = await classify([join(CORPUS, 'bounces', 'arf-18.eml')]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [
      {
        recipient: 'kijitora@example.com',
        status: '',
        replyCode: '',
        reason: 'feedback',
        hardBounce: false,
      },
    ]);
  });

  test('reads a relative path from where it was run, not from the repository root', async () => {
    // A folder without a package.json of its own, so npm finds the repository's scripts.
    const cwd = join(ROOT, 'benchmarks');
    const file = relative(cwd, join(CORPUS, 'bounces', 'arf-18.eml'));
    const run = await classify([file], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { reason: string }[])[0]?.reason, 'feedback');
  });

  test('prints [] for a message that is not a bounce', async () => {
    const run = await classify([join(CORPUS, 'not-bounces', 'is-not-bounce-01.eml')]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), []);
  });

  test('lists an out-of-office reply (RFC 3834) with reason vacation, never a hard bounce', async () => {
    const run = await classify([join(CORPUS, 'bounces', 'rfc3834-01.eml')]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [
      {
        recipient: 'kijitora@example.net',
        status: '',
        replyCode: '',
        reason: 'vacation',
        hardBounce: false,
      },
    ]);
  });

  test('exits 2 with a message for a file it cannot read, and prints nothing on stdout', async () => {
    const run = await classify([join(tmpdir(), 'no-such-bounce-file.eml')]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /cannot read .*no-such-bounce-file\.eml: no such file/);
  });

  test('exits 2 with the usage for no file or more than one', async () => {
    for (const args of [[], ['a.eml', 'b.eml']]) {
      const run = await classify(args);
      assert.equal(run.code, 2, JSON.stringify(args));
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /usage: npm run -s bounce:classify -- FILE\.eml/);
    }
  });
});
