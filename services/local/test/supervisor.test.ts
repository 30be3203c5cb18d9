import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@volley/redis';
import {
  ROOT,
  TSX_NODE_ARGS,
  launch,
  launchTs,
  type ChildHandle,
  type LocalEngineRecord,
} from '@volley/runtime';
import { freePortBlock, waitUntil } from '@volley/testkit';

/**
 * The local engine owns its state folder (issue 17, defect 1): a second `npm start` names the
 * running engine and leaves it alone, the supervisor stops everything when Redis dies, a dead
 * engine's lock holds nothing, and Ctrl-C leaves no process behind. Also defects 2 and 3:
 * VOLLEY_METRICS_PORT is honoured, settings are checked before anything starts, the local
 * Redis keeps its port, and `npm run admin` reaches the engine without REDIS_URL.
 */

const MAIN = 'services/local/src/main.ts';
let dir: string;
let env: Record<string, string>;
let metricsBase: number;

/** Running, as opposed to gone or a zombie nobody has reaped yet. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** redis-server processes whose data folder is this test's. */
function redisServersOf(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // redis-server rewrites its command line; it works in its data folder.
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (
        cmd.includes('redis-server') &&
        readlinkSync(`/proc/${entry}/cwd`) === dataDir &&
        running(Number(entry))
      )
        pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function record(): LocalEngineRecord {
  return JSON.parse(readFileSync(join(dir, 'engine.json'), 'utf8')) as LocalEngineRecord;
}

function start(name: string, extra: Record<string, string> = {}): ChildHandle {
  return launchTs(name, MAIN, { env: { ...env, ...extra }, keepLines: 100_000 });
}

/** Every service serving (as the engine's output says, whichever its format). */
async function ready(engine: ChildHandle): Promise<void> {
  for (const re of [/api listening/, /sender started/, /bounce started/, /collector started/])
    await engine.waitForLine(re);
}

/** The engine wrote its record for clients. */
async function recorded(engine: ChildHandle): Promise<void> {
  await engine.waitForLine(/engine running/);
}

/** Every process the engine recorded, the supervisor's own included. */
function enginePids(r: LocalEngineRecord): number[] {
  return [r.pid, ...Object.values(r.pids ?? {})];
}

/** What the supervisor says when a service outlived the drain deadline and its grace. */
const KILLED = /did not stop within \d+ ms .* and (was|were) killed/;

/** Asserts that no service had to be killed, showing how each stopped when one was. */
function stoppedByThemselves(engine: ChildHandle): void {
  const stopping = engine.lines.filter((l) =>
    /shutting down|stopped|drain deadline|exited|killed|\bclose/i.test(l),
  );
  assert.ok(
    !engine.lines.some((l) => KILLED.test(l)),
    `a service had to be killed:\n${stopping.join('\n')}`,
  );
}

async function allGone(pids: number[]): Promise<void> {
  await waitUntil(() => pids.every((p) => !running(p)), `pids ${pids.join(', ')} to exit`, 20_000);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'volley-supervisor-'));
  // The engine's Redis keeps the port its state folder names. Without one it would take 6380,
  // which the newcomer test's engine, running at the same time under --test-concurrency, also
  // wants: whichever restarts second would find its port taken (seen in a loaded CI run).
  mkdirSync(join(dir, 'redis'));
  writeFileSync(join(dir, 'redis', 'port'), `${await freePort()}\n`);
  // The api's metrics port and the next three, for sender, bounce and collector.
  metricsBase = await freePortBlock(4);
  env = {
    VOLLEY_LOCAL_DIR: dir,
    VOLLEY_API_PORT: String(await freePort()),
    VOLLEY_CAPTURE_PORT: String(await freePort()),
    VOLLEY_METRICS_PORT: String(metricsBase),
    VOLLEY_MAIL_VIEW_PORT: '0',
    // Short, so that a stop that has to wait out the deadline still ends the test soon.
    VOLLEY_DRAIN_TIMEOUT: '3s',
  };
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('a setting out of range stops the start before anything runs, with no banner', async () => {
  const bad = start('bad', { VOLLEY_API_PORT: '99999' });
  const code = await bad.exited;
  assert.equal(code, 1);
  const text = bad.lines.join('\n');
  assert.match(text, /VOLLEY_API_PORT="99999" must be a whole number from 0 to 65535/);
  assert.doesNotMatch(text, /127\.0\.0\.1:99999|redis-server|engine running/);
  assert.deepEqual(redisServersOf(join(dir, 'redis')), []);
});

