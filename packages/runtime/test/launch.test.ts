import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { launch, launchTs, ROOT, TSX_NODE_ARGS, type ChildHandle } from '../src/index.ts';

const CHILD = 'packages/runtime/test/fixtures/child.ts';
const HARNESS = 'packages/runtime/test/fixtures/harness.ts';

interface Report {
  env: string[];
  execArgv: string[];
  argv: string[];
}

async function reportOf(h: ChildHandle): Promise<Report> {
  return JSON.parse(await h.waitForLine(/^\{/)) as Report;
}

/** Running, as opposed to gone or a zombie nobody has reaped yet. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The death of a process that is not our child has no event: its /proc entry is polled, every
 * 50 ms, for at most 10 s.
 */
async function gone(pid: number): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (running(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * A failed test must not leave the harness's children behind: they are killed by PID, once
 * /proc confirms the PID is still one of them.
 */
function killLeftovers(pids: number[]): void {
  for (const pid of pids) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (running(pid) && cmdline.includes(CHILD)) process.kill(pid, 'SIGKILL');
  }
}

/** Starts the harness fixture and answers the PIDs of the two children it launched. */
async function startHarness(arg?: string): Promise<{ harness: ChildHandle; children: number[] }> {
  const args = [...TSX_NODE_ARGS, HARNESS, ...(arg ? [arg] : [])];
  const harness = launch('harness', process.execPath, args, { cwd: ROOT });
  const line = await harness.waitForLine(/^children /);
  const children = line.split(' ').slice(1).map(Number);
  assert.equal(children.length, 2);
  for (const pid of children) assert.ok(running(pid), `child ${pid} runs before the test acts`);
  return { harness, children };
}

describe('launchTs', () => {
  test('a repository TypeScript file gets PATH, HOME and its env only, and node args go to Node', async () => {
    const seen: string[] = [];
    const h = launchTs('child', CHILD, {
      env: { VOLLEY_TEST_MARK: '1' },
      nodeArgs: ['--max-old-space-size=96'],
      onLine: (l) => seen.push(l),
    });
    const report = await reportOf(h);
    assert.deepEqual(report.env, ['HOME', 'PATH', 'VOLLEY_TEST_MARK']);
    assert.ok(report.execArgv.includes('--max-old-space-size=96'), report.execArgv.join(' '));
    assert.deepEqual(report.argv, []);
    await h.waitForLine(/^ready$/);
    assert.equal(await h.stop('SIGTERM'), 0);
    // stdout and stderr both reach the callback.
    assert.ok(seen.includes('ready') && seen.includes('bye'), seen.join('\n'));
  });

  test('with a profile folder, the process writes a V8 CPU profile there when it exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'volley-launch-'));
    try {
      const h = launchTs('child', CHILD, { cpuProfileDir: dir });
      await h.waitForLine(/^ready$/);
      assert.equal(await h.stop('SIGTERM'), 0);
      assert.ok(
        readdirSync(dir).some((f) => f.endsWith('.cpuprofile')),
        `no profile in ${readdirSync(dir).join(', ')}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stop sends SIGTERM, then SIGKILL to a process still running after the grace time', async () => {
    const h = launchTs('stubborn', CHILD, { env: { CHILD_IGNORE_TERM: '1' } });
    await h.waitForLine(/^ready$/);
    assert.equal(await h.stop('SIGTERM', 300), null);
    assert.equal(h.child.signalCode, 'SIGKILL');
  });

  test('a program that does not exist is an error at start, not a crash later', () => {
    assert.throws(
      () => launch('nothing', '/nonexistent/volley-test-binary', []),
      /could not start nothing/,
    );
  });
});

describe('every process a harness launched is stopped', () => {
  for (const [signal, status] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    test(`on ${signal} (status ${status}), even a child that ignores SIGTERM`, async () => {
      const { harness, children } = await startHarness();
      try {
        harness.child.kill(signal);
        assert.equal(await harness.exited, status);
        for (const pid of children) assert.ok(await gone(pid), `child ${pid} still runs`);
      } finally {
        killLeftovers(children);
      }
    });
  }

  test('when the harness dies of an uncaught error', async () => {
    const { harness, children } = await startHarness('throw');
    try {
      harness.child.kill('SIGUSR2');
      assert.equal(await harness.exited, 1);
      assert.match(harness.lines.join('\n'), /the harness failed/);
      for (const pid of children) assert.ok(await gone(pid), `child ${pid} still runs`);
    } finally {
      killLeftovers(children);
    }
  });
});
