import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@volley/redis';
import { launch, type LocalEngineRecord } from '@volley/runtime';
import { ROOT, waitUntil } from '@volley/testkit';

/**
 * The README's first hour, as a newcomer lives it: clone the committed repository, `npm run
 * quickstart` (which installs the packages and starts the engine), `npm run demo` in a second
 * terminal, the mail view, `npm run admin` under the running engine, a second `npm start` by
 * mistake, then Ctrl-C. The commands are the README's, run in the clone with npm; only the
 * ports are moved off the defaults (with the variables the README documents) so that the test
 * can run beside others on a shared machine.
 */

/**
 * `pid` → start time (clock ticks since boot), from /proc; undefined once it has ended. A
 * zombie has ended: it only waits for its parent to collect its status (and here, in a
 * container whose init does not reap, it may wait forever once reparented to it).
 */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 200);
  } catch {
    return '(gone)';
  }
}

/** Every process below `root`, with its start time (so a reused PID is not taken for it). */
function descendants(root: number): Map<number, string> {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // Exited while the table was read.
    }
  }
  const out = new Map<number, string>();
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) return true;
    }
    return false;
  };
  for (const pid of parent.keys()) {
    const t = below(pid) ? startTime(pid) : undefined;
    if (t !== undefined) out.set(pid, t);
  }
  return out;
}

/** Runs an npm command in `cwd` to its end; answers its status and its whole output. */
function npm(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  const child = spawn('npm', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

test('the newcomer path: clone, quickstart, demo, mail view, admin, a second start, Ctrl-C leaves nothing running', async (t) => {
  // Each step's time, in the test's output: the whole path is the suite's longest test.
  let mark = Date.now();
  const step = (name: string): void => {
    t.diagnostic(`${name}: ${((Date.now() - mark) / 1000).toFixed(1)} s`);
    mark = Date.now();
  };
  const home = mkdtempSync(join(tmpdir(), 'volley-newcomer-'));
  const clone = join(home, 'volley');
  const cloned = spawnSync('git', ['clone', '--quiet', ROOT, clone], { encoding: 'utf8' });
  assert.equal(cloned.status, 0, `git clone of the repository: ${cloned.stderr}`);
  step('git clone');

  // The caller's environment (PATH, HOME, npm's cache), without what would point the engine
  // or npm elsewhere: the Volley and Redis settings of the shell, and the npm variables of
  // the `npm test` that runs this file.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(VOLLEY_|REDIS_URL$|npm_(?!config_cache$))/i.test(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    VOLLEY_API_PORT: String(await freePort()),
    VOLLEY_CAPTURE_PORT: String(await freePort()),
    VOLLEY_BOUNCE_SMTP_PORT: String(await freePort()),
    VOLLEY_MAIL_VIEW_PORT: '0',
    VOLLEY_METRICS_PORT: '0',
  });

  const engine = launch('npm run quickstart', 'npm', ['run', 'quickstart'], {
    cwd: clone,
    env,
    processGroup: true,
    keepLines: 100_000,
  });
  const root = engine.pid;
  let tree = new Map<number, string>();
  const survivors = (): number[] =>
    [...tree].filter(([pid, t]) => startTime(pid) === t).map(([p]) => p);
  try {
    // The quick start installs every npm package first (from npm's cache when it has them).
    await engine.waitForLine(/engine running/, 600_000);
    step('npm run quickstart (npm ci, engine running)');
    const record = JSON.parse(
      readFileSync(join(clone, '.volley', 'engine.json'), 'utf8'),
    ) as LocalEngineRecord;
    tree = descendants(root);
    tree.set(root, startTime(root) ?? '');
    assert.ok(record.pids?.redis && tree.has(record.pids.redis), 'Redis runs under the engine');

    const demo = await npm(clone, ['run', 'demo'], env);
    assert.equal(demo.code, 0, demo.out);
    assert.match(demo.out, /done in [\d.]+ s: 1000 sent, 0 bounced, 0 failed/);

    step('npm run demo');
    // The mail view, as a browser opens it: the list, then the newest message.
    const list = await (await fetch(`${record.mailViewUrl}/`)).text();
    assert.match(list, /1000 of 1000 messages, newest 200 shown/);
    const href = /href="(\/m\/[^"/?]+)"/.exec(list)?.[1];
    assert.ok(href, 'the list links its messages');
    const page = await fetch(`${record.mailViewUrl}${href}?view=text`);
    assert.equal(page.status, 200);
    const shown = await page.text();
    assert.match(shown, /<dt>Return-Path<\/dt><dd>bounces\+[a-z2-7]+@bounces\.localhost<\/dd>/);
    assert.match(shown, /<dt>From<\/dt><dd>(&quot;)?Volley Demo/);

    // The README's admin commands, with no URL given: they find the engine's Redis.
    const created = await npm(
      clone,
      ['run', 'admin', '--', 'tenants', 'create', 'acme', '--name', 'Acme Inc'],
      env,
    );
    assert.equal(created.code, 0, created.out);
    const tenants = await npm(clone, ['run', 'admin', '--', 'tenants', 'list'], env);
    assert.equal(tenants.code, 0, tenants.out);
    assert.match(tenants.out, /acme\s+Acme Inc/);

    step('mail view, npm run admin (twice)');
    // A second engine in the same checkout names the running one and leaves it alone.
    const second = await npm(clone, ['start'], env);
    assert.notEqual(second.code, 0, second.out);
    assert.match(second.out, new RegExp(`already running[^]*pid ${record.pid}`));
    assert.match(second.out, /It was left alone/);
    assert.deepEqual(
      survivors().sort(),
      [...tree.keys()].sort(),
      'every process of the first engine still runs',
    );
    const health = await fetch(`${record.apiUrl}/healthz`);
    assert.equal(health.status, 200, 'the first engine still answers');

    step('second npm start');
    // Ctrl-C in the engine's terminal. npm may return before the engine has stopped (it does
    // not wait for its script on a signal); the engine's own process is what must end last.
    process.kill(-root, 'SIGINT');
    await engine.exited;
    const engineStart = tree.get(record.pid);
    assert.ok(engineStart, 'the engine process is in the tree');
    await waitUntil(() => startTime(record.pid) !== engineStart, 'the engine to exit', 60_000);
    assert.match(engine.lines.join('\n'), /stopped; 1000 messages were captured this run/);
    step('Ctrl-C until the engine exited');
    const left = survivors().map((pid) => `${pid} ${commandOf(pid)}`);
    assert.deepEqual(left, [], 'no process of the engine outlives it');
  } finally {
    // Whatever is left of the run (a failure on the way), stopped by PID: the processes seen
    // under the engine, and any started under it since.
    for (const pid of new Set([...descendants(root).keys(), ...survivors()])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    try {
      process.kill(-root, 'SIGKILL');
    } catch {
      // Gone already.
    }
    await engine.exited;
    rmSync(home, { recursive: true, force: true });
  }
});