test('a second start names the running engine and leaves it alone; Redis dying stops the engine cleanly', async (t) => {
  const first = start('first');
  try {
    await ready(first);
    const redisPid = Number(readFileSync(join(dir, 'redis', 'redis.pid'), 'utf8'));
    assert.ok(running(redisPid));

    const second = start('second');
    assert.equal(await second.exited, 1);
    assert.ok(running(redisPid), 'the running engine keeps its Redis');
    assert.deepEqual(redisServersOf(join(dir, 'redis')), [redisPid], 'no second redis-server');
    assert.ok(first.running());
    await first.waitForLine(/engine running/);
    const r = record();
    assert.equal(r.pid, first.pid, 'the record names the first engine');
    assert.equal(r.state, 'running');
    assert.equal(r.pids?.redis, redisPid);
    const answer = second.lines.join('\n');
    assert.match(answer, new RegExp(`already running .*\\n.*pid ${first.pid}`));
    assert.match(answer, new RegExp(`API +${r.apiUrl?.replace(/\./g, '\\.')}`));
    assert.equal((await fetch(`${r.apiUrl}/healthz`)).status, 200);

    // VOLLEY_METRICS_PORT is the api's, the next ports the other services', with no warning.
    for (const [i, service] of ['api', 'sender', 'bounce', 'collector'].entries()) {
      const text = await (await fetch(`http://127.0.0.1:${metricsBase + i}/metrics`)).text();
      assert.match(text, new RegExp(`volley_process_cpu_seconds_total\\{service="${service}"\\}`));
    }
    assert.doesNotMatch(first.lines.join('\n'), /not a Volley setting/);

    // Redis dies: every service stops by itself, within the drain deadline and the grace the
    // supervisor gives after it (its own clock judges: past them it kills what still runs and
    // says so), and the engine exits.
    const killedAt = Date.now();
    process.kill(redisPid, 'SIGKILL');
    assert.equal(await first.exited, 1);
    t.diagnostic(`the engine stopped ${Date.now() - killedAt} ms after Redis was killed`);
    const said = first.lines.join('\n');
    assert.match(said, /redis-server \(pid \d+\) exited; stopping the engine/);
    stoppedByThemselves(first);
    await allGone(enginePids(r));
  } finally {
    await first.stop('SIGKILL');
  }
});

test('after a restart Redis has the same port, and npm run admin reaches it without REDIS_URL', async () => {
  const before = readFileSync(join(dir, 'redis', 'port'), 'utf8').trim();
  const engine = start('again');
  try {
    await ready(engine);
    await recorded(engine);
    const r = record();
    assert.equal(r.redisUrl, `redis://127.0.0.1:${before}`);

    // Only PATH, HOME and the state folder reach the CLI: no REDIS_URL.
    const admin = launch(
      'admin',
      process.execPath,
      [...TSX_NODE_ARGS, join(ROOT, 'services/api/src/cli.ts'), 'tenants', 'create', 'acme'],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          VOLLEY_LOCAL_DIR: dir,
        },
      },
    );
    assert.equal(await admin.exited, 0, admin.lines.join('\n'));
    assert.match(admin.lines.join('\n'), /created tenant acme/);
  } finally {
    const r = record();
    engine.child.kill('SIGINT');
    assert.equal(await engine.exited, 0, engine.lines.join('\n'));
    await allGone(enginePids(r));
  }
});

test('a dead engine holds no lock: the next start stops its orphaned Redis and runs', async () => {
  const engine = start('killed');
  await ready(engine);
  await recorded(engine);
  const dead = record();
  // SIGKILL leaves the services (they follow the supervisor within a second) and Redis.
  await engine.stop('SIGKILL');
  await allGone(enginePids(dead).filter((p) => p !== dead.pids?.redis));
  const orphan = dead.pids?.redis;
  assert.ok(orphan && running(orphan), 'Redis outlived the killed engine');

  const next = start('next');
  try {
    await ready(next);
    await recorded(next);
    assert.equal(record().pid, next.pid);
    assert.equal(record().redisUrl, dead.redisUrl, 'Redis keeps its port');
    assert.ok(!running(orphan), 'the orphan was stopped');
    assert.deepEqual(redisServersOf(join(dir, 'redis')), [record().pids?.redis]);
  } finally {
    const r = record();
    next.child.kill('SIGINT');
    assert.equal(await next.exited, 0);
    await allGone(enginePids(r));
  }
});

test('a sender that dies stops the engine cleanly: every other service stops by itself', async () => {
  const engine = start('sender-dies');
  await ready(engine);
  await recorded(engine);
  const r = record();
  try {
    const sender = r.pids?.sender;
    assert.ok(sender && running(sender), 'the sender runs');
    process.kill(sender, 'SIGKILL');
    assert.equal(await engine.exited, 1);
    const said = engine.lines.join('\n');
    assert.match(said, /sender exited \(SIGKILL\); stopping the engine/);
    stoppedByThemselves(engine);
    assert.match(said, /stopped; \d+ messages were captured this run/);
    await allGone(enginePids(r));
  } finally {
    await engine.stop('SIGKILL');
  }
});
